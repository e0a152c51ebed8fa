package verify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/eltorito"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// isoImage reads files inside an ISO image without mounting or extracting
// it: xorriso reports where each file's data lies (-find … -exec report_lba,
// one command for the whole tree) and the bytes are then read straight from
// the image. That reads multi-gigabyte squashfs files once, with no
// temporary copy.
type isoImage struct {
	path  string
	f     *os.File
	size  int64
	files map[string][]extent
}

// extent is one contiguous piece of a file's data.
type extent struct {
	lba  int64 // 2048-byte block
	size int64 // bytes
}

// maxSmallFile bounds readFile (config files, manifests, md5sum.txt).
const maxSmallFile = 16 << 20

// openISO opens path and lists its files with xorriso.
func openISO(ctx context.Context, path string) (*isoImage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	// xorriso takes a file without volume descriptors for blank media and
	// lists no files; say what is wrong instead.
	if _, err := eltorito.VolumeID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := tool.Command("xorriso", "-indev", path,
		"-find", "/", "-type", "f", "-exec", "report_lba", "--").Output(ctx)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("listing the files of %s: %w", path, err)
	}
	files, err := parseReportLBA(out)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("listing the files of %s: %w", path, err)
	}
	return &isoImage{path: path, f: f, size: st.Size(), files: files}, nil
}

// Close closes the image file.
func (im *isoImage) Close() error { return im.f.Close() }

// ReadAt reads the raw image.
func (im *isoImage) ReadAt(p []byte, off int64) (int, error) { return im.f.ReadAt(p, off) }

// exists reports whether the ISO holds a regular file at name (absolute,
// as "/novasphere/VERSION").
func (im *isoImage) exists(name string) bool {
	_, ok := im.files[name]
	return ok
}

// open returns a reader of the file's data and its size.
func (im *isoImage) open(name string) (io.Reader, int64, error) {
	exts, ok := im.files[name]
	if !ok {
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	var readers []io.Reader
	var size int64
	for _, e := range exts {
		start := e.lba * eltorito.SectorSize
		if start < 0 || e.size < 0 || start+e.size > im.size {
			return nil, 0, fmt.Errorf("%s: data at block %d (%d bytes) lies outside the %d-byte image", name, e.lba, e.size, im.size)
		}
		readers = append(readers, io.NewSectionReader(im.f, start, e.size))
		size += e.size
	}
	return io.MultiReader(readers...), size, nil
}

// readFile returns a small file's content.
func (im *isoImage) readFile(name string) ([]byte, error) {
	r, size, err := im.open(name)
	if err != nil {
		return nil, err
	}
	if size > maxSmallFile {
		return nil, fmt.Errorf("%s: %d bytes is too large for a text file (limit %d)", name, size, maxSmallFile)
	}
	return io.ReadAll(r)
}

// under lists the files below dir ("/novasphere"), sorted.
func (im *isoImage) under(dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var names []string
	for name := range im.files {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// fileAt returns the file whose data starts at block lba, if any.
func (im *isoImage) fileAt(lba uint32) (string, bool) {
	for name, exts := range im.files {
		if len(exts) > 0 && exts[0].lba == int64(lba) && exts[0].size > 0 {
			return name, true
		}
	}
	return "", false
}

// parseReportLBA parses xorriso's report_lba result lines:
//
//	File data lba:  0 ,       33 ,        1 ,        6 , '/a/b/x.txt'
//
// (extent number, start block, blocks, bytes, shell-quoted path).
func parseReportLBA(out []byte) (map[string][]extent, error) {
	files := map[string][]extent{}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		rest, ok := strings.CutPrefix(line, "File data lba:")
		if !ok {
			continue
		}
		fields := strings.SplitN(rest, ",", 5)
		if len(fields) != 5 {
			return nil, fmt.Errorf("unexpected xorriso report line %q", line)
		}
		var nums [4]int64
		for i := range nums {
			n, err := strconv.ParseInt(strings.TrimSpace(fields[i]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected xorriso report line %q: %w", line, err)
			}
			nums[i] = n
		}
		name, err := shellUnquote(strings.TrimSpace(fields[4]))
		if err != nil {
			return nil, fmt.Errorf("unexpected xorriso report line %q: %w", line, err)
		}
		files[name] = append(files[name], extent{lba: nums[1], size: nums[3]})
	}
	return files, s.Err()
}

// shellUnquote undoes xorriso's quoting of a path: single-quoted pieces,
// with a quote inside written as '"'"'.
func shellUnquote(s string) (string, error) {
	var b strings.Builder
	for len(s) > 0 {
		q := s[0]
		if q != '\'' && q != '"' {
			return "", errors.New("path is not quoted")
		}
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", errors.New("unterminated quote in path")
		}
		b.WriteString(s[1 : 1+end])
		s = s[end+2:]
	}
	return b.String(), nil
}
