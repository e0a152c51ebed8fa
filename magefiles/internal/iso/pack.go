package iso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/space"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// Names of the files pack writes in its work directory.
const (
	manifestWorkFile = payload.ManifestName
	md5sumWorkFile   = "md5sum.txt"
	inputsWorkFile   = "inputs.sha256"
)

// PackOptions configure Pack: the results of the stages before it, the
// payload, and where the ISO goes.
type PackOptions struct {
	// Base is the base ISO, Extracted what extract read from it; BaseID
	// names the base in the build record.
	Base      string
	BaseID    string
	Extracted Extracted
	// Customized is what customize wrote for Version.
	Customized customize.Result
	// Payload are the trees that go under /novasphere, in order: the
	// repository's directories (payload.RepoSources), then the trees the
	// stages before pack made (Build.Payload).
	Payload []payload.Source
	// ISO and Record are the output paths (dist.Layout's ISO and build
	// record); both are written to temporary names in their directory and
	// renamed when complete.
	ISO, Record string
	// WorkDir holds MANIFEST.sha256, md5sum.txt and the input fingerprint
	// ($BUILD_DIR/pack/<version>).
	WorkDir string
	// Version is the installer version.
	Version string
	// SourceDateEpoch is every timestamp in the ISO (Unix seconds); zero
	// means unknown: the current time is used and the ISO is not
	// reproducible.
	SourceDateEpoch int64
	// GitCommit is recorded in the build record.
	GitCommit string
	// OfflinePackages is the install plan of packages/*.deb, recorded in
	// the build record.
	OfflinePackages *debcheck.Plan
	// Images are the container images the payload ships under
	// /novasphere/images, recorded in the build record.
	Images []ocitar.Record
	// Progress receives xorriso's progress (UPDATE) lines; nil discards them.
	Progress io.Writer
	// Log receives what pack does; nil discards it.
	Log io.Writer
}

// BuildRecord is dist/novasphere-installer-<version>.build.json.
type BuildRecord struct {
	Version string `json:"version"`
	// Base is the Ubuntu base's id in configs/bases.yaml ("ubuntu-24.04.4").
	Base                  string `json:"base,omitempty"`
	BaseISOSHA256         string `json:"base_iso_sha256"`
	PayloadManifestSHA256 string `json:"payload_manifest_sha256"`
	GitCommit             string `json:"git_commit"`
	XorrisoVersion        string `json:"xorriso_version"`
	SourceDateEpoch       int64  `json:"source_date_epoch"`
	// OfflinePackages is how packages/*.deb install offline on the base:
	// each package, its version and what satisfies each dependency.
	OfflinePackages *debcheck.Plan `json:"offline_packages,omitempty"`
	// Images are the container images under /novasphere/images: each
	// one's name, tag, digest, linux/amd64 manifest and layers.
	Images []ocitar.Record `json:"images,omitempty"`
	// ISOSize is the length of the ISO pack wrote: an ISO of another size
	// (cut short, or replaced) is never taken as up to date.
	ISOSize int64 `json:"iso_size"`
}

// PackResult tells what Pack did.
type PackResult struct {
	// ISO and Record are the output paths.
	ISO, Record string
	// BuildRecord is the record's content.
	BuildRecord BuildRecord
	// Manifest is /novasphere/MANIFEST.sha256 as written into the ISO:
	// every payload file and its SHA-256.
	Manifest []byte
	// UpToDate is set when nothing was done because the output was newer
	// than every input.
	UpToDate bool
	// Duration is how long Pack took; XorrisoPeakRSS is xorriso's peak
	// resident set size in bytes as sampled while it ran (0 if unknown).
	Duration       time.Duration
	XorrisoPeakRSS int64
}

// ReadBuildRecord reads a build record.
func ReadBuildRecord(path string) (BuildRecord, error) {
	var r BuildRecord
	return r, atomicfile.ReadJSON(path, &r)
}

// Pack writes the installer ISO: xorriso loads the base, replays its boot
// equipment (BIOS and EFI El Torito entries, hybrid MBR, GPT with the EFI
// partition), maps the payload directories, VERSION, MANIFEST.sha256, the
// customized files and the regenerated /md5sum.txt into it, normalises their
// owner, permissions and dates, keeps Joliet, and writes only the result.
// The ISO goes to a temporary name and is renamed when complete, followed
// by the build record. When the output is up to date (see Plan.UpToDate),
// Pack does nothing.
func Pack(ctx context.Context, o PackOptions) (PackResult, error) {
	p, err := PlanPack(ctx, o)
	if err != nil {
		return PackResult{}, err
	}
	if res, ok := p.UpToDate(); ok {
		return res, nil
	}
	return p.Write(ctx)
}

