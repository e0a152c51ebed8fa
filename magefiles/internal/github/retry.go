package github

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/cli/go-gh/v2/pkg/api"
)

// Retry is how often and how patiently a request to GitHub is repeated after
// a server error (5xx) or a dropped connection.
type Retry struct {
	// Attempts is the number of tries in all (default 5).
	Attempts int
	// Backoff is the wait after the first failure; it doubles each time
	// (default 2s).
	Backoff time.Duration
	// MaxBackoff caps the wait (default 30s).
	MaxBackoff time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 2 * time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	return r
}

// Do runs f until it succeeds, fails for good (see Retryable) or the
// attempts are used up, writing a note to out before each new attempt. f
// gets the attempt number, from 1; what names the request in messages.
func (r Retry) Do(ctx context.Context, out io.Writer, what string, f func(attempt int) error) error {
	r = r.withDefaults()
	wait := r.Backoff
	for attempt := 1; ; attempt++ {
		err := f(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !Retryable(err) {
			return err
		}
		if attempt >= r.Attempts {
			return fmt.Errorf("%s: giving up after %d attempts: %w", what, attempt, err)
		}
		fmt.Fprintf(out, "  %s failed (attempt %d of %d): %v; retrying in %s\n", what, attempt, r.Attempts, err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, r.MaxBackoff)
	}
}

// ErrRetry asks Retry.Do for another attempt when f's error wraps it (for
// example after a leftover of a failed attempt was cleaned up).
var ErrRetry = errors.New("retry")

// Retryable reports server errors (5xx, 429) and failures of the transport
// itself: refused, reset, dropped mid-body, timed out, and every other error
// http.Client.Do returns (a *url.Error), such as an HTTP/2 stream reset
// ("stream error: ... INTERNAL_ERROR") or GOAWAY. Not retried: a cancelled
// request (Retry.Do returns at once when its own context is done) and a
// server certificate that does not verify, which no retry can change.
func Retryable(err error) bool {
	if errors.Is(err, ErrRetry) {
		return true
	}
	var he *api.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests
	}
	var certErr *tls.CertificateVerificationError
	if errors.Is(err, context.Canceled) || errors.As(err, &certErr) {
		return false
	}
	var urlErr *url.Error
	var opErr *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &urlErr),
		errors.As(err, &opErr),
		errors.As(err, &ne) && ne.Timeout(),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}
