package release

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rollbackFixture seeds a repository whose newest release v1.1.0 is bad. A
// backport v0.9.1 was published after v1.0.0, so "newest before v1.1.0" and
// GitHub's own fallback would both pick it; the right latest is v1.0.0.
func rollbackFixture(t *testing.T) (*fixture, map[string]*fakeRelease) {
	fx := newFixture(t, "v1.1.0", 1024)
	now := time.Now().UTC()
	rels := map[string]*fakeRelease{
		"v0.9.0":      fx.gh.seed("v0.9.0", false, false, now.Add(-72*time.Hour), nil),
		"v1.0.0":      fx.gh.seed("v1.0.0", false, false, now.Add(-48*time.Hour), nil),
		"v0.9.1":      fx.gh.seed("v0.9.1", false, false, now.Add(-24*time.Hour), nil),
		"v1.2.0-rc.1": fx.gh.seed("v1.2.0-rc.1", false, true, now.Add(-2*time.Hour), nil),
		"v1.1.0":      fx.gh.seed("v1.1.0", false, false, now.Add(-time.Hour), map[string][]byte{"SHA256SUMS": []byte("x")}),
	}
	fx.gh.latestID = rels["v1.1.0"].id
	return fx, rels
}

func rollback(fx *fixture, mods ...func(*RollbackOptions)) (string, error) {
	var out safeBuffer
	o := RollbackOptions{Version: fx.version, Root: fx.root, Out: &out, Getenv: fx.getenv, Retry: testRetry}
	for _, m := range mods {
		m(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Rollback(ctx, o)
	text := out.String()
	if err != nil {
		text += "error: " + err.Error() + "\n"
	}
	if strings.Contains(text, testToken) {
		fx.t.Errorf("the token appears in the output:\n%s", text)
	}
	return text, err
}

func TestRollbackMakesTheReleaseADraftAndThePreviousLatest(t *testing.T) {
	t.Parallel()
	fx, rels := rollbackFixture(t)
	out, err := rollback(fx)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if bad := fx.gh.release("v1.1.0"); !bad.draft {
		t.Error("v1.1.0 is still published")
	}
	if got := fx.gh.latestTag(); got != "v1.0.0" {
		t.Errorf("latest is %s, want v1.0.0", got)
	}
	wantPatch := fmt.Sprintf("/repos/novasphere/novasphere-iso/releases/%d", rels["v1.0.0"].id)
	found := false
	for _, w := range fx.gh.writes() {
		found = found || (w.Method == http.MethodPatch && w.Path == wantPatch && w.Status == 200)
	}
	if !found {
		t.Errorf("no make_latest PATCH of v1.0.0 among %v", fx.gh.writes())
	}
	for _, want := range []string{"turn v1.1.0 back into a draft", "make v1.0.0 the latest release again", "rolled back v1.1.0; latest is now v1.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The files stay, and a second rollback changes nothing.
	if bad := fx.gh.release("v1.1.0"); len(bad.assets) != 1 {
		t.Errorf("rollback removed files: %d left", len(bad.assets))
	}
	before := len(fx.gh.writes())
	if out, err := rollback(fx); err != nil {
		t.Fatalf("second rollback: %v\n%s", err, out)
	}
	if w := fx.gh.writes()[before:]; len(w) != 0 {
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
	bad := fx.gh.release("v1.1.0")
	if bad.draft || !bad.prerelease {
		t.Errorf("v1.1.0: draft %v, prerelease %v; want a published prerelease", bad.draft, bad.prerelease)
	}
	if got := fx.gh.latestTag(); got != "v1.0.0" {
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
	if w := fx.gh.writes(); len(w) != 0 {
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
