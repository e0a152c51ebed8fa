package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/fetch"
	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/release"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// fetchStage gets the verified base ISO. Its cache is content-addressed:
// with a pin, a cached ISO is found without a request or a read.
type fetchStage struct{}

func (fetchStage) Name() stage.Name { return stage.Fetch }

func (fetchStage) Run(ctx context.Context, b *Build) error {
	c := b.Config
	res, err := fetch.Fetch(ctx, fetch.Options{
		Name:        c.BaseISOName,
		Locations:   c.BaseLocations,
		SHA256:      c.BaseISOSHA256,
		KeyringPath: c.KeyringPath,
		CacheDir:    c.CacheDir,
		Log:         b.Log,
		Terminal:    b.Terminal,
		NoWait:      c.NoWait,
		Command:     "mage fetch",
		Lock:        fetch.LockFromConfig(c),
	})
	if err != nil {
		return err
	}
	b.Base = &res
	return nil
}

// extractStage reads the files the remaster changes out of the base.
type extractStage struct{}

func (extractStage) Name() stage.Name { return stage.Extract }

func (s extractStage) UpToDate(_ context.Context, b *Build) (bool, error) {
	x, ok := iso.Cached(b.Dir(stage.Extract), b.Base.Path)
	if ok {
		fmt.Fprintf(b.Log, "extract: %s is up to date (base %s)\n", x.Dir, x.Base)
		b.Extracted = &x
		return true, b.checkBasePackages()
	}
	return false, nil
}

// checkBasePackages reads the base's package list as soon as extract has
// its manifests, so that a base whose packages cannot be listed stops the
// run here, naming what is missing, instead of failing the SBOM after
// verify passed: a run has one verdict.
func (b *Build) checkBasePackages() error {
	files, err := b.baseFiles()
	if err != nil || len(files) == 0 {
		return err // a base without manifests has no packages to list
	}
	if _, err := debcheck.ReadBase(files); err != nil {
		return fmt.Errorf("the base's installed packages cannot be listed (the offline-package check and the SBOM need them): %w", err)
	}
	return nil
}

// Tools: extract reads the base with xorriso.
func (extractStage) Tools(*Build) []tool.Tool { return []tool.Tool{tool.Xorriso} }

// Outputs is extract's directory.
func (extractStage) Outputs(b *Build) []string { return []string{b.Dir(stage.Extract)} }

func (extractStage) Run(ctx context.Context, b *Build) error {
	// A base cut short is said so before xorriso fails on it with a
	// message that hides the cause.
	if err := verify.CheckBaseVolume(b.Base.Path); err != nil {
		return err
	}
	x, err := iso.Extract(ctx, iso.ExtractOptions{
		Base: b.Base.Path, BaseSHA256: b.Base.Digest.Encoded(), Dir: b.Dir(stage.Extract), Log: b.Log,
	})
	if err != nil {
		return err
	}
	b.Extracted = &x
	return b.checkBasePackages()
}

// customizeStage writes the autoinstall seed, GRUB menus and identity
// files. It always renders them (it is cheap) and rewrites only files whose
// content changed, so pack sees what changed.
type customizeStage struct{}

func (customizeStage) Name() stage.Name { return stage.Customize }

// Outputs is customize's directory for the version.
func (customizeStage) Outputs(b *Build) []string { return []string{b.Dir(stage.Customize)} }

func (customizeStage) Run(_ context.Context, b *Build) error {
	c := b.Config
	r, err := customize.Customize(customize.Options{
		Version:        c.Version,
		KernelArgs:     c.KernelArgs,
		GrubTitle:      c.GrubTitle,
		GrubTimeout:    c.GrubTimeout,
		UserData:       filepath.Join(c.Root, "configs", "autoinstall", "user-data"),
		MetaData:       filepath.Join(c.Root, "configs", "autoinstall", "meta-data"),
		AuthorizedKeys: c.AdminAuthorizedKeys,
		BaseTree:       b.Extracted.TreeDir(),
		OutDir:         b.Dir(stage.Customize),
		Log:            b.Log,
		// The base's quirks (configs/bases.yaml): its autoinstall schema,
		// and /autoinstall.yaml at the root for 24.04 and later.
		Schema:          c.Base.Quirk(bases.QuirkAutoinstallSchema),
		RootAutoinstall: c.Base.Quirk(bases.QuirkRootAutoinstall) == bases.AutoinstallWrapped,
	})
	if err != nil {
		return err
	}
	b.Customized = &r
	if b.last == stage.Release && !r.Login.CanLogIn() {
		// The release checklist's login line, said before any ISO is built.
		return fmt.Errorf("the release checklist refuses this configuration: %s", customize.NoLoginHint(config.EnvAdminAuthorizedKeys))
	}
	return nil
}

