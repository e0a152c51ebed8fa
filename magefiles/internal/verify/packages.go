package verify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"

	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
)

// checkOfflinePackages proves about what was shipped what pack proved about
// packages/: the .debs under /novasphere/packages install offline in one
// apt transaction on the base system, as the ISO's own casper manifests
// and install-sources.yaml describe it.
func checkOfflinePackages(_ context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	var files []debcheck.File
	var debs []debcheck.Deb
	for _, name := range im.under("/") {
		switch {
		case debcheck.IsBaseFile(name):
			data, err := im.readFile(name)
			if err != nil {
				return "", err
			}
			files = append(files, debcheck.File{Path: name, Data: data})
		case path.Dir(name) == payload.ISODir+"/packages" && path.Ext(name) == ".deb":
			d, err := readShippedDeb(im, name)
			if err != nil {
				return "", err
			}
			debs = append(debs, d)
		}
	}
	plan, err := debcheck.Resolve(files, debs)
	if err != nil {
		return "", err
	}
	if len(debs) == 0 {
		return "the ISO ships no .deb under /novasphere/packages", nil
	}
	return fmt.Sprintf("%s; %s", plan.Summary(), plan.Base.Source), nil
}

// readShippedDeb reads one .deb out of the ISO, named as pack names it
// ("packages/x.deb").
func readShippedDeb(im *isoImage, name string) (debcheck.Deb, error) {
	r, _, err := im.open(name)
	if err != nil {
		return debcheck.Deb{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return debcheck.Deb{}, fmt.Errorf("%s: %w", name, err)
	}
	return debcheck.ReadDeb("packages/"+path.Base(name), bytes.NewReader(data), int64(len(data)))
}
