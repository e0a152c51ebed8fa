package release

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
)

// rollbackFixture seeds a repository whose newest release v1.1.0 is bad. A
// backport v0.9.1 was published after v1.0.0, so "newest before v1.1.0" and
// GitHub's own fallback would both pick it; the right latest is v1.0.0.
func rollbackFixture(t *testing.T) (*fixture, map[string]*githubtest.Release) {
	fx := newFixture(t, "v1.1.0", 1024)
	now := time.Now().UTC()
	rels := map[string]*githubtest.Release{
		"v0.9.0":      fx.gh.Seed("v0.9.0", false, false, now.Add(-72*time.Hour), nil),
		"v1.0.0":      fx.gh.Seed("v1.0.0", false, false, now.Add(-48*time.Hour), nil),
		"v0.9.1":      fx.gh.Seed("v0.9.1", false, false, now.Add(-24*time.Hour), nil),
		"v1.2.0-rc.1": fx.gh.Seed("v1.2.0-rc.1", false, true, now.Add(-2*time.Hour), nil),
		"v1.1.0":      fx.gh.Seed("v1.1.0", false, false, now.Add(-time.Hour), map[string][]byte{"SHA256SUMS": []byte("x")}),
	}
	fx.gh.SetLatest(rels["v1.1.0"].ID)
	return fx, rels
}

func rollback(fx *fixture, mods ...func(*RollbackOptions)) (string, error) {
	fx.t.Helper()
	return fx.capture(time.Minute, func(ctx context.Context, out io.Writer) error {
		o := RollbackOptions{Version: fx.version, Root: fx.root, Out: out, Settings: fx.settings(), Retry: testRetry}
		for _, m := range mods {
			m(&o)
		}
		return Rollback(ctx, o)
	})
}

func TestRollbackMakesTheReleaseADraftAndThePreviousLatest(t *testing.T) {
	t.Parallel()
	fx, rels := rollbackFixture(t)
	out, err := rollback(fx)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if bad := fx.gh.Release("v1.1.0"); !bad.Draft {
		t.Error("v1.1.0 is still published")
	}
	if got := fx.gh.LatestTag(); got != "v1.0.0" {
		t.Errorf("latest is %s, want v1.0.0", got)
	}
	wantPatch := fmt.Sprintf("/repos/novasphere/novasphere-iso/releases/%d", rels["v1.0.0"].ID)
	found := false
	for _, w := range fx.gh.Writes() {
		found = found || (w.Method == http.MethodPatch && w.Path == wantPatch && w.Status == 200)
	}
	if !found {
		t.Errorf("no make_latest PATCH of v1.0.0 among %v", fx.gh.Writes())
	}
	for _, want := range []string{"turn v1.1.0 back into a draft", "make v1.0.0 the latest release again", "rolled back v1.1.0; latest is now v1.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The files stay, and a second rollback changes nothing.
	if bad := fx.gh.Release("v1.1.0"); len(bad.Assets) != 1 {
		t.Errorf("rollback removed files: %d left", len(bad.Assets))
	}
	before := len(fx.gh.Writes())
	if out, err := rollback(fx); err != nil {
		t.Fatalf("second rollback: %v\n%s", err, out)
	}
	if w := fx.gh.Writes()[before:]; len(w) != 0 {
		t.Errorf("second rollback made write requests: %v", w)
	}
}

func TestRollbackToPrerelease(t *testing.T) {
	t.Parallel()
	fx, _ := rollbackFixture(t)
	out, err := rollback(fx, func(o *RollbackOptions) { o.Prerelease = true })
	if err != nil {
		t.Fatalf("rollback -prerelease: %v\n%s", err, out)
	}
	bad := fx.gh.Release("v1.1.0")
	if bad.Draft || !bad.Prerelease {
		t.Errorf("v1.1.0: draft %v, prerelease %v; want a published prerelease", bad.Draft, bad.Prerelease)
	}
	if got := fx.gh.LatestTag(); got != "v1.0.0" {
		t.Errorf("latest is %s, want v1.0.0", got)
	}
}

func TestRollbackDryRunAndUnknownVersion(t *testing.T) {
	t.Parallel()
	fx, _ := rollbackFixture(t)
	out, err := rollback(fx, func(o *RollbackOptions) { o.DryRun = true })
	if err != nil {
		t.Fatalf("rollback -dryrun: %v\n%s", err, out)
	}
	if w := fx.gh.Writes(); len(w) != 0 {
		t.Errorf("dry run made write requests: %v", w)
	}
	if !strings.Contains(out, "make v1.0.0 the latest release again") {
		t.Errorf("dry run does not show the plan:\n%s", out)
	}
	_, err = rollback(fx, func(o *RollbackOptions) { o.Version = "v3.0.0" })
	if err == nil || !strings.Contains(err.Error(), "has no release v3.0.0") {
		t.Errorf("rollback of an unknown version: %v", err)
	}
}

func TestVersionOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b     string
		less, ok bool
	}{
		{"v1.0.0", "v1.1.0", true, true},
		{"v1.10.0", "v1.9.0", false, true},
		{"v1.2.0-rc.1", "v1.2.0", true, true},
		{"v1.2.0-rc.2", "v1.2.0-rc.10", true, true},
		{"20261127", "20261201", true, true},
		{"20261127", "v1.0.0", false, false},
		{"latest", "v1.0.0", false, false},
	} {
		less, ok := versionLess(tc.a, tc.b)
		if less != tc.less || ok != tc.ok {
			t.Errorf("versionLess(%s, %s) = %v, %v; want %v, %v", tc.a, tc.b, less, ok, tc.less, tc.ok)
		}
	}
}

