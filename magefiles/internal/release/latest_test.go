package release

import (
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
)

// publishOver seeds the given published releases on the fake, marks
// latest as latest and releases the fixture's version.
func publishOver(t *testing.T, version, latest string, published ...string) (*fixture, string) {
	t.Helper()
	fx := newFixture(t, version, 1024)
	now := time.Now().UTC()
	for i, tag := range published {
		r := fx.gh.Seed(tag, false, isRC(tag), now.Add(time.Duration(i-len(published))*time.Hour), nil)
		if tag == latest {
			fx.gh.SetLatest(r.ID)
		}
	}
	fx.changelogFor(version)
	out, err := fx.run()
	if err != nil {
		t.Fatalf("release %s: %v\n%s", version, err, out)
	}
	assertPublished(t, fx)
	return fx, out
}

// changelogFor gives the sample changelog's release section the version
// and rebuilds dist/ for the new commit.
func (fx *fixture) changelogFor(version string) {
	fx.t.Helper()
	if version == "v1.0.0" {
		return
	}
	fx.write(ChangelogName, strings.Replace(sampleChangelog, "## [1.0.0]", "## ["+strings.TrimPrefix(version, "v")+"]", 1))
	fx.commit("changelog for " + version)
	fx.writeBuild(fx.iso)
}

func TestBackportDoesNotBecomeLatest(t *testing.T) {
	t.Parallel()
	fx, out := publishOver(t, "v1.0.1", "v1.1.0", "v1.0.0", "v1.1.0")
	if got := fx.gh.LatestTag(); got != "v1.1.0" {
		t.Errorf("latest is %s after releasing the backport v1.0.1, want v1.1.0", got)
	}
	for _, want := range []string{"publish v1.0.1; v1.1.0 stays the latest release (a higher version)", "published v1.0.1 (v1.1.0 stays the latest release)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHigherVersionBecomesLatest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version, latest string
		published             []string
	}{
		{"semver", "v1.2.0", "v1.1.0", []string{"v1.0.0", "v1.10.0-rc.1", "v1.1.0"}},
		{"semver over a later backport", "v1.2.0", "v1.0.1", []string{"v1.1.0", "v1.0.1"}},
		{"date", "20261201", "20261130", []string{"20261127", "20261130"}},
		{"date over semver", "20261201", "v1.1.0", []string{"v1.1.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx, out := publishOver(t, tc.version, tc.latest, tc.published...)
			if got := fx.gh.LatestTag(); got != tc.version {
				t.Errorf("latest is %s after releasing %s, want %s", got, tc.version, tc.version)
			}
			if !strings.Contains(out, "publish "+tc.version+" and make it the latest release") {
				t.Errorf("output does not say %s becomes latest:\n%s", tc.version, out)
			}
		})
	}
}

func TestOlderDateVersionDoesNotBecomeLatest(t *testing.T) {
	t.Parallel()
	fx, _ := publishOver(t, "20261115", "20261130", "20261127", "20261130")
	if got := fx.gh.LatestTag(); got != "20261130" {
		t.Errorf("latest is %s after releasing the older 20261115, want 20261130", got)
	}
}

// Re-publishing an older release with -force (its files change) leaves
// the newer release latest; re-publishing the latest keeps it latest.
func TestForcedRepublishKeepsTheRightLatest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, want string }{{"v1.0.0", "v1.1.0"}, {"v1.1.0", "v1.1.0"}} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, tc.version, 1024)
			fx.changelogFor(tc.version)
			other := map[string]string{"v1.0.0": "v1.1.0", "v1.1.0": "v1.0.0"}[tc.version]
			if out, err := fx.run(); err != nil {
				t.Fatalf("first release: %v\n%s", err, out)
			}
			o := fx.gh.Seed(other, false, false, time.Now().UTC(), nil)
			if other == "v1.1.0" {
				fx.gh.SetLatest(o.ID)
			}
			fx.writeBuild(randomBytes(9, 2048))
			out, err := fx.run(force)
			if err != nil {
				t.Fatalf("release -force: %v\n%s", err, out)
			}
			assertPublished(t, fx)
			if got := fx.gh.LatestTag(); got != tc.want {
				t.Errorf("latest is %s after re-publishing %s, want %s", got, tc.version, tc.want)
			}
		})
	}
}

func TestMakeLatest(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	rel := func(id int64, tag string, draft, prerelease bool) github.Release {
		r := github.Release{ID: id, TagName: tag, Draft: draft, Prerelease: prerelease}
		if !draft {
			r.PublishedAt = &at
		}
		return r
	}
	all := []github.Release{
		rel(1, "v1.0.0", false, false), rel(2, "v1.1.0", false, false), rel(3, "v2.0.0", true, false),
		rel(4, "v1.5.0-rc.1", false, true), rel(5, "20261127", false, false),
		rel(6, "v1.7.0-rc.1", false, false), // a candidate published without the prerelease flag
	}
	for _, tc := range []struct {
		version, want, newer string
	}{
		{"v1.0.1", "false", "v1.1.0"},
		{"v1.1.0", "true", ""}, // re-publishing the highest
		{"v1.1.1", "true", ""},
		{"v1.2.0", "true", ""}, // the draft v2.0.0 and the candidates do not count
		{"v1.6.0-rc.1", "false", ""},
		{"20261126", "false", "20261127"},
		{"20261128", "true", ""},
	} {
		got, newer := makeLatest(tc.version, all)
		if got != tc.want || tagOf(newer) != tc.newer {
			t.Errorf("makeLatest(%s) = %q, %q; want %q, %q", tc.version, got, tagOf(newer), tc.want, tc.newer)
		}
	}
}
