package fetch

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cavaliergopher/grab/v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

const userAgent = "novasphere-iso-fetch"

// attemptKind is what one download attempt ended with, and so what to do
// next.
type attemptKind int

const (
	// attemptOK: the .part file is complete and has the expected digest.
	attemptOK attemptKind = iota
	// attemptCanceled: the caller's context ended; keep .part.
	attemptCanceled
	// attemptInterrupted: the transfer broke off; keep .part and resume.
	attemptInterrupted
	// attemptRestart: the server cannot resume; delete .part, start over.
	attemptRestart
	// attemptBadContent: .part is known to be wrong; it was deleted.
	attemptBadContent
	// attemptFailed: this location does not work (404, refused, ...).
	attemptFailed
)

// attemptResult is the outcome of one grab request.
type attemptResult struct {
	kind    attemptKind
	err     error
	resumed bool          // the attempt started from an existing .part
	size    int64         // the file's size, -1 when unknown
	got     int64         // bytes received in this attempt
	elapsed time.Duration // length of this attempt
}

var (
	// errRangeIgnored: the server answered a Range request with the whole
	// file. Appending that body to .part would corrupt it.
	errRangeIgnored = errors.New("the server ignored the Range request and sent the whole file (200 OK instead of 206 Partial Content), so it cannot resume")
	// errBadContentRange: a 206 answer for other bytes than asked for.
	errBadContentRange = errors.New("the server sent a different byte range than asked for")
	// errUnexpectedAnswer: a success status other than 200 to a plain GET.
	errUnexpectedAnswer = errors.New("unexpected answer")
)

// download gets src into the cache's .part file for exp's digest, resuming
// what an earlier run left there, and moves it into the cache once grab has
// verified its digest.
func (f *fetcher) download(ctx context.Context, src source, exp expectation) (Result, error) {
	part := f.cache.partPath(exp.digest)
	interruptions, restarts := 0, 0
	for {
		a := f.attempt(ctx, src.url, part, exp)
		switch a.kind {
		case attemptOK:
			f.fault("downloaded", a.size)
			f.logf("fetch: received %s in %s (%s/s)", units.Bytes(a.got), a.elapsed.Round(time.Millisecond), units.Bytes(int64(rate(a.got, a.elapsed))))
			path, err := f.cache.commit(part, exp.digest)
			if err != nil {
				return Result{}, fatal(err)
			}
			return Result{Path: path, Digest: exp.digest, Size: a.size}, nil
		case attemptCanceled:
			return Result{}, stopped(ctx.Err(), "%s: %s; %s: run fetch again to resume", src.url, stopWord(ctx.Err()), kept(part, a.size))
		case attemptInterrupted:
			interruptions++
			if interruptions >= f.o.Attempts {
				how := fmt.Sprintf("interrupted (%v)", a.err)
				if interruptions > 1 {
					how = fmt.Sprintf("interrupted %d times (last: %v)", interruptions, a.err)
				}
				return Result{}, fmt.Errorf("%s: download %s; %s: run fetch again to resume", src.url, how, kept(part, a.size))
			}
			f.logf("fetch: %s: download interrupted (%v); resuming in %s (attempt %d of %d)", src.url, a.err, f.o.RetryDelay, interruptions+1, f.o.Attempts)
			if err := sleep(ctx, f.o.RetryDelay); err != nil {
				return Result{}, stopped(err, "%s: %s; %s: run fetch again to resume", src.url, stopWord(err), kept(part, a.size))
			}
		case attemptRestart, attemptBadContent:
			removePart(part)
			restarts++
			if !a.resumed || restarts > 2 {
				return Result{}, fmt.Errorf("%s: %v; the partial download was deleted. Check that the location serves the intended file (BASE_ISO_URL, BASE_ISO_SHA256, BASE_ISO_SUMS_URL) or try another mirror", src.url, a.err)
			}
			f.logf("fetch: %s: %v; the partial download was deleted, starting again from the beginning", src.url, a.err)
		case attemptFailed:
			return Result{}, fmt.Errorf("%s: %w", src.url, a.err)
		}
	}
}

// stopError is work ended by the context (Ctrl-C, mage -t): it reads
// "interrupted" or "timed out" but still matches context.Canceled or
// context.DeadlineExceeded.
type stopError struct {
	msg   string
	cause error
}

func (e *stopError) Error() string { return e.msg }
func (e *stopError) Unwrap() error { return e.cause }

// stopped makes a stopError from cause (the context's error) and a message.
func stopped(cause error, format string, args ...any) error {
	return &stopError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// stopWord says why a context ended in the user's words.
func stopWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "interrupted"
}

// kept describes what is left of a partial download for error messages.
func kept(part string, size int64) string {
	fi, err := os.Stat(part)
	if err != nil {
		return "nothing was kept"
	}
	if size > 0 {
		return fmt.Sprintf("%s of %s is kept in %s", units.Bytes(fi.Size()), units.Bytes(size), part)
	}
	return fmt.Sprintf("%s is kept in %s", units.Bytes(fi.Size()), part)
}

