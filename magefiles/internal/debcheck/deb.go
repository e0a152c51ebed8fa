package debcheck

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/deb"
)

// Deb is the control data of one .deb file and where it came from. Fields
// hold the control file's text; Check parses them.
type Deb struct {
	// File names the .deb in messages and the plan, as the caller chose
	// ("packages/foo_1.0_amd64.deb").
	File string `json:"file"`
	// SHA256 is the digest of the whole file, lowercase hex.
	SHA256 string `json:"sha256"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`

	Package      string `json:"package"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	// MultiArch is the Multi-Arch field ("same", "foreign", "allowed" or
	// empty).
	MultiArch string `json:"multi_arch,omitempty"`
	// Relation fields, as written in the control file (empty when absent).
	Depends    string `json:"depends,omitempty"`
	PreDepends string `json:"pre_depends,omitempty"`
	Provides   string `json:"provides,omitempty"`
	Conflicts  string `json:"conflicts,omitempty"`
	Breaks     string `json:"breaks,omitempty"`
}

// Compression suffixes dpkg accepts for control.tar and data.tar (deb(5)).
var (
	controlSuffixes = map[string]bool{"": true, ".gz": true, ".xz": true, ".zst": true}
	dataSuffixes    = map[string]bool{"": true, ".gz": true, ".xz": true, ".zst": true, ".bz2": true, ".lzma": true}
)

const arMagic = "!<arch>\n"

// ReadDeb reads the .deb of size bytes in r, named name in errors and in the
// result. Besides the control file it reads the whole archive: every ar
// member must lie inside the file, and control.tar and data.tar must
// decompress and list to their end (compressed streams carry checksums), so
// a truncated or corrupt download is refused here rather than by dpkg on
// the installed system.
func ReadDeb(name string, r io.ReaderAt, size int64) (Deb, error) {
	d, err := readDeb(r, size)
	if err != nil {
		return Deb{}, fmt.Errorf("%s: %w", name, err)
	}
	d.File = name
	return d, nil
}

// ReadDebFile reads the .deb at path (see ReadDeb); name is what messages
// and the plan call it.
func ReadDebFile(path, name string) (Deb, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return Deb{}, fmt.Errorf("%s: a symbolic link, not a .deb file: copy the file in its place", name)
	}
	f, err := os.Open(path)
	if err != nil {
		return Deb{}, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Deb{}, fmt.Errorf("%s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return Deb{}, fmt.Errorf("%s: not a regular file", name)
	}
	return ReadDeb(name, f, st.Size())
}

// ReadDebDir reads every *.deb directly in dir, sorted by file name, each
// named prefix + "/" + its file name (prefix "packages" gives
// "packages/foo_1.0_amd64.deb"). install.sh installs packages/*.deb only, so
// a .deb in a subdirectory is reported too. Every unreadable file is
// reported, one a line (a Problems error), and no Deb is returned then. A
// missing dir holds no packages.
func ReadDebDir(dir, prefix string) ([]Deb, error) {
	prefix = strings.TrimSuffix(prefix, "/") // "packages/" names packages/x.deb too
	var names []string
	var problems Problems
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".deb") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		// Refused before reading, as the payload walk does: a link would be
		// followed, and what it points at is not ours to read or print.
		if e.Type()&fs.ModeSymlink != 0 {
			problems = append(problems, fmt.Sprintf("%s: a symbolic link; %s/ must hold the .deb files themselves: copy the file in its place",
				path.Join(prefix, filepath.ToSlash(rel)), prefix))
			return nil
		}
		if !e.Type().IsRegular() {
			problems = append(problems, fmt.Sprintf("%s: not a regular file", path.Join(prefix, filepath.ToSlash(rel))))
			return nil
		}
		if filepath.Dir(rel) != "." {
			problems = append(problems, fmt.Sprintf("%s: install.sh installs only %s/*.deb; move it up into %s/ or remove it",
				path.Join(prefix, filepath.ToSlash(rel)), prefix, prefix))
			return nil
		}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	sort.Strings(names)
	debs := make([]Deb, len(names))
	errs := make([]error, len(names))
	// Decompressing is most of the work: one file per core.
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(names)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				debs[i], errs[i] = ReadDebFile(filepath.Join(dir, names[i]), path.Join(prefix, names[i]))
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return debs, nil
}

func readDeb(r io.ReaderAt, size int64) (Deb, error) {
	var d Deb
	d.Size = size
	if err := checkMagic(r, size); err != nil {
		return d, err
	}
	members, err := arMembers(r, size)
	if err != nil {
		return d, err
	}
	if len(members) == 0 || members[0].Name != "debian-binary" {
		return d, errors.New("not a Debian package: the first ar member is not debian-binary")
	}
	if err := checkFormatVersion(members[0]); err != nil {
		return d, err
	}
	var ctl, data *deb.ArEntry
	for _, m := range members[1:] {
		switch {
		case strings.HasPrefix(m.Name, "control.tar") && ctl == nil && data == nil:
			if !controlSuffixes[strings.TrimPrefix(m.Name, "control.tar")] {
				return d, fmt.Errorf("unsupported control member %s (dpkg reads control.tar, .gz, .xz, .zst)", m.Name)
			}
			ctl = m
		case strings.HasPrefix(m.Name, "data.tar") && ctl != nil && data == nil:
			if !dataSuffixes[strings.TrimPrefix(m.Name, "data.tar")] {
				return d, fmt.Errorf("unsupported data member %s", m.Name)
			}
			data = m
		case strings.HasPrefix(m.Name, "_"):
			// Reserved for local additions; dpkg skips them.
		default:
			return d, fmt.Errorf("unexpected ar member %q (a .deb holds debian-binary, control.tar.*, data.tar.* in this order)", m.Name)
		}
	}
	if ctl == nil {
		return d, errors.New("no control.tar member")
	}
	if data == nil {
		return d, errors.New("no data.tar member")
	}
	para, err := readControl(ctl)
	if err != nil {
		return d, fmt.Errorf("%s: %w", ctl.Name, err)
	}
	if err := walkTar(data); err != nil {
		return d, fmt.Errorf("%s: %w", data.Name, err)
	}
	if err := fillControl(&d, para); err != nil {
		return d, fmt.Errorf("control file: %w", err)
	}
	sum, err := hashAll(r, size)
	if err != nil {
		return d, err
	}
	d.SHA256 = sum
	return d, nil
}

// checkMagic refuses what is not an ar archive, showing how it starts.
func checkMagic(r io.ReaderAt, size int64) error {
	head := make([]byte, len(arMagic))
	n, err := r.ReadAt(head, 0)
	if string(head[:n]) == arMagic {
		return nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("not a Debian package: a .deb is an ar archive starting %q; this %d-byte file starts %q", arMagic, size, head[:n])
}

// arMembers lists the ar members with pault.ag/go/debian's reader and checks
// what it does not: each member lies inside the file and the archive ends
// where the file ends.
func arMembers(r io.ReaderAt, size int64) ([]*deb.ArEntry, error) {
	ar, err := deb.LoadAr(r)
	if err != nil {
		return nil, fmt.Errorf("not a Debian package: %w", err)
	}
	var members []*deb.ArEntry
	end := int64(len(arMagic))
	for {
		m, err := ar.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("corrupt ar archive after %d member(s): %w", len(members), err)
		}
		_, off, n := m.Data.Outer()
		if n < 0 || off+n > size {
			return nil, fmt.Errorf("truncated: member %s needs bytes %d to %d, the file has %d", m.Name, off, off+n, size)
		}
		end = off + n
		end += end % 2
		members = append(members, m)
	}
	// The reader stops quietly at a short header, so compare the end.
	if end != size && !(end == size+1 && size%2 == 1) {
		return nil, fmt.Errorf("truncated or damaged: the ar members end at byte %d, the file has %d bytes", end, size)
	}
	return members, nil
}

func checkFormatVersion(m *deb.ArEntry) error {
	b, err := io.ReadAll(io.LimitReader(m.Data, 64))
	if err != nil {
		return fmt.Errorf("debian-binary: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if !strings.HasPrefix(v, "2.") {
		return fmt.Errorf("unsupported .deb format version %q (dpkg reads 2.x)", v)
	}
	return nil
}

// readControl returns the "control" paragraph of control.tar and reads the
// archive to its end.
func readControl(m *deb.ArEntry) (*control.Paragraph, error) {
	tr, stream, err := tarOf(m)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	var para *control.Paragraph
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("corrupt archive: %w", err)
		}
		if path.Clean(h.Name) != "control" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("corrupt archive: %w", err)
		}
		pr, err := control.NewParagraphReader(bytes.NewReader(b), nil)
		if err != nil {
			return nil, fmt.Errorf("control file: %w", err)
		}
		para, err = pr.Next()
		if err != nil {
			return nil, fmt.Errorf("control file: %w", err)
		}
	}
	if err := drain(stream); err != nil {
		return nil, err
	}
	if para == nil {
		return nil, errors.New("no control file")
	}
	return para, nil
}

// walkTar reads a data.tar member to its end, so the decompressor checks its
// checksums and tar its headers.
func walkTar(m *deb.ArEntry) error {
	tr, stream, err := tarOf(m)
	if err != nil {
		return err
	}
	defer stream.Close()
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("corrupt archive: %w", err)
		}
	}
	return drain(stream)
}

// drain reads what tar leaves after its end-of-archive blocks, so the
// decompressor reaches its trailer and checks it.
func drain(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("corrupt archive: %w", err)
	}
	return nil
}

// tarOf opens a tar member through the decompressor its suffix names. The
// returned stream is what tar reads, for drain.
func tarOf(m *deb.ArEntry) (*tar.Reader, io.ReadCloser, error) {
	rc, err := decompress(m.Name, io.NewSectionReader(m.Data, 0, m.Size))
	if err != nil {
		return nil, nil, fmt.Errorf("corrupt archive: %w", err)
	}
	return tar.NewReader(rc), rc, nil
}

// fillControl copies the fields Check needs and checks the mandatory ones.
func fillControl(d *Deb, p *control.Paragraph) error {
	get := func(k string) string { return strings.TrimSpace(p.Values[k]) }
	d.Package, d.Version, d.Architecture = get("Package"), get("Version"), get("Architecture")
	d.MultiArch = get("Multi-Arch")
	d.Depends, d.PreDepends, d.Provides = get("Depends"), get("Pre-Depends"), get("Provides")
	d.Conflicts, d.Breaks = get("Conflicts"), get("Breaks")
	var missing []string
	for _, k := range []string{"Package", "Version", "Architecture"} {
		if get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no %s field", strings.Join(missing, ", "))
	}
	_, err := parseDeb(*d)
	return err
}

func hashAll(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return "", fmt.Errorf("reading: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
