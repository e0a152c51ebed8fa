package sbom

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	t.Parallel()
	pkgs, err := ParseManifest(strings.NewReader("adduser\t3.118ubuntu5\r\nlibc6:i386\t2.35-0ubuntu3.4\n\nbsdutils 1:2.37.2-4ubuntu3\n"), "/casper/x.manifest")
	if err != nil {
		t.Fatal(err)
	}
	want := []BasePackage{
		{Name: "adduser", Version: "3.118ubuntu5", Manifest: "/casper/x.manifest"},
		{Name: "libc6", Version: "2.35-0ubuntu3.4", Arch: "i386", Manifest: "/casper/x.manifest"},
		{Name: "bsdutils", Version: "1:2.37.2-4ubuntu3", Manifest: "/casper/x.manifest"},
	}
	if len(pkgs) != len(want) {
		t.Fatalf("got %d packages %+v, want %d", len(pkgs), pkgs, len(want))
	}
	for i := range want {
		if pkgs[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i+1, pkgs[i], want[i])
		}
	}
	for text, saying := range map[string]string{
		"adduser\t3.118\nbroken line with words\n": "/casper/x.manifest:2:",
		"adduser\n":     "/casper/x.manifest:1:",
		":amd64\t1.0\n": "not a package name",
		"a:b:c\t1.0\n":  "not a package name",
	} {
		if _, err := ParseManifest(strings.NewReader(text), "/casper/x.manifest"); err == nil || !strings.Contains(err.Error(), saying) {
			t.Errorf("%q: error %v, want one saying %q", text, err, saying)
		}
	}
}

func TestReadChartOfTheRepository(t *testing.T) {
	t.Parallel()
	c, err := ReadChart(filepath.Join("..", "..", "..", "charts", "novasphere", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "novasphere" || c.Version == "" {
		t.Errorf("ReadChart = %+v", c)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "Chart.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v2\nname: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadChart(bad); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("chart without version: %v", err)
	}
	if err := os.WriteFile(bad, []byte("name: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadChart(bad); err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("broken YAML: %v", err)
	}
}

// A real .deb, built with dpkg-deb, reads back with its fields and digest.
func TestReadDeb(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	must(t, os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "opt", "demo"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "opt", "demo", "hello"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte("Package: novasphere-demo\nVersion: 1:2.0+git3-1\nArchitecture: amd64\nMaintainer: Test <test@example.invalid>\nDescription: demo\n"), 0o644))
	deb := filepath.Join(dir, "novasphere-demo_2.0+git3-1_amd64.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	d, err := ReadDeb(context.Background(), deb, "packages/novasphere-demo_2.0+git3-1_amd64.deb")
	if err != nil {
		t.Fatal(err)
	}
	wantSum, err := fileSHA256(deb)
	if err != nil {
		t.Fatal(err)
	}
	want := OfflineDeb{File: "packages/novasphere-demo_2.0+git3-1_amd64.deb", Package: "novasphere-demo", Version: "1:2.0+git3-1", Arch: "amd64", SHA256: wantSum}
	if d != want {
		t.Errorf("ReadDeb = %+v, want %+v", d, want)
	}
	if _, err := ReadDeb(context.Background(), filepath.Join(root, "opt", "demo", "hello"), "packages/hello.deb"); err == nil || !strings.Contains(err.Error(), "not a readable .deb") {
		t.Errorf("ReadDeb of a text file: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