// removePart deletes a partial download known to be useless. If that fails,
// the next attempt finds the same bad content and reports it.
func removePart(part string) {
	_ = os.Remove(part)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt runs one grab request for rawURL into part. grab resumes an
// existing part with a Range request; the expected size (when the server
// tells it) and the expected digest, hashed with a fresh hash, are always
// set, so a stale part of the right size fails its checksum instead of
// counting as complete.
func (f *fetcher) attempt(ctx context.Context, rawURL, part string, exp expectation) attemptResult {
	size := f.probeSize(ctx, rawURL)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := grab.NewRequest(part, rawURL)
	if err != nil {
		return attemptResult{kind: attemptFailed, err: err}
	}
	req = req.WithContext(actx)
	req.HTTPRequest.Header.Set("Accept-Encoding", "identity")
	if size > 0 {
		req.Size = size
	}
	req.IgnoreRemoteTime = true
	sum, err := hex.DecodeString(exp.digest.Encoded())
	if err != nil {
		return attemptResult{kind: attemptFailed, err: err}
	}
	req.SetChecksum(exp.digest.Algorithm().Hash(), sum, false)
	req.BeforeCopy = checkAnswer
	var copied atomic.Bool
	req.AfterCopy = func(*grab.Response) error { copied.Store(true); return nil }
	hadPart := false
	if fi, err := os.Stat(part); err == nil {
		hadPart = true
		f.logf("fetch: found a partial download of %s in %s", units.Bytes(fi.Size()), part)
	}
	client := &grab.Client{HTTPClient: f.o.HTTPClient, UserAgent: userAgent}
	start := time.Now()
	resp := client.Do(req)
	f.announce(resp, rawURL, hadPart)
	stalled := f.watch(resp, cancel, &copied)
	err = resp.Err()
	r := f.classify(ctx, resp, err, stalled, part, exp)
	r.elapsed = time.Since(start)
	// grab refuses an oversized part before it sets DidResume; a part
	// that was there still earns one fresh start.
	r.resumed = r.resumed || hadPart
	return r
}

// probeSize asks the server for the file's size with a HEAD request so that
// grab can check every answer against it. -1 means unknown (the GET will
// tell).
func (f *fetcher) probeSize(ctx context.Context, rawURL string) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return -1
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.o.HTTPClient.Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		return -1
	}
	return resp.ContentLength
}

// announce says whether the transfer starts or resumes.
func (f *fetcher) announce(resp *grab.Response, rawURL string, hadPart bool) {
	if resp.IsComplete() {
		return // failed early or the partial file was already complete
	}
	size := "size unknown"
	if n := resp.Size(); n > 0 {
		size = units.Bytes(n)
	}
	switch {
	case resp.DidResume:
		f.logf("fetch: resuming %s at %s (%s)", rawURL, units.Bytes(resp.BytesComplete()), size)
	case hadPart:
		f.logf("fetch: the server does not offer to resume (no Accept-Ranges: bytes); downloading %s again from the beginning (%s)", rawURL, size)
	default:
		f.logf("fetch: downloading %s (%s)", rawURL, size)
	}
}

// watch shows progress until resp is done and cancels the attempt when no
// byte arrives for StallTimeout. It reports whether it did.
func (f *fetcher) watch(resp *grab.Response, cancel context.CancelFunc, copied *atomic.Bool) (stalled bool) {
	p := f.newProgress()
	tickEvery := time.Second
	if f.o.StallTimeout < 2*tickEvery {
		tickEvery = f.o.StallTimeout / 2
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var r rateMeter
	r.add(time.Now(), resp.BytesComplete())
	last, lastChange := resp.BytesComplete(), time.Now()
	for {
		select {
		case <-resp.Done:
			now := time.Now()
			r.add(now, resp.BytesComplete())
			p.finish(stat{done: resp.BytesComplete(), total: resp.Size(), bps: r.rate()})
			return stalled
		case now := <-tick.C:
			if copied.Load() {
				// grab now hashes the whole file, which takes a few
				// seconds for an ISO.
				r.add(now, resp.BytesComplete())
				p.finish(stat{done: resp.BytesComplete(), total: resp.Size(), bps: r.rate()})
				f.logf("fetch: download complete; checking its SHA-256")
				<-resp.Done
				return stalled
			}
			done := resp.BytesComplete()
			r.add(now, done)
			if done != last {
				last, lastChange = done, now
			} else if !stalled && now.Sub(lastChange) >= f.o.StallTimeout {
				stalled = true
				cancel()
			}
			p.update(stat{done: done, total: resp.Size(), bps: r.rate()}, now)
		}
	}
}

// rateMeter is the transfer rate over the last few seconds, exact from the
// first second on (a moving average that starts at zero would show half the
// real rate and twice the real ETA for a while).
type rateMeter struct {
	samples []rateSample
}

type rateSample struct {
	at time.Time
	n  int64
}

// rateWindow is how far back the rate looks.
const rateWindow = 5 * time.Second

func (m *rateMeter) add(at time.Time, n int64) {
	m.samples = append(m.samples, rateSample{at, n})
	for len(m.samples) > 2 && at.Sub(m.samples[1].at) >= rateWindow {
		m.samples = m.samples[1:]
	}
}

// rate is bytes per second between the oldest and newest sample.
func (m *rateMeter) rate() float64 {
	if len(m.samples) < 2 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	return rate(last.n-first.n, last.at.Sub(first.at))
}

// checkAnswer runs before grab writes any byte: a resumed request must get
// 206 Partial Content for exactly the bytes it asked for; anything else is
// refused before it can be appended to the partial file.
func checkAnswer(resp *grab.Response) error {
	h := resp.HTTPResponse
	if !resp.DidResume {
		if h.StatusCode != http.StatusOK {
			return fmt.Errorf("%w %s to a plain GET", errUnexpectedAnswer, h.Status)
		}
		return nil
	}
	if h.StatusCode != http.StatusPartialContent {
		return errRangeIgnored
	}
	start, total, err := parseContentRange(h.Header.Get("Content-Range"))
	if err != nil {
		return fmt.Errorf("%w: %v", errBadContentRange, err)
	}
	if from := resp.BytesComplete(); start != from {
		return fmt.Errorf("%w: asked for bytes from %d on, got %q", errBadContentRange, from, h.Header.Get("Content-Range"))
	}
	if size := resp.Request.Size; size > 0 && total >= 0 && total != size {
		return fmt.Errorf("%w: the file is %d bytes, the Content-Range says %d", errBadContentRange, size, total)
	}
	return nil
}

// parseContentRange reads "bytes <first>-<last>/<total>"; total is -1 for
// "*".
func parseContentRange(v string) (start, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q is not a byte range", v)
	}
	span, length, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q has no total length", v)
	}
	first, last, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q has no range", v)
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, fmt.Errorf("Content-Range %q has a malformed range", v)
	}
	total = -1
	if length != "*" {
		if total, err = strconv.ParseInt(length, 10, 64); err != nil || total <= end {
			return 0, 0, fmt.Errorf("Content-Range %q has a malformed total length", v)
		}
	}
	return start, total, nil
}

