package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	b, err := parseCmdline("BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ console=ttyS0 --- quiet splash")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Autoinstall || b.Seed != "/cdrom/nocloud/" || !reflect.DeepEqual(b.Carry, []string{"console=ttyS0", "quiet", "splash"}) {
		t.Fatalf("%+v", b)
	}
	if b, err := parseCmdline("BOOT_IMAGE=/casper/vmlinuz ---"); err != nil || b.Autoinstall {
		t.Fatalf("no autoinstall: %+v, %v", b, err)
	}
	for cmdline, want := range map[string]string{
		"autoinstall ---": "", // /cdrom/autoinstall.yaml may hold the configuration
		"autoinstall ds=nocloud-net;s=http://10.0.0.1/ ---": "not a network seed",
		// arguments after --- are the installed system's, not the installer's
		"--- autoinstall ds=nocloud;s=/cdrom/nocloud/": "",
	} {
		_, err := parseCmdline(cmdline)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("parseCmdline(%q) = %v, want an error with %q", cmdline, err, want)
		}
	}
}

// TestParseRepositoryUserData reads the repository's own user-data as the
// test installer will.
func TestParseRepositoryUserData(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := parseUserData(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ai.LateCommands) == 0 || ai.Identity.Hostname != "novasphere" || ai.Shutdown != "reboot" {
		t.Fatalf("%+v", ai)
	}
	last := ai.LateCommands[len(ai.LateCommands)-1]
	if !reflect.DeepEqual(last.argv(), []string{"sh", "-c", "curtin in-target --target=/target -- sh /opt/novasphere/scripts/install.sh"}) {
		t.Errorf("last late-command runs %q", last.argv())
	}
}

