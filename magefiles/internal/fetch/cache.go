package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// cache is the content-addressed download cache:
//
//	<dir>/blobs/sha256/<hex>     verified files, read-only, named by digest
//	<dir>/partial/<hex>.part     a download in progress, resumed next time
//	<dir>/partial/<hex>.copy     a copy of a local file in progress, resumed next time
//	<dir>/partial/.<hex>.lock    exists while one fetch works on <hex> (package lock)
//
// Only the holder of <hex>'s lock writes <hex>.part and <hex>.copy, so a
// killed fetch leaves at most one of each per digest, which the next fetch
// of that digest resumes.
type cache struct {
	dir string
}

// blobPath is where a verified file with digest d is kept.
func (c cache) blobPath(d digest.Digest) string {
	return filepath.Join(c.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// partialDir holds work in progress.
func (c cache) partialDir() string {
	return filepath.Join(c.dir, "partial")
}

// partPath is the partial download of the file with digest d.
func (c cache) partPath(d digest.Digest) string {
	return filepath.Join(c.partialDir(), d.Encoded()+".part")
}

// copyPath is the partial copy of a local file with digest d.
func (c cache) copyPath(d digest.Digest) string {
	return filepath.Join(c.partialDir(), d.Encoded()+copySuffix)
}

// lockTarget names what lock.Acquire locks for digest d.
func (c cache) lockTarget(d digest.Digest) string {
	return filepath.Join(c.partialDir(), d.Encoded())
}

const (
	copySuffix = ".copy"
	// legacyCopyInfix and legacyLockSuffix are the names earlier versions
	// used: <hex>.copy-<random> and <hex>.lock.
	legacyCopyInfix  = ".copy-"
	legacyLockSuffix = ".lock"
)

// lookup reports whether a blob for d exists, without reading it.
func (c cache) lookup(d digest.Digest) (path string, size int64, ok bool) {
	path = c.blobPath(d)
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return "", 0, false
	}
	return path, fi.Size(), true
}

// lock takes the lock on d so that two fetches do not write the same
// partial file. It waits while another process holds it, saying who, or
// with o.NoWait stops at once.
func (f *fetcher) lock(ctx context.Context, d digest.Digest) (*lock.Lock, error) {
	if err := os.MkdirAll(f.cache.partialDir(), 0o755); err != nil {
		return nil, fatal(fmt.Errorf("cache directory: %w (set CACHE_DIR to a writable directory)", err))
	}
	l, err := lock.Acquire(ctx, f.cache.lockTarget(d), lock.Options{
		Stage:   "fetch",
		Name:    fmt.Sprintf("%s in the cache %s", d, f.cache.dir),
		NoWait:  f.o.NoWait,
		Log:     f.o.Log,
		Command: f.o.Command,
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, stopped(cerr, "%s", err.Error())
		}
		return nil, fatal(err)
	}
	return l, nil
}

// tidy removes what killed fetches left in partial/ and nobody can use:
// lock files nobody holds, copies made by earlier versions whose fetch is
// gone, and copies of other digests nobody touched for lock.OrphanAge.
// Partial downloads (.part) stay: the next fetch of their digest resumes
// them.
func (c cache) tidy(logf func(string, ...any)) {
	dir := c.partialDir()
	removed, _ := lock.CleanStale(dir, lock.OrphanAge)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		hexsum, rest, ok := splitDigestName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		switch {
		case rest == legacyLockSuffix:
			if gone, _ := lock.RemoveIfFree(path); gone {
				removed = append(removed, path)
			}
		case strings.HasPrefix(rest, legacyCopyInfix):
			// Earlier versions held <hex>.lock while copying.
			if !lock.Held(filepath.Join(dir, hexsum+legacyLockSuffix)) && os.Remove(path) == nil {
				removed = append(removed, path)
			}
		case rest == copySuffix:
			fi, err := e.Info()
			if err != nil || time.Since(fi.ModTime()) < lock.OrphanAge || lock.Held(lock.Path(filepath.Join(dir, hexsum))) {
				continue
			}
			if os.Remove(path) == nil {
				removed = append(removed, path)
			}
		}
	}
	for _, r := range removed {
		logf("fetch: removed %s, left by a fetch that was killed", r)
	}
}

