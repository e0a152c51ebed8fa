// Package fetch gets the base ISO that every later stage reads, and never
// hands them a wrong or tampered file.
//
// The ISO is looked for at a list of locations tried in order. Its expected
// SHA-256 comes from a pin, from a SHA256SUMS file whose detached OpenPGP
// signature (SHA256SUMS.gpg) must verify against a keyring, or from both, in
// which case they must agree. Downloads go through grab into a .part file
// that the next run resumes; local files (a plain path or file://) are
// copied. Verified files are kept in a content-addressed cache,
// $CACHE_DIR/blobs/sha256/<hex>, written only by renaming a verified file.
package fetch

import (
	"context"
	_ "crypto/sha256" // registers SHA-256 for go-digest
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// Options say where the base ISO comes from, how it is checked and where it
// is cached. FromConfig fills them from the pipeline's configuration.
type Options struct {
	// Name is the ISO's file name as listed in SHA256SUMS. Empty means the
	// last element of each location's ISO URL.
	Name string
	// Locations are tried in order until one gives a verified ISO.
	Locations []config.BaseLocation
	// SHA256 pins the ISO's digest (64 lowercase hex characters). Empty means
	// the signed SHA256SUMS alone decides.
	SHA256 string
	// KeyringPath is an OpenPGP key file: one or more armored key blocks
	// (concatenated .asc files) or a binary keyring; SHA256SUMS must carry a
	// valid signature from one of its keys. Empty means a SHA256SUMS file is
	// used without a signature check, and the output says so.
	KeyringPath string
	// CacheDir is the root of the cache ($CACHE_DIR).
	CacheDir string
	// Log receives status lines and the progress line; nil discards them.
	Log io.Writer
	// Terminal reports that Log is a terminal: progress then rewrites one
	// line at most once a second. Otherwise a full line is written every
	// ProgressInterval, which suits CI logs.
	Terminal bool
	// ProgressInterval is the time between progress lines when Log is not a
	// terminal (default 5s).
	ProgressInterval time.Duration
	// Attempts is how many times one location's download is tried, resuming
	// each time, before moving on (default 3).
	Attempts int
	// RetryDelay is the pause before a resumed attempt (default 2s).
	RetryDelay time.Duration
	// StallTimeout aborts an attempt that received nothing for this long
	// (default 1m). It also bounds each read of SHA256SUMS and its
	// signature: a server that sends nothing for this long is given up and
	// the next location is tried.
	StallTimeout time.Duration
	// HTTPClient sends every request (default: proxies from the
	// environment, connect and response-header timeouts).
	HTTPClient *http.Client
	// NoWait stops at once, naming the other process, when another fetch
	// is getting the same file into the same cache; by default fetch waits
	// for it and then uses its result.
	NoWait bool
	// Command is this run's command as a waiting fetch shows it ("mage
	// fetch"); it is written to the lock file, so it must hold no secret.
	// Default: the program's name.
	Command string
	// Lock, when set, is the base's line in configs/bases.lock: a locked
	// base's digest is the pin; an unlocked base is fetched against its
	// signed SHA256SUMS alone and its digest recorded, or refused under
	// CI. Nil (BASE_ISO_URL or BASE_ISO_SHA256 set) leaves the lock alone.
	Lock *Lock

	// copyChunk is how much of a local file is copied between checks of
	// the context (default 16 MiB).
	copyChunk int64
	// faultHook, when set, is called at the points where a test kills the
	// process: "copy" after each copied chunk (n = bytes copied so far),
	// "verified" once a copy matches its digest and "downloaded" once a
	// download does, both just before the file enters the cache.
	faultHook func(point string, n int64)
}

// Result describes the verified base ISO.
type Result struct {
	// Path is the ISO in the cache: $CACHE_DIR/blobs/sha256/<hex>.
	Path string
	// Digest is its SHA-256.
	Digest digest.Digest
	// Size is its length in bytes.
	Size int64
	// CacheHit reports that the ISO was already cached and nothing was
	// downloaded or re-read.
	CacheHit bool
	// Source is the location the ISO came from; empty on a cache hit.
	Source string
	// SignedBy is the fingerprint of the key whose signature on SHA256SUMS
	// was verified; empty when no signature was checked (pin only, or a
	// cache hit).
	SignedBy string
}

// FromConfig returns the options for the pipeline's configuration, logging
// to log (typically os.Stderr) and showing a terminal progress line when log
// is a terminal.
func FromConfig(c config.Config, log *os.File) Options {
	return Options{
		Name:        c.BaseISOName,
		Locations:   c.BaseLocations,
		SHA256:      c.BaseISOSHA256,
		KeyringPath: c.KeyringPath,
		CacheDir:    c.CacheDir,
		Log:         log,
		Terminal:    isTerminal(log),
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Fetch returns the verified base ISO, from the cache when it is there and
// otherwise from the first location that gives a file with the expected
// digest. With a pin, a cache hit makes no network request and does not read
// the cached file (Recheck does).
func Fetch(ctx context.Context, o Options) (Result, error) {
	o, err := o.withLock()
	if err != nil {
		return Result{}, err
	}
	res, err := fetch(ctx, o)
	if err != nil || o.Lock == nil || o.Lock.Locked {
		return res, err
	}
	return res, o.Lock.record(res, o.Log)
}

func fetch(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	f := &fetcher{o: o, cache: cache{dir: o.CacheDir}}
	if o.SHA256 != "" {
		want := digest.NewDigestFromEncoded(digest.SHA256, o.SHA256)
		if res, ok := f.cacheHit(want); ok {
			return res, nil
		}
	}
	if o.KeyringPath != "" && anySums(o.Locations) {
		// A broken keyring is found before any download.
		if _, err := f.loadKeyring(); err != nil {
			return Result{}, err
		}
	}
	var errs []error
	for i, loc := range o.Locations {
		res, err := f.fromLocation(ctx, loc)
		if err == nil {
			return res, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			var se *stopError
			if !errors.As(err, &se) {
				// A request or a read that the context ended: say so
				// rather than "context canceled".
				err = stopped(cerr, "fetch: %s (%s)", stopWord(cerr), loc.ISOURL)
			}
			return Result{}, err
		}
		if isFatal(err) {
			return Result{}, err
		}
		errs = append(errs, err)
		if i+1 < len(o.Locations) {
			f.logf("fetch: %v", err)
			f.logf("fetch: trying the next location (%d of %d)", i+2, len(o.Locations))
		}
	}
	return Result{}, allFailed(errs)
}

func anySums(locs []config.BaseLocation) bool {
	for _, l := range locs {
		if l.SumsURL != "" {
			return true
		}
	}
	return false
}

// fatalError marks an error that no other location can fix (a broken
// keyring, an unusable cache directory): Fetch stops at once.
type fatalError struct{ error }

func (e fatalError) Unwrap() error { return e.error }

// fatal wraps err so that Fetch does not try further locations.
func fatal(err error) error { return fatalError{err} }

func isFatal(err error) bool {
	var fe fatalError
	return errors.As(err, &fe)
}

// allFailed joins the errors of every location into one message.
func allFailed(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "none of the %d locations gave a verified base ISO:", len(errs))
	for i, err := range errs {
		fmt.Fprintf(&b, "\n  %d. %v", i+1, err)
	}
	b.WriteString("\nTo use a mirror or a local copy of the ISO, set BASE_ISO_URL and BASE_ISO_SHA256 (and BASE_ISO_SUMS_URL to check a signed SHA256SUMS).")
	return errors.New(b.String())
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Locations) == 0 {
		return o, errors.New("no base ISO location configured: set BASE_ISO_URL")
	}
	if o.CacheDir == "" {
		return o, errors.New("no cache directory configured: set CACHE_DIR")
	}
	if o.SHA256 != "" {
		o.SHA256 = strings.ToLower(o.SHA256)
		if err := digest.SHA256.Validate(o.SHA256); err != nil {
			return o, fmt.Errorf("pinned digest %q is not a SHA-256 (64 hexadecimal characters): fix BASE_ISO_SHA256", o.SHA256)
		}
	}
	for _, loc := range o.Locations {
		for _, u := range []string{loc.ISOURL, loc.SumsURL} {
			if u == "" {
				continue
			}
			if _, err := parseSource(u); err != nil {
				return o, err
			}
		}
		if loc.SumsURL == "" && o.SHA256 == "" {
			return o, fmt.Errorf("%s: nothing to verify it against: set BASE_ISO_SHA256 or BASE_ISO_SUMS_URL", loc.ISOURL)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 2 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	return o, nil
}

// defaultHTTPClient has no overall timeout (an ISO takes minutes) but gives
// up on a server that does not answer.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

// fetcher is one Fetch call.
type fetcher struct {
	o       Options
	cache   cache
	keyring *keyring // loaded on first use
}

// fault calls the test's fault hook, if any.
func (f *fetcher) fault(point string, n int64) {
	if f.o.faultHook != nil {
		f.o.faultHook(point, n)
	}
}

func (f *fetcher) logf(format string, args ...any) {
	fmt.Fprintf(f.o.Log, format+"\n", args...)
}

// cacheHit returns the cached ISO for want without reading it.
func (f *fetcher) cacheHit(want digest.Digest) (Result, bool) {
	path, size, ok := f.cache.lookup(want)
	if !ok {
		return Result{}, false
	}
	f.logf("fetch: cache hit %s (%s, %s); not re-read, run `mage fetch:recheck` to verify it again", path, want, units.Bytes(size))
	return Result{Path: path, Digest: want, Size: size, CacheHit: true}, true
}

// fromLocation finds the expected digest for loc, then returns the cached
// ISO or gets it from loc.
func (f *fetcher) fromLocation(ctx context.Context, loc config.BaseLocation) (Result, error) {
	name := f.o.Name
	if name == "" {
		name = baseName(loc.ISOURL)
	}
	exp, err := f.expected(ctx, loc, name)
	if err != nil {
		return Result{}, err
	}
	if res, ok := f.cacheHit(exp.digest); ok {
		res.SignedBy = exp.signedBy
		return res, nil
	}
	src, err := parseSource(loc.ISOURL)
	if err != nil {
		return Result{}, err
	}
	f.cache.tidy(f.logf)
	l, err := f.lock(ctx, exp.digest)
	if err != nil {
		return Result{}, err
	}
	defer l.Release()
	// Another fetch may have finished while this one waited for the lock.
	if res, ok := f.cacheHit(exp.digest); ok {
		res.SignedBy = exp.signedBy
		return res, nil
	}
	var res Result
	if src.local {
		res, err = f.copyLocal(ctx, src, exp)
	} else {
		res, err = f.download(ctx, src, exp)
	}
	if err != nil {
		return Result{}, err
	}
	res.Source = loc.ISOURL
	res.SignedBy = exp.signedBy
	f.logf("fetch: verified %s; cached at %s", res.Digest, res.Path)
	return res, nil
}