// UpToDate reports whether the output exists, is newer than every input and
// was made from inputs with the same fingerprint; it then says so on Log
// and returns the result as the build record describes it.
func (p *Plan) UpToDate() (PackResult, bool) {
	if !p.upToDate() {
		return PackResult{}, false
	}
	rec, _ := ReadBuildRecord(p.o.Record)
	manifest, err := os.ReadFile(filepath.Join(p.o.WorkDir, manifestWorkFile))
	if err != nil {
		return PackResult{}, false
	}
	res := PackResult{ISO: p.o.ISO, Record: p.o.Record, BuildRecord: rec, Manifest: manifest, UpToDate: true, Duration: time.Since(p.start)}
	fmt.Fprintf(p.log, "pack: %s is up to date (newer than every input); nothing to do\n", res.ISO)
	return res, true
}

// Write computes MANIFEST.sha256 and md5sum.txt and writes the ISO and its
// build record.
func (p *Plan) Write(ctx context.Context) (PackResult, error) {
	if err := p.writeSums(); err != nil {
		return PackResult{}, err
	}
	res := PackResult{ISO: p.o.ISO, Record: p.o.Record}
	rss, err := p.write(ctx, res)
	if err != nil {
		return PackResult{}, err
	}
	res.BuildRecord, res.XorrisoPeakRSS, res.Duration, res.Manifest = p.record, rss, time.Since(p.start), p.manifest
	fmt.Fprintf(p.log, "pack: wrote %s and %s (%.1fs)\n", res.ISO, filepath.Base(res.Record), res.Duration.Seconds())
	return res, nil
}

// Plan is everything pack decided before writing: the payload walked, the
// build record and the fingerprint of every input.
type Plan struct {
	o        PackOptions
	start    time.Time
	log      io.Writer
	x        Extracted
	c        customize.Result
	tree     payload.Tree
	epoch    int64
	record   BuildRecord
	manifest []byte
	md5sum   []byte
	inputs   string // fingerprint of every input
	newest   time.Time
}

// PlanPack walks the payload and fingerprints every input; nothing is
// written.
func PlanPack(ctx context.Context, o PackOptions) (*Plan, error) {
	p := &Plan{o: o, log: o.Log, start: time.Now(), x: o.Extracted, c: o.Customized}
	if p.log == nil {
		p.log = io.Discard
	}
	if _, err := os.Stat(o.Base); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMissingBase, o.Base, err)
	}
	tree, err := payload.WalkSources(o.Payload)
	if err != nil {
		return nil, err
	}
	p.tree = tree
	for _, m := range tree.Missing {
		fmt.Fprintf(p.log, "pack: note: payload directory %s/ does not exist; nothing from it is shipped\n", m)
	}
	xv, err := Version(ctx)
	if err != nil {
		return nil, err
	}
	p.epoch = o.SourceDateEpoch
	if p.epoch == 0 {
		p.epoch = time.Now().Unix()
		fmt.Fprintln(p.log, "pack: note: SOURCE_DATE_EPOCH is unknown (not a git checkout?): using the current time; the ISO will not be reproducible")
	}
	p.record = BuildRecord{Version: o.Version, Base: o.BaseID, BaseISOSHA256: p.x.BaseSHA256, GitCommit: o.GitCommit,
		XorrisoVersion: xv, SourceDateEpoch: p.epoch, OfflinePackages: o.OfflinePackages, Images: o.Images}
	return p, p.fingerprint()
}

// inputPaths are the files (besides the payload) whose change means a new
// ISO: the base, the customized files and their record.
func (p *Plan) inputPaths() []string {
	paths := []string{p.o.Base, p.c.StatePath()}
	for _, f := range p.c.Files {
		paths = append(paths, p.c.Path(f))
	}
	return paths
}

