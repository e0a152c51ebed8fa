package verify

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/eltorito"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
)

// ISO paths the checks read.
const (
	versionPath    = "/novasphere/VERSION"
	manifestPath   = "/novasphere/MANIFEST.sha256"
	payloadDir     = "/novasphere"
	diskInfoPath   = "/.disk/info"
	md5sumTxtPath  = "/md5sum.txt"
	userDataPath   = "/nocloud/user-data"
	metaDataPath   = "/nocloud/meta-data"
	grubCfgPath    = "/boot/grub/grub.cfg"
	loopbackCfgPth = "/boot/grub/loopback.cfg"
)

// maxProblemsShown bounds the problems listed in a detail.
const maxProblemsShown = 10

// problems collects the failures of one check.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// err joins the problems, or is nil when there are none.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	shown := p
	if len(shown) > maxProblemsShown {
		shown = shown[:maxProblemsShown]
	}
	s := strings.Join(shown, "; ")
	if more := len(p) - len(shown); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return errors.New(s)
}

// checkIdentity: volume id, /novasphere/VERSION and /.disk/info name the
// version being built.
func checkIdentity(_ context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	var p problems
	v := in.o.Version
	wantID := config.VolumeID(v)
	gotID, err := eltorito.VolumeID(im)
	switch {
	case err != nil:
		p.add("volume id: %v", err)
	case gotID != wantID:
		p.add("volume id is %q, want %q", gotID, wantID)
	}
	if data, err := im.readFile(versionPath); err != nil {
		p.add("%s: %v", versionPath, missingOr(err))
	} else if want := customize.VersionFile(v); !bytes.Equal(data, want) {
		p.add("%s holds %q, want %q", versionPath, clip(data), want)
	}
	if data, err := im.readFile(diskInfoPath); err != nil {
		p.add("%s: %v", diskInfoPath, missingOr(err))
	} else if !containsWord(string(data), v) {
		p.add("%s does not mention version %s (it says %q)", diskInfoPath, v, clip(data))
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("volume id %q; %s = %s; %s mentions %s", gotID, versionPath, v, diskInfoPath, v), nil
}

// containsWord reports whether s contains v not glued to more of a version
// (so 20261127 is not found in 202611270).
func containsWord(s, v string) bool {
	for i := 0; ; {
		k := strings.Index(s[i:], v)
		if k < 0 {
			return false
		}
		end := i + k + len(v)
		if end == len(s) || !isVersionChar(s[end]) {
			return true
		}
		i += k + 1
	}
}

func isVersionChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.' || c == '-'
}

// checkPayload: every MANIFEST.sha256 line matches the file in the ISO, and
// every file under /novasphere is in the manifest.
func checkPayload(ctx context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	data, err := im.readFile(manifestPath)
	if err != nil {
		return "", fmt.Errorf("%s: %v", manifestPath, missingOr(err))
	}
	var p problems
	listed := map[string]bool{}
	var total int64
	for _, l := range sums.Lines(data, sums.SHA256) {
		n, sum, name := l.N, l.Sum, l.Name
		if l.Err != nil {
			p.add("%s line %d: %v", manifestPath, n, l.Err)
			continue
		}
		full := path.Join(payloadDir, name)
		if !strings.HasPrefix(full, payloadDir+"/") || full == manifestPath {
			p.add("%s line %d: %q is not a payload file", manifestPath, n, name)
			continue
		}
		if listed[full] {
			p.add("%s line %d: %s is listed twice", manifestPath, n, name)
		}
		listed[full] = true
		size, err := compareDigest(ctx, im, full, sha256.New(), sum)
		total += size
		if err != nil {
			p.add("%v", err)
		}
	}
	for _, name := range im.under(payloadDir) {
		if name != manifestPath && !listed[name] {
			p.add("%s is not in %s", name, manifestPath)
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d files (%d bytes) match %s; no payload file missing from it", len(listed), total, manifestPath), nil
}

// checkMD5SumTxt: every line of /md5sum.txt matches the file it names, as
// Ubuntu's "Check disc for defects" checks at boot.
func checkMD5SumTxt(ctx context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	data, err := im.readFile(md5sumTxtPath)
	if err != nil {
		return "", fmt.Errorf("%s: %v", md5sumTxtPath, missingOr(err))
	}
	var p problems
	var files int
	var total int64
	for _, l := range sums.Lines(data, sums.MD5) {
		n, sum, name := l.N, l.Sum, l.Name
		if l.Err != nil {
			p.add("%s line %d: %v", md5sumTxtPath, n, l.Err)
			continue
		}
		files++
		size, err := compareDigest(ctx, im, path.Join("/", name), md5.New(), sum)
		total += size
		if err != nil {
			p.add("%s line %d: %v", md5sumTxtPath, n, err)
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	if files == 0 {
		return "", fmt.Errorf("%s lists no files", md5sumTxtPath)
	}
	return fmt.Sprintf("%d files (%d bytes) match %s", files, total, md5sumTxtPath), nil
}

// compareDigest hashes the ISO file name and compares it with want.
func compareDigest(ctx context.Context, im *isoImage, name string, h hash.Hash, want string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r, size, err := im.open(name)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", name, missingOr(err))
	}
	if _, err := io.Copy(h, r); err != nil {
		return size, fmt.Errorf("%s: reading: %w", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return size, fmt.Errorf("%s: digest %s, listed %s", name, got, want)
	}
	return size, nil
}

// missingOr says "missing from the ISO" for a file that is not there.
func missingOr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("missing from the ISO")
	}
	return err
}

// clip shortens file content quoted in a message.
func clip(b []byte) string {
	const n = 80
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
