package release

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// partLayout cuts size bytes into parts of partSize (the last one shorter)
// and returns each part's offset and length.
func partLayout(size, partSize int64) (offsets, lengths []int64) {
	for off := int64(0); off < size; off += partSize {
		offsets = append(offsets, off)
		lengths = append(lengths, min(partSize, size-off))
	}
	return offsets, lengths
}

// asset is one file of the release: a whole file, a section of one (a part
// of the ISO), or bytes made here.
type asset struct {
	Name   string
	Path   string
	Offset int64
	Size   int64
	Data   []byte
	SHA256 string
	// MD5 is known for the small files (MD5SUMS lists some).
	MD5 string
}

// open returns a fresh reader over the asset's bytes, one per attempt.
func (a asset) open() (io.ReadCloser, error) {
	if a.Path == "" {
		return io.NopCloser(bytes.NewReader(a.Data)), nil
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, a.Offset, a.Size), f}, nil
}

// file is the asset as the server copy takes it (a whole file on disk).
func (a asset) file() servercopy.File {
	return servercopy.File{Name: a.Name, Path: a.Path, Size: a.Size, SHA256: a.SHA256}
}

// localBuild is what the output directory holds for the version, read once.
type localBuild struct {
	Layout dist.Layout
	// ISO is the whole ISO; ISOErr says why it is not usable.
	ISO    asset
	MD5    string
	ISOErr error
	// OverLimit is set when the ISO is too big for one GitHub asset;
	// Split when it is then attached as Parts.
	OverLimit bool
	Split     bool
	Parts     []asset
	PartsSums asset
	// Files are the small files the build listed to publish (SHA256SUMS,
	// MD5SUMS, the SBOM, verify-report.json, the build record, ...) by
	// name, and order their names (orderKinds their kinds) in upload
	// order; FileErrs holds why one is missing or unreadable.
	Files      map[string]asset
	FileErrs   map[string]error
	order      []string
	orderKinds []dist.Kind
	Report     verify.Report
	Build      iso.BuildRecord
}

// sizing is GitHub's asset size limit and what to do above it.
type sizing struct {
	// Limit: every asset must be smaller.
	Limit int64
	// PartSize is the size of the parts of an ISO over the limit.
	PartSize int64
	// Split allows splitting; without it an ISO over the limit stops the
	// release.
	Split bool
}

// readLocal reads the artifacts a release attaches (built: the ISO, then
// the small files, in upload order) from the output directory of layout:
// the small files whole, then the ISO, hashed once for SHA-256, MD5 and
// (when split) each part's SHA-256, unless built lists its digests for its
// current size. show turns a path into what messages print.
func readLocal(ctx context.Context, layout dist.Layout, built []dist.Artifact, sz sizing, show func(string) string, out io.Writer) *localBuild {
	l := &localBuild{Layout: layout, Files: map[string]asset{}, FileErrs: map[string]error{}}
	var known hashing.Digests
	for _, b := range built {
		switch b.Kind {
		case dist.KindISO:
			known = hashing.Digests{SHA256: b.SHA256, MD5: b.MD5, Size: b.Size}
			continue
		case dist.KindPart, dist.KindPartSums:
			continue // made here from the ISO
		}
		a, err := readSmallFile(b.Path, b.Name, show)
		if err != nil {
			l.FileErrs[b.Name] = err
			continue
		}
		l.Files[b.Name] = a
		l.order = append(l.order, b.Name)
		l.orderKinds = append(l.orderKinds, b.Kind)
	}
	l.decode(dist.VerifyReportName, &l.Report, show)
	l.decode(dist.BuildRecordName(layout.Version), &l.Build, show)
	l.readISO(ctx, sz, known, show, out)
	return l
}

// decode parses the JSON file name into v, when it was read; a file the
// build did not list is missing.
func (l *localBuild) decode(name string, v any, show func(string) string) {
	if _, failed := l.FileErrs[name]; !failed && !l.listed(name) {
		l.FileErrs[name] = fmt.Errorf("%s is not among the files this build wrote", show(l.Layout.Path(name)))
	}
	if a, ok := l.Files[name]; ok {
		if err := json.Unmarshal(a.Data, v); err != nil {
			l.FileErrs[name] = fmt.Errorf("%s is not valid JSON: %v", show(a.Path), err)
		}
	}
}

// missingFile says a file does not exist, as messages show its path.
type missingFile struct{ shown string }

func (m missingFile) Error() string { return m.shown + " does not exist" }
func (m missingFile) Unwrap() error { return os.ErrNotExist }

// readSmallFile reads a metadata file whole.
func readSmallFile(path, name string, show func(string) string) (asset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return asset{}, missingFile{show(path)}
		}
		return asset{}, err
	}
	return dataAsset(name, data, path), nil
}

