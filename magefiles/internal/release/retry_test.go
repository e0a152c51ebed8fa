package release

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cli/go-gh/v2/pkg/api"
)

// useGitHub points the fixture at another fake GitHub, to which HEAD is
// pushed as to the first one.
func (fx *fixture) useGitHub(f *fakeGitHub) {
	fx.gh = f
	fx.env[EnvAPIURL] = f.apiURL()
	f.push(fakeDefaultBranch, fx.head())
}

// trustingTransport is the release's own upload transport trusting the
// fake's TLS certificate (HTTP/2 is negotiated as with github.com).
func trustingTransport(f *fakeGitHub) http.RoundTripper {
	tr := uploadTransport().(*http.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}

// An HTTP/2 stream reset in the middle of an upload is neither a
// net.OpError nor an EOF; it must be retried like a dropped connection,
// with the incomplete asset it leaves behind removed first.
func TestUploadRetriedAfterHTTP2StreamReset(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 4<<20)
	fx.useGitHub(newFakeGitHubHTTP2(t, testToken))
	iso := ISOName("v1.0.0")
	fx.gh.failUpload(iso, fakeFault{dropAfter: 1 << 20})
	out, err := fx.run(func(o *Options) { o.Transport = trustingTransport(fx.gh) })
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	for _, u := range fx.gh.uploadLog() {
		if u.Proto != "HTTP/2.0" {
			t.Errorf("upload of %s went over %s, want HTTP/2.0", u.Name, u.Proto)
		}
	}
	if n := countUploads(fx, iso); n != 2 {
		t.Errorf("ISO uploaded %d times, want 2 (a reset stream, then success)", n)
	}
	for _, want := range []string{"upload " + iso + " failed (attempt 1 of 4)", "stream error",
		`removed an incomplete upload of ` + iso + ` (state "starter")`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A certificate the client does not trust is a transport error too, but
// trying again cannot help: it fails at once.
func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1024)
	fx.useGitHub(newFakeGitHubHTTP2(t, testToken))
	out, err := fx.run()
	if err == nil {
		t.Fatalf("release succeeded against a server with an untrusted certificate:\n%s", out)
	}
	if !strings.Contains(out, "certificate") || strings.Contains(out, "retrying") {
		t.Errorf("want one failed attempt naming the certificate, got:\n%s", out)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	post := func(err error) error {
		return fmt.Errorf("upload: %w", &url.Error{Op: "Post", URL: "https://uploads.github.com/x", Err: err})
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"HTTP/2 stream reset", post(errors.New("stream error: stream ID 3; INTERNAL_ERROR; received from peer")), true},
		{"HTTP/2 GOAWAY", post(errors.New("http2: server sent GOAWAY and closed the connection")), true},
		{"server error", &api.HTTPError{StatusCode: http.StatusBadGateway}, true},
		{"rate limit", &api.HTTPError{StatusCode: http.StatusTooManyRequests}, true},
		{"leftover cleaned up", fmt.Errorf("%w: exists", errRetry), true},
		{"not found", &api.HTTPError{StatusCode: http.StatusNotFound}, false},
		{"cancelled", post(context.Canceled), false},
		{"untrusted certificate", post(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{"local error", errors.New("open dist/x.iso: permission denied"), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
