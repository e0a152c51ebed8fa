package verify

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

const (
	// testVersion is the version the test ISOs are built for.
	testVersion = "v1.2.3"
	// testEpoch fixes the remaster's timestamps.
	testEpoch = int64(1767225600)
)

var (
	scratchOnce sync.Once
	scratchDir  string
	scratchErr  error
)

// scratch is a directory for this test binary's ISOs, removed by TestMain.
func scratch(tb testing.TB) string {
	tb.Helper()
	scratchOnce.Do(func() { scratchDir, scratchErr = os.MkdirTemp("", "verify-test-") })
	if scratchErr != nil {
		tb.Fatal(scratchErr)
	}
	return scratchDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if scratchDir != "" {
		os.RemoveAll(scratchDir)
	}
	os.Exit(code)
}

var happyBuild struct {
	once sync.Once
	iso  string
	err  error
}

// happy returns the remastered fixture (pack's real output, built once per
// test binary) and the fixture it came from.
func happy(tb testing.TB) (string, testiso.Fixture) {
	tb.Helper()
	base := testiso.Shared(tb)
	dir := scratch(tb)
	happyBuild.once.Do(func() {
		happyBuild.iso, happyBuild.err = remaster(context.Background(), base, filepath.Join(dir, "happy"))
	})
	if happyBuild.err != nil {
		tb.Fatalf("remastering the test ISO: %v", happyBuild.err)
	}
	return happyBuild.iso, base
}

// remaster builds the installer ISO from base for testVersion with the
// repository's payload, through `go run magefile.go pack`: the chain users
// run.
func remaster(ctx context.Context, base testiso.Fixture, dir string) (string, error) {
	// No KERNEL_ARGS: the fixture's own grub.cfg decides what the kernel
	// prints on the serial console (the silent fixture prints nothing).
	return base.Pack(ctx, testVersion, dir, testEpoch, "KERNEL_ARGS=")
}

// mutate writes out: a copy of src in which xorriso replaced the given ISO
// files (boot equipment replayed). With fixSums, MANIFEST.sha256 and
// md5sum.txt are updated to agree with the new files, so that only the
// property under test is broken.
func mutate(ctx context.Context, src, out string, files map[string][]byte, fixSums bool) error {
	if fixSums {
		if err := fixChecksums(ctx, src, files); err != nil {
			return err
		}
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), "stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	args := []string{"-indev", src, "-outdev", out}
	for name, data := range files {
		p := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		args = append(args, "-map", p, name)
	}
	return tool.Command("xorriso", append(args, "-boot_image", "any", "replay")...).Run(ctx)
}

// fixChecksums adds to files the MANIFEST.sha256 and md5sum.txt of src
// with the lines of the changed files recomputed.
func fixChecksums(ctx context.Context, src string, files map[string][]byte) error {
	im, err := openISO(ctx, src)
	if err != nil {
		return err
	}
	defer im.Close()
	manifest, err := im.readFile(manifestPath)
	if err != nil {
		return err
	}
	sums := map[string]string{}
	for name, data := range files {
		if rel, ok := strings.CutPrefix(name, payloadDir+"/"); ok {
			sums[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		}
	}
	files[manifestPath] = replaceSums(manifest, sums)
	md5txt, err := im.readFile(md5sumTxtPath)
	if err != nil {
		return err
	}
	sums = map[string]string{}
	for name, data := range files {
		sums["."+name] = fmt.Sprintf("%x", md5.Sum(data))
	}
	files[md5sumTxtPath] = replaceSums(md5txt, sums)
	return nil
}

// replaceSums rewrites "<sum>  <name>" lines with the sums given by name,
// adding lines for new names, sorted byte-wise.
func replaceSums(data []byte, sums map[string]string) []byte {
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		sum, name, _ := strings.Cut(l, "  ")
		lines[name] = sum
	}
	for name, sum := range sums {
		lines[name] = sum
	}
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", lines[n], n)
	}
	return b.Bytes()
}

// noEFIEntry rebuilds iso from its extracted tree with the boot options
// xorriso reports for it, minus the El Torito EFI entry: the ESP is still
// appended as GPT partition 2, but no catalog entry points at it.
func noEFIEntry(ctx context.Context, src, out string) error {
	report, err := tool.Command("xorriso", "-indev", src, "-report_el_torito", "as_mkisofs").Output(ctx)
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
	if err := iso.ExtractTree(ctx, src, tree); err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	if err := os.Remove(filepath.Join(tree, "boot.catalog")); err != nil {
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

// flipByte copies src to out and inverts one byte in the data of the ISO
// file name: bit rot in one file, nothing else changed.
func flipByte(ctx context.Context, src, name, out string) error {
	im, err := openISO(ctx, src)
	if err != nil {
		return err
	}
	defer im.Close()
	exts := im.files[name]
	if len(exts) == 0 || exts[0].size == 0 {
		return fmt.Errorf("%s: not in %s or empty", name, src)
	}
	data, err := os.ReadFile(src)
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

func md5File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// readISOFile extracts one file with xorriso itself.
func readISOFile(t *testing.T, isoPath, name string) []byte {
	t.Helper()
	dst := filepath.Join(t.TempDir(), path.Base(name))
	if err := tool.Command("xorriso", "-osirrox", "on", "-indev", isoPath, "-extract", name, dst).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
