package payload

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeTree creates files (path -> content) under a new temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestWalkListsPayload(t *testing.T) {
	root := writeTree(t, map[string]string{
		"charts/app/Chart.yaml": "name: app\n",
		"scripts/install.sh":    "#!/bin/sh\n",
		"configs/app.yaml":      "a: 1\n",
		"magefiles/x.go":        "package x\n",
	})
	if err := os.Chmod(filepath.Join(root, "scripts/install.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "../scripts/install.sh", filepath.Join(root, "charts/install-link"))
	tree, err := Walk(root, Dirs)
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, e := range tree.Entries {
		rels = append(rels, e.Rel)
	}
	want := "charts charts/app charts/app/Chart.yaml charts/install-link configs configs/app.yaml scripts scripts/install.sh"
	if got := strings.Join(rels, " "); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	if strings.Join(tree.Missing, ",") != "packages" {
		t.Errorf("missing = %v, want [packages]", tree.Missing)
	}
	files := tree.Files()
	if len(files) != 3 || !files[2].Executable() || files[0].Executable() {
		t.Errorf("files = %+v", files)
	}
	for _, e := range tree.Entries {
		if e.Stat.Inode == 0 || e.Stat.ChangeTime.IsZero() || e.Stat.Links == 0 {
			t.Errorf("%s: no inode, link count or change time: %+v", e.Rel, e.Stat)
		}
	}
}

func TestWalkFollowsLinkedPayloadDirectory(t *testing.T) {
	root := writeTree(t, map[string]string{"scripts/a.sh": "x"})
	elsewhere := writeTree(t, map[string]string{"big.deb": "deb"})
	symlink(t, elsewhere, filepath.Join(root, "packages"))
	tree, err := Walk(root, Dirs)
	if err != nil {
		t.Fatal(err)
	}
	files := tree.Files()
	if len(files) != 2 || files[0].Rel != "packages/big.deb" || files[0].Path != filepath.Join(elsewhere, "big.deb") {
		t.Errorf("files = %+v", files)
	}
}

func TestWalkRefuses(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, root string) string // returns the offending path
		wantErr error
	}{
		{"symlink to parent of payload", func(t *testing.T, root string) string {
			p := filepath.Join(root, "charts/evil")
			symlink(t, "../../etc/passwd", p)
			return p
		}, ErrEscapingSymlink},
		{"absolute symlink", func(t *testing.T, root string) string {
			p := filepath.Join(root, "scripts/abs")
			symlink(t, "/etc/passwd", p)
			return p
		}, ErrEscapingSymlink},
		{"symlink into a non-payload directory", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs/src")
			symlink(t, "../magefiles/x.go", p)
			return p
		}, ErrEscapingSymlink},
		{"symlink escaping through another link", func(t *testing.T, root string) string {
			symlink(t, "..", filepath.Join(root, "scripts/up"))
			return filepath.Join(root, "scripts/up")
		}, ErrEscapingSymlink},
		{"dangling symlink", func(t *testing.T, root string) string {
			p := filepath.Join(root, "scripts/gone")
			symlink(t, "nothing-here", p)
			return p
		}, ErrEscapingSymlink},
		{"FIFO", func(t *testing.T, root string) string {
			p := filepath.Join(root, "scripts/pipe")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrSpecialFile},
		{"socket", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs/sock")
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return p
		}, ErrSpecialFile},
		// xorriso stores hard-linked files once: the ISO's bytes would
		// depend on how the checkout was made.
		{"hard link to a file outside the payload", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs/x.go")
			if err := os.Link(filepath.Join(root, "magefiles/x.go"), p); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrHardLink},
		{"hard link within the payload", func(t *testing.T, root string) string {
			p := filepath.Join(root, "charts/app/values.yaml")
			if err := os.Link(filepath.Join(root, "configs/a.yaml"), p); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrHardLink},
		{"newline in name", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs/a\nb")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrBadName},
		{"invalid UTF-8 name", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs/bad\xff.yaml")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrBadName},
		{"name too long for Joliet", func(t *testing.T, root string) string {
			p := filepath.Join(root, "configs", strings.Repeat("n", 104))
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrBadName},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			name    string
			setup   func(t *testing.T, root string) string
			wantErr error
		}{"character device", func(t *testing.T, root string) string {
			p := filepath.Join(root, "scripts/null")
			if out, err := exec.Command("mknod", p, "c", "1", "3").CombinedOutput(); err != nil {
				t.Fatalf("mknod: %v %s", err, out)
			}
			return p
		}, ErrSpecialFile})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{
				"charts/app/Chart.yaml": "x", "scripts/install.sh": "x", "configs/a.yaml": "x", "magefiles/x.go": "x",
			})
			offender := c.setup(t, root)
			_, err := Walk(root, Dirs)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), offender) {
				t.Errorf("error does not name %q: %v", offender, err)
			}
			if errors.Is(err, ErrHardLink) && !strings.Contains(err.Error(), "hard link: replace it with a copy") {
				t.Errorf("error does not say what to do: %v", err)
			}
		})
	}
}

func TestCheckNameAcceptsDebianPackageNames(t *testing.T) {
	for _, n := range []string{"linux-modules-extra-5.15.0-91-generic_5.15.0-91.101_amd64.deb", "libc6_2.35-0ubuntu3.4_amd64.deb", "a+b~c.d", "Ünïcode.txt", ".hidden"} {
		if err := CheckName(n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
}
