package release

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

func TestAPIBase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env        map[string]string
		originHost string
		want, err  string
	}{
		{nil, "", "https://api.github.com", ""},
		{nil, "github.com", "https://api.github.com", ""},
		{nil, "ghe.example.com", "https://ghe.example.com/api/v3", ""},
		{map[string]string{config.EnvGHHost: "octo.ghe.com"}, "", "https://api.octo.ghe.com", ""},
		{map[string]string{config.EnvGHHost: "ghe.example.com"}, "github.com", "https://ghe.example.com/api/v3", ""},
		{map[string]string{config.EnvAPIURL: "https://ghe.example.com/api/v3/", config.EnvGHHost: "github.com"}, "", "https://ghe.example.com/api/v3", ""},
		{map[string]string{config.EnvAPIURL: "api.github.com"}, "", "", "is not an http(s) URL"},
		{map[string]string{config.EnvGHHost: "https://github.com"}, "", "", "is not a host name"},
	} {
		// config refuses a malformed value when it loads; apiBase refuses
		// it too, for settings made by hand.
		settings, err := config.ReleaseFromEnv(config.MapEnv(tc.env))
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ReleaseFromEnv(%v): %v; want error %q", tc.env, err, tc.err)
		}
		if tc.err != "" {
			settings = config.ReleaseSettings{APIURL: tc.env[config.EnvAPIURL], Host: tc.env[config.EnvGHHost]}
		} else {
			must(t, err)
		}
		got, err := apiBase(settings, tc.originHost)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("apiBase(%v): %q, %v; want error %q", tc.env, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("apiBase(%v, %q) = %q, %v; want %q", tc.env, tc.originHost, got, err, tc.want)
		}
	}
}

// rewriteTransport sends every request to one test server and records
// which host it was meant for and whether it carried a token.
type rewriteTransport struct {
	target *url.URL
	mu     sync.Mutex
	auth   map[string][]bool
}

func (rt *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.auth[req.URL.Host] = append(rt.auth[req.URL.Host], req.Header.Get("Authorization") != "")
	rt.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(out)
}

// TestGitHubComHostsGetTheRightCredentials releases to "github.com" through
// an injected transport, with the repository taken from the origin remote:
// API calls go to api.github.com and uploads to uploads.github.com, both
// with the token; downloads are redirected to GitHub's storage host, which
// must not get it. (No digests, so the re-run downloads the small files.)
func TestGitHubComHostsGetTheRightCredentials(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 256<<10)
	fx.gh.Public, fx.gh.NoDigest = true, true
	delete(fx.env, config.EnvAPIURL)
	delete(fx.env, config.EnvRepository)
	fx.git("remote", "add", "origin", "git@github.com:novasphere/novasphere-iso.git")
	target, _ := url.Parse(fx.gh.URL())
	rt := &rewriteTransport{target: target, auth: map[string][]bool{}}
	useTransport := func(o *Options) { o.Transport = rt }
	for i := 0; i < 2; i++ {
		if out, err := fx.run(useTransport); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
	}
	assertPublished(t, fx)
	for host, wantAuth := range map[string]bool{"api.github.com": true, "uploads.github.com": true, "objects.githubusercontent.com": false} {
		seen := rt.auth[host]
		if len(seen) == 0 {
			t.Errorf("no request to %s", host)
		}
		for _, auth := range seen {
			if auth != wantAuth {
				t.Errorf("request to %s with token %v, want %v", host, auth, wantAuth)
				break
			}
		}
	}
	if leaks := fx.gh.TokenLeaks(); len(leaks) > 0 {
		t.Errorf("token leaks: %v", leaks)
	}
}

func TestRepositoryFromOriginNeverPrintsItsURL(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1024)
	delete(fx.env, config.EnvRepository)
	delete(fx.env, config.EnvAPIURL)
	fx.git("remote", "add", "origin", "https://x-access-token:ghs_remoteSecret123@github.com/novasphere/novasphere-iso.git")
	s, err := resolveGitHub(context.Background(), fx.settings(), fx.root)
	if err != nil {
		t.Fatal(err)
	}
	if s.Repo != "novasphere/novasphere-iso" || s.APIBase != "https://api.github.com" || s.Host != "github.com" {
		t.Errorf("repo %q, API %q, host %q; want novasphere/novasphere-iso, https://api.github.com, github.com", s.Repo, s.APIBase, s.Host)
	}
	fx.env[config.EnvAPIURL] = fx.gh.APIURL()
	out, _ := fx.run(dryRun)
	if strings.Contains(out, "ghs_remoteSecret123") {
		t.Errorf("the origin URL's credentials were printed:\n%s", out)
	}
}
