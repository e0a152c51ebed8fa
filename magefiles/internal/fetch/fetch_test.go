package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

const testISOSize = 4 << 20

// assertCached checks that res is the verified ISO in the cache and that no
// partial file is left behind.
func assertCached(t *testing.T, m *mirror, res Result) {
	t.Helper()
	if res.Path != m.blob() {
		t.Errorf("Path = %s, want %s", res.Path, m.blob())
	}
	if res.Digest.Encoded() != m.hex {
		t.Errorf("Digest = %s, want sha256:%s", res.Digest, m.hex)
	}
	got, err := os.ReadFile(m.blob())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m.iso) {
		t.Fatalf("cached file differs from the served ISO (%d bytes, want %d)", len(got), len(m.iso))
	}
	if res.Size != int64(len(m.iso)) {
		t.Errorf("Size = %d, want %d", res.Size, len(m.iso))
	}
	if _, err := os.Stat(m.part()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file %s left behind (stat: %v)", m.part(), err)
	}
}

// assertNothingCached checks that a failed fetch left no blob.
func assertNothingCached(t *testing.T, m *mirror) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(m.options.CacheDir, "blobs", "sha256"))
	if len(entries) != 0 {
		t.Errorf("cache holds %d file(s) after a failed fetch", len(entries))
	}
}

func assertContains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not mention %q:\n%s", what, w, s)
		}
	}
}

func TestFetchVerifiesSignedDownloadThenHitsCacheWithoutRequests(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	if res.CacheHit {
		t.Error("first fetch reported a cache hit")
	}
	if res.SignedBy != m.signer.fingerprint() {
		t.Errorf("SignedBy = %q, want %q", res.SignedBy, m.signer.fingerprint())
	}
	if res.Source != m.location().ISOURL {
		t.Errorf("Source = %q, want %q", res.Source, m.location().ISOURL)
	}
	assertContains(t, "log", m.logBuf.String(), "good signature from "+m.signer.fingerprint(), "verified sha256:"+m.hex)
	if fi, err := os.Stat(res.Path); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("cached ISO should be read-only: %v %v", fi.Mode(), err)
	}

	m.srv.reset()
	res, err = Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if !res.CacheHit || res.Path != m.blob() {
		t.Errorf("second fetch: CacheHit=%v Path=%s, want a cache hit at %s", res.CacheHit, res.Path, m.blob())
	}
	if reqs := m.srv.log(); len(reqs) != 0 {
		t.Errorf("cache hit sent %d request(s): %v", len(reqs), reqs)
	}
}

func TestFetchWithoutPinTrustsOnlyTheSignedSums(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.options.SHA256 = ""
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)

	// Without a pin the signed SHA256SUMS names the file, so it is read
	// again; the ISO itself comes from the cache.
	m.srv.reset()
	res, err = Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if !res.CacheHit {
		t.Error("second fetch did not hit the cache")
	}
	if n := m.srv.gets(m.isoPath()); n != 0 {
		t.Errorf("second fetch downloaded the ISO again (%d GETs)", n)
	}
}

func TestFetchResumesAfterConnectionCut(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	half := int64(len(m.iso) / 2)
	m.srv.cutNext(m.isoPath(), half)

	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch succeeded although the server cut the connection")
	}
	assertContains(t, "error", err.Error(), m.location().ISOURL, "run fetch again to resume", m.part())
	assertNothingCached(t, m)
	fi, err := os.Stat(m.part())
	if err != nil {
		t.Fatalf("no partial file kept after the interruption: %v", err)
	}
	if fi.Size() != half {
		t.Fatalf("partial file has %d bytes, the server sent %d", fi.Size(), half)
	}
	firstRun := m.srv.bodyBytes(m.isoPath())

	m.srv.reset()
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("resumed Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	secondRun := m.srv.bodyBytes(m.isoPath())
	if want := int64(len(m.iso)) - fi.Size(); secondRun != want {
		t.Errorf("resumed run sent %d bytes, want only the remaining %d", secondRun, want)
	}
	resent := firstRun + secondRun - int64(len(m.iso))
	t.Logf("interrupted at %d of %d bytes; re-sent %d bytes (%.2f%% of the file)", half, len(m.iso), resent, 100*float64(resent)/float64(len(m.iso)))
	assertContains(t, "log", m.logBuf.String(), "resuming "+m.location().ISOURL)
}