// packStage writes the installer ISO and its build record.
type packStage struct{}

func (packStage) Name() stage.Name { return stage.Pack }

func (packStage) options(ctx context.Context, b *Build) iso.PackOptions {
	c := b.Config
	return iso.PackOptions{
		Base:            b.Base.Path,
		BaseID:          c.Base.ID,
		Extracted:       *b.Extracted,
		Customized:      *b.Customized,
		Payload:         b.Payload,
		ISO:             b.Dist.ISO(),
		Record:          b.Dist.BuildRecord(),
		WorkDir:         b.Dir(stage.Pack),
		Version:         c.Version,
		SourceDateEpoch: c.SourceDateEpoch,
		GitCommit:       git.HeadOrEmpty(ctx, c.Root),
		OfflinePackages: b.Packages,
		Images:          b.imageRecords(),
		Progress:        b.Progress,
		Log:             b.Log,
	}
}

// Outputs is the ISO (its build record goes with it).
func (packStage) Outputs(b *Build) []string { return []string{b.Dist.ISO()} }

// Tools: pack writes the ISO with xorriso (its up-to-date check asks its
// version).
func (packStage) Tools(*Build) []tool.Tool { return []tool.Tool{tool.Xorriso} }

func (s packStage) UpToDate(ctx context.Context, b *Build) (bool, error) {
	p, err := iso.PlanPack(ctx, s.options(ctx, b))
	if err != nil {
		return false, err
	}
	b.packPlan = p
	res, ok := p.UpToDate()
	if ok {
		return true, b.setPacked(ctx, res)
	}
	return false, nil
}

func (packStage) Run(ctx context.Context, b *Build) error {
	res, err := b.packPlan.Write(ctx)
	if err != nil {
		return err
	}
	return b.setPacked(ctx, res)
}

// setPacked records pack's result and its artifacts: the ISO (verify
// hashes it) and the build record.
func (b *Build) setPacked(ctx context.Context, res iso.PackResult) error {
	b.Packed = &res
	b.Artifacts.Add(dist.Artifact{Name: filepath.Base(res.ISO), Path: res.ISO, Kind: dist.KindISO})
	return b.addFile(ctx, dist.KindRecord, res.Record)
}

// addFile hashes a file a stage wrote and lists it as an artifact of kind.
func (b *Build) addFile(ctx context.Context, kind dist.Kind, path string) error {
	d, err := hashing.File(ctx, path, 0)
	if err != nil {
		return err
	}
	b.Artifacts.Add(dist.Artifact{Name: filepath.Base(path), Path: path, Kind: kind, SHA256: d.SHA256, MD5: d.MD5, Size: d.Size})
	return nil
}

// verifyStage proves the ISO right.
type verifyStage struct{}

func (verifyStage) Name() stage.Name { return stage.Verify }

// Tools: verify reads the ISO with xorriso; its boots need QEMU and
// OVMF, installed when the boots are required (VERIFY_BOOT=1) or the
// install proof runs, which also reads the offline packages with dpkg-deb.
// Under VERIFY_BOOT's default the boots run only when QEMU is installed
// already.
func (verifyStage) Tools(b *Build) []tool.Tool {
	tools := []tool.Tool{tool.Xorriso}
	boot := []tool.Tool{tool.Qemu, tool.OVMFCode, tool.OVMFVars}
	if b == nil {
		return append(append(tools, boot...), tool.DpkgDeb)
	}
	v := b.Config.Verify
	if mode := bootMode(v.Boot); v.Install || mode == verify.BootOn || mode == verify.BootAuto && tool.Qemu.Present() {
		tools = append(tools, boot...)
	}
	if v.Install {
		tools = append(tools, tool.DpkgDeb)
	}
	return tools
}

