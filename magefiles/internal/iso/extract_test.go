package iso_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/novasphere/novasphere-iso/magefiles/internal/iso"

	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

func TestExtractReadsOnlyWhatChanges(t *testing.T) {
	base := testiso.Shared(t)
	dir := filepath.Join(t.TempDir(), "extract")
	var log strings.Builder
	x, err := Extract(context.Background(), ExtractOptions{Base: base.ISO, Dir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ExtractedFiles {
		want, err := os.ReadFile(filepath.Join(base.Tree, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(x.Path(p))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: extracted copy differs from the fixture's (%v)", p, err)
		}
	}
	var extracted []string
	err = filepath.WalkDir(x.TreeDir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(x.TreeDir(), p)
			extracted = append(extracted, "/"+filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(extracted)
	want := []string{DiskInfo, GrubCfg, LoopbackCfg, InstallSources, "/casper/ubuntu-server-minimal.manifest",
		"/casper/ubuntu-server-minimal.ubuntu-server.installer.manifest", "/casper/ubuntu-server-minimal.ubuntu-server.manifest", MD5SumTxt}
	if !slices.Equal(extracted, want) {
		t.Errorf("extracted %v, want only %v (not the squashfs, kernel or initrd)", extracted, want)
	}
	if got := x.Manifests(); len(got) != 3 || !IsManifest(got[0]) {
		t.Errorf("manifests %v", got)
	}
	report, err := x.Report()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.ElTorito, "-b '/boot/grub/i386-pc/eltorito.img'") || !strings.Contains(report.SystemArea, "GPT") {
		t.Errorf("boot equipment not recorded:\n%s\n%s", report.ElTorito, report.SystemArea)
	}
	if x.BootCatalog != "/boot.catalog" || !slices.Equal(x.BootImages, []string{"/boot/grub/i386-pc/eltorito.img"}) {
		t.Errorf("boot catalog %q, images %v", x.BootCatalog, x.BootImages)
	}
	if !slices.Contains(x.BaseFiles, "/casper/vmlinuz") || !slices.Contains(x.TopLevel, "/casper") {
		t.Errorf("file lists incomplete: %v / %v", x.BaseFiles, x.TopLevel)
	}
	if sum, _ := hexSHA256File(base.ISO); x.BaseSHA256 != sum {
		t.Errorf("base digest %s, want %s", x.BaseSHA256, sum)
	}
	if !x.PaddingIncluded {
		t.Error("the fixture's GPT gap partition was not noticed")
	}

	// A second extract of the same base does nothing.
	before, _ := os.Stat(x.Path(GrubCfg))
	log.Reset()
	if _, err := Extract(context.Background(), ExtractOptions{Base: base.ISO, Dir: dir, Log: &log}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(x.Path(GrubCfg))
	if !strings.Contains(log.String(), "up to date") || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second extract was not a no-op: %s", log.String())
	}
}

func TestExtractAgainAfterBaseChanges(t *testing.T) {
	base := testiso.Shared(t)
	tmp := t.TempDir()
	copyISO := filepath.Join(tmp, "base.iso")
	if err := copyFile(base.ISO, copyISO, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "extract")
	if _, err := Extract(context.Background(), ExtractOptions{Base: copyISO, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(copyISO, future, future); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	x, err := Extract(context.Background(), ExtractOptions{Base: copyISO, Dir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "up to date") || !x.FromBase(copyISO) {
		t.Errorf("a changed base was not extracted again: %s", log.String())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(tmp, ".extract*.tmp")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

// fetch has already verified the base's digest: Extract records the digest it
// is given instead of reading the whole ISO again (2 GB for a real base).
func TestExtractTrustsAKnownDigest(t *testing.T) {
	base := testiso.Shared(t)
	known := strings.Repeat("ab", 32)
	x, err := Extract(context.Background(), ExtractOptions{Base: base.ISO, BaseSHA256: known, Dir: filepath.Join(t.TempDir(), "extract")})
	if err != nil {
		t.Fatal(err)
	}
	if x.BaseSHA256 != known {
		t.Errorf("base digest %s, want the digest fetch verified (%s)", x.BaseSHA256, known)
	}
}

// editInPlace changes one byte of the file at the first occurrence of find
// (which must occur once) without changing its size or inode, then sets its
// modification time back, as cp -p, rsync, tar and CI caches do. It returns
// the edited text.
func editInPlace(t *testing.T, path string, find []byte) []byte {
	t.Helper()
	before := mustStat(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, find); n != 1 {
		t.Fatalf("%q occurs %d times in %s, want once", find, n, path)
	}
	edited := bytes.Clone(find)
	edited[0] ^= 0x20 // swaps the case of an ASCII letter
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(edited, int64(bytes.Index(data, find))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after := mustStat(t, path)
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the edit changed the size or modification time of %s", path)
	}
	return edited
}

// A base edited in place with its size and modification time kept is
// extracted again: its inode's change time moved.
func TestExtractNoticesAnInPlaceEditWithTheTimeSetBack(t *testing.T) {
	base := testiso.Shared(t)
	tmp := t.TempDir()
	copyISO := filepath.Join(tmp, "base.iso")
	if err := copyFile(base.ISO, copyISO, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "extract")
	first, err := Extract(context.Background(), ExtractOptions{Base: copyISO, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(first.Path(DiskInfo))
	if err != nil {
		t.Fatal(err)
	}
	// /.disk/info is one of the files Extract copies out.
	edited := editInPlace(t, copyISO, info)
	var log strings.Builder
	x, err := Extract(context.Background(), ExtractOptions{Base: copyISO, Dir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "up to date") {
		t.Fatalf("an edited base was taken as up to date: %s", log.String())
	}
	got, err := os.ReadFile(x.Path(DiskInfo))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := hexSHA256File(copyISO)
	if !bytes.Equal(got, edited) || x.BaseSHA256 != sum {
		t.Errorf("extracted /.disk/info %q (want %q), base digest %s (want %s)", got, edited, x.BaseSHA256, sum)
	}
}
