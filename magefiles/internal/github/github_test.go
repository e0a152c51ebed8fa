package github_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cli/go-gh/v2/pkg/api"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
)

// testToken looks like a real token so that any leak of it is unmistakable.
const testToken = "ghp_Zq8TESTtokenNeverPrint3dXy0123456789"

// testRetry retries quickly.
var testRetry = github.Retry{Attempts: 4, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// newClient is a client of the fake's repository.
func newClient(tb testing.TB, gh *githubtest.Server, transport http.RoundTripper) *github.Client {
	tb.Helper()
	c, err := github.New(github.Options{APIBase: gh.APIURL(), Host: github.TokenHost(gh.APIURL()), Repo: gh.Repo, Token: testToken, Transport: transport, Retry: testRetry})
	must(tb, err)
	return c
}

func TestParseRemote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		remote, host, repo string
		ok                 bool
	}{
		{"git@github.com:novasphere/novasphere-iso.git", "github.com", "novasphere/novasphere-iso", true},
		{"https://github.com/novasphere/novasphere-iso", "github.com", "novasphere/novasphere-iso", true},
		{"https://x-access-token:secret@github.com/novasphere/novasphere-iso.git", "github.com", "novasphere/novasphere-iso", true},
		{"ssh://git@ghe.example.com:2222/infra/novasphere-iso.git", "ghe.example.com", "infra/novasphere-iso", true},
		{"/srv/git/novasphere-iso.git", "", "", false},
		{"https://github.com/novasphere", "", "", false},
	} {
		host, repo, ok := github.ParseRemote(tc.remote)
		if host != tc.host || repo != tc.repo || ok != tc.ok {
			t.Errorf("ParseRemote(%q) = %q, %q, %v; want %q, %q, %v", tc.remote, host, repo, ok, tc.host, tc.repo, tc.ok)
		}
	}
}

func TestAPIBaseForHostAndTokenHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ host, base, tokenHost string }{
		{"", "https://api.github.com", "github.com"},
		{"GitHub.com", "https://api.github.com", "github.com"},
		{"api.github.com", "https://api.github.com", "github.com"},
		{"octo.ghe.com", "https://api.octo.ghe.com", "octo.ghe.com"},
		{"ghe.example.com", "https://ghe.example.com/api/v3", "ghe.example.com"},
	} {
		base := github.APIBaseForHost(tc.host)
		if base != tc.base || github.TokenHost(base) != tc.tokenHost {
			t.Errorf("%q: API base %q, token host %q; want %q, %q", tc.host, base, github.TokenHost(base), tc.base, tc.tokenHost)
		}
	}
}

func TestNewRefusesAnEmptyToken(t *testing.T) {
	t.Parallel()
	if _, err := github.New(github.Options{APIBase: "https://api.github.com", Host: "github.com", Repo: "a/b"}); err == nil {
		t.Error("a client without a token was built")
	}
}

func TestCheckRepositoryTellsRefusedTokenFromUnknownRepository(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, testToken)
	ctx := context.Background()
	must(t, newClient(t, gh, nil).CheckRepository(ctx))
	bad, err := github.New(github.Options{APIBase: gh.APIURL(), Host: "127.0.0.1", Repo: gh.Repo, Token: "ghp_revoked", Retry: testRetry})
	must(t, err)
	if err := bad.CheckRepository(ctx); !github.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("refused token: %v, want HTTP 401", err)
	}
	other, err := github.New(github.Options{APIBase: gh.APIURL(), Host: "127.0.0.1", Repo: "novasphere/other", Token: testToken, Retry: testRetry})
	must(t, err)
	if err := other.CheckRepository(ctx); !github.IsStatus(err, http.StatusNotFound) {
		t.Errorf("unknown repository: %v, want HTTP 404", err)
	}
}

func TestTagCommitAndHasCommit(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, testToken)
	c := newClient(t, gh, nil)
	ctx := context.Background()
	commit, other := strings.Repeat("c", 40), strings.Repeat("d", 40)
	gh.PushTag("v1.0.0", commit)
	gh.PushAnnotatedTag("v1.1.0", other)
	for _, tc := range []struct {
		tag, commit string
		annotated   bool
	}{{"v1.0.0", commit, false}, {"v1.1.0", other, true}, {"v2.0.0", "", false}} {
		got, annotated, err := c.TagCommit(ctx, tc.tag)
		if err != nil || got != tc.commit || annotated != tc.annotated {
			t.Errorf("TagCommit(%s) = %q, %v, %v; want %q, %v", tc.tag, got, annotated, err, tc.commit, tc.annotated)
		}
	}
	for sha, want := range map[string]bool{commit: true, strings.Repeat("e", 40): false} {
		if got, err := c.HasCommit(ctx, sha); err != nil || got != want {
			t.Errorf("HasCommit(%s) = %v, %v; want %v", sha[:7], got, err, want)
		}
	}
}

func TestFindReleaseFindsDraftsAndLatest(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, testToken)
	c := newClient(t, gh, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	gh.Seed("v1.0.0", false, false, now.Add(-time.Hour), nil)
	gh.Seed("v1.1.0", true, false, now, nil)
	for tag, draft := range map[string]bool{"v1.0.0": false, "v1.1.0": true} {
		rel, err := c.FindRelease(ctx, tag)
		if err != nil || rel == nil || rel.TagName != tag || rel.Draft != draft {
			t.Errorf("FindRelease(%s) = %+v, %v; want the release, draft %v", tag, rel, err, draft)
		}
	}
	if rel, err := c.FindRelease(ctx, "v9.0.0"); rel != nil || err != nil {
		t.Errorf("FindRelease of an unknown tag = %+v, %v; want nil, nil", rel, err)
	}
	if latest, err := c.LatestRelease(ctx); err != nil || latest == nil || latest.TagName != "v1.0.0" {
		t.Errorf("LatestRelease = %+v, %v; want v1.0.0 (a draft is never latest)", latest, err)
	}
}

