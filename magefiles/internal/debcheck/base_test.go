package debcheck

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadBaseDefaultSourceOfUbuntu2204(t *testing.T) {
	b := fixtureBase(t)
	wantManifests := []string{"casper/ubuntu-server-minimal.manifest", "casper/ubuntu-server-minimal.ubuntu-server.manifest"}
	if !reflect.DeepEqual(b.Manifests, wantManifests) {
		t.Errorf("manifests %q, want %q", b.Manifests, wantManifests)
	}
	for _, want := range []string{"ubuntu-server", "default: true", "ubuntu-server-minimal + ubuntu-server-minimal.ubuntu-server"} {
		if !strings.Contains(b.Source, want) {
			t.Errorf("Source %q does not say %q", b.Source, want)
		}
	}
	got := map[string]Installed{}
	for _, p := range b.Packages {
		got[p.displayName()] = p
	}
	want := map[string]struct{ version, manifest string }{
		"adduser":        {"3.118ubuntu5", "casper/ubuntu-server-minimal.manifest"},
		"libfoo1:amd64":  {"2.0-1", "casper/ubuntu-server-minimal.manifest"},
		"python3":        {"3.10.6-1~22.04", "casper/ubuntu-server-minimal.manifest"},
		"openssh-server": {"1:8.9p1-3ubuntu0.3", "casper/ubuntu-server-minimal.ubuntu-server.manifest"},
		// Changed by the server layer: "-old" then "+new".
		"vim-tiny": {"2:8.2.3995-1ubuntu2.12", "casper/ubuntu-server-minimal.ubuntu-server.manifest"},
	}
	for name, w := range want {
		p, ok := got[name]
		if !ok || p.Version != w.version || p.Manifest != w.manifest {
			t.Errorf("%s: got %+v, want %s from %s", name, p, w.version, w.manifest)
		}
	}
	// Removed by the server layer; only in the installer's layers; a snap.
	for _, name := range []string{"libremoved1", "subiquity-only", "casper", "snap:lxd", "lxd"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s is in the base, want it left out", name)
		}
	}
	if len(b.Packages) != 11 || b.Snaps != 1 {
		t.Errorf("%d packages and %d snaps, want 11 and 1", len(b.Packages), b.Snaps)
	}
	if p := got["mawk"]; !reflect.DeepEqual(p.Provides, []string{"awk"}) {
		t.Errorf("mawk provides %q, want awk (KnownProvides)", p.Provides)
	}
}

