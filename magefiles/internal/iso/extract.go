package iso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
)

// ISO paths of the base files the remaster changes.
const (
	GrubCfg     = "/boot/grub/grub.cfg"
	LoopbackCfg = "/boot/grub/loopback.cfg"
	MD5SumTxt   = "/md5sum.txt"
	DiskInfo    = "/.disk/info"
)

// ExtractedFiles are the files Extract copies out of the base when present.
var ExtractedFiles = []string{GrubCfg, LoopbackCfg, MD5SumTxt, DiskInfo, InstallSources}

// InstallSources is Ubuntu's list of install sources (squashfs layers).
const InstallSources = "/casper/install-sources.yaml"

// IsManifest reports whether an ISO path is a squashfs layer's package
// list, /casper/<layer>.manifest, which Extract copies out too.
func IsManifest(isoPath string) bool {
	return path.Dir(isoPath) == "/casper" && strings.HasSuffix(isoPath, ".manifest")
}

// Manifests are the ISO paths of the base's layer manifests, sorted.
func (x Extracted) Manifests() []string {
	var out []string
	for _, f := range x.Files {
		if IsManifest(f) {
			out = append(out, f)
		}
	}
	return out
}

// Names inside the extract directory.
const (
	// ElToritoReportFile is the base's `-report_el_torito as_mkisofs`.
	ElToritoReportFile = "eltorito.txt"
	// SystemAreaReportFile is the base's `-report_system_area plain`.
	SystemAreaReportFile = "system-area.txt"
	// TreeDirName holds the extracted files at their ISO paths.
	TreeDirName = "iso"
	// stateFile records what was extracted from which base.
	stateFile = "extract.json"
	// extractFormat changes when Extract records more or other things, so
	// that older extract directories are redone.
	extractFormat = 3
)

// Errors of Extract.
var (
	// ErrMissingBase: the base ISO file does not exist.
	ErrMissingBase = errors.New("base ISO not found")
	// ErrNotLiveServer: the base ISO lacks the Ubuntu live-server layout
	// (grub.cfg with a casper kernel entry).
	ErrNotLiveServer = errors.New("base ISO is not an Ubuntu live-server layout")
)

// ExtractOptions configure Extract.
type ExtractOptions struct {
	// Base is the base ISO.
	Base string
	// Dir receives the extracted files and reports ($BUILD_DIR/extract).
	Dir string
	// BaseSHA256 is the base's SHA-256 (lowercase hex) when the caller
	// already verified it, as fetch does; Extract then does not read the
	// whole ISO again. Empty: Extract computes it.
	BaseSHA256 string
	// Log receives one line about what was done; nil discards it.
	Log io.Writer
}

// Extracted describes an extract directory.
type Extracted struct {
	// Dir is the extract directory.
	Dir string `json:"-"`
	// Format is the layout version of the directory (extractFormat).
	Format int `json:"format"`
	// Base is the absolute path of the base ISO, BaseSize its size,
	// BaseModTime its modification time and BaseChangeTime its status
	// change time (ctime), both in Unix nanoseconds, and BaseInode its
	// inode number, when extracted.
	Base           string `json:"base"`
	BaseSize       int64  `json:"base_size"`
	BaseModTime    int64  `json:"base_mtime_unix_nano"`
	BaseChangeTime int64  `json:"base_ctime_unix_nano"`
	BaseInode      uint64 `json:"base_inode"`
	// BaseSHA256 is the base ISO's SHA-256, lowercase hex.
	BaseSHA256 string `json:"base_sha256"`
	// Files are the ISO paths of ExtractedFiles the base has.
	Files []string `json:"files"`
	// BaseFiles are the ISO paths of every regular file in the base.
	BaseFiles []string `json:"base_files"`
	// TopLevel are the ISO paths of the entries of the base's root.
	TopLevel []string `json:"top_level"`
	// BootCatalog is the El Torito boot catalog's ISO path.
	BootCatalog string `json:"boot_catalog"`
	// BootImages are El Torito boot images that are files (xorriso patches
	// them while writing, so they are left out of md5sum.txt).
	BootImages []string `json:"boot_images"`
	// PaddingIncluded is set when the base's padding is part of the image
	// (it then shows as a GPT "Gap" partition); pack keeps it that way.
	PaddingIncluded bool `json:"padding_included"`
}

