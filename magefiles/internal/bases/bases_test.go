package bases

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoFile is the committed configs/bases.yaml.
func repoFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", File))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommittedFile(t *testing.T) {
	s, err := Load(repoFile(t), File)
	if err != nil {
		t.Fatal(err)
	}
	if s.Default != "ubuntu-22.04.3" {
		t.Errorf("default = %q, want the seed's ubuntu-22.04.3", s.Default)
	}
	b, err := s.Get("ubuntu-26.04.1")
	if err != nil {
		t.Fatal(err)
	}
	if b.SBOMDistro != "ubuntu-26.04" || b.Quirk(QuirkInstallSources) != SourcesCatalogV2 || b.Quirk(QuirkHWEMenu) != "no" {
		t.Errorf("26.04.1 = %+v, quirks %v", b, b.Quirks())
	}
	old, _ := s.Get("ubuntu-22.04.3")
	if old.Quirk(QuirkInstallSources) != SourcesList || old.Quirk(QuirkRootAutoinstall) != AutoinstallNocloud {
		t.Errorf("22.04.3 quirks default wrongly: %v", old.Quirks())
	}
	want := "https://old-releases.ubuntu.com/releases/22.04.3/SHA256SUMS"
	if len(old.SumsURLs) != 2 || old.SumsURLs[1] != want {
		t.Errorf("22.04.3 sums = %v, want the second %s", old.SumsURLs, want)
	}
}

const good = `default: a
bases:
  - id: a
    version: "22.04.3"
    codename: jammy
    iso: a.iso
    urls: [https://example.invalid/a.iso]
    keyring: k.asc
    sbom-distro: ubuntu-22.04
`

// TestBadData: each mistake is refused naming the file and its line.
func TestBadData(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"missing field", strings.Replace(good, "    codename: jammy\n", "", 1), "x.yaml:3: base a has no codename"},
		{"unknown quirk", good + "    quirks:\n      grub-offset: 12\n", `x.yaml:11: unknown quirk "grub-offset"`},
		{"bad quirk value", good + "    quirks:\n      install-sources: v3\n", `x.yaml:11: quirk install-sources: "v3" is not one of list, catalog-v2`},
		{"duplicate id", good + strings.SplitN(good, "bases:\n", 2)[1], `x.yaml:10: id "a" is used twice (first at line 3)`},
		{"unknown field", good + "    sha: x\n", `x.yaml:10: unknown field "sha"`},
		{"default not listed", strings.Replace(good, "default: a", "default: b", 1), `x.yaml:1: default "b" is not one of the bases`},
		{"url not https", strings.Replace(good, "https://example.invalid/a.iso", "http://example.invalid/a.iso", 1), `x.yaml:7: "http://example.invalid/a.iso" is not an https:// URL`},
		{"url of another file", strings.Replace(good, "invalid/a.iso", "invalid/b.iso", 1), "x.yaml:3: base a: URL https://example.invalid/b.iso does not end in its iso a.iso"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "x.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(good), "x.yaml"); err != nil {
		t.Fatalf("the good file is refused: %v", err)
	}
}

func TestGetUnknown(t *testing.T) {
	s, err := Parse([]byte(good), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get("ubuntu-30.04")
	if err == nil || !strings.Contains(err.Error(), `BASE="ubuntu-30.04" is not in x.yaml (it has a)`) {
		t.Fatalf("error = %v", err)
	}
}

func TestLockRecordAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bases.lock")
	s, _ := Parse([]byte(good), "x.yaml")
	b := s.Bases[0]
	sum := strings.Repeat("ab", 32)
	e, err := Record(path, "l.lock", b, sum)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLock(path, "l.lock")
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := l.Find(b)
	if err != nil || !ok || got != e || got.SHA256 != sum {
		t.Fatalf("Find = %+v %v %v, want %+v", got, ok, err, e)
	}
	if _, err := Record(path, "l.lock", b, strings.Repeat("cd", 32)); err == nil || !strings.Contains(err.Error(), "already locks a with another digest") {
		t.Fatalf("a second record replaced the first: %v", err)
	}
	if again, err := Record(path, "l.lock", b, sum); err != nil || again != e {
		t.Fatalf("recording the same digest again (a concurrent first fetch): %+v, %v", again, err)
	}
	// A hand-edited line is refused with its line.
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "sha256:abab", "sha256:ABAB", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(path, "l.lock"); err == nil || !strings.Contains(err.Error(), "l.lock:4: ") {
		t.Fatalf("a malformed lock line was accepted: %v", err)
	}
}

func TestCommittedLock(t *testing.T) {
	s, err := Load(repoFile(t), File)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLock(filepath.Join(filepath.Dir(repoFile(t)), "bases.lock"), LockFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range s.Bases {
		if _, ok, _ := l.Find(b); b.Release && !ok {
			t.Errorf("%s:%d: %s is marked for release but has no line in %s: CI would refuse it", File, b.Line, b.ID, LockFile)
		}
	}
	for _, e := range l.Entries {
		b, err := s.Get(e.ID)
		if err != nil {
			t.Errorf("%s: %v", e.Where(LockFile), err)
			continue
		}
		if _, _, err := l.Find(b); err != nil {
			t.Error(err)
		}
	}
	b, _ := s.Get("ubuntu-22.04.3")
	e, ok, _ := l.Find(b)
	if !ok || e.SHA256 != "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd" {
		t.Errorf("22.04.3 lock = %+v %v, want the seed's published digest", e, ok)
	}
}

func TestLatest(t *testing.T) {
	s, err := Load(repoFile(t), File)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"ubuntu-24.04": "ubuntu-24.04.4", "ubuntu-22.04": "ubuntu-22.04.5", "ubuntu-22.04.3": "ubuntu-22.04.3"} {
		if b, err := s.Latest(in); err != nil || b.ID != want {
			t.Errorf("Latest(%q) = %s, %v; want %s", in, b.ID, err, want)
		}
	}
	if _, err := s.Latest("ubuntu-30.04"); err == nil {
		t.Error("an unknown series was found")
	}
}
