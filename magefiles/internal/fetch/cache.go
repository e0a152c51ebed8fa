package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
	"github.com/opencontainers/go-digest"
)

// cache is the content-addressed download cache:
//
//	<dir>/blobs/sha256/<hex>     verified files, read-only, named by digest
//	<dir>/partial/<hex>.part     a download in progress, resumed next time
//	<dir>/partial/<hex>.lock     held while one fetch works on <hex>
type cache struct {
	dir string
}

// blobPath is where a verified file with digest d is kept.
func (c cache) blobPath(d digest.Digest) string {
	return filepath.Join(c.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// partPath is the partial download of the file with digest d.
func (c cache) partPath(d digest.Digest) string {
	return filepath.Join(c.dir, "partial", d.Encoded()+".part")
}

// lookup reports whether a blob for d exists, without reading it.
func (c cache) lookup(d digest.Digest) (path string, size int64, ok bool) {
	path = c.blobPath(d)
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return "", 0, false
	}
	return path, fi.Size(), true
}

// lock takes an exclusive lock on d so that two fetches do not write the
// same partial file. It waits while another process holds it.
func (c cache) lock(ctx context.Context, d digest.Digest, logf func(string, ...any)) (unlock func(), err error) {
	dir := filepath.Join(c.dir, "partial")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache directory: %w (set CACHE_DIR to a writable directory)", err)
	}
	path := filepath.Join(dir, d.Encoded()+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cache lock %s: %w", path, err)
		}
		if !waited {
			logf("fetch: waiting for another fetch of %s to finish (it holds %s)", d, path)
			waited = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// commit moves a verified file into the cache under its digest: flushed to
// disk, made read-only, then renamed, so the blob is either complete or
// absent.
func (c cache) commit(verified string, d digest.Digest) (string, error) {
	if err := syncFile(verified); err != nil {
		return "", err
	}
	if err := os.Chmod(verified, 0o444); err != nil {
		return "", err
	}
	dst := c.blobPath(d)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w (set CACHE_DIR to a writable directory)", err)
	}
	if err := os.Rename(verified, dst); err != nil {
		return "", fmt.Errorf("storing the verified file in the cache: %w", err)
	}
	return dst, syncDir(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// hashFile reads path and returns its SHA-256, reporting progress to p
// (which may be nil).
func hashFile(ctx context.Context, path string, p *progress) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	var total int64 = -1
	if fi, err := f.Stat(); err == nil {
		total = fi.Size()
	}
	h := digest.SHA256.Digester()
	buf := make([]byte, 1<<20)
	var n int64
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		m, err := f.Read(buf)
		h.Hash().Write(buf[:m])
		n += int64(m)
		if p != nil {
			p.update(stat{done: n, total: total, bps: rate(n, time.Since(start))}, time.Now())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", n, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if p != nil {
		p.finish(stat{done: n, total: total, bps: rate(n, time.Since(start))})
	}
	return h.Digest(), n, nil
}

// rate is bytes per second over d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// copyLocal copies a local ISO into the cache and verifies the copy. The
// source is only read. The kernel may share extents (copy_file_range), so
// on filesystems that support it the copy costs no extra space.
func (f *fetcher) copyLocal(ctx context.Context, src source, exp expectation) (Result, error) {
	in, err := os.Open(src.path)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w (check BASE_ISO_URL)", src.raw, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", src.raw, err)
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%s is not a regular file (check BASE_ISO_URL)", src.raw)
	}
	tmp, err := os.CreateTemp(filepath.Join(f.cache.dir, "partial"), exp.digest.Encoded()+".copy-*")
	if err != nil {
		return Result{}, fatal(fmt.Errorf("cache directory: %w (set CACHE_DIR to a writable directory)", err))
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up otherwise
	f.logf("fetch: copying %s (%s) into the cache", src.path, units.Bytes(fi.Size()))
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, fmt.Errorf("copying %s into the cache: %w", src.raw, err)
	}
	f.logf("fetch: verifying the copy")
	got, size, err := hashFile(ctx, tmp.Name(), f.newProgress())
	if err != nil {
		return Result{}, err
	}
	if got != exp.digest {
		return Result{}, fmt.Errorf("%s has %s but %s was expected (from %s); nothing was cached and the file was left as it is: point BASE_ISO_URL at the right file or fix the expected digest", src.raw, got, exp.digest, exp.from)
	}
	path, err := f.cache.commit(tmp.Name(), exp.digest)
	if err != nil {
		return Result{}, fatal(err)
	}
	return Result{Path: path, Digest: exp.digest, Size: size}, nil
}

// Recheck re-reads cached base ISOs and verifies their digests again. With a
// pin (o.SHA256) it checks that one file, which must be cached; without one
// it checks every file in the cache. A file whose content no longer matches
// its digest is deleted so that the next fetch downloads it again.
func Recheck(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 5 * time.Second
	}
	f := &fetcher{o: o, cache: cache{dir: o.CacheDir}}
	var wants []digest.Digest
	if o.SHA256 != "" {
		want := digest.NewDigestFromEncoded(digest.SHA256, o.SHA256)
		if err := want.Validate(); err != nil {
			return fmt.Errorf("pinned digest %q: %w (fix BASE_ISO_SHA256)", o.SHA256, err)
		}
		if _, _, ok := f.cache.lookup(want); !ok {
			return fmt.Errorf("%s is not in the cache (%s): run `mage fetch` first", want, f.cache.blobPath(want))
		}
		wants = []digest.Digest{want}
	} else {
		var err error
		if wants, err = f.cache.list(); err != nil {
			return err
		}
		if len(wants) == 0 {
			return fmt.Errorf("the cache %s holds no base ISO: run `mage fetch` first", o.CacheDir)
		}
	}
	var bad []error
	for _, want := range wants {
		if err := f.recheckOne(ctx, want); err != nil {
			if ctx.Err() != nil {
				return err
			}
			bad = append(bad, err)
		}
	}
	return errors.Join(bad...)
}

// recheckOne re-reads one blob.
func (f *fetcher) recheckOne(ctx context.Context, want digest.Digest) error {
	path := f.cache.blobPath(want)
	f.logf("fetch:recheck: reading %s", path)
	start := time.Now()
	got, size, err := hashFile(ctx, path, f.newProgress())
	if err != nil {
		return err
	}
	if got != want {
		rmErr := os.Remove(path)
		what := "it was deleted; run `mage fetch` to download it again"
		if rmErr != nil {
			what = fmt.Sprintf("deleting it failed (%v); remove it by hand, then run `mage fetch`", rmErr)
		}
		return fmt.Errorf("cached file %s is corrupt: its content has %s, not %s; %s", path, got, want, what)
	}
	f.logf("fetch:recheck: %s OK (%s read in %s)", want, units.Bytes(size), time.Since(start).Round(time.Millisecond))
	return nil
}

// list returns the digests of every blob in the cache.
func (c cache) list() ([]digest.Digest, error) {
	dir := filepath.Join(c.dir, "blobs", digest.SHA256.String())
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ds []digest.Digest
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if e.Type().IsRegular() && d.Validate() == nil {
			ds = append(ds, d)
		}
	}
	return ds, nil
}