func TestReadBaseInstallSourcesVariants(t *testing.T) {
	plain := func(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }
	cases := []struct {
		name      string
		files     []File
		manifests []string
		source    string // part of Base.Source
		packages  []string
	}{
		{
			name: "version 2 map, plain manifests, no default",
			files: []File{
				{"casper/install-sources.yaml", []byte("version: 2\nsources:\n- id: minimal\n  type: fsimage-layered\n  path: minimal.squashfs\n- id: standard\n  type: fsimage-layered\n  path: minimal.standard.squashfs\nkernel:\n  default: linux-generic\n")},
				{"casper/minimal.manifest", plain("bash\t5.2-1", "coreutils\t9.4-2")},
				{"casper/minimal.standard.manifest", plain("vim\t2:9.1-1")},
			},
			manifests: []string{"casper/minimal.manifest"},
			source:    "minimal (the first entry; none says default: true",
			packages:  []string{"bash", "coreutils"},
		},
		{
			name: "plain layered manifests stack",
			files: []File{
				{"casper/install-sources.yaml", []byte("- id: standard\n  default: true\n  type: fsimage-layered\n  path: minimal.standard.squashfs\n")},
				{"casper/minimal.manifest", plain("bash\t5.2-1", "coreutils\t9.4-2")},
				{"casper/minimal.standard.manifest", plain("coreutils\t9.4-3", "vim\t2:9.1-1")},
			},
			manifests: []string{"casper/minimal.manifest", "casper/minimal.standard.manifest"},
			packages:  []string{"bash", "coreutils 9.4-3", "vim"},
		},
		{
			name: "no install-sources.yaml: filesystem.manifest",
			files: []File{
				{"casper/filesystem.manifest", plain("bash 5.0-6ubuntu1", "libc6:amd64 2.31-0ubuntu9\r")},
			},
			manifests: []string{"casper/filesystem.manifest"},
			source:    "no casper/install-sources.yaml",
			packages:  []string{"bash", "libc6:amd64"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := ReadBase(c.files)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Manifests, c.manifests) || !strings.Contains(b.Source, c.source) {
				t.Errorf("manifests %q source %q", b.Manifests, b.Source)
			}
			var got []string
			for _, p := range b.Packages {
				got = append(got, p.displayName())
			}
			var want []string
			for _, p := range c.packages {
				name, ver, _ := strings.Cut(p, " ")
				want = append(want, name)
				if ver != "" {
					for _, q := range b.Packages {
						if q.Name == name && q.Version != ver {
							t.Errorf("%s %s, want %s", name, q.Version, ver)
						}
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("packages %q, want %q", got, want)
			}
		})
	}
}

// TestReadBaseLayoutAndKernel: the form of install-sources.yaml is
// recorded, and a version 2 catalog's kernel entry with it.
func TestReadBaseLayoutAndKernel(t *testing.T) {
	manifest := File{"casper/minimal.manifest", []byte("bash\t5.2-1\n")}
	list, err := ReadBase([]File{{"casper/install-sources.yaml", []byte("- id: m\n  type: fsimage\n  path: minimal.squashfs\n")}, manifest})
	if err != nil || list.Layout != FormList || list.Kernel != nil {
		t.Fatalf("list: layout %q kernel %+v (%v)", list.Layout, list.Kernel, err)
	}
	v2 := "version: 2\nsources:\n- id: m\n  default: true\n  type: fsimage\n  variations:\n    default:\n      path: minimal.squashfs\n      size: 1\n" +
		"kernel:\n  default: linux-generic\n  bridge: linux-generic-hwe-26.04\n  bridge_reasons: [zfs, drivers]\n"
	b, err := ReadBase([]File{{"casper/install-sources.yaml", []byte(v2)}, manifest})
	if err != nil {
		t.Fatal(err)
	}
	want := Kernel{Default: "linux-generic", Bridge: "linux-generic-hwe-26.04", BridgeReasons: []string{"zfs", "drivers"}}
	if b.Layout != FormCatalogV2 || b.Kernel == nil || !reflect.DeepEqual(*b.Kernel, want) || !reflect.DeepEqual(b.Manifests, []string{"casper/minimal.manifest"}) {
		t.Errorf("v2: layout %q kernel %+v manifests %v", b.Layout, b.Kernel, b.Manifests)
	}
}

func TestReadBaseRefusesWhatItCannotRead(t *testing.T) {
	cases := []struct {
		name  string
		files []File
		want  []string // one per problem line
	}{
		{"no manifests at all", nil,
			[]string{"casper/filesystem.manifest: missing; no casper/install-sources.yaml"}},
		{"default layer's manifest missing", []File{
			{"casper/install-sources.yaml", []byte(installSourcesV1)},
			{"casper/ubuntu-server-minimal.manifest", []byte(minimalManifest)},
		}, []string{"casper/ubuntu-server-minimal.ubuntu-server.manifest: missing; casper/install-sources.yaml default source ubuntu-server"}},
		{"not YAML", []File{{"casper/install-sources.yaml", []byte("- id: [unclosed\n")}},
			[]string{"casper/install-sources.yaml: not YAML"}},
		{"no sources", []File{{"casper/install-sources.yaml", []byte("[]\n")}},
			[]string{"casper/install-sources.yaml: lists no install source"}},
		{"unknown type", []File{{"casper/install-sources.yaml", []byte("- id: x\n  default: true\n  type: tarball\n  path: x.tar.gz\n")}},
			[]string{`casper/install-sources.yaml: default source "x": path "x.tar.gz" is not a .squashfs image`}},
		{"unknown catalog version", []File{{"casper/install-sources.yaml", []byte("version: 3\nsources: []\nlayers: []\n")}},
			[]string{"casper/install-sources.yaml: unknown layout: expected the list of sources (Ubuntu 21.10 to 24.04) or the mapping {version: 2, sources: [...], kernel: {...}} (livecd-rootfs 25.04 and later), version 3: found a mapping with the keys version, sources, layers"}},
		{"mapping without version", []File{{"casper/install-sources.yaml", []byte("sources:\n- id: x\n")}},
			[]string{"casper/install-sources.yaml: unknown layout: expected the list of sources (Ubuntu 21.10 to 24.04) or the mapping {version: 2, sources: [...], kernel: {...}} (livecd-rootfs 25.04 and later), no version: found a mapping with the keys sources"}},
		{"scalar", []File{{"casper/install-sources.yaml", []byte("ubuntu-server.squashfs\n")}},
			[]string{`casper/install-sources.yaml: unknown layout: expected the list of sources (Ubuntu 21.10 to 24.04) or the mapping {version: 2, sources: [...], kernel: {...}} (livecd-rootfs 25.04 and later), found a YAML scalar "ubuntu-server.squashfs"`}},
		{"bad lines, all reported", []File{{"casper/filesystem.manifest", []byte("bash\t5.2-1\nBad_Name\t1.0\nnoversion\nzlib1g:amd64\tnot a version\nok\t1:\n")}},
			[]string{
				`casper/filesystem.manifest:2: invalid package name "Bad_Name"`,
				`casper/filesystem.manifest:3: want "name<TAB>version", got 1 fields`,
				`casper/filesystem.manifest:4: want "name<TAB>version", got 4 fields`,
				`casper/filesystem.manifest:5: invalid version "1:"`,
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadBase(c.files)
			if err == nil {
				t.Fatal("accepted")
			}
			var lines []string
			var p Problems
			if errors.As(err, &p) {
				lines = p
			} else {
				lines = []string{err.Error()}
			}
			if len(lines) != len(c.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(lines), len(c.want), err)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d: %q\nwant prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestIsBaseFile(t *testing.T) {
	for p, want := range map[string]bool{
		"/casper/install-sources.yaml":                  true,
		"casper/ubuntu-server-minimal.manifest":         true,
		"./casper/filesystem.manifest":                  true,
		"/casper/filesystem.size":                       false,
		"/casper/sub/x.manifest":                        false,
		"/novasphere/packages/x.manifest":               false,
		"/casper/ubuntu-server-minimal.squashfs":        false,
		"/casper/ubuntu-server-minimal.manifest.backup": false,
	} {
		if got := IsBaseFile(p); got != want {
			t.Errorf("IsBaseFile(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestReadBaseFilesFromAnExtractedTree(t *testing.T) {
	root := t.TempDir()
	for _, f := range baseFiles() {
		writeFiles(t, root, map[string]string{f.Path: string(f.Data)})
	}
	writeFiles(t, root, map[string]string{"boot/grub/grub.cfg": "menuentry {}\n", "casper/sub/x.manifest": "a\t1\n"})
	files, err := ReadBaseFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	want := []string{"casper/filesystem.manifest", "casper/install-sources.yaml",
		"casper/ubuntu-server-minimal.manifest", "casper/ubuntu-server-minimal.ubuntu-server.installer.manifest",
		"casper/ubuntu-server-minimal.ubuntu-server.manifest"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	b, err := ReadBase(files)
	if err != nil || !reflect.DeepEqual(b, fixtureBase(t)) {
		t.Errorf("ReadBase of the tree: %v; differs from the same files given directly", err)
	}
	if files, err := ReadBaseFiles(filepath.Join(root, "boot")); err != nil || len(files) != 0 {
		t.Errorf("a tree without casper/: %v, %v", files, err)
	}
}

func TestResolve(t *testing.T) {
	// No packages: the base is not even read (an ISO without manifests).
	plan, err := Resolve(nil, nil)
	if err != nil || len(plan.Packages) != 0 {
		t.Errorf("no packages: %+v, %v", plan, err)
	}
	if _, err := Resolve(nil, readSpecs(t, "chain-c")); err == nil || !strings.Contains(err.Error(), "casper/filesystem.manifest: missing") {
		t.Errorf("packages and no manifests: %v", err)
	}
	plan, err = Resolve(baseFiles(), readSpecs(t, "chain-c"))
	if err != nil || len(plan.Packages) != 1 || plan.Base.Packages != 11 {
		t.Errorf("got %+v, %v", plan, err)
	}
}