// fingerprint hashes the name, size, mode, modification time, inode and
// status change time of every input, and the build record without the
// manifest digest, and finds the newest input. The inode and change time
// catch an edit in place that keeps the size and sets the modification time
// back (cp -p, rsync, tar, CI caches): no user tool can set a ctime back.
func (p *Plan) fingerprint() error {
	h := sha256.New()
	rec, _ := json.Marshal(p.record)
	fmt.Fprintf(h, "record %s\n", rec)
	for _, s := range p.tree.Sources {
		fmt.Fprintf(h, "source %s %s\n", s.Rel, s.Path)
	}
	for _, e := range p.tree.Entries {
		fmt.Fprintf(h, "payload %q %d %d %o %d %d %d\n", e.Rel, e.Kind, e.Size, e.Mode, e.ModTime.UnixNano(),
			e.Stat.Inode, e.Stat.ChangeTime.UnixNano())
		p.noteTime(e.ModTime)
	}
	for _, path := range p.inputPaths() {
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		st := payload.StatOf(fi)
		fmt.Fprintf(h, "input %q %d %d %d %d\n", path, fi.Size(), fi.ModTime().UnixNano(), st.Inode, st.ChangeTime.UnixNano())
		p.noteTime(fi.ModTime())
	}
	p.inputs = hex.EncodeToString(h.Sum(nil))
	return nil
}

func (p *Plan) noteTime(t time.Time) {
	if t.After(p.newest) {
		p.newest = t
	}
}

// upToDate reports whether the output exists, is newer than every input and
// was made from inputs with the same fingerprint.
func (p *Plan) upToDate() bool {
	iso, err := os.Stat(p.o.ISO)
	if err != nil || !iso.ModTime().After(p.newest) {
		return false
	}
	rec, err := ReadBuildRecord(p.o.Record)
	if err != nil || rec.ISOSize != iso.Size() {
		return false
	}
	old, err := os.ReadFile(filepath.Join(p.o.WorkDir, inputsWorkFile))
	return err == nil && strings.TrimSpace(string(old)) == p.inputs
}

// writeSums computes MANIFEST.sha256 and md5sum.txt and stores them in the
// work directory.
func (p *Plan) writeSums() error {
	refs := payload.Refs(p.tree.Files())
	refs = append(refs, payload.FileRef{Rel: payload.VersionName, Path: p.c.Path(customize.VersionPath)})
	digests, err := payload.HashFiles(refs)
	if err != nil {
		return err
	}
	p.manifest = payload.Manifest(digests)
	sum := sha256.Sum256(p.manifest)
	p.record.PayloadManifestSHA256 = hex.EncodeToString(sum[:])

	md5s := map[string]string{}
	for _, d := range digests {
		md5s[path.Join(payload.ISODir, d.Rel)] = d.MD5
	}
	md5s[path.Join(payload.ISODir, payload.ManifestName)] = md5Hex(p.manifest)
	if err := p.buildMD5Sum(md5s); err != nil {
		return err
	}
	if err := os.MkdirAll(p.o.WorkDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.o.WorkDir, manifestWorkFile), p.manifest, 0o644); err != nil {
		return err
	}
	if p.md5sum != nil {
		return os.WriteFile(filepath.Join(p.o.WorkDir, md5sumWorkFile), p.md5sum, 0o644)
	}
	return nil
}

// buildMD5Sum regenerates /md5sum.txt when the base has one. added holds the
// payload's MD5s; the customized files are hashed here.
func (p *Plan) buildMD5Sum(added map[string]string) error {
	if !p.x.Has(MD5SumTxt) {
		return nil
	}
	base, err := os.ReadFile(p.x.Path(MD5SumTxt))
	if err != nil {
		return err
	}
	u := payload.MD5Update{Replaced: map[string]string{}, Added: added, RemovedTrees: p.replacedTrees(),
		Excluded: append([]string{MD5SumTxt, p.x.BootCatalog}, p.x.BootImages...)}
	for _, f := range p.c.Files {
		if f == customize.VersionPath {
			continue
		}
		data, err := os.ReadFile(p.c.Path(f))
		if err != nil {
			return err
		}
		// A file under a replaced tree (the /nocloud of a base that is
		// itself an installer) is new: the base's lines there are dropped.
		if p.x.Has(f) && !underTree(f, u.RemovedTrees) {
			u.Replaced[f] = md5Hex(data)
		} else {
			u.Added[f] = md5Hex(data)
		}
	}
	p.md5sum, err = payload.RegenerateMD5Sum(base, u)
	if err != nil {
		return fmt.Errorf("base %s: %w", MD5SumTxt, err)
	}
	return nil
}

