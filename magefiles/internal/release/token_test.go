package release

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
)

// TestTokenNeverAppearsInAnyOutput runs whole releases in a child process
// (this test binary) with the token in the real environment and GH_DEBUG=api
// (go-gh's switch for logging every request and its headers), and captures
// everything the child writes to stdout and stderr: a release with a
// retried 500 and a dropped connection, a re-run, and a run with a token
// GitHub refuses. The token must appear in none of it, and the fake GitHub
// must have seen it only in the Authorization header of API requests.
func TestTokenNeverAppearsInAnyOutput(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 2<<20)
	fx.gh.FailUpload(dist.ISOName("v1.0.0"), githubtest.Fault{DropAfter: 256 << 10})
	fx.gh.FailUpload(dist.SHA256SumsName, githubtest.Fault{Status: 503})
	refused := "ghp_refusedTokenMustNotShow0123456789"
	for _, run := range []struct {
		name, token, want string
		fails             bool
	}{
		{"first release with retries", testToken, "published v1.0.0", false},
		{"re-run", testToken, "nothing changed", false},
		{"refused token", refused, "Bad credentials", true},
	} {
		out, err := releaseInChild(t, fx, run.token)
		if (err != nil) != run.fails {
			t.Fatalf("%s: child exit %v\n%s", run.name, err, out)
		}
		if !strings.Contains(out, run.want) {
			t.Errorf("%s: output lacks %q:\n%s", run.name, run.want, out)
		}
		for _, secret := range []string{testToken, refused} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: a token appears in the output:\n%s", run.name, out)
			}
		}
	}
	if leaks := fx.gh.TokenLeaks(); len(leaks) > 0 {
		t.Errorf("the token was sent outside the Authorization header: %v", leaks)
	}
}

// releaseInChild runs Run in a child process with the real environment
// and returns its combined stdout and stderr.
func releaseInChild(t *testing.T, fx *fixture, token string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"RELEASE_HELPER_ROOT="+fx.root, "RELEASE_HELPER_VERSION="+fx.version,
		config.EnvGHToken+"="+token, config.EnvGitHubToken+"="+token,
		config.EnvRepository+"="+fx.env[config.EnvRepository], config.EnvAPIURL+"="+fx.env[config.EnvAPIURL],
		"GH_DEBUG=api", "GH_HOST=", "GH_ENTERPRISE_TOKEN=", config.EnvSCPTarget+"=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMain lets this test binary be the child of
// TestTokenNeverAppearsInAnyOutput: with RELEASE_HELPER_ROOT set it runs one
// release with the process's own environment, stdout and stderr, and exits.
func TestMain(m *testing.M) {
	if root := os.Getenv("RELEASE_HELPER_ROOT"); root != "" {
		settings, err := config.ReleaseFromEnv(config.OSEnv())
		if err == nil {
			version := os.Getenv("RELEASE_HELPER_VERSION")
			err = Run(context.Background(), Options{Version: version, Root: root, Settings: settings, Retry: testRetry,
				Artifacts: builtArtifacts(filepath.Join(root, "dist"), version)})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "release failed:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
