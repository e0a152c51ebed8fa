package fetch

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// testServer is a small mirror: it serves files with http.ServeContent
// (Range, HEAD, Accept-Ranges like a real server), counts requests and the
// body bytes it sends per path, and can misbehave on demand.
type testServer struct {
	*httptest.Server

	mu       sync.Mutex
	files    map[string][]byte
	requests []string
	sent     map[string]int64
	// cutPath/cutAt: the next GET of cutPath sends cutAt body bytes, then
	// the connection is closed (or, with hang, held open without sending
	// more until the client goes away).
	cutPath string
	cutAt   int64
	hang    bool
	// ignoreRange answers every request with the whole file (200), while
	// still advertising Accept-Ranges: bytes.
	ignoreRange bool
	// chunked drops Content-Length so the body is sent chunked.
	chunked bool
	// noRanges ignores Range and does not advertise Accept-Ranges, like
	// Python's http.server.
	noRanges bool
	// throttle is a pause before each body write (at most 32 KiB), so that
	// a test can act in the middle of a transfer.
	throttle time.Duration
}

func newTestServer(t testing.TB) *testServer {
	s := &testServer{files: map[string][]byte{}, sent: map[string]int64{}}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) put(p string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[p] = data
}

func (s *testServer) remove(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, p)
}

// cutNext makes the next GET of p stop after n body bytes and close the
// connection.
func (s *testServer) cutNext(p string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutPath, s.cutAt, s.hang = p, n, false
}

// hangNext makes the next GET of p stop sending after n body bytes but keep
// the connection open until the client gives up.
func (s *testServer) hangNext(p string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutPath, s.cutAt, s.hang = p, n, true
}

// slowDown pauses d before each body write of at most 32 KiB.
func (s *testServer) slowDown(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = d
}

func (s *testServer) misbehave(ignoreRange, chunked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreRange, s.chunked = ignoreRange, chunked
}

// reset clears the request log and byte counters.
func (s *testServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.sent = map[string]int64{}
}

func (s *testServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// bodyBytes is how many body bytes were sent for p since the last reset.
func (s *testServer) bodyBytes(p string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[p]
}

// gets counts GET requests for p since the last reset.
func (s *testServer) gets(p string) int {
	n := 0
	for _, r := range s.log() {
		if strings.HasPrefix(r, "GET "+p) {
			n++
		}
	}
	return n
}

func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
	data, ok := s.files[r.URL.Path]
	limit, hang := int64(-1), false
	if r.Method == http.MethodGet && r.URL.Path == s.cutPath {
		limit, hang, s.cutPath = s.cutAt, s.hang, ""
	}
	ignoreRange, chunked, noRanges, throttle := s.ignoreRange || s.noRanges, s.chunked, s.noRanges, s.throttle
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if ignoreRange {
		r.Header.Del("Range")
	}
	cw := &countingWriter{ResponseWriter: w, s: s, path: r.URL.Path, limit: limit, chunked: chunked, noRanges: noRanges, throttle: throttle}
	if hang {
		cw.hang = r.Context().Done()
	}
	http.ServeContent(cw, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(data))
}

// countingWriter counts the body bytes that reach the connection and can
// cut it after a limit.
type countingWriter struct {
	http.ResponseWriter
	s        *testServer
	path     string
	limit    int64 // -1: no limit
	chunked  bool
	noRanges bool
	hang     <-chan struct{} // at the limit, wait for this before closing
	throttle time.Duration
}

