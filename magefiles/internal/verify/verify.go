// Package verify proves an installer ISO is what we meant to ship. It runs
// every check even after one fails, reports each as pass or fail with the
// reason (a table for the terminal and dist/verify-report.json, which also
// records the boot marker used), and writes dist/SHA256SUMS and
// dist/MD5SUMS:
//
//   - checksums: SHA-256 and MD5 of the ISO from one read of the file;
//   - boot-records: El Torito BIOS and UEFI entries the same as the base
//     ISO's (images byte for byte, boot info table consistent), GRUB's hybrid
//     MBR, and a GPT whose EFI System Partition is the El Torito EFI image;
//   - identity: volume id, /novasphere/VERSION and /.disk/info;
//   - payload: /novasphere/MANIFEST.sha256 against the files in the ISO;
//   - md5sum.txt: every line against the file it names;
//   - autoinstall: /nocloud/user-data valid, and the autoinstall arguments
//     on every kernel line of grub.cfg and loopback.cfg;
//   - images: every container image archive under /novasphere/images
//     re-read, each blob against its digest, each image's manifests, config
//     and layers present;
//   - boot-<firmware>-<media>: QEMU boots the ISO in BIOS and UEFI, as a
//     CD-ROM and as a disk, until a marker appears on the serial console.
//
// The ISO is read without mounting it: xorriso lists where each file lies and
// the bytes are read straight from the image.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Check is the outcome of one check.
type Check struct {
	// Name identifies the check ("payload", "boot-uefi-disk", ...).
	Name string `json:"name"`
	// Passed is true when the property holds (or the check was skipped).
	Passed bool `json:"passed"`
	// Skipped is true when the check did not run by request (VERIFY_BOOT=0).
	Skipped bool `json:"skipped,omitempty"`
	// Detail says what was found: the evidence on success, every problem on
	// failure.
	Detail string `json:"detail"`
	// duration is how long a boot took to its marker (boot checks only).
	duration time.Duration
}

// Report is the result of Run, written as dist/verify-report.json.
type Report struct {
	// Version is the installer version that was checked.
	Version string `json:"version"`
	// ISO is the ISO's base name.
	ISO string `json:"iso"`
	// SHA256 and MD5 are the ISO's digests (lowercase hex), Size its length.
	SHA256 string `json:"sha256"`
	MD5    string `json:"md5"`
	Size   int64  `json:"size"`
	// Passed is true when every check passed.
	Passed bool `json:"passed"`
	// Checks are in a fixed order, whatever order they finished in.
	Checks []Check `json:"checks"`
	// BootMarker is the regular expression (Go syntax) the boots waited
	// for on the serial console: DefaultBootMarker's unless
	// VERIFY_BOOT_MARKER (Options.BootMarker) replaced it. It is recorded
	// even when the boots were skipped. A release trusts only a report made
	// with the default marker: a weaker one (".") also matches a boot of
	// firmware that never loaded the ISO.
	BootMarker string `json:"boot_marker"`
	// Install holds each install proof's steps, durations, logs and
	// screen pictures, when verify ran the proof.
	Install []installproof.Result `json:"install,omitempty"`
	// Inputs fingerprints what verify was asked to prove (version, boots,
	// marker, install proof): a passing report is reused only for the same
	// ISO digest and the same inputs.
	Inputs string `json:"inputs"`
	// Time is when the report was made, RFC 3339.
	Time string `json:"time"`
}

// Failures returns the checks that failed.
func (r Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// FailedError is returned by Run when checks failed; it lists every one.
type FailedError struct {
	// Failed are the failing checks, in report order.
	Failed []Check
	// Total is the number of checks run.
	Total int
}

// Error lists each failure on its own line.
func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d checks failed:", len(e.Failed), e.Total)
	for _, c := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %s", c.Name, c.Detail)
	}
	return b.String()
}

// BootMode says whether Run boots the ISO under QEMU.
type BootMode int

const (
	// BootAuto boots when qemu-system-x86_64 is installed.
	BootAuto BootMode = iota
	// BootOn always boots (a missing QEMU fails the boot checks).
	BootOn
	// BootOff skips the boots; they are reported as skipped.
	BootOff
)

