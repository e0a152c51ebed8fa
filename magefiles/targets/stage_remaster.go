package targets

import (
	"context"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	custom "github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// extractBase reads what the remaster changes out of the base ISO, whose
// digest fetch already verified.
func extractBase(ctx context.Context, c config.Config, base, baseSHA256 string) error {
	if err := installer(c).Ensure(ctx, "extract", tool.Xorriso); err != nil {
		return err
	}
	_, err := iso.Extract(ctx, iso.ExtractOptions{Base: base, BaseSHA256: baseSHA256, Dir: extractDir(c), Log: os.Stderr})
	return err
}

// customizeISO writes autoinstall, grub and identity files for c.Version.
func customizeISO(ctx context.Context, c config.Config) error {
	x, err := iso.LoadExtracted(extractDir(c))
	if err != nil {
		return err
	}
	o, err := custom.OptionsFromEnv(custom.Options{
		Version:    c.Version,
		KernelArgs: c.KernelArgs,
		UserData:   filepath.Join(c.Root, "configs", "autoinstall", "user-data"),
		MetaData:   filepath.Join(c.Root, "configs", "autoinstall", "meta-data"),
		BaseTree:   x.TreeDir(),
		OutDir:     filepath.Join(c.Path(c.BuildDir), "customize", c.Version),
		Log:        os.Stderr,
	})
	if err != nil {
		return err
	}
	_, err = custom.Customize(o)
	return err
}

// packISO writes the installer ISO for c.Version.
func packISO(ctx context.Context, c config.Config, base string) error {
	if err := installer(c).Ensure(ctx, "pack", tool.Xorriso); err != nil {
		return err
	}
	build := c.Path(c.BuildDir)
	_, err := iso.Pack(ctx, iso.PackOptions{
		Base:            base,
		ExtractDir:      extractDir(c),
		CustomizeDir:    filepath.Join(build, "customize", c.Version),
		Root:            c.Root,
		DistDir:         c.Path(c.DistDir),
		WorkDir:         filepath.Join(build, "pack", c.Version),
		Version:         c.Version,
		SourceDateEpoch: c.SourceDateEpoch,
		GitCommit:       iso.GitCommit(ctx, c.Root),
		Progress:        os.Stderr,
		Log:             os.Stderr,
	})
	return err
}

// extractDir is $BUILD_DIR/extract.
func extractDir(c config.Config) string {
	return filepath.Join(c.Path(c.BuildDir), "extract")
}

// validVersion checks a version argument.
func validVersion(v string) error { return config.ValidateVersion(v) }
