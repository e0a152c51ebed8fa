package verify

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

func TestDefaultBootMarker(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]bool{
		"NOVASPHERE-CMDLINE: BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ ---":                true,
		"[    0.000000] Command line: BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ quiet ---": true,
		"NOVASPHERE-CMDLINE: BOOT_IMAGE=/casper/vmlinuz ---":                                                         false,
		`  linux /casper/vmlinuz autoinstall ds=nocloud\;s=/cdrom/nocloud/ ---`:                                      false,
	} {
		if got := DefaultBootMarker.MatchString(line); got != want {
			t.Errorf("%q: match %t, want %t", line, got, want)
		}
	}
}

func TestKernelLinesWithoutArgs(t *testing.T) {
	t.Parallel()
	cfg := strings.Join([]string{
		`menuentry "Install" {`,
		`	linux	/casper/vmlinuz autoinstall ds=nocloud\;s=/cdrom/nocloud/ console=ttyS0 ---`,
		`}`,
		`menuentry "HWE" {`,
		`	linux	/casper/hwe-vmlinuz  ---`,
		`}`,
		`menuentry "after the separator" {`,
		`	linuxefi /casper/vmlinuz --- autoinstall ds=nocloud\;s=/cdrom/nocloud/`,
		`}`,
		`menuentry 'Test memory' {`,
		`	linux16 /boot/memtest86+.bin`,
		`}`,
	}, "\n")
	n, missing := kernelLinesWithoutArgs(cfg)
	if n != 3 || len(missing) != 2 || missing[0].line != 5 || missing[1].line != 8 {
		t.Fatalf("got %d kernel lines, missing %+v; want 3 and lines 5 and 8", n, missing)
	}
}

func TestContainsWord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s, v string
		want bool
	}{
		{"Ubuntu-Server 22.04.3\nNovaSphere installer 20261127", "20261127", true},
		{"NovaSphere installer 202611270", "20261127", false},
		{"NovaSphere installer v1.2.3-rc.1", "v1.2.3", false},
		{"NovaSphere installer v1.2.3 (amd64)", "v1.2.3", true},
	} {
		if got := containsWord(c.s, c.v); got != c.want {
			t.Errorf("containsWord(%q, %q) = %t", c.s, c.v, got)
		}
	}
}

// TestISOFilesReadLikeXorrisoExtracts reads files through xorriso's LBA
// report and compares them with what xorriso itself extracts, for names
// with blanks and quotes and a file of several chunks.
func TestISOFilesReadLikeXorrisoExtracts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	files := map[string][]byte{
		"/plain.txt":                   []byte("hello\n"),
		"/a dir/with blank.txt":        []byte("blank\n"),
		"/quote's/it's \"quoted\".txt": []byte("quotes\n"),
		"/empty":                       nil,
		"/big.bin":                     make([]byte, 3<<20+7), // several 1 MiB reads
	}
	_, _ = rand.Read(files["/big.bin"])
	for name, data := range files {
		p := filepath.Join(tree, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "t.iso")
	if err := tool.Command("xorriso", "-as", "mkisofs", "-R", "-o", iso, tree).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	im, err := openISO(t.Context(), iso)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if len(im.files) != len(files) {
		t.Errorf("listed %d files, want %d: %v", len(im.files), len(files), im.files)
	}
	for name, want := range files {
		r, size, err := im.open(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, _ := io.ReadAll(r)
		if size != int64(len(want)) || !bytes.Equal(got, want) || !bytes.Equal(got, readISOFile(t, iso, name)) {
			t.Errorf("%s: read %d bytes that differ from the file or from xorriso's extraction", name, len(got))
		}
	}
	if _, _, err := im.open("/nope"); err == nil {
		t.Error("opening a missing file succeeded")
	}
}