// splitDigestName splits "<64 hex><rest>".
func splitDigestName(name string) (hexsum, rest string, ok bool) {
	const n = 64
	if len(name) <= n || digest.SHA256.Validate(name[:n]) != nil {
		return "", "", false
	}
	return name[:n], name[n:], true
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
// source is only read. The copy goes to <hex>.copy, which a killed run
// leaves for the next one to resume. The kernel may share extents
// (copy_file_range), so on filesystems that support it the copy costs no
// extra space.
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
	dst := f.cache.copyPath(exp.digest)
	for fresh := false; ; fresh = true {
		resumed, err := f.copyInto(ctx, in, fi.Size(), src, dst, fresh)
		if err != nil {
			return Result{}, err
		}
		f.logf("fetch: verifying the copy")
		got, size, err := hashFile(ctx, dst, f.newProgress())
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, stopped(ctx.Err(), "%s: %s while verifying the copy; it is kept in %s: run fetch again to finish", src.raw, stopWord(ctx.Err()), dst)
			}
			return Result{}, err
		}
		if got != exp.digest && resumed {
			f.logf("fetch: the resumed copy has %s, not %s: the source changed since the copy began; copying again from the beginning", got, exp.digest)
			continue
		}
		if got != exp.digest {
			os.Remove(dst)
			return Result{}, fmt.Errorf("%s has %s but %s was expected (from %s); nothing was cached and the file was left as it is: point BASE_ISO_URL at the right file or fix the expected digest", src.raw, got, exp.digest, exp.from)
		}
		f.fault("verified", size)
		path, err := f.cache.commit(dst, exp.digest)
		if err != nil {
			return Result{}, fatal(err)
		}
		return Result{Path: path, Digest: exp.digest, Size: size}, nil
	}
}

// copyInto copies in (size bytes) to dst, continuing a copy that an earlier
// run left there unless fresh is set. It reports whether it resumed. When
// ctx ends, what was copied is kept for the next run.
func (f *fetcher) copyInto(ctx context.Context, in *os.File, size int64, src source, dst string, fresh bool) (resumed bool, err error) {
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fatal(fmt.Errorf("cache directory: %w (set CACHE_DIR to a writable directory)", err))
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copying %s into the cache: %w", src.raw, cerr)
		}
	}()
	st, err := out.Stat()
	if err != nil {
		return false, err
	}
	have := st.Size()
	if fresh || have > size {
		if err := out.Truncate(0); err != nil {
			return false, err
		}
		have = 0
	}
	if have > 0 {
		f.logf("fetch: resuming the copy of %s at %s of %s", src.path, units.Bytes(have), units.Bytes(size))
	} else {
		f.logf("fetch: copying %s (%s) into the cache", src.path, units.Bytes(size))
	}
	if err := f.copyRange(ctx, out, in, have, size); err != nil {
		if ctx.Err() != nil {
			return false, stopped(ctx.Err(), "%s: %s while copying; %s: run fetch again to resume", src.raw, stopWord(ctx.Err()), kept(dst, size))
		}
		os.Remove(dst)
		return false, fmt.Errorf("copying %s into the cache: %w", src.raw, err)
	}
	return have > 0, nil
}

// copyRange copies in[from:size] to the same offsets of out in chunks,
// stopping between chunks when ctx ends.
func (f *fetcher) copyRange(ctx context.Context, out, in *os.File, from, size int64) error {
	if _, err := in.Seek(from, io.SeekStart); err != nil {
		return err
	}
	if _, err := out.Seek(from, io.SeekStart); err != nil {
		return err
	}
	chunk := f.o.copyChunk
	if chunk <= 0 {
		chunk = 16 << 20
	}
	p := f.newProgress()
	start, done := time.Now(), from
	for done < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.CopyN(out, in, min(chunk, size-done))
		done += n
		if err != nil {
			return err
		}
		p.update(stat{done: done, total: size, bps: rate(done-from, time.Since(start))}, time.Now())
		f.fault("copy", done)
	}
	p.finish(stat{done: done, total: size, bps: rate(done-from, time.Since(start))})
	return nil
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