// latestFixture seeds v1.0.0, v1.1.0 and v1.2.0, all published, with the
// release named latest marked latest on GitHub; the fixture's version is
// the one to roll back.
func latestFixture(t *testing.T, bad, latest string) (*fixture, map[string]*githubtest.Release) {
	fx := newFixture(t, bad, 1024)
	now := time.Now().UTC()
	rels := map[string]*githubtest.Release{}
	for i, tag := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		rels[tag] = fx.gh.Seed(tag, false, false, now.Add(time.Duration(i-3)*24*time.Hour), nil)
	}
	fx.gh.SetLatest(rels[latest].ID)
	return fx, rels
}

func TestRollbackOfAReleaseThatIsNotLatestKeepsLatest(t *testing.T) {
	t.Parallel()
	for _, prerelease := range []bool{false, true} {
		t.Run(fmt.Sprintf("prerelease=%v", prerelease), func(t *testing.T) {
			t.Parallel()
			fx, rels := latestFixture(t, "v1.1.0", "v1.2.0")
			out, err := rollback(fx, func(o *RollbackOptions) { o.Prerelease = prerelease })
			if err != nil {
				t.Fatalf("rollback: %v\n%s", err, out)
			}
			if bad := fx.gh.Release("v1.1.0"); bad.Draft == prerelease || bad.Prerelease != prerelease {
				t.Errorf("v1.1.0: draft %v, prerelease %v; want it withdrawn", bad.Draft, bad.Prerelease)
			}
			if got := fx.gh.LatestTag(); got != "v1.2.0" {
				t.Errorf("latest is %s after withdrawing v1.1.0, want v1.2.0 (it was latest and is fine)", got)
			}
			want := fmt.Sprintf("/repos/novasphere/novasphere-iso/releases/%d", rels["v1.1.0"].ID)
			for _, w := range fx.gh.Writes() {
				if w.Path != want {
					t.Errorf("rollback of v1.1.0 wrote to another release: %v", w)
				}
			}
			for _, want := range []string{"v1.1.0 is not the latest release: v1.2.0 stays latest", "rolled back v1.1.0; latest is still v1.2.0"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// A backport that wrongly became latest (v1.0.1 after v1.2.0) is rolled
// back: the highest version left, v1.2.0, becomes latest, although it is
// not below the bad one.
func TestRollbackOfLatestBackportRestoresTheHighestVersion(t *testing.T) {
	t.Parallel()
	fx, rels := latestFixture(t, "v1.0.1", "v1.2.0")
	rels["v1.0.1"] = fx.gh.Seed("v1.0.1", false, false, time.Now().UTC().Add(-time.Hour), nil)
	fx.gh.SetLatest(rels["v1.0.1"].ID)
	out, err := rollback(fx)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if got := fx.gh.LatestTag(); got != "v1.2.0" {
		t.Errorf("latest is %s after withdrawing v1.0.1, want v1.2.0", got)
	}
	if !strings.Contains(out, "rolled back v1.0.1; latest is now v1.2.0") {
		t.Errorf("output does not name the new latest:\n%s", out)
	}
}

// Date versions compare among themselves; the newest date left wins.
func TestRollbackOfLatestDateVersion(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "20261201", 1024)
	now := time.Now().UTC()
	fx.gh.Seed("20261127", false, false, now.Add(-72*time.Hour), nil)
	fx.gh.Seed("20261130", false, false, now.Add(-48*time.Hour), nil)
	fx.gh.Seed("20261115", false, false, now.Add(-24*time.Hour), nil) // a late re-release of an old build
	fx.gh.SetLatest(fx.gh.Seed("20261201", false, false, now.Add(-time.Hour), nil).ID)
	out, err := rollback(fx)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if got := fx.gh.LatestTag(); got != "20261130" {
		t.Errorf("latest is %s after withdrawing 20261201, want 20261130", got)
	}
}