// Options configure Run.
type Options struct {
	// ISO is the installer ISO to check.
	ISO string
	// BaseISO is the base ISO it was made from; the boot records must equal
	// its boot equipment.
	BaseISO string
	// Version is the installer version the ISO must carry.
	Version string
	// DistDir receives SHA256SUMS, MD5SUMS, verify-report.json and the boot
	// logs (default: the ISO's directory).
	DistDir string
	// Boot says whether to boot the ISO under QEMU (default BootAuto).
	Boot BootMode
	// BootTargets are the boots to run (default AllBootTargets).
	BootTargets []BootTarget
	// BootTimeout bounds each boot (default DefaultBootTimeout).
	BootTimeout time.Duration
	// BootMarker proves a boot when it appears on the serial console
	// (default DefaultBootMarker: the autoinstall kernel command line).
	BootMarker *regexp.Regexp
	// BootParallel is how many boots run at once (default the number of
	// CPUs, at most the number of boots).
	BootParallel int
	// AutoinstallSchema is the release whose autoinstall schema the ISO's
	// user-data must satisfy ("22.04", "24.04", "26.04"; "" the union);
	// RootAutoinstall requires /autoinstall.yaml (24.04 and later). Both
	// come from the base's quirks in configs/bases.yaml.
	AutoinstallSchema string
	RootAutoinstall   bool
	// Install runs the install proof (VERIFY_INSTALL=1; release always):
	// the ISO installed on a blank disk in BIOS and UEFI, and NovaSphere
	// checked on the installed system.
	Install bool
	// InstallTimeouts bound the proof's boots (zero fields: the
	// accelerator's defaults, installproof.DefaultTimeouts); InstallAccel forces
	// "kvm" or "tcg" (tests).
	InstallTimeouts installproof.Timeouts
	InstallAccel    string
	// Images are the container images the ISO must carry under
	// /novasphere/images (the images stage's result).
	Images []Image
	// InstallDiskDir, when set, keeps each proof's installed disk in
	// InstallDiskDir/<firmware>/ (installproof.Options.DiskDir), named in the
	// report; `mage vm` boots it.
	InstallDiskDir string
	// Out receives progress lines and the result table (nil: discarded).
	Out io.Writer
}

// Names of the checks, in report order (the boots follow).
const (
	// CheckVolume comes first: the file holds a whole ISO 9660 volume.
	CheckVolume      = "volume"
	CheckChecksums   = "checksums"
	CheckBootRecords = "boot-records"
	CheckIdentity    = "identity"
	CheckPayload     = "payload"
	CheckMD5SumTxt   = "md5sum.txt"
	CheckAutoinstall = "autoinstall"
	// CheckOfflinePackages re-reads the shipped .debs and the ISO's
	// manifests and proves they install offline.
	CheckOfflinePackages = "offline-packages"
	// CheckImages re-reads the container images' archives.
	CheckImages = "images"
	CheckBoot   = "boot" // the row of skipped boots
)

// Run checks the ISO, writes SHA256SUMS, MD5SUMS and verify-report.json to
// DistDir, prints the table to Out and returns the report. When a check
// fails, it returns the report and a *FailedError listing every failure;
// other errors mean verify itself could not run (bad options, no ISO,
// unwritable DistDir). Errors do not repeat the stage name: the Verify
// target prefixes it.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	if _, err := os.Stat(o.ISO); err != nil {
		return Report{}, fmt.Errorf("the installer ISO: %w (run pack first)", err)
	}
	// A report on disk always describes the last verify that ran to the
	// end: drop the previous one before checking.
	if err := os.Remove(o.dist().VerifyReport()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Report{}, err
	}
	fmt.Fprintf(o.Out, "verify: checking %s (version %s)\n", o.ISO, o.Version)
	var rep Report
	var digests *hashing.Digests
	// The first check: a truncated file or one that is not an ISO is said
	// so, alone, before any tool fails on it with a message that hides the
	// cause.
	if err := checkVolume(o.ISO); err != nil {
		rep = Report{Version: o.Version, ISO: filepath.Base(o.ISO), BootMarker: o.BootMarker.String(), Inputs: o.Inputs(),
			Checks: []Check{{Name: CheckVolume, Detail: err.Error()}}}
	} else {
		rep, digests = runChecks(ctx, o)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("interrupted, no report written: %w", err)
	}
	if err := writeOutputs(o, &rep, digests); err != nil {
		return rep, err
	}
	fmt.Fprint(o.Out, rep.Table())
	if failed := rep.Failures(); len(failed) > 0 {
		return rep, &FailedError{Failed: failed, Total: len(rep.Checks)}
	}
	return rep, nil
}

