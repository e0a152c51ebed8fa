package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
)

const lockName = "configs/bases.lock"

// lockedMirror serves a signed SHA256SUMS on loopback (a throw-away key)
// and fetches its ISO as an unlocked base whose lock file is in a fresh
// directory.
func lockedMirror(t *testing.T) (*mirror, *Lock) {
	t.Helper()
	m := newMirror(t, testISOSize)
	l := &Lock{Path: filepath.Join(t.TempDir(), "bases.lock"), Name: lockName,
		Base: bases.Base{ID: "ubuntu-22.04.9", ISO: isoName}}
	m.options.SHA256 = ""
	m.options.Lock = l
	return m, l
}

// reread is the lock as the next run reads it.
func reread(t *testing.T, l *Lock) *Lock {
	t.Helper()
	lf, err := bases.ReadLock(l.Path, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	e, ok, err := lf.Find(l.Base)
	if err != nil {
		t.Fatal(err)
	}
	return &Lock{Path: l.Path, Name: l.Name, Base: l.Base, Entry: e, Locked: ok}
}

// TestLockFirstFetchRecordsTheSignedDigest: the first fetch takes the
// digest from the signed SHA256SUMS and writes the lock line; the next run
// is pinned by it.
func TestLockFirstFetchRecordsTheSignedDigest(t *testing.T) {
	t.Parallel()
	m, l := lockedMirror(t)
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	next := reread(t, l)
	want := "ubuntu-22.04.9 " + isoName + " sha256:" + m.hex
	if !next.Locked || next.Entry.String() != want || res.Digest.Encoded() != m.hex {
		t.Fatalf("lock after the first fetch = %+v, want the line %q", next.Entry, want)
	}
	assertContains(t, "log", m.logBuf.String(), "locked ubuntu-22.04.9 at "+lockName+":4: "+want, "review and commit it")
	data, _ := os.ReadFile(l.Path)
	if !strings.HasPrefix(string(data), "# ") || !strings.HasSuffix(string(data), want+"\n") {
		t.Errorf("lock file:\n%s", data)
	}
	// The next run is pinned by the lock: a cache hit, no request.
	m.srv.reset()
	m.options.Lock = next
	res, err = Fetch(context.Background(), m.options)
	if err != nil || !res.CacheHit || len(m.srv.log()) != 0 {
		t.Fatalf("second fetch: %v, cache hit %v, requests %v", err, res.CacheHit, m.srv.log())
	}
}

// TestLockRefusesAChangedISO: once locked, a new ISO at the same URL is
// refused, whether SHA256SUMS was re-signed for it or not, naming both
// digests and the lock line.
func TestLockRefusesAChangedISO(t *testing.T) {
	t.Parallel()
	m, l := lockedMirror(t)
	if _, err := Fetch(context.Background(), m.options); err != nil {
		t.Fatalf("first Fetch: %v", err)
	}
	locked := reread(t, l)
	line := locked.Entry.Where(lockName)

	changed := append([]byte(nil), m.iso...)
	changed[0] ^= 0xff
	sum := sha256.Sum256(changed)
	newHex := hex.EncodeToString(sum[:])
	m.srv.put(m.isoPath(), changed)

	t.Run("same SHA256SUMS", func(t *testing.T) {
		o := m.options
		o.Lock, o.CacheDir = reread(t, l), t.TempDir()
		_, err := Fetch(context.Background(), o)
		assertErr(t, err, "sha256:"+newHex, "sha256:"+m.hex, line)
	})
	t.Run("re-signed SHA256SUMS", func(t *testing.T) {
		sums := fmt.Appendf(nil, "%s *%s\n", newHex, isoName)
		m.srv.put(m.dir+"SHA256SUMS", sums)
		m.srv.put(m.dir+"SHA256SUMS.gpg", m.signer.sign(t, sums))
		o := m.options
		o.Lock, o.CacheDir = reread(t, l), t.TempDir()
		_, err := Fetch(context.Background(), o)
		assertErr(t, err, "sha256:"+newHex, "sha256:"+m.hex, line, "changed since the base was locked")
	})
}

// TestLockRefusesATamperedLine: a lock line whose digest was edited no
// longer matches Ubuntu's signed SHA256SUMS and is refused.
func TestLockRefusesATamperedLine(t *testing.T) {
	t.Parallel()
	m, l := lockedMirror(t)
	other := strings.Repeat("0", 64)
	if err := os.WriteFile(l.Path, []byte("ubuntu-22.04.9 "+isoName+" sha256:"+other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.options.Lock = reread(t, l)
	_, err := Fetch(context.Background(), m.options)
	assertErr(t, err, "sha256:"+m.hex, "sha256:"+other, lockName+":1: ubuntu-22.04.9")
	if _, serr := os.Stat(m.blob()); serr == nil {
		t.Error("the ISO was cached although the lock refused it")
	}
}

// TestLockCIRefusesAnUnlockedBase: with CI=true an unlocked base is
// refused before any request, and the lock file stays as it was.
func TestLockCIRefusesAnUnlockedBase(t *testing.T) {
	t.Parallel()
	m, l := lockedMirror(t)
	l.CI = true
	_, err := Fetch(context.Background(), m.options)
	assertErr(t, err, "base ubuntu-22.04.9 has no line in "+lockName+" and CI=true", "BASE=ubuntu-22.04.9 go run magefile.go fetch")
	if reqs := m.srv.log(); len(reqs) != 0 {
		t.Errorf("requests under CI without a lock: %v", reqs)
	}
	if _, serr := os.Stat(l.Path); serr == nil {
		t.Error("the lock file was written under CI")
	}
}

func assertErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
