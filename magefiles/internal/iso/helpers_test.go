package iso_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Settings of the shared test build.
const (
	testVersion    = "v1.2.3"
	testEpoch      = int64(1767225600) // 2026-01-01 00:00:00 UTC
	testKernelArgs = "console=ttyS0,115200n8 novasphere.test=1"
)

// scratch is the directory shared builds live in, removed by TestMain.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iso-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// packed is one remaster of the test ISO and what went into it.
type packed struct {
	res      PackResult
	opts     RemasterOptions
	base     testiso.Fixture
	tree     string // the output ISO extracted
	extract  Extracted
	buildLog string // what went to Log
	progress string // what went to Progress
}

var shared struct {
	once sync.Once
	p    packed
	err  error
}

// sharedPack remasters the shared test ISO once per test binary with the
// repository's own payload and autoinstall files, and extracts the result.
func sharedPack(t *testing.T) packed {
	t.Helper()
	base := testiso.Shared(t)
	shared.once.Do(func() {
		root, err := config.FindRoot()
		if err != nil {
			shared.err = err
			return
		}
		var log, progress strings.Builder
		dir := filepath.Join(scratch, "shared")
		o := RemasterOptions{Base: base.ISO, Root: root, BuildDir: filepath.Join(dir, "build"),
			DistDir: filepath.Join(dir, "dist"), Version: testVersion, KernelArgs: testKernelArgs,
			SourceDateEpoch: testEpoch, Progress: &progress, Log: &log}
		p := packed{opts: o, base: base}
		if p.res, shared.err = Remaster(context.Background(), o); shared.err != nil {
			return
		}
		p.buildLog, p.progress = log.String(), progress.String()
		if p.extract, shared.err = LoadExtracted(filepath.Join(o.BuildDir, "extract")); shared.err != nil {
			return
		}
		p.tree = filepath.Join(dir, "tree")
		shared.err = ExtractTree(context.Background(), p.res.ISO, p.tree)
		shared.p = p
	})
	if shared.err != nil {
		t.Fatalf("shared remaster: %v", shared.err)
	}
	return shared.p
}

