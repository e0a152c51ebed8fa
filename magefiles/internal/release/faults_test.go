package release

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// TestReleaseKilledAtManyPointsFinishes SIGKILLs a real release process at
// 20 points spread over the requests an undisturbed release makes to
// GitHub (creating the draft, each upload, the read-back, publishing),
// then releases again: the result is one published release with exactly
// the built files, whatever the point.
func TestReleaseKilledAtManyPointsFinishes(t *testing.T) {
	const isoSize = 3 << 20
	ref := newFixture(t, "v1.0.0", isoSize)
	if out, err := ref.run(); err != nil {
		t.Fatalf("undisturbed release: %v\n%s", err, out)
	}
	total := ref.gh.RequestCount()
	const points = 20
	killed, recovered := 0, 0
	for i := range points {
		at := 1 + i*(total-1)/(points-1)
		fx := newFixture(t, "v1.0.0", isoSize)
		if killReleaseAt(t, fx, at) {
			killed++
		}
		out, err := fx.run()
		if err != nil {
			t.Errorf("release after a kill at request %d of %d: %v\n%s", at, total, err, out)
			continue
		}
		assertPublished(t, fx)
		recovered++
	}
	t.Logf("release fault injection: %d points over %d requests, %d killed while running, %d releases finished correctly", points, total, killed, recovered)
	if killed < points-2 {
		t.Errorf("only %d of %d points killed a running release", killed, points)
	}
}

// killReleaseAt runs a release in a child process and SIGKILLs it once the
// fake GitHub has received n requests. It reports whether it killed it.
func killReleaseAt(t *testing.T, fx *fixture, n int) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"RELEASE_HELPER_ROOT="+fx.root, "RELEASE_HELPER_VERSION="+fx.version,
		config.EnvGHToken+"="+testToken, config.EnvGitHubToken+"=",
		config.EnvRepository+"="+fx.env[config.EnvRepository], config.EnvAPIURL+"="+fx.env[config.EnvAPIURL],
		"GH_HOST=", "GH_ENTERPRISE_TOKEN=", config.EnvSCPTarget+"=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(time.Minute)
	for fx.gh.RequestCount() < n {
		select {
		case <-done:
			return false
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the release made fewer than %d requests in a minute", n)
		case <-time.After(100 * time.Microsecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		<-done
		return false // it had finished: not killed while running
	}
	<-done
	return true
}