// underTree reports whether the ISO path p is one of trees or lies below
// one.
func underTree(p string, trees []string) bool {
	for _, t := range trees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// replacedTrees are the top-level directories pack owns (/novasphere,
// /nocloud) that the base already has: they are removed before mapping.
func (p *Plan) replacedTrees() []string {
	var out []string
	for _, t := range []string{payload.ISODir, "/nocloud"} {
		if slices.Contains(p.x.TopLevel, t) {
			out = append(out, t)
		}
	}
	return out
}

// write runs xorriso into a temporary file in DistDir and renames the ISO
// and its record into place.
func (p *Plan) write(ctx context.Context, res PackResult) (int64, error) {
	dir := filepath.Dir(res.ISO)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	// Only temporary files of runs that died are removed: another live
	// run's half-written ISO is never touched (the output lock keeps two
	// runs of one version apart; this is the second line of defence).
	for _, out := range []string{res.ISO, res.Record} {
		if _, err := lock.RemoveOrphanTemps(out); err != nil {
			return 0, err
		}
	}
	if err := p.checkSpace(dir); err != nil {
		return 0, err
	}
	tmp, err := lock.CreateTemp(res.ISO)
	if err != nil {
		return 0, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // a no-op once renamed
	rss, err := p.runXorriso(ctx, tmp.Name())
	if err != nil {
		if ctx.Err() != nil {
			// xorriso's own words when it is stopped ("MISHAP: Read error
			// ... Filling with 0") read like a damaged base: say what
			// happened instead.
			return 0, fmt.Errorf("%s; no ISO written, the base ISO is untouched: %w", stopWord(ctx.Err()), ctx.Err())
		}
		if strings.Contains(err.Error(), "No space left on device") {
			free, _ := space.Free(dir)
			return 0, fmt.Errorf("%s filled up while pack wrote the ISO (%s free now; the ISO needs about %s): no ISO written; free some space and run pack again",
				dir, units.Bytes(free), units.Bytes(p.needed()))
		}
		return 0, fmt.Errorf("xorriso failed; no ISO written: %w", err)
	}
	written, err := os.Stat(tmp.Name())
	if err != nil {
		return 0, err
	}
	p.record.ISOSize = written.Size()
	rec, err := json.MarshalIndent(p.record, "", "  ")
	if err != nil {
		return 0, err
	}
	recTmp, err := writeTemp(res.Record, append(rec, '\n'))
	if err != nil {
		return 0, err
	}
	defer os.Remove(recTmp)
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	// An ISO without a record is never taken as up to date; the reverse
	// could describe the wrong ISO, so the old record goes first.
	if err := os.Remove(res.Record); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), res.ISO); err != nil {
		return 0, err
	}
	if err := os.Rename(recTmp, res.Record); err != nil {
		return 0, err
	}
	return rss, os.WriteFile(filepath.Join(p.o.WorkDir, inputsWorkFile), []byte(p.inputs+"\n"), 0o644)
}

// runXorriso writes the ISO to out, streaming progress, and returns
// xorriso's sampled peak RSS.
func (p *Plan) runXorriso(ctx context.Context, out string) (int64, error) {
	progress, flush := progressWriter(p.o.Progress, "pack: ")
	defer flush()
	cmd := tool.Command(xorriso, p.xorrisoArgs(out)...).
		Env("SOURCE_DATE_EPOCH=" + strconv.FormatInt(p.epoch, 10)).
		Stream(progress)
	return runSampled(ctx, cmd)
}

// xorrisoArgs is the whole xorriso command line after the program name.
func (p *Plan) xorrisoArgs(out string) []string {
	a := []string{
		// Arguments are literal paths, never patterns; names are UTF-8
		// whatever the host's locale.
		"-iso_rr_pattern", "off", "-disk_pattern", "off", "-charset", "UTF-8",
		"-indev", driveAddress(p.o.Base), "-outdev", driveAddress(out),
		"-boot_image", "any", "replay",
		// Measured: without these the Joliet tree and the GPT gap
		// partition of an Ubuntu ISO are dropped.
		"-joliet", "on", "-compliance", "joliet_long_names",
	}
	if p.x.PaddingIncluded {
		a = append(a, "-padding", "included")
	}
	a = append(a, "-volid", p.c.VolumeID)
	if trees := p.replacedTrees(); len(trees) > 0 {
		a = append(append(append(a, "-rm_r"), trees...), "--")
	}
	maps, other := p.mappings()
	for _, m := range maps {
		a = append(a, "-map", m[0], m[1])
	}
	return append(a, p.normalise(other)...)
}