// Path is where the extracted copy of an ISO file is.
func (x Extracted) Path(isoPath string) string {
	return filepath.Join(x.TreeDir(), filepath.FromSlash(isoPath))
}

// TreeDir is the directory holding the extracted files at their ISO paths.
func (x Extracted) TreeDir() string { return filepath.Join(x.Dir, TreeDirName) }

// Has reports whether the base has the ISO file (one of ExtractedFiles, or
// any regular file).
func (x Extracted) Has(isoPath string) bool {
	return slices.Contains(x.Files, isoPath) || slices.Contains(x.BaseFiles, isoPath)
}

// Report reads the recorded boot equipment reports of the base.
func (x Extracted) Report() (Report, error) {
	el, err := os.ReadFile(filepath.Join(x.Dir, ElToritoReportFile))
	if err != nil {
		return Report{}, err
	}
	sa, err := os.ReadFile(filepath.Join(x.Dir, SystemAreaReportFile))
	if err != nil {
		return Report{}, err
	}
	return Report{ElTorito: string(el), SystemArea: string(sa)}, nil
}

// LoadExtracted reads an extract directory written by Extract.
func LoadExtracted(dir string) (Extracted, error) {
	var x Extracted
	if err := atomicfile.ReadJSON(filepath.Join(dir, stateFile), &x); err != nil {
		return Extracted{}, fmt.Errorf("extract output: %w (run the extract stage first)", err)
	}
	x.Dir = dir
	return x, nil
}

// FromBase reports whether x was extracted, by this version of Extract,
// from the base ISO at path as it is now (same path, size, modification
// time, inode and status change time: an edit in place that keeps the size
// and sets the modification time back still moves the change time).
func (x Extracted) FromBase(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return false
	}
	now := x.withBase(abs, fi)
	return x.Format == extractFormat && x.Base == now.Base && x.BaseSize == now.BaseSize &&
		x.BaseModTime == now.BaseModTime && x.BaseChangeTime == now.BaseChangeTime && x.BaseInode == now.BaseInode
}

// Cached returns the extraction in dir when it was made, by this version of
// Extract, from the base ISO at path as it is now.
func Cached(dir, base string) (Extracted, bool) {
	prev, err := LoadExtracted(dir)
	if err != nil || !prev.FromBase(base) {
		return Extracted{}, false
	}
	return prev, true
}

// withBase is x with the identity of the base file at abs (path, size,
// times and inode) set from fi.
func (x Extracted) withBase(abs string, fi os.FileInfo) Extracted {
	st := payload.StatOf(fi)
	x.Base, x.BaseSize, x.BaseModTime = abs, fi.Size(), fi.ModTime().UnixNano()
	x.BaseChangeTime, x.BaseInode = st.ChangeTime.UnixNano(), st.Inode
	return x
}

// Extract reads the files the remaster changes (ExtractedFiles, where
// present) out of the base ISO with xorriso -osirrox, records the base's boot
// equipment reports, its file list and its SHA-256, all in o.Dir. Nothing is
// mounted and the ISO is not copied. When o.Dir already holds an extraction
// of the same base file (path, size, modification time) it does nothing.
//
// A missing base gives ErrMissingBase; a base without /boot/grub/grub.cfg or
// without a casper kernel entry in it gives ErrNotLiveServer.
func Extract(ctx context.Context, o ExtractOptions) (Extracted, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	base, err := filepath.Abs(o.Base)
	if err != nil {
		return Extracted{}, err
	}
	fi, err := os.Stat(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Extracted{}, fmt.Errorf("%w: %s does not exist; run `mage fetch`, or set BASE_ISO_URL to an Ubuntu 22.04 live-server ISO", ErrMissingBase, base)
		}
		return Extracted{}, fmt.Errorf("base ISO: %w", err)
	}
	if fi.IsDir() {
		return Extracted{}, fmt.Errorf("%w: %s is a directory, not an ISO file", ErrMissingBase, base)
	}
	if prev, ok := Cached(o.Dir, base); ok {
		fmt.Fprintf(log, "extract: %s is up to date (base %s)\n", o.Dir, base)
		return prev, nil
	}
	start := time.Now()
	x, err := extractFresh(ctx, base, fi, o.BaseSHA256, o.Dir)
	if err != nil {
		return Extracted{}, err
	}
	fmt.Fprintf(log, "extract: %d files and the boot equipment of %s in %s (%.1fs)\n", len(x.Files), base, o.Dir, time.Since(start).Seconds())
	return x, nil
}