// Outputs is the report (SHA256SUMS, MD5SUMS and the boot logs go with
// it).
func (verifyStage) Outputs(b *Build) []string { return []string{b.Dist.VerifyReport()} }

// options are verify's options for b.
func (verifyStage) options(b *Build) verify.Options {
	c := b.Config
	return verify.Options{
		ISO:             b.Packed.ISO,
		BaseISO:         b.Base.Path,
		Version:         c.Version,
		DistDir:         b.Dist.Dir,
		Boot:            bootMode(c.Verify.Boot),
		BootTimeout:     c.Verify.BootTimeout,
		BootMarker:      c.Verify.BootMarker,
		Install:         c.Verify.Install,
		InstallTimeouts: installproof.Timeouts{Install: c.Verify.InstallTimeout},
		Images:          b.verifyImages(),
		InstallDiskDir:  filepath.Join(c.BuildDir, "install"),
		Out:             b.Out,

		AutoinstallSchema: c.Base.Quirk(bases.QuirkAutoinstallSchema),
		RootAutoinstall:   c.Base.Quirk(bases.QuirkRootAutoinstall) == bases.AutoinstallWrapped,
	}
}

// UpToDate reuses a report that passed for this exact ISO (its SHA-256)
// and the same verify settings, unless VERIFY_FORCE=1: an install proof of
// the real ISO takes many minutes and proves nothing new the second time.
func (s verifyStage) UpToDate(ctx context.Context, b *Build) (bool, error) {
	if b.Config.Verify.Force {
		return false, nil
	}
	var rep verify.Report
	if err := atomicfile.ReadJSON(b.Dist.VerifyReport(), &rep); err != nil || !rep.Passed {
		return false, nil
	}
	o := s.options(b)
	if rep.Inputs != o.Inputs() || rep.ISO != filepath.Base(o.ISO) {
		return false, nil
	}
	// An ISO pack wrote in this run, or of another size, cannot be the one
	// the report is about: do not read it twice (here and in verify).
	if !b.Packed.UpToDate {
		return false, nil
	}
	if fi, err := os.Stat(o.ISO); err != nil || fi.Size() != rep.Size {
		return false, nil
	}
	d, err := hashing.File(ctx, o.ISO, 0)
	if err != nil || d.SHA256 != rep.SHA256 {
		return false, nil
	}
	fmt.Fprintf(b.Out, "verify: %s passed every check at %s for this exact ISO (sha256 %s) and the same settings: reused; VERIFY_FORCE=1 runs them again\n",
		dist.VerifyReportName, rep.Time, d.SHA256)
	b.Report = &rep
	return true, b.addVerifyArtifacts(ctx, rep)
}

func (s verifyStage) Run(ctx context.Context, b *Build) error {
	o := s.options(b)
	rep, err := verify.Run(ctx, o)
	if rep.Version != "" {
		b.Report = &rep
		if aerr := b.addVerifyArtifacts(ctx, rep); aerr != nil && err == nil {
			err = aerr
		}
		if serr := b.writeStepSummary(rep); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// writeStepSummary appends verify's table to GitHub Actions' job summary,
// when it runs there.
func (b *Build) writeStepSummary(rep verify.Report) error {
	path := b.Config.Verify.StepSummary
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", config.EnvStepSummary, err)
	}
	if _, err := f.WriteString(rep.Markdown()); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", config.EnvStepSummary, err)
	}
	return f.Close()
}