// mappings are the (disk, ISO) pairs to map, and the ISO paths of the mapped
// files outside /novasphere.
func (p *Plan) mappings() (maps [][2]string, other []string) {
	for _, s := range p.tree.Sources {
		maps = append(maps, [2]string{s.Path, path.Join(payload.ISODir, s.Rel)})
	}
	maps = append(maps, [2]string{filepath.Join(p.o.WorkDir, manifestWorkFile), path.Join(payload.ISODir, payload.ManifestName)})
	for _, f := range p.c.Files {
		maps = append(maps, [2]string{p.c.Path(f), f})
		if !strings.HasPrefix(f, payload.ISODir+"/") {
			other = append(other, f)
		}
	}
	if p.md5sum != nil {
		maps = append(maps, [2]string{filepath.Join(p.o.WorkDir, md5sumWorkFile), MD5SumTxt})
		other = append(other, MD5SumTxt)
	}
	return maps, other
}

// normalise makes owner, permissions and dates of everything pack adds
// independent of the build machine: owner and group 0; payload directories
// 0755, payload files 0644 (0755 when executable on disk); the other files
// 0444 and their new directories 0555, as on Ubuntu's ISO; every date
// SOURCE_DATE_EPOCH.
func (p *Plan) normalise(other []string) []string {
	nocloud := path.Dir(customize.UserDataPath)
	touched := append([]string{payload.ISODir, nocloud}, other...)
	var otherFiles []string
	for _, f := range other {
		if !strings.HasPrefix(f, nocloud+"/") {
			otherFiles = append(otherFiles, f)
		}
	}
	var execs []string
	for _, f := range p.tree.Files() {
		if f.Executable() {
			execs = append(execs, path.Join(payload.ISODir, f.Rel))
		}
	}
	epoch := "=" + strconv.FormatInt(p.epoch, 10)
	a := list("-chown_r", "0", touched)
	a = append(a, list("-chgrp_r", "0", touched)...)
	a = append(a,
		"-find", payload.ISODir, "-type", "d", "-exec", "chmod", "0755", "--",
		"-find", payload.ISODir, "-type", "f", "-exec", "chmod", "0644", "--",
		"-find", nocloud, "-type", "d", "-exec", "chmod", "0555", "--",
		"-find", nocloud, "-type", "f", "-exec", "chmod", "0444", "--")
	if len(execs) > 0 {
		a = append(a, list("-chmod", "0755", execs)...)
	}
	if len(otherFiles) > 0 {
		a = append(a, list("-chmod", "0444", otherFiles)...)
	}
	a = append(a, list("-alter_date_r", "b-c", append([]string{epoch}, touched...))...)
	return append(a, list("-alter_date_r", "c", append([]string{epoch}, touched...))...)
}

// driveAddress names a regular file as an xorriso pseudo-drive ("stdio:"
// prefix), which xorriso otherwise refuses under /dev; other paths (a real
// optical drive as the base) are left as they are.
func driveAddress(p string) string {
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return "stdio:" + p
	}
	return p
}

// list is an xorriso command with a first parameter and a "--"-terminated
// path list.
func list(cmd, param string, paths []string) []string {
	return append(append([]string{cmd, param}, paths...), "--")
}

// stopWord says how a run was stopped: "interrupted" (Ctrl-C) or "timed
// out" (mage -t).
func stopWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "interrupted"
}

// checkSpace refuses to start xorriso when dir cannot hold the new ISO:
// about the base's size plus the payload.
func (p *Plan) checkSpace(dir string) error {
	return space.Check(dir, p.needed(), "pack")
}

// needed is about what the new ISO takes: the base plus the payload.
func (p *Plan) needed() int64 {
	var need int64
	if fi, err := os.Stat(p.o.Base); err == nil {
		need = fi.Size()
	}
	for _, e := range p.tree.Files() {
		need += e.Size
	}
	return need
}

// writeTemp writes data to a temporary file beside target, owned by this
// process, and returns its name.
func writeTemp(target string, data []byte) (string, error) {
	f, err := lock.CreateTemp(target)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