// copyPayload copies the repository's payload directories and autoinstall
// files into a new root, for tests that change them.
func copyPayload(t *testing.T) string {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, d := range payload.Dirs {
		if err := copyTree(filepath.Join(root, d), filepath.Join(dst, d)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			return copyFile(p, target, info.Mode().Perm())
		}
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// RemasterOptions are the settings of one pipeline run through pack.
type RemasterOptions struct {
	// Base is the base ISO (BASE_ISO_URL), BaseSHA256 its digest (the pin;
	// computed when empty).
	Base, BaseSHA256 string
	// Root is the repository root the payload and configs/autoinstall are
	// read from.
	Root string
	// BuildDir and DistDir are BUILD_DIR and DIST_DIR; the cache goes
	// beside BuildDir.
	BuildDir, DistDir string
	// Version, KernelArgs and SourceDateEpoch are VERSION, KERNEL_ARGS and
	// SOURCE_DATE_EPOCH.
	Version, KernelArgs string
	SourceDateEpoch     int64
	// Progress and Log receive the run's progress and log.
	Progress, Log io.Writer
	// Trees are payload trees a stage before pack made (added to
	// Build.Payload after the repository's).
	Trees []payload.Source
}

// Remaster runs the pipeline through pack, exactly as `mage pack` does
// (pipeline.Build.Run), with o's settings, and returns pack's result.
func Remaster(ctx context.Context, o RemasterOptions) (PackResult, error) {
	b, err := remasterBuild(ctx, o)
	if err != nil {
		return PackResult{}, err
	}
	return *b.Packed, nil
}

// remasterBuild is Remaster, returning the whole Build.
func remasterBuild(ctx context.Context, o RemasterOptions) (*pipeline.Build, error) {
	env := map[string]string{
		config.EnvBaseISOURL: o.Base, config.EnvBaseISOSumsURL: "", config.EnvBaseISOSHA256: o.BaseSHA256,
		config.EnvBuildDir: o.BuildDir, config.EnvDistDir: o.DistDir, config.EnvCacheDir: filepath.Join(filepath.Dir(o.BuildDir), "cache"),
		config.EnvVersion: o.Version, config.EnvKernelArgs: o.KernelArgs,
		config.EnvSourceDateEpoch: strconv.FormatInt(o.SourceDateEpoch, 10),
	}
	if o.BaseSHA256 == "" {
		env[config.EnvBaseISOSHA256] = pinOf(o.Base)
	}
	// The image the repository's chart pins, as a fetch leaves it.
	if err := imagestest.WarmCache(env[config.EnvCacheDir]); err != nil {
		return nil, err
	}
	c, err := config.Load(o.Root, config.MapEnv(env))
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	b := pipeline.New(c, io.Discard, log, false)
	if o.Progress != nil {
		b.Progress = o.Progress
	}
	b.Payload = append(b.Payload, o.Trees...)
	return b, b.Run(ctx, stage.Pack)
}

// pinOf is the SHA-256 of the base, or a digest no file has when it cannot
// be read (fetch then reports the missing file).
func pinOf(base string) string {
	f, err := os.Open(base)
	if err != nil {
		return strings.Repeat("0", 64)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return strings.Repeat("0", 64)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// remasterIn runs a remaster with the shared settings into dir, reading the
// payload from root.
func remasterIn(t *testing.T, base, root, dir string, change func(*RemasterOptions)) (PackResult, RemasterOptions, error) {
	t.Helper()
	o := RemasterOptions{Base: base, Root: root, BuildDir: filepath.Join(dir, "build"), DistDir: filepath.Join(dir, "dist"),
		Version: testVersion, KernelArgs: testKernelArgs, SourceDateEpoch: testEpoch}
	if change != nil {
		change(&o)
	}
	res, err := Remaster(context.Background(), o)
	return res, o, err
}

// distEntries lists what is in a dist directory (none if it does not
// exist), but the marker the pipeline puts in an output directory it
// creates (config.OutputMarker).
func distEntries(t *testing.T, dist string) []string {
	t.Helper()
	entries, err := os.ReadDir(dist)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != config.OutputMarker {
			names = append(names, e.Name())
		}
	}
	return names
}

var (
	intervalNumbersRE = regexp.MustCompile(`(--interval:[^:]+:)[^:]*(:)`)
	partStartSizeRE   = regexp.MustCompile(`_start_\d+s_size_\d+d`)
	quotedPathRE      = regexp.MustCompile(`:'[^']*'`)
	numbersRE         = regexp.MustCompile(`\d+`)
)

// normaliseReport keeps a boot equipment report's structure and values but
// drops what must differ between a base and its remaster: the volume id,
// the image paths, and every address and size.
func normaliseReport(r Report) string {
	var out []string
	for _, line := range strings.Split(r.ElTorito, "\n") {
		if strings.HasPrefix(line, "-V ") {
			continue
		}
		line = quotedPathRE.ReplaceAllString(line, ":'IMAGE'")
		line = intervalNumbersRE.ReplaceAllString(line, "${1}ADDR${2}")
		line = partStartSizeRE.ReplaceAllString(line, "_start_ADDR_size_SIZE")
		out = append(out, line)
	}
	for _, line := range strings.Split(r.SystemArea, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			out = append(out, line)
			continue
		}
		switch strings.TrimSpace(key) {
		case "ISO image size/512", "GPT lba range":
			val = numbersRE.ReplaceAllString(val, "N")
		case "MBR partition", "GPT start and size":
			f := strings.Fields(val)
			for i := len(f) - 2; i >= 1 && i < len(f); i++ {
				f[i] = "N"
			}
			val = " " + strings.Join(f, " ")
		}
		out = append(out, strings.TrimSpace(key)+":"+val)
	}
	return strings.Join(out, "\n")
}

// hasJoliet reports whether the ISO has a Joliet supplementary volume
// descriptor (type 2 with a UCS-2 escape sequence), reading the volume
// descriptor set from sector 16.
func hasJoliet(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 2048)
	for lba := int64(16); lba < 64; lba++ {
		if _, err := f.ReadAt(buf, lba*2048); err != nil {
			t.Fatal(err)
		}
		if string(buf[1:6]) != "CD001" {
			return false
		}
		switch buf[0] {
		case 255:
			return false
		case 2:
			esc := string(buf[88:91])
			if esc == "%/@" || esc == "%/C" || esc == "%/E" {
				return true
			}
		}
	}
	return false
}

// makeISO writes a plain (unbootable) ISO of the files (path -> content).
func makeISO(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for p, content := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "base.iso")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tool.Command("xorriso", "-as", "mkisofs", "-quiet", "-r", "-J", "-V", "NOT UBUNTU", "-o", out, tree).Run(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}