// addVerifyArtifacts lists what verify wrote: the ISO with the digests it
// computed, the report, the boot logs, the install proofs' logs and
// screen pictures; then writes SHA256SUMS and MD5SUMS of the ISO. A log
// that a reused report names but that is gone is not listed.
func (b *Build) addVerifyArtifacts(ctx context.Context, rep verify.Report) error {
	if rep.SHA256 != "" {
		b.Artifacts.Add(dist.Artifact{Name: rep.ISO, Path: b.Dist.ISO(), Kind: dist.KindISO, SHA256: rep.SHA256, MD5: rep.MD5, Size: rep.Size})
		if err := b.writeSums(ctx); err != nil {
			return err
		}
		fmt.Fprintf(b.Log, "verify: wrote %s and %s\n", b.show(b.Dist.SHA256Sums()), b.show(b.Dist.MD5Sums()))
	}
	if err := b.addFile(ctx, dist.KindReport, b.Dist.VerifyReport()); err != nil {
		return err
	}
	ran := map[string]bool{}
	for _, c := range rep.Checks {
		ran[c.Name] = !c.Skipped
	}
	var files []dist.Artifact
	for _, t := range verify.AllBootTargets {
		if ran["boot-"+t.Name()] {
			files = append(files, dist.Artifact{Path: b.Dist.BootLog(t.Name()), Kind: dist.KindLog})
		}
	}
	for _, p := range rep.Install {
		for _, f := range p.Logs {
			files = append(files, dist.Artifact{Path: f, Kind: dist.KindLog})
		}
		for _, f := range p.Screens {
			files = append(files, dist.Artifact{Path: f, Kind: dist.KindPicture})
		}
	}
	for _, f := range files {
		if err := b.addFile(ctx, f.Kind, f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writeSums writes SHA256SUMS and MD5SUMS of the artifacts listed so far
// whose kind is summed (the ISO; the SBOM once written), and lists them.
func (b *Build) writeSums(ctx context.Context) error {
	summed := b.Artifacts.Summed()
	for _, f := range dist.ChecksumFiles {
		list := map[string]string{}
		for _, a := range summed {
			if f.Digest(a) == "" {
				return fmt.Errorf("writing %s: %s was listed without its digests", f.Name, a.Name)
			}
			list[a.Name] = f.Digest(a)
		}
		data, err := sums.Format(list)
		if err != nil {
			return fmt.Errorf("writing %s: %w", f.Name, err)
		}
		path := b.Dist.Path(f.Name)
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Name, err)
		}
		if err := b.addFile(ctx, dist.KindChecksums, path); err != nil {
			return err
		}
	}
	return nil
}

// isoDigests are the ISO's digests as the artifact list holds them (zero
// when no stage computed them).
func (b *Build) isoDigests() hashing.Digests {
	a, ok := b.Artifacts.Get(b.Dist.ISOName())
	if !ok {
		return hashing.Digests{}
	}
	return hashing.Digests{SHA256: a.SHA256, MD5: a.MD5, Size: a.Size}
}

// bootMode maps VERIFY_BOOT to verify's boot mode.
func bootMode(s config.Switch) verify.BootMode {
	switch s {
	case config.On:
		return verify.BootOn
	case config.Off:
		return verify.BootOff
	}
	return verify.BootAuto
}

// releaseStage publishes the verified ISO.
type releaseStage struct{}

func (releaseStage) Name() stage.Name { return stage.Release }

func (releaseStage) Run(ctx context.Context, b *Build) error {
	c := b.Config
	if !c.BaseIsDefault {
		// The release publishes one ISO and the SHA256SUMS of it; a release
		// of several bases (one ISO each, one SHA256SUMS for all) is not
		// built yet: never publish another base's files under this version.
		return fmt.Errorf("BASE=%s: a release publishes the default base (%s) only; build, verify and test other bases with verify", c.Base.ID, c.Bases.Default)
	}
	return release.Run(ctx, release.Options{
		Version:  c.Version,
		Root:     c.Root,
		DistDir:  b.Dist.Dir,
		Draft:    b.Release.Draft,
		DryRun:   b.Release.DryRun,
		Force:    b.Release.Force,
		Out:      b.Out,
		Settings: c.Release,
		Login:    &b.Customized.Login,
		// What the stages wrote and a release attaches; verify listed the
		// ISO with its digests, so the release need not read 2 GB again.
		Artifacts: b.Artifacts.Published(),
	})
}
