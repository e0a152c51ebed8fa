package pipeline

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
)

// checkLayout compares what configs/bases.yaml says of the base's ISO with
// what the ISO holds. The form of casper/install-sources.yaml decides how
// the install source is read, so a mismatch stops the build naming both;
// the kernel layers (livecd-rootfs, not checked against a real ISO here)
// are only reported. A layout debcheck cannot read stops the build with
// what was expected and what was found.
func checkLayout(b bases.Base, files []debcheck.File, log io.Writer) error {
	if len(files) == 0 {
		return nil // an ISO without casper manifests: nothing to compare
	}
	found, err := debcheck.ReadBase(files)
	if err != nil {
		return fmt.Errorf("the base ISO's layout: %w", err)
	}
	want := b.Quirk(bases.QuirkInstallSources)
	if found.Layout != "" && found.Layout != want {
		return fmt.Errorf("base %s (%s:%d) expects %s as %s, but this ISO has it as %s: is BASE right for this ISO? If Ubuntu changed the form, set the quirk %s: %s in its entry",
			b.ID, bases.File, b.Line, debcheck.InstallSourcesPath, want, found.Layout, bases.QuirkInstallSources, found.Layout)
	}
	var layers []string
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f.Path), ".manifest")
		if strings.Contains(name, ".installer.generic") {
			layers = append(layers, name)
		}
	}
	switch wantLayers := b.Quirk(bases.QuirkKernelLayers) == "installer"; {
	case wantLayers && len(layers) == 0:
		fmt.Fprintf(log, "packages: note: %s says %s has kernel layers (...installer.generic), but casper/ has no manifest of one\n", bases.File, b.ID)
	case !wantLayers && len(layers) > 0:
		fmt.Fprintf(log, "packages: note: %s says %s has no kernel layers, but casper/ has %s\n", bases.File, b.ID, strings.Join(layers, ", "))
	case len(layers) > 0:
		fmt.Fprintf(log, "packages: kernel layers %s (installer only, never installed)\n", strings.Join(layers, ", "))
	}
	return nil
}
