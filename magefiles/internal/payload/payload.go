// Package payload finds the NovaSphere payload that goes under /novasphere
// on the installer ISO, refuses what an ISO cannot or must not hold, and
// writes the checksum files: /novasphere/MANIFEST.sha256 and the regenerated
// /md5sum.txt.
//
// The payload is a list of trees, each a directory on disk mapped into the
// ISO as it is (no staging copy) at ISODir/<Rel>: the repository
// directories in Dirs first, then any tree a stage made (container images
// under /novasphere/images), plus VERSION and MANIFEST.sha256.
package payload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ISODir is where the payload goes on the ISO.
const ISODir = "/novasphere"

// Names of the generated payload files, relative to ISODir.
const (
	VersionName  = "VERSION"
	ManifestName = "MANIFEST.sha256"
)

// Dirs are the repository directories shipped under ISODir, in this order.
var Dirs = []string{"charts", "scripts", "configs", "packages"}

// Limits of what the ISO can hold.
const (
	// MaxNameBytes is the longest file name Rock Ridge (and Linux) allows.
	MaxNameBytes = 255
	// MaxJolietNameUnits is the longest Joliet name xorriso writes (with
	// relaxed compliance; longer names would be truncated in Joliet).
	MaxJolietNameUnits = 103
	// MaxFileSize is the largest file of an ISO 9660 level 1 or 2 image,
	// which is what xorriso writes by default: 4 GiB - 1.
	MaxFileSize = 4<<30 - 1
)

// Reasons a payload is refused. Every error from Walk wraps one of them and
// names the offending path.
var (
	ErrEscapingSymlink = errors.New("symbolic link points outside the payload")
	ErrSpecialFile     = errors.New("not a regular file, directory or symbolic link")
	ErrBadName         = errors.New("file name the ISO cannot hold")
	ErrTooLarge        = errors.New("file too large for the ISO")
	// ErrHardLink: a regular file with more than one name. xorriso
	// stores such a file's data once for all its names, so the ISO's bytes
	// would depend on whether the checkout has links or copies.
	ErrHardLink = errors.New("hard link")
)

// Kind is the type of a payload entry.
type Kind int

// Entry kinds.
const (
	File Kind = iota
	Dir
	Symlink
)

// Entry is one file, directory or symbolic link of the payload.
type Entry struct {
	// Rel is the slash-separated path relative to ISODir, such as
	// "charts/novasphere/Chart.yaml".
	Rel string
	// Path is the file on disk.
	Path string
	// Kind is File, Dir or Symlink.
	Kind Kind
	// Mode is the disk file's mode.
	Mode fs.FileMode
	// Size is the size in bytes of a regular file.
	Size int64
	// ModTime is the disk file's modification time.
	ModTime time.Time
	// Stat is the disk file's inode number and status change time, which
	// tell a file edited in place with its modification time set back.
	Stat Stat
}

// Stat is what the file system says about a file besides fs.FileInfo.
type Stat struct {
	// Inode is the file's inode number (0 if unknown).
	Inode uint64
	// Links is the number of names (hard links) of the file.
	Links uint64
	// ChangeTime is the status change time (ctime): set by the kernel on
	// every write, rename or metadata change and, unlike the modification
	// time, never set back by cp -p, rsync or tar.
	ChangeTime time.Time
}

// Executable reports whether a regular file has any execute bit.
func (e Entry) Executable() bool { return e.Kind == File && e.Mode&0o111 != 0 }

// Source is one payload tree: Rel under ISODir, read from the directory
// Path. Once walked, a symbolic link to a directory is resolved, so Path is
// always a directory.
type Source struct {
	// Rel is where the tree goes, slash-separated, relative to ISODir
	// ("charts", "images").
	Rel string
	// Path is the directory on disk.
	Path string
	// Optional trees may be missing (a repository directory the checkout
	// does not have): Walk lists them in Tree.Missing. A missing tree that
	// a stage made is an error.
	Optional bool
}

// RepoSources are the repository directories Dirs under root, as the
// first payload trees (each Optional).
func RepoSources(root string) []Source {
	out := make([]Source, 0, len(Dirs))
	for _, d := range Dirs {
		out = append(out, Source{Rel: d, Path: filepath.Join(root, d), Optional: true})
	}
	return out
}

