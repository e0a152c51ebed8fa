package release

import (
	"errors"
	"strings"
	"testing"
)

// wantStopped checks that the release stopped at the checklist on exactly
// one failed line, sent GitHub no write request and printed every want.
func wantStopped(t *testing.T, fx *fixture, out string, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrChecklist) {
		t.Fatalf("release: %v, want the checklist to stop it\n%s", err, out)
	}
	if w := fx.gh.Writes(); len(w) != 0 {
		t.Errorf("%d write request(s) despite the failed checklist: %v", len(w), w)
	}
	if got := strings.Count(out, "  ✗ "); got != 1 {
		t.Errorf("%d failed lines, want exactly 1:\n%s", got, out)
	}
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// moveHeadPastTheTag commits (and pushes) a change after the current HEAD,
// rebuilds dist/ there and returns the commit it left behind.
func (fx *fixture) moveHeadPastTheTag() string {
	fx.t.Helper()
	tagged := fx.head()
	fx.write("docs/after-the-tag.md", "A fix made after the tag.\n")
	fx.commit("fix after the tag")
	fx.writeBuild(fx.iso)
	return tagged
}

// pushTagKind pushes a lightweight or annotated tag for the version.
func (fx *fixture) pushTagKind(annotated bool, commit string) {
	if annotated {
		fx.gh.PushAnnotatedTag(fx.version, commit)
		return
	}
	fx.gh.PushTag(fx.version, commit)
}

// TestTagAtHeadIsReleased: a tag pushed before the release, at HEAD,
// lightweight or annotated (dereferenced to its commit), lets the release
// through and stays where it is.
func TestTagAtHeadIsReleased(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		annotated bool
		detail    string
	}{
		{"lightweight", false, "      tag v1.0.0 on GitHub points at HEAD "},
		{"annotated", true, "      annotated tag v1.0.0 on GitHub points at HEAD "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "v1.0.0", 64<<10)
			fx.pushTagKind(tc.annotated, fx.head())
			out, err := fx.run()
			if err != nil {
				t.Fatalf("release with tag v1.0.0 at HEAD: %v\n%s", err, out)
			}
			assertPublished(t, fx)
			if want := "✓ tag v1.0.0 is at HEAD\n" + tc.detail + short(fx.head()); !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if got := fx.gh.TagCommit("v1.0.0"); got != fx.head() {
				t.Errorf("tag v1.0.0 is at %q after the release, want HEAD %s", got, fx.head())
			}
		})
	}
}

// TestTagAtAnotherCommitStopsTheRelease: GitHub would publish files built
// from HEAD under a tag for another commit (it ignores target_commitish
// when the tag exists), so the checklist stops before any write; for an
// annotated tag it names the commit the tag object points at.
func TestTagAtAnotherCommitStopsTheRelease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		annotated bool
	}{
		{"lightweight", false},
		{"annotated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "v1.0.0", 64<<10)
			tagged := fx.moveHeadPastTheTag()
			fx.pushTagKind(tc.annotated, tagged)
			out, err := fx.run()
			wantStopped(t, fx, out, err, "✗ tag v1.0.0 is at HEAD",
				"tag v1.0.0 points at "+short(tagged)+", HEAD is "+short(fx.head())+": check out the tag (git checkout v1.0.0) and release from there, or use a new version",
				"GitHub ignores the release's target commit when the tag exists")
			if got := fx.gh.TagCommit("v1.0.0"); got != tagged {
				t.Errorf("tag v1.0.0 moved to %q", got)
			}
		})
	}
}

// TestUnpushedHeadStopsTheRelease: with no tag yet, publishing creates it
// at HEAD, which GitHub refuses for a commit it does not have; the
// checklist says so before anything is created or uploaded.
func TestUnpushedHeadStopsTheRelease(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 64<<10)
	fx.write("docs/local-only.md", "Not pushed.\n")
	fx.commitLocal("a commit only in this checkout")
	fx.writeBuild(fx.iso)
	out, err := fx.run()
	wantStopped(t, fx, out, err, "✗ tag v1.0.0 is at HEAD",
		"HEAD "+short(fx.head())+" is not on GitHub: push it first (git push origin HEAD)")
	if fx.gh.Release("v1.0.0") != nil {
		t.Error("a release was created for an unpushed HEAD")
	}
}

// TestDryRunShowsTheTagLine: a dry run asks GitHub about the tag too,
// shows the line, and stops on it like a real run.
func TestDryRunShowsTheTagLine(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 64<<10)
	out, err := fx.run(dryRun)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if want := "✓ tag v1.0.0 is at HEAD\n      no tag v1.0.0 on GitHub yet: publishing creates it at HEAD " + short(fx.head()) + ", which GitHub has"; !strings.Contains(out, want) {
		t.Errorf("dry-run output lacks %q:\n%s", want, out)
	}
	if w := fx.gh.Writes(); len(w) != 0 {
		t.Errorf("dry run made %d write request(s): %v", len(w), w)
	}

	tagged := fx.moveHeadPastTheTag()
	fx.gh.PushTag("v1.0.0", tagged)
	out, err = fx.run(dryRun)
	wantStopped(t, fx, out, err, "✗ tag v1.0.0 is at HEAD", "tag v1.0.0 points at "+short(tagged)+", HEAD is "+short(fx.head()))
}

// TestDraftFromAnEarlierCommitIsTaggedAtHead: a draft left by a run at an
// earlier commit targets that commit; finishing the release from a new
// HEAD (a rebuild, so -force) publishes it with HEAD as the target, where
// GitHub creates the tag.
func TestDraftFromAnEarlierCommitIsTaggedAtHead(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 64<<10)
	if out, err := fx.run(draft); err != nil {
		t.Fatalf("release -draft: %v\n%s", err, out)
	}
	if got := fx.gh.TagCommit("v1.0.0"); got != "" {
		t.Fatalf("a draft made tag v1.0.0 at %s; GitHub tags a release when it is published", got)
	}
	earlier := fx.moveHeadPastTheTag()
	out, err := fx.run(force)
	if err != nil {
		t.Fatalf("release -force from the new HEAD: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	if got := fx.gh.TagCommit("v1.0.0"); got != fx.head() {
		t.Errorf("tag v1.0.0 created at %s, want HEAD %s (the draft targeted %s)", got, fx.head(), earlier)
	}
}
