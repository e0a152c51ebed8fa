package fetch

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// cachedSparseISO puts a sparse 1.5 GiB file into a fresh cache under its
// real SHA-256 and returns the cache directory and the digest.
func cachedSparseISO(b *testing.B) (cacheDir, hexsum string) {
	b.Helper()
	cacheDir = b.TempDir()
	tmp := filepath.Join(cacheDir, "iso")
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(1536 << 20); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	d, _, err := hashFile(context.Background(), tmp, nil)
	if err != nil {
		b.Fatal(err)
	}
	blob := filepath.Join(cacheDir, "blobs", "sha256", d.Encoded())
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, blob); err != nil {
		b.Fatal(err)
	}
	return cacheDir, d.Encoded()
}

// unreachable is a location nothing listens on: a cache hit must not need it.
var unreachable = config.BaseLocation{ISOURL: "http://127.0.0.1:9/" + isoName, SumsURL: "http://127.0.0.1:9/SHA256SUMS"}

// BenchmarkCacheHit1_5GB is fetch on a cached 1.5 GiB ISO: no request, no
// read of the file.
func BenchmarkCacheHit1_5GB(b *testing.B) {
	cacheDir, hexsum := cachedSparseISO(b)
	o := Options{Name: isoName, Locations: []config.BaseLocation{unreachable}, SHA256: hexsum, KeyringPath: "/nonexistent", CacheDir: cacheDir}
	for b.Loop() {
		res, err := Fetch(context.Background(), o)
		if err != nil || !res.CacheHit {
			b.Fatalf("hit=%v err=%v", res.CacheHit, err)
		}
	}
}

// BenchmarkRecheck1_5GB is fetch:recheck on the same file, which reads and
// hashes all of it; it shows what a cache hit saves.
func BenchmarkRecheck1_5GB(b *testing.B) {
	cacheDir, hexsum := cachedSparseISO(b)
	o := Options{SHA256: hexsum, CacheDir: cacheDir}
	b.SetBytes(1536 << 20)
	for b.Loop() {
		if err := Recheck(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResumeAfterInterruption cuts a 16 MiB download at a random point,
// resumes it in the next run, and reports the bytes the server sent twice as
// a share of the file ("resent/file").
func BenchmarkResumeAfterInterruption(b *testing.B) {
	var sent, size int64
	for b.Loop() {
		b.StopTimer()
		m := newMirror(b, 16<<20)
		cut := 1 + rand.Int64N(int64(len(m.iso))-1)
		m.srv.cutNext(m.isoPath(), cut)
		if _, err := Fetch(context.Background(), m.options); err == nil {
			b.Fatal("the cut download succeeded")
		}
		b.StartTimer()
		if _, err := Fetch(context.Background(), m.options); err != nil {
			b.Fatal(err)
		}
		sent += m.srv.bodyBytes(m.isoPath())
		size += int64(len(m.iso))
	}
	b.ReportMetric(float64(sent-size)/float64(size), "resent/file")
}