// dist is the layout of DistDir: the names of everything Run writes.
func (o Options) dist() dist.Layout { return dist.New(o.DistDir, o.Version) }

func (o Options) withDefaults() (Options, error) {
	if o.ISO == "" {
		return o, errors.New("no ISO given")
	}
	if o.Version == "" {
		return o, errors.New("no version given")
	}
	if o.DistDir == "" {
		o.DistDir = filepath.Dir(o.ISO)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	o.Out = tool.LockedWriter(o.Out)
	if o.BootTargets == nil {
		o.BootTargets = AllBootTargets
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = DefaultBootTimeout
	}
	if o.BootMarker == nil {
		o.BootMarker = DefaultBootMarker
	}
	if o.BootParallel <= 0 {
		o.BootParallel = runtime.NumCPU()
	}
	o.BootParallel = max(1, min(o.BootParallel, len(o.BootTargets)))
	return o, nil
}

// checkFunc is one static check: it returns the evidence, or an error
// whose message lists every problem.
type checkFunc func(ctx context.Context, in *inputs) (string, error)

// staticChecks are the checks that read the ISO, in report order.
var staticChecks = []struct {
	name string
	fn   checkFunc
}{
	{CheckChecksums, checkChecksums},
	{CheckBootRecords, checkBootRecords},
	{CheckIdentity, checkIdentity},
	{CheckPayload, checkPayload},
	{CheckMD5SumTxt, checkMD5SumTxt},
	{CheckAutoinstall, checkAutoinstall},
	{CheckOfflinePackages, checkOfflinePackages},
	{CheckImages, checkImages},
}

// runChecks runs the static checks and the boots concurrently and collects
// their results in report order.
func runChecks(ctx context.Context, o Options) (Report, *hashing.Digests) {
	in := newInputs(ctx, o)
	defer in.close()
	static := staticChecks
	results := make([]Check, len(static))
	var wg sync.WaitGroup
	for i, s := range static {
		wg.Go(func() { results[i] = runOne(ctx, s.name, s.fn, in) })
	}
	boots := runBoots(ctx, o)
	wg.Wait()
	rep := Report{Version: o.Version, ISO: filepath.Base(o.ISO), Checks: append(results, boots...), BootMarker: o.BootMarker.String(), Inputs: o.Inputs()}
	if o.Install {
		checks, proofs := runInstalls(ctx, o)
		rep.Checks, rep.Install = append(rep.Checks, checks...), proofs
	}
	return rep, in.digests
}

// runOne runs a check, turning a panic into a failed check: a bad ISO must
// never end verify with a stack trace.
func runOne(ctx context.Context, name string, fn checkFunc, in *inputs) (c Check) {
	c.Name = name
	defer func() {
		if p := recover(); p != nil {
			c.Passed, c.Detail = false, fmt.Sprintf("internal error while checking: %v", p)
		}
	}()
	detail, err := fn(ctx, in)
	if err != nil {
		return Check{Name: name, Detail: err.Error()}
	}
	return Check{Name: name, Passed: true, Detail: detail}
}

// Inputs fingerprints what o asks verify to prove, for the reuse of a
// passing report: the version, whether and how it boots, the boot marker,
// and whether it runs the install proof.
func (o Options) Inputs() string {
	boots, marker := o.BootTargets, DefaultBootMarker.String()
	if boots == nil {
		boots = AllBootTargets
	}
	if o.BootMarker != nil {
		marker = o.BootMarker.String()
	}
	var targets []string
	for _, t := range boots {
		targets = append(targets, t.Name())
	}
	return fmt.Sprintf("version=%s boot=%d targets=%s marker=%q install=%v checks=%d schema=%s root-autoinstall=%v", o.Version, o.Boot, strings.Join(targets, ","), marker, o.Install, len(staticChecks), o.AutoinstallSchema, o.RootAutoinstall)
}
