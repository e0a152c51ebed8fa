package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
)

// packagesStage proves, before any ISO is written, that packages/*.deb
// install offline in one apt transaction on the base system the ISO's
// default install source puts on the disk.
type packagesStage struct{}

func (packagesStage) Name() stage.Name { return stage.Packages }

func (packagesStage) Run(_ context.Context, b *Build) error {
	files, err := b.baseFiles()
	if err != nil {
		return err
	}
	if err := checkLayout(b.Config.Base, files, b.Log); err != nil {
		return err
	}
	debs, err := debcheck.ReadDebDir(filepath.Join(b.Config.Root, "packages"), "packages/")
	if err != nil {
		return err
	}
	plan, err := debcheck.Resolve(files, debs)
	if err != nil {
		return fmt.Errorf("packages/ cannot be installed offline on the base system; nothing was written:\n%w", err)
	}
	if len(debs) == 0 && len(files) > 0 {
		// The SBOM lists the base's packages even when no .deb needed
		// them (extract has already refused a base whose manifests
		// cannot be read).
		base, err := debcheck.ReadBase(files)
		plan.BasePackages, b.basePackagesErr = base.Packages, err
	}
	b.Packages = &plan
	if len(debs) == 0 {
		fmt.Fprintln(b.Log, "packages: packages/ holds no .deb: nothing to install offline")
		return nil
	}
	fmt.Fprintf(b.Log, "packages: %s\npackages: %s\n", plan.Base.Source, plan.Summary())
	return nil
}

// baseFiles are the base ISO's casper manifests and install-sources.yaml,
// as extract copied them out.
func (b *Build) baseFiles() ([]debcheck.File, error) {
	var files []debcheck.File
	for _, f := range b.Extracted.Files {
		if !debcheck.IsBaseFile(f) {
			continue
		}
		data, err := os.ReadFile(b.Extracted.Path(f))
		if err != nil {
			return nil, err
		}
		files = append(files, debcheck.File{Path: f, Data: data})
	}
	return files, nil
}