func TestFetchResumesWithinOneRun(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.options.Attempts = 2
	m.srv.cutNext(m.isoPath(), int64(len(m.iso)/3))
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	if sent := m.srv.bodyBytes(m.isoPath()); sent != int64(len(m.iso)) {
		t.Errorf("server sent %d ISO bytes in all, want exactly %d (nothing twice)", sent, len(m.iso))
	}
	assertContains(t, "log", m.logBuf.String(), "download interrupted", "attempt 2 of 2")
}

func TestFetchRestartsWhenServerIgnoresRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		chunked bool
	}{
		{"with Content-Length", false},
		{"chunked", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Big enough that socket buffers cannot hide a whole body.
			m := newMirror(t, 32<<20)
			m.srv.cutNext(m.isoPath(), int64(len(m.iso)/2))
			if _, err := Fetch(context.Background(), m.options); err == nil {
				t.Fatal("Fetch succeeded although the server cut the connection")
			}
			m.srv.misbehave(true, tc.chunked)
			m.srv.reset()
			res, err := Fetch(context.Background(), m.options)
			if err != nil {
				t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
			}
			assertCached(t, m, res)
			assertContains(t, "log", m.logBuf.String(), "ignored the Range request", "starting again from the beginning")
			// The unwanted full answer to the Range request is abandoned
			// before it is read, not appended and then thrown away.
			sent, size := m.srv.bodyBytes(m.isoPath()), int64(len(m.iso))
			t.Logf("server sent %d bytes for a %d-byte file (%.2f×)", sent, size, float64(sent)/float64(size))
			if sent > size+size/2 {
				t.Errorf("server sent %d bytes for a %d-byte file: the whole-file answer to the Range request was read", sent, size)
			}
		})
	}
}

func TestFetchStartsOverWhenServerCannotResume(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.srv.cutNext(m.isoPath(), int64(len(m.iso)/2))
	if _, err := Fetch(context.Background(), m.options); err == nil {
		t.Fatal("Fetch succeeded although the server cut the connection")
	}
	m.srv.mu.Lock()
	m.srv.noRanges = true
	m.srv.mu.Unlock()
	m.srv.reset()
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "does not offer to resume")
	if sent := m.srv.bodyBytes(m.isoPath()); sent != int64(len(m.iso)) {
		t.Errorf("server sent %d bytes, want the whole file once (%d)", sent, len(m.iso))
	}
}

func TestFetchReplacesStalePartOfFullSize(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	// A leftover of the right size but wrong content must not count as
	// complete.
	stale := bytes.Repeat([]byte{0x5a}, len(m.iso))
	if err := os.MkdirAll(filepath.Dir(m.part()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.part(), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "partial download was deleted")
}

func TestFetchReplacesPartLargerThanTheFile(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	// For example a server that ignored Range had its body appended by an
	// older tool.
	if err := os.MkdirAll(filepath.Dir(m.part()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.part(), append(bytes.Clone(m.iso), m.iso...), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "size mismatch", "partial download was deleted")
}

func TestFetchRejectsWrongDigest(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	// The server now serves a different file than the pin names.
	m.options.Locations[0].SumsURL = ""
	wrong := bytes.Clone(m.iso)
	wrong[12345] ^= 1
	m.srv.put(m.isoPath(), wrong)
	sum := sha256.Sum256(wrong)

	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch accepted a file with the wrong digest")
	}
	assertContains(t, "error", err.Error(), m.location().ISOURL, "sha256:"+m.hex, "sha256:"+hex.EncodeToString(sum[:]), "BASE_ISO_SHA256")
	assertNothingCached(t, m)
	if _, err := os.Stat(m.part()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known-bad partial file was kept: %v", err)
	}
	assertContains(t, "log", m.logBuf.String(), "signature not checked")
}

func TestFetchRejectsPinThatDisagreesWithSignedSums(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	other := sha256.Sum256([]byte("another release"))
	m.options.SHA256 = hex.EncodeToString(other[:])
	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch accepted a pin that the signed SHA256SUMS contradicts")
	}
	assertContains(t, "error", err.Error(), m.hex, m.options.SHA256, "SHA256SUMS")
	if n := m.srv.gets(m.isoPath()); n != 0 {
		t.Errorf("the ISO was downloaded (%d GETs) although the digests disagree", n)
	}
}