// extractFresh extracts into a temporary directory beside dir and swaps it
// in when complete.
func extractFresh(ctx context.Context, base string, fi os.FileInfo, knownSHA256, dir string) (Extracted, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Extracted{}, err
	}
	tmp, err := lock.MkdirTemp(dir)
	if err != nil {
		return Extracted{}, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	digest := make(chan hashResult, 1)
	if knownSHA256 != "" {
		digest <- hashResult{sum: knownSHA256}
	} else {
		go func() { digest <- sha256File(base) }()
	}

	x := Extracted{Dir: tmp, Format: extractFormat}.withBase(base, fi)
	if err := x.inspect(ctx); err != nil {
		return Extracted{}, err
	}
	if err := x.extract(ctx); err != nil {
		return Extracted{}, err
	}
	h := <-digest
	if h.err != nil {
		return Extracted{}, fmt.Errorf("hashing the base ISO: %w", h.err)
	}
	x.BaseSHA256 = h.sum
	if err := x.save(); err != nil {
		return Extracted{}, err
	}
	if err := swapDir(tmp, dir); err != nil {
		return Extracted{}, err
	}
	ok = true
	x.Dir = dir
	return x, nil
}

// inspect records the reports and file lists of the base.
func (x *Extracted) inspect(ctx context.Context) error {
	sections, err := query(ctx, x.Base, []section{
		{"eltorito", []string{"-report_el_torito", "as_mkisofs"}},
		{"sysarea", []string{"-report_system_area", "plain"}},
		{"files", []string{"-find", "/", "-type", "f", "-exec", "echo", "--"}},
		{"top", []string{"-find", "/", "-maxdepth", "1", "-mindepth", "1", "-exec", "echo", "--"}},
	})
	if err != nil {
		return fmt.Errorf("reading the base ISO %s: %w", x.Base, err)
	}
	x.BaseFiles = unquoteLines(sections["files"])
	x.TopLevel = unquoteLines(sections["top"])
	x.BootCatalog, x.BootImages = bootPaths(sections["eltorito"])
	x.PaddingIncluded = hasGapPartition(sections["sysarea"])
	if err := os.WriteFile(filepath.Join(x.Dir, ElToritoReportFile), []byte(sections["eltorito"]), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(x.Dir, SystemAreaReportFile), []byte(sections["sysarea"]), 0o644)
}

// extract copies out the ExtractedFiles the base has and checks grub.cfg.
func (x *Extracted) extract(ctx context.Context) error {
	files := map[string]string{}
	for _, p := range x.BaseFiles {
		if slices.Contains(ExtractedFiles, p) || IsManifest(p) {
			x.Files = append(x.Files, p)
			files[p] = x.Path(p)
		}
	}
	slices.Sort(x.Files)
	if !slices.Contains(x.Files, GrubCfg) {
		return fmt.Errorf("%w: %s has no %s (Ubuntu 20.04 and later live-server ISOs boot through it)", ErrNotLiveServer, x.Base, GrubCfg)
	}
	if err := ExtractFiles(ctx, x.Base, files); err != nil {
		return fmt.Errorf("extracting from %s: %w", x.Base, err)
	}
	grub, err := os.ReadFile(x.Path(GrubCfg))
	if err != nil {
		return err
	}
	if !customize.HasCasperEntry(grub) {
		return fmt.Errorf("%w: %s: %s has %w", ErrNotLiveServer, x.Base, GrubCfg, customize.ErrNoCasperEntry)
	}
	return nil
}

func (x Extracted) save() error {
	return atomicfile.WriteJSON(filepath.Join(x.Dir, stateFile), x, 0o644)
}

// swapDir replaces dir with tmp (both in the same parent directory).
func swapDir(tmp, dir string) error {
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

type hashResult struct {
	sum string
	err error
}

func sha256File(path string) hashResult {
	f, err := os.Open(path)
	if err != nil {
		return hashResult{err: err}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return hashResult{err: err}
	}
	return hashResult{sum: hex.EncodeToString(h.Sum(nil))}
}
