package outdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNamesOwnsTheFilesAndTheirTemporariesOnly(t *testing.T) {
	own := Names("novasphere-installer-*", "SHA256SUMS", "extract", "boot-*.log")
	for _, name := range []string{"SHA256SUMS", "novasphere-installer-v1.iso", "extract", "boot-bios-cdrom.log",
		".SHA256SUMS.lock", ".SHA256SUMS.123.0badcafe.tmp", ".extract.77.deadbeef.tmp", ".novasphere-installer-v1.iso.9.01234567.tmp", ".tmp-1.png"} {
		if !own(name) {
			t.Errorf("%s is not owned", name)
		}
	}
	for _, name := range []string{"notes.txt", "SHA256SUMS.bak", ".git", ".notes.lock", ".x.1.2.tmp", "boot-notes.txt", "extractor"} {
		if own(name) {
			t.Errorf("%s is owned", name)
		}
	}
}

// A directory reached through a link is never removed whole, nor the link.
func TestCleanThroughALinkRemovesOnlyOurNames(t *testing.T) {
	tmp := t.TempDir()
	target := filepath.Join(tmp, "target")
	if err := Make(target); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"SHA256SUMS", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(target, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if err := Clean(link, Names("SHA256SUMS"), &log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("the link is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "notes.txt")); err != nil {
		t.Errorf("a file that is not ours is gone: %v\n%s", err, log.String())
	}
	if _, err := os.Stat(filepath.Join(target, "SHA256SUMS")); !os.IsNotExist(err) {
		t.Errorf("our file stayed: %v", err)
	}
}