func TestFetchRejectsTamperedSums(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	// An attacker swaps the ISO and edits its line; the signature still
	// covers the original file.
	evil := bytes.Repeat([]byte("evil"), 1024)
	evilSum := sha256.Sum256(evil)
	tampered := bytes.Replace(m.sums, []byte(m.hex), []byte(hex.EncodeToString(evilSum[:])), 1)
	m.srv.put(m.dir+"SHA256SUMS", tampered)
	m.srv.put(m.isoPath(), evil)
	m.options.SHA256 = ""

	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch accepted a SHA256SUMS that does not match its signature")
	}
	assertContains(t, "error", err.Error(), "SHA256SUMS.gpg", "does not verify")
	assertNothingCached(t, m)
	if n := m.srv.gets(m.isoPath()); n != 0 {
		t.Errorf("the ISO was downloaded (%d GETs) although SHA256SUMS failed its signature", n)
	}
}

func TestFetchRejectsSignatureByAnotherKey(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	_, other := testSigners(t)
	m.srv.put(m.dir+"SHA256SUMS.gpg", other.sign(t, m.sums))
	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch accepted a signature by a key outside the keyring")
	}
	assertContains(t, "error", err.Error(), "not signed by any key in "+m.options.KeyringPath, other.fingerprint(), m.signer.fingerprint())
	assertNothingCached(t, m)
}

func TestFetchRequiresSignatureWhenKeyringConfigured(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.srv.remove(m.dir + "SHA256SUMS.gpg")
	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch went on without the signature of SHA256SUMS")
	}
	assertContains(t, "error", err.Error(), m.location().SumsURL+".gpg", "404", "keyring")
	assertNothingCached(t, m)
	if n := m.srv.gets(m.isoPath()); n != 0 {
		t.Errorf("the ISO was downloaded (%d GETs) without a signed SHA256SUMS", n)
	}
}

func TestFetchTriesNextLocationAfter404(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	gone := config.BaseLocation{
		ISOURL:  m.srv.URL + "/releases/22.04.8/" + isoName,
		SumsURL: m.srv.URL + "/releases/22.04.8/SHA256SUMS",
	}
	m.options.Locations = []config.BaseLocation{gone, m.location()}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	if res.Source != m.location().ISOURL {
		t.Errorf("Source = %s, want the second location %s", res.Source, m.location().ISOURL)
	}
	assertContains(t, "log", m.logBuf.String(), gone.SumsURL, "404", "trying the next location (2 of 2)")

	// With the pin a 404 on the ISO itself also moves on.
	m2 := newMirror(t, testISOSize)
	m2.options.Locations = []config.BaseLocation{{ISOURL: m2.srv.URL + "/missing/" + isoName}, {ISOURL: m2.location().ISOURL}}
	res, err = Fetch(context.Background(), m2.options)
	if err != nil {
		t.Fatalf("Fetch (pin only): %v\nlog:\n%s", err, m2.logBuf)
	}
	assertCached(t, m2, res)
}

func TestFetchTriesNextLocationWhenServerUnreachable(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.options.Locations = []config.BaseLocation{unreachable, m.location()}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), unreachable.SumsURL, "check the network and the URL")

	m.options.Locations = []config.BaseLocation{unreachable}
	m.options.CacheDir = t.TempDir()
	_, err = Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch succeeded from an unreachable server")
	}
	assertContains(t, "error", err.Error(), unreachable.SumsURL, "check the network and the URL")
}

func TestFetchReportsEveryFailedLocation(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.options.Locations = []config.BaseLocation{
		{ISOURL: m.srv.URL + "/a/" + isoName},
		{ISOURL: m.srv.URL + "/b/" + isoName},
	}
	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch succeeded with no working location")
	}
	assertContains(t, "error", err.Error(), "none of the 2 locations", "/a/"+isoName, "/b/"+isoName, "404 Not Found", "set BASE_ISO_URL")
}

func TestFetchCopiesLocalFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(path string) string
	}{
		{"plain path", func(p string) string { return p }},
		{"file URL", func(p string) string { return "file://" + p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newMirror(t, testISOSize)
			src := filepath.Join(t.TempDir(), isoName)
			if err := os.WriteFile(src, m.iso, 0o644); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(src)
			m.options.Locations = []config.BaseLocation{{ISOURL: tc.url(src)}}
			res, err := Fetch(context.Background(), m.options)
			if err != nil {
				t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
			}
			assertCached(t, m, res)
			assertContains(t, "log", m.logBuf.String(), "signature not checked")
			after, err := os.Stat(src)
			if err != nil || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("source file changed: before %v %v, after %v %v (%v)", before.Mode(), before.ModTime(), after.Mode(), after.ModTime(), err)
			}
			if got, _ := os.ReadFile(src); !bytes.Equal(got, m.iso) {
				t.Error("source file content changed")
			}
			if reqs := m.srv.log(); len(reqs) != 0 {
				t.Errorf("a local source made %d request(s): %v", len(reqs), reqs)
			}
		})
	}
}

func TestFetchLocalFileWithLocalSignedSums(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		isoName:          m.iso,
		"SHA256SUMS":     m.sums,
		"SHA256SUMS.gpg": m.signer.sign(t, m.sums),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.options.SHA256 = ""
	m.options.Locations = []config.BaseLocation{{ISOURL: filepath.Join(dir, isoName), SumsURL: "file://" + filepath.Join(dir, "SHA256SUMS")}}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	if res.SignedBy != m.signer.fingerprint() {
		t.Errorf("SignedBy = %q, want %q", res.SignedBy, m.signer.fingerprint())
	}
}

func TestFetchLocalFileWithWrongDigestIsNotCached(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	src := filepath.Join(t.TempDir(), isoName)
	wrong := bytes.Clone(m.iso)
	wrong[0] ^= 0xff
	if err := os.WriteFile(src, wrong, 0o644); err != nil {
		t.Fatal(err)
	}
	m.options.Locations = []config.BaseLocation{{ISOURL: src}}
	_, err := Fetch(context.Background(), m.options)
	if err == nil {
		t.Fatal("Fetch cached a local file with the wrong digest")
	}
	sum := sha256.Sum256(wrong)
	assertContains(t, "error", err.Error(), src, "sha256:"+m.hex, "sha256:"+hex.EncodeToString(sum[:]))
	assertNothingCached(t, m)
	if got, _ := os.ReadFile(src); !bytes.Equal(got, wrong) {
		t.Error("source file was modified")
	}
	leftovers, _ := filepath.Glob(filepath.Join(m.options.CacheDir, "partial", "*.copy*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary copies left behind: %v", leftovers)
	}
}

func TestRecheckFindsCorruptCacheThatFetchTrusts(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	if _, err := Fetch(context.Background(), m.options); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if err := Recheck(context.Background(), m.options); err != nil {
		t.Fatalf("Recheck of a good cache: %v", err)
	}
	assertContains(t, "log", m.logBuf.String(), "sha256:"+m.hex+" OK")

	// Flip one byte in the cached file. A cache hit does not read the
	// file, so fetch still returns it; recheck reads it and catches it.
	if err := os.Chmod(m.blob(), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(m.iso)
	corrupt[len(corrupt)-1] ^= 1
	if err := os.WriteFile(m.blob(), corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil || !res.CacheHit {
		t.Fatalf("Fetch after corruption: hit=%v err=%v", res.CacheHit, err)
	}
	err = Recheck(context.Background(), m.options)
	if err == nil {
		t.Fatal("Recheck accepted a corrupt cached file")
	}
	sum := sha256.Sum256(corrupt)
	assertContains(t, "error", err.Error(), m.blob(), "sha256:"+m.hex, "sha256:"+hex.EncodeToString(sum[:]), "deleted")
	if _, err := os.Stat(m.blob()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt cached file was kept: %v", err)
	}

	m.srv.reset()
	res, err = Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch after recheck: %v", err)
	}
	assertCached(t, m, res)
	if res.CacheHit {
		t.Error("fetch after a failed recheck should download again")
	}
}

func TestRecheckWithoutCachedFileSaysWhatToDo(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 1024)
	err := Recheck(context.Background(), m.options)
	if err == nil {
		t.Fatal("Recheck of an empty cache succeeded")
	}
	assertContains(t, "error", err.Error(), "not in the cache", "mage fetch")
}

