package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
)

// OutputMarker is the file the pipeline writes into every output directory
// it creates (BUILD_DIR, DIST_DIR): clean removes a whole directory only
// when it holds this marker, and a directory of the checkout that holds it
// is ours, not the project's content.
const OutputMarker = ".novasphere-iso-output"

// protected is one place an output directory must stay clear of.
type protected struct {
	path string // absolute, symbolic links resolved
	what string // as messages name it
	// inside: an output may lie inside path (the checkout, the home).
	inside bool
}

// checkOutputDirs applies the overlap rule to BUILD_DIR, DIST_DIR and
// CACHE_DIR: none may be, contain or lie inside the repository's tracked
// content, a payload folder, the cache (for the other two), / or the home
// directory. It returns one problem a line, each naming the setting and
// what it would overlap.
func (c Config) checkOutputDirs() []error {
	var errs []error
	if c.Root == "" {
		return nil
	}
	common := c.protectedPlaces()
	for _, s := range []struct{ name, dir string }{
		{EnvBuildDir, c.BuildDir}, {EnvDistDir, c.DistDir}, {EnvCacheDir, c.CacheDir},
	} {
		places := common
		if s.name != EnvCacheDir {
			places = append(places[:len(places):len(places)], protected{path: realPath(c.CacheDir), what: "the download cache (" + EnvCacheDir + ")"})
		}
		if err := overlaps(s.name, s.dir, places); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// protectedPlaces are /, the home directory, the checkout, its payload
// folders and every directory that holds tracked files.
func (c Config) protectedPlaces() []protected {
	root := realPath(c.Root)
	places := []protected{{path: "/", what: "the root directory /", inside: true}}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		places = append(places, protected{path: realPath(home), what: "the home directory", inside: true})
	}
	places = append(places, protected{path: root, what: "the repository checkout", inside: true})
	for _, d := range payload.Dirs {
		places = append(places, protected{path: filepath.Join(root, d), what: "the payload folder " + d + "/ (it goes into the ISO)"})
	}
	for _, t := range trackedTops(c.Root) {
		places = append(places, protected{path: filepath.Join(root, t), what: "the repository's tracked " + t})
	}
	return places
}

// overlaps says how dir, the value of setting name, overlaps one of places:
// it is one of them, contains one, or lies inside one that allows nothing
// inside.
func overlaps(name, dir string, places []protected) error {
	d := realPath(dir)
	for _, p := range places {
		switch {
		case d == p.path:
			return fmt.Errorf("%s=%s is %s: choose a directory of its own, for example the default", name, dir, p.what)
		case within(p.path, d):
			return fmt.Errorf("%s=%s contains %s %s: clean would delete it; choose a directory of its own", name, dir, p.what, p.path)
		case !p.inside && within(d, p.path):
			return fmt.Errorf("%s=%s lies inside %s: choose a directory outside it", name, dir, p.what)
		}
	}
	return nil
}

// within reports whether path lies strictly inside dir.
func within(path, dir string) bool {
	if dir == "/" {
		return path != "/"
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// realPath is p absolute and cleaned, with the symbolic links of its
// longest existing ancestor resolved, so that a link to the checkout counts
// as the checkout.
func realPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// trackedTops are the first path elements of the checkout's tracked files
// (".git" included); outside a git work tree, every entry of root except
// build, dist and the output directories the pipeline made (they hold
// OutputMarker).
func trackedTops(root string) []string {
	seen := map[string]bool{".git": true}
	tops := []string{".git"}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			tops = append(tops, name)
		}
	}
	if files, err := git.TrackedFiles(context.Background(), root); err == nil && len(files) > 0 {
		for _, name := range files {
			top, _, _ := strings.Cut(name, "/")
			add(top)
		}
		return tops
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return tops
	}
	for _, e := range entries {
		if e.Name() == "build" || e.Name() == "dist" {
			continue // the default output directories; the project ships neither
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), OutputMarker)); errors.Is(err, fs.ErrNotExist) {
			add(e.Name())
		}
	}
	return tops
}