// TestUploadLifecycle: a dropped upload leaves a "starter" asset, which
// makes the next upload of the name fail with already_exists until it is
// deleted; a complete upload carries its digest and downloads back, and
// the token never reaches the storage host.
func TestUploadLifecycle(t *testing.T) {
	t.Parallel()
	gh := githubtest.New(t, testToken)
	c := newClient(t, gh, nil)
	ctx := context.Background()
	head := strings.Repeat("a", 40)
	gh.Push(githubtest.DefaultBranch, head)
	rel, err := c.CreateDraft(ctx, github.Draft{Tag: "v1.0.0", Commit: head, Name: "NovaSphere installer v1.0.0", Body: "notes"})
	must(t, err)
	data := bytes.Repeat([]byte("novasphere"), 100<<10)
	gh.FailUpload("SHA256SUMS", githubtest.Fault{DropAfter: 64 << 10})
	if _, err := c.UploadOnce(ctx, rel, "SHA256SUMS", bytes.NewReader(data), int64(len(data)), nil); err == nil {
		t.Fatal("an upload whose connection dropped succeeded")
	}
	assets, err := c.ListAssets(ctx, rel.ID)
	if err != nil || len(assets) != 1 || assets[0].State != "starter" {
		t.Fatalf("after the dropped upload: %+v, %v; want one starter asset", assets, err)
	}
	_, err = c.UploadOnce(ctx, rel, "SHA256SUMS", bytes.NewReader(data), int64(len(data)), nil)
	if !github.IsAlreadyExists(err) {
		t.Fatalf("upload over the starter: %v, want already_exists", err)
	}
	must(t, c.DeleteAsset(ctx, assets[0].ID))
	must(t, c.DeleteAsset(ctx, assets[0].ID)) // already gone counts as deleted
	var seen int64
	got, err := c.UploadOnce(ctx, rel, "SHA256SUMS", bytes.NewReader(data), int64(len(data)), func(n int64) { seen = n })
	must(t, err)
	if got.State != "uploaded" || got.Size != int64(len(data)) || !strings.HasPrefix(got.Digest, "sha256:") || seen != int64(len(data)) {
		t.Errorf("uploaded asset %+v (progress saw %d bytes)", got, seen)
	}
	back, err := c.DownloadAsset(ctx, got, 2<<20)
	if err != nil || !bytes.Equal(back, data) {
		t.Errorf("download: %d bytes, %v; want the %d uploaded", len(back), err, len(data))
	}
	if _, err := c.DownloadAsset(ctx, got, 1024); err == nil || !strings.Contains(err.Error(), "more than 1024 bytes") {
		t.Errorf("download over the limit: %v", err)
	}
	if leaks := gh.TokenLeaks(); len(leaks) > 0 {
		t.Errorf("token leaks: %v", leaks)
	}
	published, err := c.UpdateRelease(ctx, rel.ID, github.ReleasePatch{Draft: new(bool), MakeLatest: "true"})
	if err != nil || published.Draft || gh.LatestTag() != "v1.0.0" || gh.TagCommit("v1.0.0") != head {
		t.Errorf("publishing: %+v, %v; latest %q, tag at %q", published, err, gh.LatestTag(), gh.TagCommit("v1.0.0"))
	}
}

// TestRetryNotesGoToOut: a request that fails with a server error is
// retried, with a note on the client's writer.
func TestRetryNotesGoToOut(t *testing.T) {
	t.Parallel()
	gh := githubtest.NewHTTP2(t, testToken)
	var out bytes.Buffer
	c, err := github.New(github.Options{APIBase: gh.APIURL(), Host: "127.0.0.1", Repo: gh.Repo, Token: testToken, Retry: testRetry, Out: &out})
	must(t, err)
	// The certificate is not trusted: not retried, and nothing noted.
	if err := c.CheckRepository(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("a certificate error was retried:\n%s", out.String())
	}
	tr := github.UploadTransport().(*http.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(gh.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	rel := gh.Seed("v1.0.0", true, false, time.Now(), nil)
	gh.FailUpload("MD5SUMS", githubtest.Fault{Status: http.StatusBadGateway})
	c, err = github.New(github.Options{APIBase: gh.APIURL(), Host: "127.0.0.1", Repo: gh.Repo, Token: testToken, Transport: tr, Retry: testRetry, Out: &out})
	must(t, err)
	found, err := c.FindRelease(context.Background(), "v1.0.0")
	must(t, err)
	err = testRetry.Do(context.Background(), &out, "upload MD5SUMS", func(int) error {
		_, err := c.UploadOnce(context.Background(), found, "MD5SUMS", strings.NewReader("x\n"), 2, nil)
		return err
	})
	must(t, err)
	if !strings.Contains(out.String(), "upload MD5SUMS failed (attempt 1 of 4): HTTP 502") {
		t.Errorf("no retry note:\n%s", out.String())
	}
	if got := gh.Release("v1.0.0"); got == nil || got.ID != rel.ID || len(got.Assets) != 1 {
		t.Errorf("after the retried upload: %+v", got)
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
		{"leftover cleaned up", fmt.Errorf("%w: exists", github.ErrRetry), true},
		{"not found", &api.HTTPError{StatusCode: http.StatusNotFound}, false},
		{"cancelled", post(context.Canceled), false},
		{"untrusted certificate", post(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{"local error", errors.New("open dist/x.iso: permission denied"), false},
	} {
		if got := github.Retryable(tc.err); got != tc.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
