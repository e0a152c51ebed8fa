package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/repro"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
)

// Reproduce builds the ISO of c twice through pack, each time from empty
// build and output directories under work (the download cache is shared),
// and compares the two byte for byte. It returns the comparison; an error
// when they differ names the first differing bytes and the file inside the
// ISO they belong to.
func Reproduce(ctx context.Context, c config.Config, work string, log io.Writer) (repro.Diff, error) {
	var isos [2]string
	for i := range isos {
		run := c
		dir := filepath.Join(work, fmt.Sprintf("build-%d", i+1))
		if err := os.RemoveAll(dir); err != nil {
			return repro.Diff{}, err
		}
		run.BuildDir, run.DistDir = filepath.Join(dir, "build"), filepath.Join(dir, "dist")
		fmt.Fprintf(log, "reproduce: build %d of 2 in %s\n", i+1, dir)
		b := New(run, io.Discard, log, false)
		if err := b.Run(ctx, stage.Pack); err != nil {
			return repro.Diff{}, fmt.Errorf("build %d: %w", i+1, err)
		}
		isos[i] = b.Packed.ISO
	}
	d, err := repro.Compare(isos[0], isos[1])
	if err != nil {
		return d, err
	}
	if !d.Identical() {
		return d, fmt.Errorf("the two builds differ:\n%s", d)
	}
	fmt.Fprintf(log, "reproduce: the two builds are identical (%s and %s)\n", isos[0], isos[1])
	return d, nil
}