func (w *countingWriter) WriteHeader(code int) {
	if w.chunked {
		w.Header().Del("Content-Length")
	}
	if w.noRanges {
		w.Header().Del("Accept-Ranges")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	time.Sleep(w.throttle)
	cut := false
	if w.limit >= 0 && int64(len(p)) >= w.limit {
		p, cut = p[:w.limit], true
	}
	n, err := w.ResponseWriter.Write(p)
	w.s.mu.Lock()
	w.s.sent[w.path] += int64(n)
	w.s.mu.Unlock()
	if w.limit >= 0 {
		w.limit -= int64(n)
	}
	if cut {
		w.ResponseWriter.(http.Flusher).Flush()
		if w.hang != nil {
			<-w.hang
		}
		panic(http.ErrAbortHandler) // closes the connection mid-body
	}
	return n, err
}

// signer is a throwaway OpenPGP key.
type signer struct {
	entity *openpgp.Entity
}

var (
	signersOnce sync.Once
	signers     [3]signer
	signersErr  error
)

// testKeys returns three throwaway keys, generated once per test binary.
func testKeys(t testing.TB) [3]signer {
	signersOnce.Do(func() {
		for i := range signers {
			cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
			signers[i].entity, signersErr = openpgp.NewEntity(fmt.Sprintf("Test Signer %d", i), "fetch test", "test@example.invalid", cfg)
			if signersErr != nil {
				return
			}
		}
	})
	if signersErr != nil {
		t.Fatal(signersErr)
	}
	return signers
}

// testSigners returns two throwaway keys: good signs every test mirror's
// SHA256SUMS and is in its keyring; other is not.
func testSigners(t testing.TB) (good, other signer) {
	keys := testKeys(t)
	return keys[0], keys[1]
}

// strangerSigner returns a third throwaway key that no test keyring holds.
func strangerSigner(t testing.TB) signer {
	return testKeys(t)[2]
}

// keyringFileOf writes the public keys of ss to one file, as
// `cat a.asc b.asc` makes it (armored) or as one binary keyring, and
// returns its path.
func keyringFileOf(t testing.TB, armored bool, ss ...signer) string {
	var buf bytes.Buffer
	for _, s := range ss {
		if !armored {
			if err := s.entity.Serialize(&buf); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.entity.Serialize(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "keyring")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyringFile writes the armored public key to a file and returns its path.
func (s signer) keyringFile(t testing.TB) string {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.entity.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyring.asc")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sign returns an armored detached signature of data, as Ubuntu publishes.
func (s signer) sign(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (s signer) fingerprint() string { return fingerprint(s.entity) }

// mirror is a release directory on a testServer: the ISO, SHA256SUMS and
// SHA256SUMS.gpg, like releases.ubuntu.com.
type mirror struct {
	srv     *testServer
	dir     string // URL path prefix, ending in "/"
	name    string
	iso     []byte
	hex     string // SHA-256 of iso
	sums    []byte
	signer  signer
	options Options
	logBuf  *tool.Buffer
}

const isoName = "ubuntu-22.04.9-live-server-amd64.iso"

// newMirror serves a random "ISO" of size bytes with a SHA256SUMS signed by
// the good test key, and returns options that fetch it into a fresh cache.
func newMirror(t testing.TB, size int) *mirror {
	t.Helper()
	good, _ := testSigners(t)
	srv := newTestServer(t)
	iso := make([]byte, size)
	if _, err := rand.Read(iso); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(iso)
	m := &mirror{srv: srv, dir: "/releases/22.04.9/", name: isoName, iso: iso, hex: hex.EncodeToString(sum[:]), signer: good}
	// Another file whose name starts with the ISO's: the ISO's line must be
	// found by its exact name.
	other := sha256.Sum256([]byte("zsync"))
	m.sums = fmt.Appendf(nil, "%x *%s.zsync\n%s *%s\n", other, isoName, m.hex, isoName)
	srv.put(m.dir+isoName, iso)
	srv.put(m.dir+"SHA256SUMS", m.sums)
	srv.put(m.dir+"SHA256SUMS.gpg", good.sign(t, m.sums))
	m.logBuf = &tool.Buffer{}
	m.options = Options{
		Name:         isoName,
		Locations:    []config.BaseLocation{m.location()},
		SHA256:       m.hex,
		KeyringPath:  good.keyringFile(t),
		CacheDir:     t.TempDir(),
		Log:          m.logBuf,
		Attempts:     1,
		RetryDelay:   10 * time.Millisecond,
		StallTimeout: 10 * time.Second,
		HTTPClient:   srv.Client(),
	}
	return m
}

func (m *mirror) isoPath() string { return m.dir + m.name }

func (m *mirror) location() config.BaseLocation {
	return config.BaseLocation{ISOURL: m.srv.URL + m.dir + m.name, SumsURL: m.srv.URL + m.dir + "SHA256SUMS"}
}

// blob is where the cache keeps the verified ISO.
func (m *mirror) blob() string {
	return filepath.Join(m.options.CacheDir, "blobs", "sha256", m.hex)
}

func (m *mirror) part() string {
	return filepath.Join(m.options.CacheDir, "partial", m.hex+".part")
}
