package release

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// File names of the release assets, as verify and pack write them to dist/.
const (
	SHA256SumsName   = "SHA256SUMS"
	MD5SumsName      = "MD5SUMS"
	VerifyReportName = "verify-report.json"
)

// GitHubAssetLimit is GitHub's limit: every release asset must be smaller
// than 2 GiB.
const GitHubAssetLimit int64 = 2 << 30

// DefaultPartSize is the size of each part when an ISO over the limit is
// split: 2000 MiB, safely under 2 GiB.
const DefaultPartSize int64 = 2000 << 20

// ISOName is the installer ISO's file name for version.
func ISOName(version string) string { return "novasphere-installer-" + version + ".iso" }

// BuildRecordName is the file name of pack's build record for version.
func BuildRecordName(version string) string {
	return "novasphere-installer-" + version + ".build.json"
}

// PartsSumsName is the checksum file of an ISO's parts (sha256sum -c
// format). Its name must not match the parts' glob NAME.iso.part*.
func PartsSumsName(version string) string {
	return "novasphere-installer-" + version + ".parts.sha256"
}

// partLayout cuts size bytes into parts of partSize (the last one shorter)
// and returns each part's offset and length.
func partLayout(size, partSize int64) (offsets, lengths []int64) {
	for off := int64(0); off < size; off += partSize {
		offsets = append(offsets, off)
		lengths = append(lengths, min(partSize, size-off))
	}
	return offsets, lengths
}

// partName is the name of part i (from 0) of n; numbers are zero-padded so
// that `cat NAME.part*` reads them in order.
func partName(version string, i, n int) string {
	width := max(2, len(fmt.Sprint(n)))
	return fmt.Sprintf("%s.part%0*d", ISOName(version), width, i+1)
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

// localBuild is what dist/ holds for the version, read once.
type localBuild struct {
	Version string
	Dist    string
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
	// Files are SHA256SUMS, MD5SUMS, verify-report.json and the build
	// record by name; FileErrs holds why one is missing or unreadable.
	Files    map[string]asset
	FileErrs map[string]error
	Report   verify.Report
	Build    iso.BuildRecord
	// show turns a path into what messages print (relative to the
	// repository root).
	show func(string) string
}

// metadataNames are the small assets, in upload order.
func metadataNames(version string) []string {
	return []string{SHA256SumsName, MD5SumsName, VerifyReportName, BuildRecordName(version)}
}

// readLocal reads dist/ for version: the small files, then the ISO, hashed
// once for SHA-256, MD5 and (when split) each part's SHA-256.
func readLocal(dist, version string, sz sizing, show func(string) string, out io.Writer) *localBuild {
	l := &localBuild{Version: version, Dist: dist, Files: map[string]asset{}, FileErrs: map[string]error{}, show: show}
	for _, name := range metadataNames(version) {
		a, err := readSmallFile(filepath.Join(dist, name), name, show)
		if err != nil {
			l.FileErrs[name] = err
			continue
		}
		l.Files[name] = a
	}
	if a, ok := l.Files[VerifyReportName]; ok {
		if err := json.Unmarshal(a.Data, &l.Report); err != nil {
			l.FileErrs[VerifyReportName] = fmt.Errorf("%s is not valid JSON: %v", show(a.Path), err)
		}
	}
	if a, ok := l.Files[BuildRecordName(version)]; ok {
		if err := json.Unmarshal(a.Data, &l.Build); err != nil {
			l.FileErrs[a.Name] = fmt.Errorf("%s is not valid JSON: %v", show(a.Path), err)
		}
	}
	l.readISO(sz, out)
	return l
}

// readSmallFile reads a metadata file whole.
func readSmallFile(path, name string, show func(string) string) (asset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return asset{}, fmt.Errorf("%s does not exist", show(path))
		}
		return asset{}, err
	}
	sum := sha256.Sum256(data)
	return asset{Name: name, Path: path, Size: int64(len(data)), Data: data, SHA256: hex.EncodeToString(sum[:])}, nil
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

// readISO stats and hashes the ISO; over the limit, it plans the parts.
func (l *localBuild) readISO(sz sizing, out io.Writer) {
	name := ISOName(l.Version)
	path := filepath.Join(l.Dist, name)
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist", l.show(path))
		}
		l.ISOErr = err
		return
	}
	if !st.Mode().IsRegular() {
		l.ISOErr = fmt.Errorf("%s is not a regular file", l.show(path))
		return
	}
	l.ISO = asset{Name: name, Path: path, Size: st.Size()}
	l.OverLimit = st.Size() >= sz.Limit
	l.Split = l.OverLimit && sz.Split
	offsets, lengths := partLayout(st.Size(), sz.PartSize)
	n := 1
	if l.Split {
		n = len(offsets)
	}
	start := time.Now()
	fmt.Fprintf(out, "hashing %s (%s)...\n", l.show(path), units.Bytes(st.Size()))
	sha, md, parts, err := hashFile(path, sz.PartSize, n)
	if err != nil {
		l.ISOErr = fmt.Errorf("reading %s: %w", l.show(path), err)
		return
	}
	fmt.Fprintf(out, "hashed %s in %s\n", name, time.Since(start).Round(time.Millisecond))
	l.ISO.SHA256, l.MD5 = sha, md
	if !l.Split {
		return
	}
	var sums strings.Builder
	for i, digest := range parts {
		p := asset{Name: partName(l.Version, i, n), Path: path, Offset: offsets[i], Size: lengths[i], SHA256: digest}
		l.Parts = append(l.Parts, p)
		fmt.Fprintf(&sums, "%s  %s\n", p.SHA256, p.Name)
	}
	data := []byte(sums.String())
	sum := sha256.Sum256(data)
	l.PartsSums = asset{Name: PartsSumsName(l.Version), Size: int64(len(data)), Data: data, SHA256: hex.EncodeToString(sum[:])}
}

// hashFile reads path once and returns its SHA-256 and MD5 and, when parts
// > 1, the SHA-256 of each partSize section.
func hashFile(path string, partSize int64, parts int) (sha, md string, partSums []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", nil, err
	}
	defer f.Close()
	whole, m := sha256.New(), md5.New()
	var part hash.Hash
	var inPart int64
	buf := make([]byte, 1<<20)
	for {
		n, rerr := f.Read(buf)
		chunk := buf[:n]
		whole.Write(chunk)
		m.Write(chunk)
		for parts > 1 && len(chunk) > 0 {
			if part == nil {
				part, inPart = sha256.New(), 0
			}
			take := min(int64(len(chunk)), partSize-inPart)
			part.Write(chunk[:take])
			inPart += take
			chunk = chunk[take:]
			if inPart == partSize {
				partSums = append(partSums, hex.EncodeToString(part.Sum(nil)))
				part = nil
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", "", nil, rerr
		}
	}
	if part != nil {
		partSums = append(partSums, hex.EncodeToString(part.Sum(nil)))
	}
	return hex.EncodeToString(whole.Sum(nil)), hex.EncodeToString(m.Sum(nil)), partSums, nil
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
	for _, name := range metadataNames(l.Version) {
		list = append(list, l.Files[name])
	}
	return list
}

// mirrorAssets are the files copied to the server: the whole ISO, then
// the small files (SHA256SUMS after the ISO it describes).
func (l *localBuild) mirrorAssets() []asset {
	list := []asset{l.ISO}
	for _, name := range metadataNames(l.Version) {
		list = append(list, l.Files[name])
	}
	return list
}
