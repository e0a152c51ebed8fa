package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
	"github.com/novasphere/novasphere-iso/magefiles/internal/outdir"
)

// buildNames are what the pipeline writes at the top of BUILD_DIR: each
// stage's directory (Build.Dir) and reproduce's.
var buildNames = outdir.Names("extract", "customize", "pack", "reproduce", config.OutputMarker)

// distNames are what the pipeline writes at the top of DIST_DIR (see
// package dist), install's logs and screen pictures included.
var distNames = outdir.Names("novasphere-installer-*", "SHA256SUMS", "SHA256SUMS.gpg", "MD5SUMS",
	"verify-report.json", "boot-*.log", "install-*.log", "install-*.png", "firstboot-*.log", "firstboot-*.png",
	config.OutputMarker)

// Clean removes what the pipeline wrote in BUILD_DIR and DIST_DIR (see
// package outdir): a directory it created goes whole, from any other only
// the names the pipeline owns. The download cache is kept.
func Clean(c config.Config, log io.Writer) error {
	for _, d := range []struct {
		dir  string
		owns outdir.Owns
	}{{c.BuildDir, buildNames}, {c.DistDir, distNames}} {
		if err := outdir.Clean(d.dir, d.owns, log); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
	}
	return nil
}

// makeOutputDirs makes BUILD_DIR or DIST_DIR, with its marker, before a
// stage writes (or locks) its first output there.
func (b *Build) makeOutputDirs(outputs []string) error {
	for _, out := range outputs {
		for _, dir := range []string{b.Config.BuildDir, b.Config.DistDir} {
			if out == dir || strings.HasPrefix(out, dir+string(filepath.Separator)) {
				if err := outdir.Make(dir); err != nil {
					return fmt.Errorf("creating %s: %w", b.show(dir), err)
				}
			}
		}
	}
	return nil
}

// removeOrphans removes the temporary files and directories a killed
// earlier run of any writer left beside the stage's outputs and, for an
// output that is a directory, anywhere inside it (those of live runs stay).
func (b *Build) removeOrphans(stage string, outputs []string) error {
	for _, out := range outputs {
		removed, err := lock.RemoveOrphanTempsIn(filepath.Dir(out))
		if fi, serr := os.Stat(out); serr == nil && fi.IsDir() {
			inside, ierr := lock.RemoveOrphanTempsUnder(out)
			removed, err = append(removed, inside...), errors.Join(err, ierr)
		}
		for _, r := range removed {
			fmt.Fprintf(b.Log, "%s: removed %s, left by a run that was stopped\n", stage, b.show(r))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