// classify turns grab's outcome into what to do next, with an error that
// says what went wrong in the user's terms.
func (f *fetcher) classify(ctx context.Context, resp *grab.Response, err error, stalled bool, part string, exp expectation) attemptResult {
	r := attemptResult{err: err, resumed: resp.DidResume, size: resp.Size()}
	r.got = resp.BytesComplete()
	if resp.DidResume {
		r.got -= resumedBytes(resp)
	}
	h := resp.HTTPResponse
	var status grab.StatusCodeError
	switch {
	case err == nil:
		r.kind = attemptOK
	case ctx.Err() != nil:
		r.kind = attemptCanceled
	case stalled:
		r.kind, r.err = attemptInterrupted, fmt.Errorf("nothing received for %s", f.o.StallTimeout)
	case errors.Is(err, errRangeIgnored),
		resp.DidResume && h != nil && h.Request.Method == http.MethodGet && h.StatusCode == http.StatusOK:
		r.kind, r.err = attemptRestart, errRangeIgnored
	case errors.Is(err, errBadContentRange):
		r.kind = attemptRestart
	case errors.Is(err, grab.ErrBadChecksum):
		r.kind = attemptBadContent
		if got, _, herr := hashFile(ctx, part, nil); herr == nil {
			r.err = fmt.Errorf("the downloaded file has %s but %s was expected (from %s)", got, exp.digest, exp.from)
		} else {
			r.err = fmt.Errorf("the downloaded file does not have the expected %s (from %s)", exp.digest, exp.from)
		}
	case errors.Is(err, grab.ErrBadLength):
		r.kind = attemptBadContent
		r.err = fmt.Errorf("size mismatch: the partial download has %s, the server announces %s", partSize(part), sizeOrUnknown(resp.Size()))
	case errors.Is(err, errUnexpectedAnswer):
		r.kind = attemptFailed
	case errors.As(err, &status):
		r.kind, r.err = attemptFailed, fmt.Errorf("server answered %d %s", int(status), http.StatusText(int(status)))
		if status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout {
			r.kind = attemptInterrupted
		}
	case h != nil && h.StatusCode/100 == 2:
		// The answer started well and the body broke off.
		r.kind = attemptInterrupted
	default:
		r.kind, r.err = attemptFailed, fmt.Errorf("%w (check the network and the URL)", err)
	}
	return r
}

// resumedBytes is how much of the file was already there when resp began.
func resumedBytes(resp *grab.Response) int64 {
	if resp.HTTPResponse == nil || resp.HTTPResponse.Request == nil {
		return 0
	}
	from, _, ok := strings.Cut(strings.TrimPrefix(resp.HTTPResponse.Request.Header.Get("Range"), "bytes="), "-")
	if !ok {
		return resp.BytesComplete() // the part was complete: nothing was sent
	}
	n, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func partSize(part string) string {
	fi, err := os.Stat(part)
	if err != nil {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes", fi.Size())
}

func sizeOrUnknown(n int64) string {
	if n < 0 {
		return "an unknown size"
	}
	return fmt.Sprintf("%d bytes", n)
}