// Tree is a walked payload.
type Tree struct {
	// Sources are the payload trees present, in the order given.
	Sources []Source
	// Missing are the payload directories that do not exist.
	Missing []string
	// Entries are every file, directory and link, sorted by Rel (bytes).
	Entries []Entry
}

// Files are the regular files of the tree, sorted by Rel.
func (t Tree) Files() []Entry {
	var out []Entry
	for _, e := range t.Entries {
		if e.Kind == File {
			out = append(out, e)
		}
	}
	return out
}

// Newest is the latest modification time of any entry, the payload
// directories themselves included (a deleted file changes its directory).
func (t Tree) Newest() time.Time {
	var newest time.Time
	for _, e := range t.Entries {
		if e.ModTime.After(newest) {
			newest = e.ModTime
		}
	}
	return newest
}

// Walk finds the payload directories dirs (normally Dirs) under root and
// every entry in them; see WalkSources.
func Walk(root string, dirs []string) (Tree, error) {
	var srcs []Source
	for _, d := range dirs {
		srcs = append(srcs, Source{Rel: d, Path: filepath.Join(root, d), Optional: true})
	}
	return WalkSources(srcs)
}

// WalkSources finds the payload trees srcs and every entry in them,
// refusing symbolic links that point outside the payload, device files,
// FIFOs, sockets, hard-linked files (ErrHardLink), names the ISO cannot
// hold and files of 4 GiB or more, and two trees at one place of the ISO
// (or one inside another, or at VERSION or MANIFEST.sha256). Optional trees
// that do not exist are listed in Tree.Missing. Symbolic links are not
// followed, except a tree's directory that is itself a link to a
// directory.
func WalkSources(srcs []Source) (Tree, error) {
	var t Tree
	for _, s := range srcs {
		if err := checkRel(s, t.Sources); err != nil {
			return Tree{}, err
		}
		src, ok, err := source(s)
		if err != nil {
			return Tree{}, err
		}
		if !ok {
			t.Missing = append(t.Missing, s.Rel)
			continue
		}
		t.Sources = append(t.Sources, src)
	}
	for _, src := range t.Sources {
		entries, err := walkSource(t.Sources, src)
		if err != nil {
			return Tree{}, err
		}
		t.Entries = append(t.Entries, entries...)
	}
	sort.Slice(t.Entries, func(i, j int) bool { return t.Entries[i].Rel < t.Entries[j].Rel })
	return t, nil
}

// checkRel refuses a tree whose place on the ISO is not a plain relative
// path, is a generated file, or overlaps a tree before it.
func checkRel(s Source, before []Source) error {
	where := path.Join(ISODir, s.Rel)
	if s.Rel == "" || path.Clean(s.Rel) != s.Rel || path.IsAbs(s.Rel) || s.Rel == "." || s.Rel == ".." || strings.HasPrefix(s.Rel, "../") {
		return fmt.Errorf("payload: tree %s (from %s) is not a plain path under %s", where, s.Path, ISODir)
	}
	for _, part := range strings.Split(s.Rel, "/") {
		if err := CheckName(part); err != nil {
			return fmt.Errorf("payload: tree %s (from %s): %w", where, s.Path, err)
		}
	}
	if s.Rel == VersionName || s.Rel == ManifestName {
		return fmt.Errorf("payload: tree %s (from %s) would replace the generated %s", where, s.Path, where)
	}
	for _, b := range before {
		if s.Rel == b.Rel || strings.HasPrefix(s.Rel, b.Rel+"/") || strings.HasPrefix(b.Rel, s.Rel+"/") {
			return fmt.Errorf("payload: tree %s (from %s) overlaps %s (from %s): each place on the ISO comes from one tree", where, s.Path, path.Join(ISODir, b.Rel), b.Path)
		}
	}
	return nil
}

// source finds one payload tree, resolving a link to a directory.
func source(s Source) (Source, bool, error) {
	p := s.Path
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) && s.Optional {
		return Source{}, false, nil
	}
	if err != nil {
		return Source{}, false, fmt.Errorf("payload: tree %s: %w", path.Join(ISODir, s.Rel), err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(p)
		if err != nil {
			return Source{}, false, fmt.Errorf("payload: %s is a symbolic link that cannot be resolved: %w", p, err)
		}
		p = resolved
		if fi, err = os.Stat(p); err != nil {
			return Source{}, false, fmt.Errorf("payload: %w", err)
		}
	}
	if !fi.IsDir() {
		if s.Optional {
			return Source{}, false, fmt.Errorf("payload: %s is not a directory; the payload directories are %s", p, strings.Join(Dirs, ", "))
		}
		return Source{}, false, fmt.Errorf("payload: tree %s: %s is not a directory", path.Join(ISODir, s.Rel), p)
	}
	return Source{Rel: s.Rel, Path: p, Optional: s.Optional}, true, nil
}

