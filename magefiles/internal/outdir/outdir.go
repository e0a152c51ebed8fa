// Package outdir creates the pipeline's output directories (BUILD_DIR,
// DIST_DIR) and removes what the pipeline wrote there, never anything else.
// A directory the pipeline creates gets a marker file (config.OutputMarker)
// and clean removes it whole; from a directory it did not create (it was
// there before, or is older than the marker) clean removes only the names
// the pipeline owns and leaves every other file where it is.
package outdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// markerText says what the marker is, for a user who finds it.
const markerText = "This directory was created by novasphere-iso's pipeline: `mage clean` removes it whole.\n"

// Make creates dir with its marker when it does not exist yet; an existing
// directory is left as it is (it is not ours to mark).
func Make(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, config.OutputMarker), []byte(markerText), 0o644)
}

// Marked reports whether dir holds the marker (the pipeline created it).
func Marked(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, config.OutputMarker))
	return err == nil && fi.Mode().IsRegular()
}

// Owns says whether a name at the top of an output directory is one the
// pipeline writes there.
type Owns func(name string) bool

// Clean removes what the pipeline wrote in dir: all of it when the
// pipeline created dir, otherwise only the entries owns accepts. It says
// on log what it removed and what it left. A missing dir is not an error.
func Clean(dir string, owns Owns, log io.Writer) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	link := fi.Mode()&fs.ModeSymlink != 0
	if link {
		// Never removed through the link: only our names inside it.
		if fi, err = os.Stat(dir); err != nil {
			return err
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: nothing of the pipeline's is there; remove it yourself if it is not needed", dir)
	}
	if Marked(dir) && !link {
		fmt.Fprintf(log, "clean: removing %s (made by the pipeline)\n", dir)
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var removed, kept []string
	for _, e := range entries {
		if !owns(e.Name()) {
			kept = append(kept, e.Name())
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
		removed = append(removed, e.Name())
	}
	switch {
	case link:
		fmt.Fprintf(log, "clean: %s is a symbolic link: removed the %d entries of the pipeline's in it, left the link and %d others\n", dir, len(removed), len(kept))
	case len(kept) == 0:
		// Nothing but our files was there: the empty directory goes too.
		if err := os.Remove(dir); err != nil {
			return err
		}
		fmt.Fprintf(log, "clean: removed %s (%d of the pipeline's entries)\n", dir, len(removed))
	default:
		sort.Strings(kept)
		fmt.Fprintf(log, "clean: %s was not made by the pipeline: removed its %d entries of the pipeline's, left %d others: %s\n",
			dir, len(removed), len(kept), strings.Join(kept, ", "))
	}
	return nil
}

// Names returns an Owns that accepts the names matching one of patterns
// (filepath.Match), and the lock and temporary files of those:
// ".<name>.lock", ".<name>.<pid>.<random>.tmp" (lock.CreateTemp) and
// ".tmp-<random>.png" (a screen picture being written).
func Names(patterns ...string) Owns {
	ours := func(name string) bool {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	return func(name string) bool {
		if ours(name) {
			return true
		}
		inner, ok := strings.CutPrefix(name, ".")
		switch {
		case !ok:
			return false
		case strings.HasPrefix(inner, "tmp-"):
			return true
		case strings.HasSuffix(inner, ".lock"):
			return ours(strings.TrimSuffix(inner, ".lock"))
		case strings.HasSuffix(inner, ".tmp"):
			parts := strings.Split(strings.TrimSuffix(inner, ".tmp"), ".")
			return len(parts) > 2 && ours(strings.Join(parts[:len(parts)-2], "."))
		}
		return false
	}
}
