package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// source is a parsed location: a remote http(s) URL or a local file.
type source struct {
	raw   string // as configured, for messages
	local bool
	path  string // local file
	url   string // remote URL
}

// parseSource accepts http://, https://, file:// and plain paths.
func parseSource(raw string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return source{raw: raw, local: true, path: raw}, nil
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return source{raw: raw, url: raw}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, fmt.Errorf("%s: file:// URLs must name a local file (file:///path/to/file), not host %q", raw, u.Host)
		}
		if !filepath.IsAbs(u.Path) {
			return source{}, fmt.Errorf("%s: a file:// URL needs an absolute path (file:///path/to/file)", raw)
		}
		return source{raw: raw, local: true, path: u.Path}, nil
	}
	return source{}, fmt.Errorf("%s: unsupported scheme %q: use http://, https://, file:// or a plain path", raw, u.Scheme)
}

// baseName is the last element of a URL or path, without query or fragment.
func baseName(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	raw = strings.TrimSuffix(raw, "/")
	return raw[strings.LastIndex(raw, "/")+1:]
}

// maxSmallFile bounds SHA256SUMS and its signature; Ubuntu's are a few
// hundred bytes.
const maxSmallFile = 4 << 20

// missingError reports that a small file does not exist (404, 410, or no
// such local file).
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

func isMissing(err error) bool {
	var me *missingError
	return errors.As(err, &me)
}

// readSmall reads a small file (SHA256SUMS, its signature) from an http(s)
// URL, a file:// URL or a path. A server that sends nothing (no headers, no
// body bytes) for stall is given up with an error that says so.
func readSmall(ctx context.Context, client *http.Client, raw string, stall time.Duration) ([]byte, error) {
	src, err := parseSource(raw)
	if err != nil {
		return nil, err
	}
	if src.local {
		return readSmallLocal(src)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := newStallWatch(stall, cancel)
	defer watch.stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", raw, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if watch.fired() {
			return nil, stalledError(raw, stall)
		}
		return nil, fmt.Errorf("%w (check the network and the URL)", err) // *url.Error names the URL
	}
	defer resp.Body.Close()
	watch.progress()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return nil, &missingError{fmt.Sprintf("%s: server answered %s", raw, resp.Status)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: server answered %s", raw, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(watchedReader{resp.Body, watch}, maxSmallFile+1))
	if err != nil {
		if watch.fired() {
			return nil, stalledError(raw, stall)
		}
		return nil, fmt.Errorf("%s: %w", raw, err)
	}
	if len(data) > maxSmallFile {
		return nil, fmt.Errorf("%s: larger than %s; this is not a SHA256SUMS file or signature", raw, units.Bytes(maxSmallFile))
	}
	return data, nil
}

// stalledError says that raw's server stopped sending.
func stalledError(raw string, stall time.Duration) error {
	return fmt.Errorf("%s: no data for %s: the server stopped sending; giving up on this location", raw, stall)
}

// stallWatch cancels a request when no progress is reported for a while.
type stallWatch struct {
	timeout time.Duration
	timer   *time.Timer
	expired atomic.Bool
}

// newStallWatch calls cancel once timeout passes without progress.
func newStallWatch(timeout time.Duration, cancel context.CancelFunc) *stallWatch {
	w := &stallWatch{timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() {
		w.expired.Store(true)
		cancel()
	})
	return w
}

// progress restarts the wait: something arrived.
func (w *stallWatch) progress() { w.timer.Reset(w.timeout) }

// fired reports whether the watch canceled the request.
func (w *stallWatch) fired() bool { return w.expired.Load() }

func (w *stallWatch) stop() { w.timer.Stop() }

// watchedReader reports every read that returns bytes to its stallWatch.
type watchedReader struct {
	r     io.Reader
	watch *stallWatch
}

func (r watchedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.watch.progress()
	}
	return n, err
}

func readSmallLocal(src source) ([]byte, error) {
	f, err := os.Open(src.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &missingError{fmt.Sprintf("%s: no such file", src.raw)}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSmallFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.raw, err)
	}
	if len(data) > maxSmallFile {
		return nil, fmt.Errorf("%s: larger than %s; this is not a SHA256SUMS file or signature", src.raw, units.Bytes(maxSmallFile))
	}
	return data, nil
}
