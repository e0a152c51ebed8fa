package payload

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
)

// Digest is the checksums of one file.
type Digest struct {
	// Rel is the file's path relative to ISODir (for payload files) or its
	// absolute ISO path (for other files), as given to HashFiles.
	Rel string
	// SHA256 and MD5 are lowercase hex.
	SHA256, MD5 string
}

// FileRef names a file to hash: Rel is how it appears in the sums, Path is
// where it is on disk.
type FileRef struct {
	Rel, Path string
}

// Refs turns entries into FileRefs.
func Refs(entries []Entry) []FileRef {
	out := make([]FileRef, len(entries))
	for i, e := range entries {
		out[i] = FileRef{Rel: e.Rel, Path: e.Path}
	}
	return out
}

// HashFiles reads each file once and computes its SHA-256 and MD5.
func HashFiles(files []FileRef) ([]Digest, error) {
	out := make([]Digest, 0, len(files))
	for _, f := range files {
		d, err := hashFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func hashFile(f FileRef) (Digest, error) {
	r, err := os.Open(f.Path)
	if err != nil {
		return Digest{}, fmt.Errorf("payload: %w", err)
	}
	defer r.Close()
	s, m := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(s, m), r); err != nil {
		return Digest{}, fmt.Errorf("payload: reading %s: %w", f.Path, err)
	}
	return Digest{Rel: f.Rel, SHA256: hex.EncodeToString(s.Sum(nil)), MD5: hex.EncodeToString(m.Sum(nil))}, nil
}

// Manifest is /novasphere/MANIFEST.sha256: one "<sha256>  <path>" line per
// file, paths relative to /novasphere, sorted by path bytes, so that
// "cd /novasphere && sha256sum -c MANIFEST.sha256" checks every file. It
// must be given every payload file and VERSION, never MANIFEST.sha256 itself.
func Manifest(digests []Digest) []byte {
	sorted := append([]Digest{}, digests...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Rel < sorted[j].Rel })
	var b bytes.Buffer
	for _, d := range sorted {
		fmt.Fprintf(&b, "%s  %s\n", d.SHA256, d.Rel)
	}
	return b.Bytes()
}

// MD5Update says how the base ISO's /md5sum.txt changes.
type MD5Update struct {
	// Replaced are base files given new content (ISO path -> MD5). They
	// keep a line only if the base listed them: what Ubuntu leaves out stays
	// out. Those under RemovedTrees are files of a new tree and always get
	// a line, as Added do.
	Replaced map[string]string
	// Added are new files (ISO path -> MD5); each gets a line.
	Added map[string]string
	// RemovedTrees are ISO directories the remaster deletes before adding
	// its own; the base's lines below them are dropped.
	RemovedTrees []string
	// Excluded are ISO paths that never get a line: /md5sum.txt itself, the
	// boot catalog and the El Torito images that xorriso patches while
	// writing.
	Excluded []string
}

// RegenerateMD5Sum writes a new /md5sum.txt from the base's: the base's
// lines for unchanged files as they were, new MD5s for replaced and added
// files, "<md5>  ./<path>" lines sorted by path bytes (LC_ALL=C order,
// independent of the host's locale).
func RegenerateMD5Sum(base []byte, u MD5Update) ([]byte, error) {
	lines, err := ParseMD5Sum(base)
	if err != nil {
		return nil, err
	}
	for p := range lines {
		if underAny(p, u.RemovedTrees) {
			delete(lines, p)
		}
	}
	for p, sum := range u.Replaced {
		if _, listed := lines[p]; listed || underAny(p, u.RemovedTrees) {
			lines[p] = sum
		}
	}
	for p, sum := range u.Added {
		lines[p] = sum
	}
	for _, p := range u.Excluded {
		delete(lines, p)
	}
	return FormatMD5Sum(lines), nil
}

// FormatMD5Sum writes ISO path -> MD5 pairs as md5sum.txt lines sorted by
// path bytes.
func FormatMD5Sum(lines map[string]string) []byte {
	paths := make([]string, 0, len(lines))
	for p := range lines {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  .%s\n", lines[p], p)
	}
	return b.Bytes()
}

// ParseMD5Sum reads md5sum.txt lines ("<md5>  ./path" or "<md5> *./path")
// into absolute ISO path -> MD5.
func ParseMD5Sum(data []byte) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range sums.Lines(data, sums.MD5) {
		if l.Err != nil {
			return nil, fmt.Errorf("md5sum.txt line %d: %w", l.N, l.Err)
		}
		out[isoPath(l.Name)] = l.Sum
	}
	return out, nil
}

// isoPath turns "./boot/grub/grub.cfg" or "boot/grub/grub.cfg" into
// "/boot/grub/grub.cfg".
func isoPath(name string) string {
	name = strings.TrimPrefix(name, "./")
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name
}

func underAny(p string, trees []string) bool {
	for _, t := range trees {
		t = strings.TrimSuffix(t, "/")
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}
