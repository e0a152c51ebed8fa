package testiso_test

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// TestWriteInstallerISO builds the installer fixture (cached) and writes
// it out: the file's digest is the one returned, its casper layer is listed
// in install-sources.yaml with the real size, its manifest lists the Debian
// packages by name and version, and its initramfs holds the static test
// installer and its curtin name.
func TestWriteInstallerISO(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "sub", "test-installer.iso")
	sum, err := testiso.WriteInstallerISO(ctx, out, testiso.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
		t.Errorf("returned digest %s is not the file's", sum)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	f, err := testiso.Build(ctx, testiso.Options{Installer: true})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Installer || f.Rootfs == nil || f.Rootfs.Packages < 50 || (f.Rootfs.Mode != "unshare" && f.Rootfs.Mode != "root") {
		t.Fatalf("fixture %+v, rootfs %+v", f, f.Rootfs)
	}
	var sources []map[string]any
	src, err := os.ReadFile(filepath.Join(f.Tree, testiso.SourcesPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, &sources); err != nil || len(sources) != 1 {
		t.Fatalf("install-sources.yaml: %v, %v", sources, err)
	}
	if sources[0]["path"] != filepath.Base(testiso.SquashfsPath) || sources[0]["default"] != true || sources[0]["type"] != "fsimage" ||
		sources[0]["size"] != int(f.Rootfs.Size) {
		t.Errorf("install-sources.yaml entry %v", sources[0])
	}
	manifest, err := os.ReadFile(filepath.Join(f.Tree, testiso.ManifestPath))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(manifest)), "\n") {
		name, version, ok := strings.Cut(line, "\t")
		if !ok || version == "" || strings.ContainsAny(version, " \t") {
			t.Fatalf("manifest line %q is not name<TAB>version", line)
		}
		names[name] = true
	}
	for _, want := range append([]string{"dpkg", "apt", "libc6:amd64"}, testiso.RootfsPackages...) {
		if !names[want] {
			t.Errorf("manifest lacks %s", want)
		}
	}
	if len(names) != f.Rootfs.Packages {
		t.Errorf("manifest lists %d packages, the build record %d", len(names), f.Rootfs.Packages)
	}

	initrd := t.TempDir()
	gz, err := os.Open(f.InitrdPath)
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	if err := tool.Command("cpio", "-idm", "--quiet", "--no-absolute-filenames").Dir(initrd).Stdin(io.Reader(zr)).Run(ctx); err != nil {
		t.Fatal(err)
	}
	bin, err := elf.Open(filepath.Join(initrd, "bin", "novasphere-installer"))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the test installer is dynamically linked; the initramfs has no C library")
		}
	}
	if l, err := os.Readlink(filepath.Join(initrd, "bin", "curtin")); err != nil || l != "novasphere-installer" {
		t.Errorf("bin/curtin -> %q, %v", l, err)
	}
	for _, img := range []string{"boot.img", "core.img", "core-boot.img", "BOOTX64.EFI"} {
		if _, err := os.Stat(filepath.Join(initrd, "usr", "lib", "novasphere-installer", img)); err != nil {
			t.Error(err)
		}
	}
}