// walkSource lists one payload directory, itself included.
func walkSource(all []Source, src Source) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(src.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		rel := src.Rel
		if p != src.Path {
			r, err := filepath.Rel(src.Path, p)
			if err != nil {
				return err
			}
			rel = path.Join(src.Rel, filepath.ToSlash(r))
			if err := CheckName(d.Name()); err != nil {
				return fmt.Errorf("payload: %s: %w", p, err)
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		e := Entry{Rel: rel, Path: p, Mode: fi.Mode(), ModTime: fi.ModTime(), Stat: StatOf(fi)}
		switch {
		case fi.Mode().IsRegular():
			e.Kind, e.Size = File, fi.Size()
			if e.Size > MaxFileSize {
				return fmt.Errorf("payload: %s: %w: %d bytes; ISO 9660 as written here holds at most %d bytes per file (4 GiB - 1): split it", p, ErrTooLarge, e.Size, int64(MaxFileSize))
			}
			if e.Stat.Links > 1 {
				return fmt.Errorf("payload: %s: %w: replace it with a copy (it has %d names; xorriso would store their data once, and the ISO would differ from a build with copies)", p, ErrHardLink, e.Stat.Links)
			}
		case fi.IsDir():
			e.Kind = Dir
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Kind = Symlink
			if err := checkSymlink(all, src, p, rel); err != nil {
				return err
			}
		default:
			return fmt.Errorf("payload: %s: %w (%s); remove it from the payload", p, ErrSpecialFile, describeMode(fi.Mode()))
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// checkSymlink refuses a link whose target leaves the payload, judged both
// by its text (as the installed system will resolve it under /novasphere)
// and by resolving it on disk.
func checkSymlink(all []Source, src Source, p, rel string) error {
	target, err := os.Readlink(p)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	refuse := func(why string) error {
		return fmt.Errorf("payload: %s -> %s: %w (%s); make it a relative link to a file under %s, or copy the file in",
			p, target, ErrEscapingSymlink, why, strings.Join(sourceNames(all), ", "))
	}
	if path.IsAbs(target) || filepath.IsAbs(target) {
		return refuse("absolute target")
	}
	lexical := path.Join(path.Dir(rel), filepath.ToSlash(target))
	if !insideSources(all, lexical, func(s Source) string { return s.Rel }) {
		return refuse("resolves to " + path.Join(ISODir, lexical) + " on the ISO")
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return refuse("dangling or unreadable: " + err.Error())
	}
	if !insideSources(all, resolved, func(s Source) string { return s.Path }) {
		return refuse("resolves to " + resolved + " on disk")
	}
	return nil
}

// insideSources reports whether p lies within one of the sources, where
// root picks the source path to compare with.
func insideSources(all []Source, p string, root func(Source) string) bool {
	for _, s := range all {
		r := root(s)
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

func sourceNames(all []Source) []string {
	var out []string
	for _, s := range all {
		out = append(out, s.Rel+"/")
	}
	return out
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}

// CheckName refuses a file name the ISO cannot hold faithfully: not UTF-8
// (Joliet stores UTF-16), longer than 255 bytes (Rock Ridge) or 103 UTF-16
// units (Joliet), or containing control characters or a backslash (they
// cannot be written as one line of MANIFEST.sha256 or md5sum.txt).
func CheckName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8; rename it", ErrBadName, name)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: the name is %d bytes long; Rock Ridge allows %d", ErrBadName, len(name), MaxNameBytes)
	case len(utf16.Encode([]rune(name))) > MaxJolietNameUnits:
		return fmt.Errorf("%w: the name is %d characters long; Joliet allows %d", ErrBadName, len(utf16.Encode([]rune(name))), MaxJolietNameUnits)
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("%w: %q contains a backslash", ErrBadName, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q contains a control character (such as a newline)", ErrBadName, name)
		}
	}
	return nil
}
