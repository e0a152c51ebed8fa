package release

import (
	"math"
	"regexp"
	"strconv"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
)

var semverRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?$`)

// versionLess orders two versions of the same kind: vX.Y.Z[-rc.N] (a
// release candidate before its release) or YYYYMMDD. ok is false when they
// cannot be compared (a date and a semantic version, or another tag).
func versionLess(a, b string) (less, ok bool) {
	ka, oka := versionKey(a)
	kb, okb := versionKey(b)
	if !oka || !okb || len(ka) != len(kb) {
		return false, false
	}
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i], true
		}
	}
	return false, true
}

func versionKey(v string) ([]int, bool) {
	if m := semverRE.FindStringSubmatch(v); m != nil {
		key := make([]int, 4)
		for i := 0; i < 3; i++ {
			key[i], _ = strconv.Atoi(m[i+1])
		}
		key[3] = math.MaxInt // a release sorts after its candidates
		if m[4] != "" {
			key[3], _ = strconv.Atoi(m[4])
		}
		return key, true
	}
	if config.ValidateVersion(v) == nil {
		n, _ := strconv.Atoi(v)
		return []int{n}, true
	}
	return nil, false
}

// isRC reports a release candidate, vX.Y.Z-rc.N: always a prerelease,
// never latest.
func isRC(version string) bool {
	m := semverRE.FindStringSubmatch(version)
	return m != nil && m[4] != ""
}

// canBeLatest reports a release that may be latest: published, not a
// prerelease and not a release candidate (even one published without the
// prerelease flag).
func canBeLatest(r *github.Release) bool {
	return !r.Draft && !r.Prerelease && r.PublishedAt != nil && !isRC(r.TagName)
}

// highestOf returns the release with the highest version among those of
// all, except the release with the ID skip (0: none), that can be latest and whose
// versions compare with kind's; nil when there is none.
func highestOf(all []github.Release, skip int64, kind string) *github.Release {
	var best *github.Release
	for i := range all {
		c := &all[i]
		if c.ID == skip || !canBeLatest(c) {
			continue
		}
		if _, ok := versionLess(c.TagName, kind); !ok {
			continue
		}
		if less, _ := versionLess(tagOf(best), c.TagName); best == nil || less {
			best = c
		}
	}
	return best
}

// makeLatest is the make_latest value for publishing version: "true" when
// no published release of the same kind (semantic versions among
// themselves, dates among themselves) has a higher version, so that a
// backport (v1.0.1 after v1.1.0) or an older version published again does
// not take "latest" from a newer one; then newer is that release. A
// release candidate is never latest. Releases of the other kind, drafts and
// prereleases do not count.
func makeLatest(version string, all []github.Release) (latest string, newer *github.Release) {
	if isRC(version) {
		return "false", nil
	}
	others := make([]github.Release, 0, len(all))
	for _, r := range all {
		if r.TagName != version {
			others = append(others, r)
		}
	}
	best := highestOf(others, 0, version)
	if less, _ := versionLess(version, tagOf(best)); best != nil && less {
		return "false", best
	}
	return "true", nil
}

// nextLatest is the release to make latest once bad, the latest, is
// withdrawn: the published non-prerelease with the highest version of bad's
// kind other than bad (higher than bad too: a backport that wrongly became
// latest gives way to the newer release); when no other release's version
// compares with bad's, the most recently published one. nil when there is
// no published release left.
func nextLatest(all []github.Release, bad *github.Release) *github.Release {
	if best := highestOf(all, bad.ID, bad.TagName); best != nil {
		return best
	}
	var newest *github.Release
	for i := range all {
		c := &all[i]
		if c.ID == bad.ID || !canBeLatest(c) {
			continue
		}
		if newest == nil || c.PublishedAt.After(*newest.PublishedAt) {
			newest = c
		}
	}
	return newest
}

// tagOf is r's tag, "" for nil.
func tagOf(r *github.Release) string {
	if r == nil {
		return ""
	}
	return r.TagName
}
