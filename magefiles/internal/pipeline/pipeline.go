// Package pipeline is the installer build read top to bottom: one ordered
// list of stages that share one Build. The Build carries the configuration,
// loaded once with the version fixed, and the typed result of every stage;
// each stage reads the results of the stages before it from the Build and
// never re-derives them from files another stage wrote. Files under
// BUILD_DIR are each stage's own cache, not the way stages talk.
//
//	fetch      the verified base ISO                 -> Build.Base
//	extract    what the remaster reads from the base -> Build.Extracted
//	customize  autoinstall, GRUB, identity files      -> Build.Customized
//	packages   packages/*.deb resolved on the base     -> Build.Packages
//	images     the chart's images, checked and fetched -> Build.Images
//	           (their archives: a tree in Build.Payload)
//	pack       the installer ISO and its record       -> Build.Packed
//	           (with every tree in Build.Payload under /novasphere)
//	verify     every check, QEMU boots included       -> Build.Report
//	sbom       the SBOM, listed in SHA256SUMS         -> Build.Artifacts
//	sign       SHA256SUMS.gpg with the release key    -> Build.Artifacts
//	release    checklist, GitHub, server copy         (only when asked for)
//
// The Mage targets only say how far to run: pipeline.New(...).Run(ctx, stage.Pack).
package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/fetch"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// Stage is one step of the pipeline.
type Stage interface {
	// Name is the stage's name, as targets and messages use it.
	Name() stage.Name
	// Run does the stage's work with the results already in b and stores
	// its own typed result in b.
	Run(ctx context.Context, b *Build) error
}

// Cacheable is a Stage whose output under BUILD_DIR or DIST_DIR can already
// be up to date with its inputs; UpToDate then loads that result into b,
// says so, and Run is skipped.
type Cacheable interface {
	Stage
	UpToDate(ctx context.Context, b *Build) (bool, error)
}

// Writer is a Stage whose outputs another run (a second mage in the same
// checkout) may be writing too: the runner holds a lock on each for the
// stage's whole run, up-to-date check included, so a second run waits,
// naming the holder, or stops at once under NOVASPHERE_NO_WAIT=1.
type Writer interface {
	Stage
	Outputs(b *Build) []string
}

// Tooled is a Stage that runs programs of the system. The runner ensures
// Tools(b), what the stage runs under b's settings, before its up-to-date
// check (installing what is missing, or refusing under
// NOVASPHERE_NO_INSTALL=1). Tools(nil) is every tool the stage can run
// under any settings: the test command installs those (see Tools).
type Tooled interface {
	Stage
	Tools(b *Build) []tool.Tool
}

// Tools are every tool any stage can run, in stage order without repeats.
func Tools() []tool.Tool {
	var lists [][]tool.Tool
	for _, s := range Stages {
		if t, ok := s.(Tooled); ok {
			lists = append(lists, t.Tools(nil))
		}
	}
	return tool.Union(lists...)
}

// Stages are the stages in order: the one list of them (package stage
// only names them). A new stage (sign, sbom) is one more line here, one
// small type, and its name in package stage.
var Stages = []Stage{
	fetchStage{},     // download and verify the base ISO
	extractStage{},   // read what the remaster changes out of the base
	customizeStage{}, // autoinstall seed, GRUB menus, version identity
	packagesStage{},  // prove packages/*.deb install offline on the base
	imagesStage{},    // the chart's container images, checked, fetched by digest
	packStage{},      // write the installer ISO and its build record
	verifyStage{},    // prove the ISO right: checks and QEMU boots
	sbomStage{},      // list what is inside the ISO (CycloneDX), in SHA256SUMS
	signStage{},      // sign SHA256SUMS with the release key
	releaseStage{},   // publish: checklist, GitHub, server copy
}

// Build is one run of the pipeline: its settings, where it writes, and the
// result of every stage that ran.
type Build struct {
	// Config is the configuration, loaded once; Config.Version is the
	// version being built.
	Config config.Config
	// Dist names every file in the output directory.
	Dist dist.Layout
	// Out receives results (verify's table, the release checklist); Log
	// receives what each stage does; Progress receives progress lines of
	// long work (xorriso writing the ISO). Terminal says Log is a terminal.
	Out, Log, Progress io.Writer
	Terminal           bool
	// Tools installs missing tools, or refuses under
	// NOVASPHERE_NO_INSTALL=1.
	Tools *tool.Provisioner
	// Release holds release's flags.
	Release ReleaseFlags

	// Base is fetch's verified base ISO.
	Base *fetch.Result
	// Extracted is what extract read from the base.
	Extracted *iso.Extracted
	// Customized is what customize wrote for the version.
	Customized *customize.Result
	// Packages is the offline packages' install plan.
	Packages *debcheck.Plan
	// Images are the chart's container images, fetched and archived.
	Images *images.Result
	// Payload are the trees pack puts under /novasphere, in order: the
	// repository's charts/ scripts/ configs/ packages/ first (New puts
	// them here), then each tree a stage before pack adds (a stage that
	// ships container images appends {Rel: "images", Path: its directory}
	// and is then on the ISO as /novasphere/images, in MANIFEST.sha256,
	// md5sum.txt and the SBOM).
	Payload []payload.Source
	// Packed is what pack wrote.
	Packed *iso.PackResult
	// Report is verify's report.
	Report *verify.Report
	// Artifacts lists what the stages wrote to the output directory.
	Artifacts dist.Artifacts

	// packPlan is pack's plan, made once by UpToDate and used by Run.
	packPlan *iso.Plan
	// last is the stage Run runs up to (stage.Release for a release).
	last stage.Name
	// basePackagesErr says why the packages stage could not read the
	// base's installed packages when no .deb needed them (sbom reports it).
	basePackagesErr error
}

