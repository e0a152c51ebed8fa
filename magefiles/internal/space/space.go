// Package space checks free disk space before a stage writes, so that a full
// disk is reported in bytes, in one line, before anything is written rather
// than in sectors at the end of a tool's log.
package space

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// ErrNoSpace is wrapped by every *ShortError.
var ErrNoSpace = errors.New("not enough free disk space")

// ShortError reports that a directory's file system has less room than a
// stage needs.
type ShortError struct {
	// Dir is the directory as given to Check.
	Dir string
	// Free is what the file system has available to this user, in bytes.
	Free int64
	// Need is what the stage needs, in bytes.
	Need int64
	// What names the stage ("pack").
	What string
}

// Error reads "dist/ has 58.0 MiB free, pack needs 1.6 GiB".
func (e *ShortError) Error() string {
	dir := e.Dir
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return fmt.Sprintf("%s has %s free, %s needs %s", dir, units.Bytes(e.Free), e.What, units.Bytes(e.Need))
}

// Unwrap returns ErrNoSpace.
func (e *ShortError) Unwrap() error { return ErrNoSpace }

// Free returns the bytes available to this (unprivileged) user on the file
// system that holds dir. A dir that does not exist yet is measured at its
// nearest existing parent, where it will be created.
func Free(dir string) (int64, error) {
	p := dir
	for {
		var st unix.Statfs_t
		err := unix.Statfs(p, &st)
		if err == nil {
			return int64(st.Bavail) * st.Bsize, nil
		}
		parent := filepath.Dir(p)
		if !errors.Is(err, fs.ErrNotExist) || parent == p {
			return 0, fmt.Errorf("free space of %s: %w", dir, err)
		}
		p = parent
	}
}

// Check returns a *ShortError when the file system of dir has less than
// need bytes available; what names the stage that needs them.
func Check(dir string, need int64, what string) error {
	free, err := Free(dir)
	if err != nil {
		return err
	}
	if free < need {
		return &ShortError{Dir: dir, Free: free, Need: need, What: what}
	}
	return nil
}