func TestParseUserData(t *testing.T) {
	ai, err := parseUserData([]byte("#cloud-config\nautoinstall:\n  version: 1\n  late-commands:\n    - echo hi\n    - [touch, /target/x]\n  shutdown: poweroff\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := [][]string{ai.LateCommands[0].argv(), ai.LateCommands[1].argv()}; !reflect.DeepEqual(got, [][]string{{"sh", "-c", "echo hi"}, {"touch", "/target/x"}}) {
		t.Errorf("commands %q", got)
	}
	for doc, want := range map[string]string{
		"autoinstall:\n  version: 1\n":                                       "#cloud-config",
		"#cloud-config\nusers: []\n":                                         "no autoinstall",
		"#cloud-config\nautoinstall:\n  version: 2\n":                        "version is 2",
		"#cloud-config\nautoinstall:\n  version: 1\n  shutdown: halt\n":      `shutdown is "halt"`,
		"#cloud-config\nautoinstall:\n  version: 1\n  late-commands: [{}]\n": "string or a list",
	} {
		if _, err := parseUserData([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseUserData(%q) = %v, want an error with %q", doc, err, want)
		}
	}
}

func TestPickSourceAndLayers(t *testing.T) {
	yaml := []byte(`- id: ubuntu-server-minimal
  path: ubuntu-server-minimal.squashfs
  type: fsimage
  default: false
- id: ubuntu-server
  path: ubuntu-server-minimal.ubuntu-server.squashfs
  type: fsimage-layered
  default: true
`)
	s, err := pickSource(yaml, "")
	if err != nil || s.ID != "ubuntu-server" {
		t.Fatalf("default source %+v, %v", s, err)
	}
	if got := layerStack(s.Path); !reflect.DeepEqual(got, []string{"ubuntu-server-minimal.squashfs", "ubuntu-server-minimal.ubuntu-server.squashfs"}) {
		t.Errorf("layers %q", got)
	}
	if s, err := pickSource(yaml, "ubuntu-server-minimal"); err != nil || s.Path != "ubuntu-server-minimal.squashfs" {
		t.Errorf("source by id: %+v, %v", s, err)
	}
	if _, err := pickSource(yaml, "ubuntu-desktop"); err == nil || !strings.Contains(err.Error(), `"ubuntu-desktop" is not in`) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestParseCurtin(t *testing.T) {
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want curtinArgs
	}{
		{[]string{"in-target", "--target=/target", "--", "sh", "/x.sh"}, curtinArgs{Target: "/target", Argv: []string{"sh", "/x.sh"}}},
		{[]string{"in-target", "-t", "/t", "--", "true"}, curtinArgs{Target: "/t", Argv: []string{"true"}}},
		{[]string{"in-target", "--target", "/t", "--allow-daemons", "--", "ls", "--", "-l"}, curtinArgs{Target: "/t", AllowDaemons: true, Argv: []string{"ls", "--", "-l"}}},
	} {
		got, err := parseCurtin(tc.args, env)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseCurtin(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	got, err := parseCurtin([]string{"in-target", "--", "true"}, func(k string) string {
		if k == "TARGET_MOUNT_POINT" {
			return "/target"
		}
		return ""
	})
	if err != nil || got.Target != "/target" {
		t.Errorf("TARGET_MOUNT_POINT: %+v, %v", got, err)
	}
	for _, args := range [][]string{{"extract"}, {"in-target", "--"}, {"in-target", "--bogus", "--", "true"}, {"in-target", "--", "true"}} {
		if _, err := parseCurtin(args, env); err == nil {
			t.Errorf("parseCurtin(%q) accepted", args)
		}
	}
}

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr", "bin", "dash"), []byte("#!"), 0o755))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Symlink("dash", filepath.Join(root, "usr", "bin", "sh")))
	// an absolute link resolves inside the root, never on the host
	must(os.Symlink("/usr/bin/dash", filepath.Join(root, "usr", "bin", "abs")))
	for in, want := range map[string]string{"/bin/sh": "/usr/bin/dash", "/usr/bin/abs": "/usr/bin/dash", "/bin": "/usr/bin"} {
		if got := resolveIn(root, in, 0); got != root+want {
			t.Errorf("resolveIn(%s) = %s, want %s", in, got, root+want)
		}
	}
	if p, err := lookPathIn(root, "sh"); err != nil || p != "/usr/local/sbin/sh" && p != "/usr/sbin/sh" && p != "/usr/bin/sh" {
		t.Errorf("lookPathIn sh = %q, %v", p, err)
	}
	if _, err := lookPathIn(root, "missing"); err == nil {
		t.Error("lookPathIn found a missing program")
	}
}

// TestSelectConfig: the configuration is found where the medium's
// release's subiquity looks, in its order, and a wrapped
// /cdrom/autoinstall.yaml is read only from 24.04 on, with autoinstall: as
// its one top-level key.
func TestSelectConfig(t *testing.T) {
	const userData = "#cloud-config\nautoinstall:\n  version: 1\n  shutdown: poweroff\n"
	const wrapped = "autoinstall:\n  version: 1\n  shutdown: reboot\n"
	const plain = "version: 1\nshutdown: reboot\n"
	fsOf := func(files map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		}
	}
	seed := bootArgs{Autoinstall: true, Seed: "/cdrom/nocloud/"}
	noSeed := bootArgs{Autoinstall: true}
	both := map[string]string{"/cdrom/nocloud/user-data": userData, "/cdrom/nocloud/meta-data": "", cdromAutoinstall: wrapped}
	for _, c := range []struct {
		name    string
		args    bootArgs
		release int
		files   map[string]string
		from    string
		want    string // shutdown, or an error part
	}{
		{"24.04: the cloud-config before /cdrom", seed, 2404, both, "/cdrom/nocloud/user-data", "poweroff"},
		{"24.04: /cdrom wrapped without a seed", noSeed, 2404, both, cdromAutoinstall, "reboot"},
		{"24.04: subiquity.autoinstallpath first", bootArgs{Autoinstall: true, Seed: "/cdrom/nocloud/", AutoinstallPath: "/cdrom/autoinstall.yaml"}, 2404, both, cdromAutoinstall, "reboot"},
		{"26.04: wrapper with another key", noSeed, 2604, map[string]string{cdromAutoinstall: wrapped + "packages: [htop]\n"}, "", "no other keys may be present alongside 'autoinstall'"},
		{"22.04: /cdrom plain", noSeed, 2204, map[string]string{cdromAutoinstall: plain}, cdromAutoinstall, "reboot"},
		{"22.04: /cdrom wrapped is not read as a wrapper", noSeed, 2204, map[string]string{cdromAutoinstall: wrapped}, "", "version is 0"},
		{"22.04: autoinstallpath is not known", bootArgs{Autoinstall: true, Seed: "/cdrom/nocloud/", AutoinstallPath: "/cdrom/autoinstall.yaml"}, 2204, both, "/cdrom/nocloud/user-data", "poweroff"},
		{"nothing", noSeed, 2404, nil, "", "no autoinstall configuration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ai, from, err := selectConfig(c.args, c.release, fsOf(c.files))
			if c.from == "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				return
			}
			if err != nil || from != c.from || ai.Shutdown != c.want {
				t.Fatalf("from %q shutdown %q (%v), want %q from %q", from, ai.Shutdown, err, c.want, c.from)
			}
		})
	}
	if r := mediumRelease([]byte(`Ubuntu-Server 26.04.1 LTS "Resolute" - Release amd64 (20260806)` + "\nNovaSphere installer v1")); r != 2604 {
		t.Errorf("mediumRelease = %d", r)
	}
}

// TestPickSourceCatalog: a version 2 catalog is read like the list, an
// entry's default variation giving its path.
func TestPickSourceCatalog(t *testing.T) {
	cat := "version: 2\nsources:\n- id: a\n  path: a.squashfs\n- id: b\n  default: true\n  type: fsimage\n  variations:\n    default:\n      path: a.b.squashfs\nkernel:\n  default: linux-generic\n"
	s, err := pickSource([]byte(cat), "")
	if err != nil || s.ID != "b" || s.Path != "a.b.squashfs" {
		t.Fatalf("pickSource = %+v, %v", s, err)
	}
	if _, err := pickSource([]byte("version: 3\nsources: []\n"), ""); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("version 3: %v", err)
	}
}