// ReleaseFlags are the flags of `mage release`.
type ReleaseFlags struct {
	Draft, DryRun, Force bool
}

// New is a Build of c that logs to log and writes results to out.
func New(c config.Config, out, log io.Writer, terminal bool) *Build {
	return &Build{
		Config:   c,
		Dist:     dist.New(c.DistDir, c.Version).ForBase(baseSuffix(c)),
		Out:      out,
		Log:      log,
		Progress: log,
		Terminal: terminal,
		Tools:    tool.NewProvisioner(c.NoInstall, log),
		Payload:  payload.RepoSources(c.Root),
	}
}

// Dir is a stage's own directory under BUILD_DIR: extract/, and
// customize/<version>/ and pack/<version>/ for the versioned stages; all
// under BUILD_DIR/<base>/ for a base other than the default.
func (b *Build) Dir(s stage.Name) string {
	root := filepath.Join(b.Config.BuildDir, baseSuffix(b.Config))
	if s == stage.Extract {
		return filepath.Join(root, s.String())
	}
	return filepath.Join(root, s.String(), b.Config.Version)
}

// baseSuffix is the base's id when it is not the default base, else "":
// the default base keeps the names it always had.
func baseSuffix(c config.Config) string {
	if c.BaseIsDefault {
		return ""
	}
	return c.Base.ID
}

// Run runs the stages in order up to and including the one called last
// (release only when asked for). A stage's error is prefixed with its
// name, once.
func (b *Build) Run(ctx context.Context, last stage.Name) error {
	if !known(last) {
		return fmt.Errorf("pipeline: no stage %q", last)
	}
	b.last = last
	for _, s := range Stages {
		if err := b.runStage(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		if s.Name() == last {
			return nil
		}
	}
	return nil
}

func (b *Build) runStage(ctx context.Context, s Stage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if w, ok := s.(Writer); ok {
		outputs := w.Outputs(b)
		if err := b.makeOutputDirs(outputs); err != nil {
			return err
		}
		release, err := b.lockOutputs(ctx, s.Name().String(), outputs)
		if err != nil {
			return err
		}
		defer release()
		if err := b.removeOrphans(s.Name().String(), outputs); err != nil {
			return err
		}
	}
	if t, ok := s.(Tooled); ok {
		if err := b.Tools.Ensure(ctx, s.Name().String(), t.Tools(b)...); err != nil {
			return err
		}
	}
	if c, ok := s.(Cacheable); ok {
		fresh, err := c.UpToDate(ctx, b)
		if err != nil || fresh {
			return err
		}
	}
	return s.Run(ctx, b)
}

// lockOutputs takes the lock of each output, in order, and returns what
// releases them all.
func (b *Build) lockOutputs(ctx context.Context, stage string, outputs []string) (func(), error) {
	var held []*lock.Lock
	release := func() {
		for _, l := range held {
			l.Release()
		}
	}
	for _, out := range outputs {
		l, err := lock.Acquire(ctx, out, lock.Options{Stage: stage, Name: b.show(out), NoWait: b.Config.NoWait,
			Log: b.Log, Command: "mage " + stage})
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, l)
	}
	return release, nil
}

// show is a path as messages print it: relative to the repository root
// when it is inside it.
func (b *Build) show(path string) string {
	if rel, err := filepath.Rel(b.Config.Root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// index is the place of the stage called name in Stages (-1: none).
func index(name stage.Name) int {
	for i, s := range Stages {
		if s.Name() == name {
			return i
		}
	}
	return -1
}

func known(name stage.Name) bool { return index(name) >= 0 }

// Reads reports whether a run up to and including the stage last reads
// the setting s: s is read from its own stage on. A setting that only
// changes another's default is read by none.
func Reads(s config.Setting, last stage.Name) bool {
	first := index(s.Stage)
	return first >= 0 && first <= index(last)
}