func TestConcurrentFetchesDownloadOnce(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Fetch(context.Background(), m.options)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	}
	if n := m.srv.gets(m.isoPath()); n != 1 {
		t.Errorf("%d concurrent fetches downloaded the ISO %d times, want once", len(errs), n)
	}
}

func TestFetchStopsOnCancelAndKeepsPart(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	quarter := int64(len(m.iso) / 4)
	m.srv.hangNext(m.isoPath(), quarter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel (as Ctrl-C does) once a quarter has arrived.
		for !partHasSize(m.part(), quarter) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err := Fetch(ctx, m.options)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a canceled context: %v", err)
	}
	assertContains(t, "error", err.Error(), m.location().ISOURL+": interrupted; 1.0 MiB of 4.0 MiB is kept in "+m.part()+": run fetch again to resume")
	if strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error says %q instead of interrupted", err)
	}
	if !partHasSize(m.part(), quarter) {
		t.Error("partial file not kept as it was")
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch after cancel: %v", err)
	}
	assertCached(t, m, res)
}

func partHasSize(path string, n int64) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == n
}

func TestFetchResumesAfterStall(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	m.options.Attempts = 2
	m.options.StallTimeout = 300 * time.Millisecond
	m.srv.hangNext(m.isoPath(), int64(len(m.iso)/2))
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "nothing received for 300ms")
	if sent := m.srv.bodyBytes(m.isoPath()); sent != int64(len(m.iso)) {
		t.Errorf("server sent %d ISO bytes in all, want exactly %d", sent, len(m.iso))
	}
}

func TestFetchRejectsBadOptions(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 1024)
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"bad pin", func(o *Options) { o.SHA256 = "abc" }, "BASE_ISO_SHA256"},
		{"nothing to verify", func(o *Options) { o.SHA256 = ""; o.Locations[0].SumsURL = "" }, "set BASE_ISO_SHA256 or BASE_ISO_SUMS_URL"},
		{"no location", func(o *Options) { o.Locations = nil }, "BASE_ISO_URL"},
		{"unsupported scheme", func(o *Options) { o.Locations[0].ISOURL = "ftp://example.invalid/x.iso" }, "unsupported scheme"},
		{"missing keyring", func(o *Options) { o.KeyringPath = "/nonexistent/keyring.asc" }, "BASE_ISO_KEYRING"},
		{"not a keyring", func(o *Options) { o.KeyringPath = writeTemp(t, "not a key\n") }, "not a usable OpenPGP public key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := m.options
			o.Locations = append([]config.BaseLocation(nil), m.options.Locations...)
			o.CacheDir = t.TempDir()
			tc.change(&o)
			m.srv.reset()
			_, err := Fetch(context.Background(), o)
			if err == nil {
				t.Fatal("Fetch accepted bad options")
			}
			assertContains(t, "error", err.Error(), tc.want)
			if reqs := m.srv.log(); len(reqs) != 0 {
				t.Errorf("bad options were noticed only after %d request(s): %v", len(reqs), reqs)
			}
		})
	}
}

// Ubuntu's SHA256SUMS.gpg carries signatures by two keys (2004 and 2012);
// only one of them is in the keyring. Both armored and binary files work.
func TestFetchAcceptsSignatureFileWithSeveralSigners(t *testing.T) {
	t.Parallel()
	for _, armored := range []bool{true, false} {
		m := newMirror(t, 1<<20)
		good, other := testSigners(t)
		var both bytes.Buffer
		for _, s := range []signer{other, good} {
			if err := openpgp.DetachSign(&both, s.entity, bytes.NewReader(m.sums), nil); err != nil {
				t.Fatal(err)
			}
		}
		sig := both.Bytes()
		if armored {
			var buf bytes.Buffer
			w, err := armor.Encode(&buf, openpgp.SignatureType, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(sig); err != nil {
				t.Fatal(err)
			}
			w.Close()
			sig = buf.Bytes()
		}
		m.srv.put(m.dir+"SHA256SUMS.gpg", sig)
		res, err := Fetch(context.Background(), m.options)
		if err != nil {
			t.Fatalf("armored=%v: Fetch: %v", armored, err)
		}
		assertCached(t, m, res)
		if res.SignedBy != good.fingerprint() {
			t.Errorf("armored=%v: SignedBy = %s, want %s", armored, res.SignedBy, good.fingerprint())
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
