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
		"autoinstall ---": "no ds=nocloud",
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
