package release

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
)

// useGitHub points the fixture at another fake GitHub, to which HEAD is
// pushed as to the first one.
func (fx *fixture) useGitHub(f *githubtest.Server) {
	fx.gh = f
	fx.env[config.EnvAPIURL] = f.APIURL()
	f.Push(githubtest.DefaultBranch, fx.head())
}

// trustingTransport is the release's own upload transport trusting the
// fake's TLS certificate (HTTP/2 is negotiated as with github.com).
func trustingTransport(f *githubtest.Server) http.RoundTripper {
	tr := github.UploadTransport().(*http.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(f.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}

// An HTTP/2 stream reset in the middle of an upload is neither a
// net.OpError nor an EOF; it must be retried like a dropped connection,
// with the incomplete asset it leaves behind removed first.
func TestUploadRetriedAfterHTTP2StreamReset(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 4<<20)
	fx.useGitHub(githubtest.NewHTTP2(t, testToken))
	iso := dist.ISOName("v1.0.0")
	fx.gh.FailUpload(iso, githubtest.Fault{DropAfter: 1 << 20})
	out, err := fx.run(func(o *Options) { o.Transport = trustingTransport(fx.gh) })
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	for _, u := range fx.gh.UploadLog() {
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
	fx.useGitHub(githubtest.NewHTTP2(t, testToken))
	out, err := fx.run()
	if err == nil {
		t.Fatalf("release succeeded against a server with an untrusted certificate:\n%s", out)
	}
	if !strings.Contains(out, "certificate") || strings.Contains(out, "retrying") {
		t.Errorf("want one failed attempt naming the certificate, got:\n%s", out)
	}
}
