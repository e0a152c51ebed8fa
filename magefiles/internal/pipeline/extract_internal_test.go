package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
)

// Issue 20 item 8: a base whose packages cannot be listed (a casper
// manifest, but neither install-sources.yaml nor filesystem.manifest) is
// found at extract, naming what is missing, before any verdict.
func TestExtractFindsABaseWhosePackagesCannotBeListed(t *testing.T) {
	x := iso.Extracted{Dir: t.TempDir(), Files: []string{"casper/ubuntu-server-minimal.manifest", "boot/grub/grub.cfg"}}
	for _, f := range x.Files {
		if err := os.MkdirAll(filepath.Dir(x.Path(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(x.Path(f), []byte("bash\t5.1-6ubuntu1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := &Build{Extracted: &x}
	err := b.checkBasePackages()
	if err == nil || !strings.Contains(err.Error(), "casper/filesystem.manifest: missing") || !strings.Contains(err.Error(), "cannot be listed") {
		t.Fatalf("error = %v, want it to name the missing manifest", err)
	}

	// With the manifest the single-squashfs layout reads, it passes.
	x.Files = append(x.Files, "casper/filesystem.manifest")
	if err := os.WriteFile(x.Path("casper/filesystem.manifest"), []byte("bash\t5.1-6ubuntu1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.checkBasePackages(); err != nil {
		t.Fatalf("a listable base was refused: %v", err)
	}
}
