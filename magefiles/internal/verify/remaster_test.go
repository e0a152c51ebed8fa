package verify

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// testVersion is the version the test remasters are built for.
const testVersion = "v1.2.3"

// The remastered fixture, built once per test binary. Until helper C's pack
// API is in place this is a faithful stand-in made the way pack is specified:
// xorriso -indev fixture -outdev … -map … -boot_image any replay, with the
// repository's payload under /novasphere, VERSION, MANIFEST.sha256, /nocloud,
// grub.cfg and loopback.cfg patched with customize.PatchGrub, /.disk/info and
// a regenerated /md5sum.txt.
var (
	happyOnce sync.Once
	happyISO  string
	happyErr  error
	workDir   string
)

// happy returns the remastered fixture and the fixture it came from.
func happy(t testing.TB) (iso string, base testiso.Fixture) {
	t.Helper()
	base = testiso.Shared(t)
	happyOnce.Do(func() {
		workDir, happyErr = os.MkdirTemp("", "verify-test-")
		if happyErr != nil {
			return
		}
		happyISO = filepath.Join(workDir, "happy.iso")
		happyErr = remaster(context.Background(), base, remasterSpec{}, happyISO)
	})
	if happyErr != nil {
		t.Fatalf("building the remastered fixture: %v", happyErr)
	}
	return happyISO, base
}

// remasterSpec changes a remaster: Files replace generated or payload files
// before the checksums are computed (so MANIFEST.sha256 and md5sum.txt agree
// with them); After replaces files after (so the sums are stale).
type remasterSpec struct {
	Files map[string][]byte
	After map[string][]byte
}

// remaster writes out: base's ISO plus the payload for testVersion.
func remaster(ctx context.Context, base testiso.Fixture, spec remasterSpec, out string) error {
	stage, err := os.MkdirTemp(workDir, "stage-")
	if err != nil {
		return err
	}
	files, err := generatedFiles(base)
	if err != nil {
		return err
	}
	for name, data := range spec.Files {
		files[name] = data
	}
	files["/novasphere/MANIFEST.sha256"] = manifest(files)
	md5txt, err := md5sumTxt(base, files)
	if err != nil {
		return err
	}
	files["/md5sum.txt"] = md5txt
	for name, data := range spec.After {
		files[name] = data
	}
	for name, data := range files {
		p := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	volid, err := customize.VolumeID(testVersion)
	if err != nil {
		return err
	}
	return tool.Command("xorriso", "-indev", base.ISO, "-outdev", out, "-volid", volid, "-joliet", "on",
		"-map", stage, "/", "-boot_image", "any", "replay").Run(ctx)
}

// generatedFiles are the files a remaster adds or changes, by ISO path.
func generatedFiles(base testiso.Fixture) (map[string][]byte, error) {
	root, err := config.FindRoot()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, dir := range []string{"charts", "scripts", "configs", "packages"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			data, err := os.ReadFile(p)
			files["/novasphere/"+filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	files["/novasphere/VERSION"] = customize.VersionFile(testVersion)
	for _, f := range []string{"user-data", "meta-data"} {
		data, err := os.ReadFile(filepath.Join(root, "configs", "autoinstall", f))
		if err != nil {
			return nil, err
		}
		files["/nocloud/"+f] = data
	}
	for _, cfg := range []string{"/boot/grub/grub.cfg", "/boot/grub/loopback.cfg"} {
		data, err := os.ReadFile(filepath.Join(base.Tree, cfg))
		if err != nil {
			return nil, err
		}
		if files[cfg], err = customize.PatchGrub(data, testVersion, ""); err != nil {
			return nil, err
		}
	}
	info, err := os.ReadFile(filepath.Join(base.Tree, ".disk", "info"))
	if err != nil {
		return nil, err
	}
	files["/.disk/info"] = customize.DiskInfo(info, testVersion)
	return files, nil
}

// manifest is MANIFEST.sha256 for the /novasphere files.
func manifest(files map[string][]byte) []byte {
	var lines []string
	for name, data := range files {
		rel, ok := strings.CutPrefix(name, "/novasphere/")
		if !ok || rel == "MANIFEST.sha256" {
			continue
		}
		lines = append(lines, fmt.Sprintf("%x  %s\n", sha256.Sum256(data), rel))
	}
	sort.Slice(lines, func(i, j int) bool { return lineName(lines[i]) < lineName(lines[j]) })
	return []byte(strings.Join(lines, ""))
}

// md5sumTxt is the base's /md5sum.txt with the lines of the new and changed
// files regenerated, sorted byte-wise.
func md5sumTxt(base testiso.Fixture, files map[string][]byte) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(base.Tree, "md5sum.txt"))
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		sums[name] = sum
	}
	for name, data := range files {
		sums["."+name] = fmt.Sprintf("%x", md5.Sum(data))
	}
	var lines []string
	for name, sum := range sums {
		lines = append(lines, sum+"  "+name+"\n")
	}
	sort.Slice(lines, func(i, j int) bool { return lineName(lines[i]) < lineName(lines[j]) })
	return []byte(strings.Join(lines, "")), nil
}

func lineName(line string) string { _, name, _ := strings.Cut(line, "  "); return name }

// noEFIEntry rebuilds iso from its extracted tree with the boot options
// xorriso reports for it, minus the El Torito EFI entry: the ESP is still
// appended as GPT partition 2, but no catalog entry points at it.
func noEFIEntry(ctx context.Context, iso, out string) error {
	report, err := tool.Command("xorriso", "-indev", iso, "-report_el_torito", "as_mkisofs").Output(ctx)
	if err != nil {
		return err
	}
	var args []string
	for _, line := range strings.Split(string(report), "\n") {
		if strings.HasPrefix(line, "-eltorito-alt-boot") {
			break // the EFI entry's options follow
		}
		words, err := shellWords(line)
		if err != nil {
			return err
		}
		args = append(args, words...)
	}
	tree := out + ".tree"
	if err := tool.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", tree).Run(ctx); err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	if err := os.Remove(filepath.Join(tree, "boot.catalog")); err != nil {
		return err
	}
	if err := makeWritable(tree); err != nil {
		return err
	}
	args = append([]string{"-as", "mkisofs", "-R", "-J"}, args...)
	return tool.Command("xorriso", append(args, "-o", out, tree)...).Run(ctx)
}

// shellWords splits a line of xorriso's as_mkisofs report into words:
// blanks separate words outside quotes; '...' and "..." quote.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// makeWritable lets the test's temporary directory be removed: xorriso
// extracts read-only directories.
func makeWritable(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return nil
	})
}

// flipByte copies iso to out and inverts one byte in the data of the ISO
// file name: bit rot in one file, nothing else changed.
func flipByte(ctx context.Context, iso, name, out string) error {
	im, err := openISO(ctx, iso)
	if err != nil {
		return err
	}
	defer im.Close()
	exts := im.files[name]
	if len(exts) == 0 || exts[0].size == 0 {
		return fmt.Errorf("%s: not in %s or empty", name, iso)
	}
	data, err := os.ReadFile(iso)
	if err != nil {
		return err
	}
	data[exts[0].lba*2048+exts[0].size/2] ^= 0xff
	return os.WriteFile(out, data, 0o644)
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func readISOFile(t *testing.T, iso, name string) []byte {
	t.Helper()
	dir := t.TempDir()
	dst := filepath.Join(dir, path.Base(name))
	if err := tool.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", name, dst).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(data)
}