// dataAsset is an asset of bytes in memory (path: the file they came from,
// if any).
func dataAsset(name string, data []byte, path string) asset {
	sum, md := sha256.Sum256(data), md5.Sum(data)
	return asset{Name: name, Path: path, Size: int64(len(data)), Data: data, SHA256: hex.EncodeToString(sum[:]), MD5: hex.EncodeToString(md[:])}
}

// readISO stats and hashes the ISO; over the limit, it plans the parts.
func (l *localBuild) readISO(ctx context.Context, sz sizing, known hashing.Digests, show func(string) string, out io.Writer) {
	version := l.Layout.Version
	name, path := dist.ISOName(version), l.Layout.ISO()
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist", show(path))
		}
		l.ISOErr = err
		return
	}
	if !st.Mode().IsRegular() {
		l.ISOErr = fmt.Errorf("%s is not a regular file", show(path))
		return
	}
	l.ISO = asset{Name: name, Path: path, Size: st.Size()}
	l.OverLimit = st.Size() >= sz.Limit
	l.Split = l.OverLimit && sz.Split
	var partSize int64
	if l.Split {
		partSize = sz.PartSize
	}
	if !l.Split && known.SHA256 != "" && known.Size == st.Size() {
		// verify hashed this ISO moments ago in the same run.
		l.ISO.SHA256, l.MD5 = known.SHA256, known.MD5
		return
	}
	start := time.Now()
	fmt.Fprintf(out, "hashing %s (%s)...\n", show(path), units.Bytes(st.Size()))
	d, err := hashing.File(ctx, path, partSize)
	if err != nil {
		l.ISOErr = fmt.Errorf("reading %s: %w", show(path), err)
		return
	}
	offsets, lengths := partLayout(st.Size(), sz.PartSize)
	if d.Size != st.Size() || (l.Split && len(d.Parts) != len(offsets)) {
		l.ISOErr = fmt.Errorf("%s changed while it was read (%d bytes, then %d): wait for the build to finish", show(path), st.Size(), d.Size)
		return
	}
	fmt.Fprintf(out, "hashed %s in %s\n", name, time.Since(start).Round(time.Millisecond))
	l.ISO.SHA256, l.MD5 = d.SHA256, d.MD5
	if !l.Split {
		return
	}
	var sums strings.Builder
	for i, digest := range d.Parts {
		p := asset{Name: dist.PartName(version, i, len(d.Parts)), Path: path, Offset: offsets[i], Size: lengths[i], SHA256: digest}
		l.Parts = append(l.Parts, p)
		fmt.Fprintf(&sums, "%s  %s\n", p.SHA256, p.Name)
	}
	l.PartsSums = dataAsset(dist.PartsSumsName(version), []byte(sums.String()), "")
}

// complete reports whether every file the release needs is readable.
func (l *localBuild) complete() bool {
	return l.ISOErr == nil && len(l.FileErrs) == 0 && (!l.OverLimit || l.Split)
}

// summedFile is a file the checksum files list, with its digests as read
// here, and what messages call it ("ISO", "file").
type summedFile struct {
	dist.Artifact
	what string
}

// summed are the files SHA256SUMS and MD5SUMS must list: the ISO and the
// small files of a summed kind (the SBOM), with the digests read here.
func (l *localBuild) summed() []summedFile {
	out := []summedFile{{dist.Artifact{Name: l.ISO.Name, Kind: dist.KindISO, SHA256: l.ISO.SHA256, MD5: l.MD5}, "ISO"}}
	for i, name := range l.order {
		if k := l.orderKinds[i]; k.Summed() {
			a := l.Files[name]
			out = append(out, summedFile{dist.Artifact{Name: name, Kind: k, SHA256: a.SHA256, MD5: a.MD5}, "file"})
		}
	}
	return out
}

// listed reports whether the build listed the small file name.
func (l *localBuild) listed(name string) bool {
	_, read := l.Files[name]
	_, failed := l.FileErrs[name]
	return read || failed
}

// published are the small files that were read, in upload order.
func (l *localBuild) published() []asset {
	list := make([]asset, 0, len(l.order))
	for _, name := range l.order {
		if a, ok := l.Files[name]; ok {
			list = append(list, a)
		}
	}
	return list
}

// gitHubAssets are the files attached to the GitHub release, in upload
// order: the ISO (or its parts and their checksums), then the small files.
func (l *localBuild) gitHubAssets() []asset {
	var list []asset
	if l.Split {
		list = append(list, l.Parts...)
		list = append(list, l.PartsSums)
	} else {
		list = append(list, l.ISO)
	}
	return append(list, l.published()...)
}

// serverFiles are the files copied to the server: the whole ISO, then the
// small files (SHA256SUMS after the ISO it describes).
func (l *localBuild) serverFiles() []servercopy.File {
	files := []servercopy.File{l.ISO.file()}
	for _, a := range l.published() {
		files = append(files, a.file())
	}
	return files
}
