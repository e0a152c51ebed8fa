package debcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadDebControlFields(t *testing.T) {
	// One spec per compression dpkg-deb writes: xz, gzip, zstd, none.
	for _, k := range []string{"chain-a", "chain-b", "chain-c", "bchain-b", "mta-alt", "libfoo1-new", "libbar2-new"} {
		s := specs[k]
		path := debFile(t, k)
		d, err := ReadDebFile(path, "packages/"+s.fileName())
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if d.Package != s.Package || d.Version != s.Version || d.Architecture != s.Arch {
			t.Errorf("%s: read %s %s %s, built %s %s %s", k, d.Package, d.Version, d.Architecture, s.Package, s.Version, s.Arch)
		}
		if d.File != "packages/"+s.fileName() {
			t.Errorf("%s: File = %q", k, d.File)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if d.SHA256 != hex.EncodeToString(sum[:]) || d.Size != int64(len(raw)) {
			t.Errorf("%s: SHA256 %s size %d, want %x size %d", k, d.SHA256, d.Size, sum, len(raw))
		}
		for _, f := range s.Fields {
			name, value, _ := strings.Cut(f, ": ")
			got := map[string]string{"Depends": d.Depends, "Pre-Depends": d.PreDepends, "Provides": d.Provides,
				"Conflicts": d.Conflicts, "Breaks": d.Breaks, "Multi-Arch": d.MultiArch}
			if g, ok := got[name]; ok && g != value {
				t.Errorf("%s: %s = %q, want %q", k, name, g, value)
			}
		}
	}
}

func TestReadDebFromBytes(t *testing.T) {
	raw, err := os.ReadFile(debFile(t, "mta-alt"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadDeb("novasphere/packages/mta-alt.deb", bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if d.File != "novasphere/packages/mta-alt.deb" || d.Provides != "mail-transport-agent" || d.Conflicts != "mail-transport-agent" {
		t.Errorf("got %+v", d)
	}
}

// TestReadDebRefusesDamagedFiles: what a bad download or a wrong file looks
// like gets one line that names the file and says what is wrong.
func TestReadDebRefusesDamagedFiles(t *testing.T) {
	good, err := os.ReadFile(debFile(t, "chain-a"))
	if err != nil {
		t.Fatal(err)
	}
	// The data member is last; find where it starts to damage it.
	dataAt := bytes.Index(good, []byte("data.tar"))
	if dataAt < 0 {
		t.Fatal("no data.tar member in the built .deb")
	}
	flipped := bytes.Clone(good)
	for i := dataAt + 60 + 40; i < dataAt+60+80 && i < len(flipped); i++ {
		flipped[i] ^= 0xff
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"x.deb", []byte("this is a text file, not a package\n"), `not a Debian package: a .deb is an ar archive starting "!<arch>\n"; this 35-byte file starts "this is "`},
		{"empty.deb", nil, "not a Debian package"},
		{"half.deb", good[:len(good)/2], "truncated"},
		{"short-by-one.deb", good[:len(good)-1], "truncated"},
		{"in-header.deb", good[:dataAt+20], "truncated or damaged"},
		{"garbage-after.deb", append(bytes.Clone(good), []byte("junk at the end\n")...), "truncated or damaged"},
		{"flipped.deb", flipped, "data.tar.xz: corrupt archive"},
		{"ar-not-deb.deb", []byte("!<arch>\nhello.txt/      0           0     0     644     6         `\nhello\n"), "first ar member is not debian-binary"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadDebFile(path, "packages/"+c.name)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "packages/"+c.name+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with the file name and containing %q", msg, c.want)
			}
		})
	}
}

func TestReadDebDirReportsEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"chain-a", "chain-b"} {
		raw, err := os.ReadFile(debFile(t, k))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, specs[k].fileName()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a package, not a .deb: ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	debs, err := ReadDebDir(dir, "packages")
	if err != nil {
		t.Fatal(err)
	}
	if len(debs) != 2 || debs[0].File != "packages/chain-a_1.0_amd64.deb" || debs[1].File != "packages/chain-b_1.0_all.deb" {
		t.Fatalf("got %+v", debs)
	}

	if err := os.WriteFile(filepath.Join(dir, "x.deb"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra", "y.deb"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Issue 20 item 10: a link is refused before it is read (never printing
	// what it points at), and "packages/" gives no double slash.
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link.deb")); err != nil {
		t.Fatal(err)
	}
	debs, err = ReadDebDir(dir, "packages/")
	var p Problems
	if !errors.As(err, &p) || debs != nil {
		t.Fatalf("got %v, %v; want Problems and no packages", debs, err)
	}
	if len(p) != 3 || !strings.HasPrefix(p[0], "packages/extra/y.deb: install.sh installs only packages/*.deb; move it up into packages/ or") ||
		!strings.HasPrefix(p[1], "packages/link.deb: a symbolic link") ||
		!strings.HasPrefix(p[2], "packages/x.deb: not a Debian package") {
		t.Errorf("problems:\n%s", p)
	}
	if msg := err.Error(); strings.Contains(msg, "root:x") || strings.Contains(msg, "//") {
		t.Errorf("the message shows the link's target or a double slash:\n%s", msg)
	}

	debs, err = ReadDebDir(filepath.Join(dir, "nonexistent"), "packages")
	if err != nil || len(debs) != 0 {
		t.Errorf("missing directory: %v, %v; want no packages, no error", debs, err)
	}
}
