package installproof

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Console lines of the reinstall boot.
var (
	// guardStopped is the reinstall guard's last line when it stops the
	// install (scripts/reinstall-guard.sh).
	guardStopped = regexp.MustCompile(`NOVASPHERE-REINSTALL-GUARD: .*nothing was changed`)
	// guardFound is its line naming the installed system.
	guardFound = regexp.MustCompile(`NOVASPHERE-REINSTALL-GUARD: this machine already has NovaSphere installed: .*`)
	// reinstalling is the test installer going past its early-commands
	// towards the disk.
	reinstalling = regexp.MustCompile(`NOVASPHERE-INSTALL-STEP early-commands done|installer: storage`)
)

// reinstall stops the installed system, then boots the installer medium
// again with the installed disk attached, first in the boot order as a
// stick left in would be: the reinstall guard must stop the install, and
// the disk must be byte for byte what it was.
func (p *proof) reinstall(ctx context.Context, s *Step) error {
	p.stopRunning()
	before, err := sparseDigest(p.disk)
	if err != nil {
		return fmt.Errorf("reading the installed disk: %w", err)
	}
	cfg := p.config("medium booted again", p.o.ISO, "reinstall-"+p.fw+".log")
	var seen guardBoot
	match := func(line string) bool {
		switch {
		case guardFound.MatchString(line):
			seen.found = guardFound.FindString(line)
		case guardStopped.MatchString(line):
			seen.stopped = true
			return true
		case reinstalling.MatchString(line):
			seen.reinstalling = line
			return true
		}
		return false
	}
	e := p.boot(ctx, s, cfg, p.t.Install, match, "reinstall-"+p.fw+".png", false)
	if e.out == outCancelled {
		return e.err
	}
	after, err := sparseDigest(p.disk)
	if err != nil {
		return fmt.Errorf("reading the installed disk: %w", err)
	}
	seen.diskChanged = before != after
	seen.timedOut = e.out == outTimeout
	detail, err := seen.judge()
	s.Detail = detail
	if err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrFailed, err, e.console.describeTail())
	}
	return nil
}

// guardBoot is what the reinstall boot showed.
type guardBoot struct {
	found        string // the guard's line naming the installed system
	stopped      bool   // the guard said it stopped the install
	reinstalling string // the installer's line going on to the disk
	diskChanged  bool
	timedOut     bool
}

// judge: the guard found the installed system and stopped, the installer
// did not go on, and the disk is unchanged.
func (g guardBoot) judge() (string, error) {
	switch {
	case g.reinstalling != "":
		return "", fmt.Errorf("the medium reinstalls itself: booted again on the installed machine, the installer went on to the disk (%q)", g.reinstalling)
	case g.diskChanged:
		return "", errors.New("the medium changed the installed disk when booted again")
	case !g.stopped:
		why := "the boot ended"
		if g.timedOut {
			why = "time ran out"
		}
		return "", fmt.Errorf("%s without the reinstall guard stopping the install (no \"NOVASPHERE-REINSTALL-GUARD: ... nothing was changed\" line): is scripts/reinstall-guard.sh the first early-command?", why)
	}
	return strings.TrimSuffix(strings.TrimPrefix(g.found, "NOVASPHERE-REINSTALL-GUARD: "), ".") + "; the disk is unchanged", nil
}

// Whence values of lseek(2) for sparse files (Linux).
const (
	seekData = 3
	seekHole = 4
)

// sparseDigest is the SHA-256 of a sparse file's size and of every 4 KiB
// page that is not all zeros, with its index, reading only the regions the
// file system holds (a 40 GiB disk with 1 GiB written reads 1 GiB). Holes
// and pages of zeros count the same, so equal digests mean equal content
// however the file system stores it.
func sparseDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "size %d\n", st.Size())
	buf := make([]byte, 256*pageSize)
	for off := int64(0); off < st.Size(); {
		start, err := f.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data after off
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return "", err
		}
		start -= start % pageSize
		if err := hashPages(h, f, start, end, buf); err != nil {
			return "", err
		}
		off = end
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

const pageSize = 4096

// hashPages hashes the non-zero pages of f in [start, end), start
// page-aligned, each after its page index.
func hashPages(h io.Writer, f *os.File, start, end int64, buf []byte) error {
	var idx [8]byte
	for pos := start; pos < end; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-pos+pageSize-1)/pageSize*pageSize], pos)
		if n == 0 && err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		for p := 0; p < n; p += pageSize {
			page := buf[p:min(p+pageSize, n)]
			if allZero(page) {
				continue
			}
			binary.BigEndian.PutUint64(idx[:], uint64(pos+int64(p))/pageSize)
			_, _ = h.Write(idx[:]) // a hash.Hash never returns an error
			_, _ = h.Write(page)
		}
		pos += int64(n)
		if err == io.EOF {
			return nil
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
