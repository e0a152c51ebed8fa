package iso

import (
	"context"
	"io"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
)

// RemasterOptions configure Remaster: the extract, customize and pack stages
// in one call, with the directory layout the Mage targets use.
type RemasterOptions struct {
	// Base is the base ISO.
	Base string
	// Root is the repository root: payload directories and, unless
	// UserData and MetaData are set, configs/autoinstall/ are read from it.
	Root string
	// UserData and MetaData override configs/autoinstall/user-data and
	// meta-data under Root.
	UserData, MetaData string
	// BuildDir holds extract/, customize/<version>/ and pack/<version>/.
	BuildDir string
	// DistDir receives the ISO and its build record.
	DistDir string
	// Version is the installer version.
	Version string
	// KernelArgs, GrubTitle and GrubTimeout are as in customize.Options.
	KernelArgs, GrubTitle, GrubTimeout string
	// SourceDateEpoch and GitCommit are as in PackOptions.
	SourceDateEpoch int64
	GitCommit       string
	// Progress and Log are as in PackOptions.
	Progress, Log io.Writer
}

// Dirs of one remaster under BuildDir.
func (o RemasterOptions) extractDir() string { return filepath.Join(o.BuildDir, "extract") }
func (o RemasterOptions) customizeDir() string {
	return filepath.Join(o.BuildDir, "customize", o.Version)
}
func (o RemasterOptions) packDir() string { return filepath.Join(o.BuildDir, "pack", o.Version) }

// Remaster extracts from the base, customizes for the version and packs the
// installer ISO, as `mage pack` does.
func Remaster(ctx context.Context, o RemasterOptions) (PackResult, error) {
	if o.UserData == "" {
		o.UserData = filepath.Join(o.Root, "configs", "autoinstall", "user-data")
	}
	if o.MetaData == "" {
		o.MetaData = filepath.Join(o.Root, "configs", "autoinstall", "meta-data")
	}
	x, err := Extract(ctx, ExtractOptions{Base: o.Base, Dir: o.extractDir(), Log: o.Log})
	if err != nil {
		return PackResult{}, err
	}
	_, err = customize.Customize(customize.Options{
		Version: o.Version, KernelArgs: o.KernelArgs, GrubTitle: o.GrubTitle, GrubTimeout: o.GrubTimeout,
		UserData: o.UserData, MetaData: o.MetaData, BaseTree: x.TreeDir(), OutDir: o.customizeDir(), Log: o.Log,
	})
	if err != nil {
		return PackResult{}, err
	}
	return Pack(ctx, PackOptions{
		Base: o.Base, ExtractDir: o.extractDir(), CustomizeDir: o.customizeDir(), Root: o.Root,
		DistDir: o.DistDir, WorkDir: o.packDir(), Version: o.Version, SourceDateEpoch: o.SourceDateEpoch,
		GitCommit: o.GitCommit, Progress: o.Progress, Log: o.Log,
	})
}
