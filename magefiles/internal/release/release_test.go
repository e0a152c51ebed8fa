package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
)

// assertPublished checks that GitHub holds every file of this build,
// complete, with the right digest, in a published release.
func assertPublished(t *testing.T, fx *fixture) *githubtest.Release {
	t.Helper()
	rel := fx.gh.Release(fx.version)
	if rel == nil {
		t.Fatalf("no release %s on the fake GitHub", fx.version)
	}
	if rel.Draft {
		t.Fatalf("release %s is still a draft", fx.version)
	}
	want := map[string][]byte{dist.ISOName(fx.version): fx.iso}
	for _, name := range fx.published() {
		data, err := os.ReadFile(filepath.Join(fx.dist, name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = data
	}
	// A published signature that verifies over this SHA256SUMS with the
	// release key is kept in place of a new one (a re-sign makes new bytes).
	for _, a := range rel.Assets {
		if a.Name == dist.SignatureName && !bytes.Equal(a.Content, want[a.Name]) {
			if _, err := signing.Verify(fx.key.Public, want[dist.SHA256SumsName], a.Content); err == nil {
				want[a.Name] = a.Content
			}
		}
	}
	assertAssets(t, rel, want)
	return rel
}

// assertAssets checks a release has exactly these assets, uploaded.
func assertAssets(t *testing.T, rel *githubtest.Release, want map[string][]byte) {
	t.Helper()
	var got []string
	for _, a := range rel.Assets {
		got = append(got, a.Name)
		data, ok := want[a.Name]
		if !ok {
			t.Errorf("unexpected asset %s", a.Name)
			continue
		}
		sum := sha256.Sum256(data)
		if a.State != "uploaded" || a.Size != int64(len(data)) || a.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("asset %s: state %s, size %d, digest %s; want uploaded, %d, sha256:%x", a.Name, a.State, a.Size, a.Digest, len(data), sum)
		}
	}
	if len(got) != len(want) {
		t.Errorf("assets %v, want %d of them", got, len(want))
	}
}

func TestFirstReleasePublishesEveryFile(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 3<<20+17)
	out, err := fx.run()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	rel := assertPublished(t, fx)
	if fx.gh.LatestTag() != "v1.0.0" {
		t.Errorf("latest is %q, want v1.0.0", fx.gh.LatestTag())
	}
	if rel.Commitish != fx.head() {
		t.Errorf("release targets %q, want HEAD", rel.Commitish)
	}
	if got := fx.gh.TagCommit("v1.0.0"); got != fx.head() {
		t.Errorf("publishing made tag v1.0.0 at %q, want HEAD %s", got, fx.head())
	}
	for _, want := range []string{"### Known issues", "Secure Boot must be disabled", "### Upgrade", hex.EncodeToString(sum256(fx.iso))} {
		if !strings.Contains(rel.Body, want) {
			t.Errorf("release notes lack %q:\n%s", want, rel.Body)
		}
	}
	// Created as a draft, files uploaded, published last.
	w := fx.gh.Writes()
	if w[0].Method != http.MethodPost || !strings.HasSuffix(w[0].Path, "/releases") {
		t.Errorf("first write %v, want the draft's creation", w[0])
	}
	if last := w[len(w)-1]; last.Method != http.MethodPatch {
		t.Errorf("last write %v, want the PATCH that publishes", last)
	}
	for _, u := range fx.gh.UploadLog() {
		if u.ContentType != "application/octet-stream" || u.ContentLength <= 0 {
			t.Errorf("upload of %s: Content-Type %q, Content-Length %d", u.Name, u.ContentType, u.ContentLength)
		}
	}
	if n := strings.Count(out, "  ✓ "); n != 12 {
		t.Errorf("%d checklist lines passed, want 12:\n%s", n, out)
	}
	for _, want := range []string{"upload novasphere-installer-v1.0.0.iso:  90% (", "published v1.0.0: https://github.com/novasphere/novasphere-iso/releases/tag/v1.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func sum256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestRerunUploadsNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		noDigest bool
		prefix   string
	}{
		{"github.com with asset digests", false, ""},
		{"GitHub Enterprise Server without digests", true, "/api/v3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "v1.0.0", 1<<20)
			fx.gh.NoDigest, fx.gh.Prefix = tc.noDigest, tc.prefix
			fx.env[config.EnvAPIURL] = fx.gh.APIURL()
			if out, err := fx.run(); err != nil {
				t.Fatalf("first run: %v\n%s", err, out)
			}
			published := assertPublished(t, fx)
			if got := fx.gh.TagCommit(fx.version); got != fx.head() {
				t.Fatalf("the first run left tag %s at %q, want HEAD %s", fx.version, got, fx.head())
			}
			// verify ran again in between: same ISO, a new report.
			fx.editReport(func(m map[string]any) { m["time"] = "2026-11-28T09:30:00Z" })
			before := len(fx.gh.Writes())
			out, err := fx.run()
			if err != nil {
				t.Fatalf("second run: %v\n%s", err, out)
			}
			if !strings.Contains(out, "keep verify-report.json: GitHub's copy reports verify passed for this exact ISO (2026-11-27T10:00:00Z)") {
				t.Errorf("second run does not explain why it keeps GitHub's verify report:\n%s", out)
			}
			if w := fx.gh.Writes()[before:]; len(w) != 0 {
				t.Errorf("second run made %d write request(s): %v\n%s", len(w), w, out)
			}
			if !strings.Contains(out, "nothing changed") {
				t.Errorf("second run does not say nothing changed:\n%s", out)
			}
			if !strings.Contains(out, "✓ tag v1.0.0 is at HEAD\n      tag v1.0.0 on GitHub points at HEAD "+short(fx.head())) {
				t.Errorf("second run does not find the tag the first one made at HEAD:\n%s", out)
			}
			if leaks := fx.gh.TokenLeaks(); len(leaks) > 0 {
				t.Errorf("token sent outside the Authorization header of API requests: %v", leaks)
			}
			after := fx.gh.Release(fx.version)
			for i, a := range after.Assets {
				if a.Digest != published.Assets[i].Digest || a.ID != published.Assets[i].ID {
					t.Errorf("asset %s changed on the second run", a.Name)
				}
			}
		})
	}
}

func TestUploadRetriedAfterServerError(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 2<<20)
	fx.gh.FailUpload(dist.ISOName("v1.0.0"), githubtest.Fault{Status: http.StatusInternalServerError})
	out, err := fx.run()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	if n := countUploads(fx, dist.ISOName("v1.0.0")); n != 2 {
		t.Errorf("ISO uploaded %d times, want 2 (a 500, then success)", n)
	}
	if !strings.Contains(out, "failed (attempt 1 of 4): HTTP 500") {
		t.Errorf("output does not report the retried 500:\n%s", out)
	}
}

func TestUploadRetriedAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 4<<20)
	fx.gh.FailUpload(dist.ISOName("v1.0.0"), githubtest.Fault{DropAfter: 1 << 20})
	out, err := fx.run()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	if !strings.Contains(out, `removed an incomplete upload of novasphere-installer-v1.0.0.iso (state "starter")`) {
		t.Errorf("output does not report the leftover of the dropped upload:\n%s", out)
	}
	deleted := slices.ContainsFunc(fx.gh.Writes(), func(r githubtest.Request) bool { return r.Method == http.MethodDelete && r.Status == 204 })
	if !deleted {
		t.Error("the starter asset was not deleted")
	}
}

func TestUploadFailingForGoodLeavesADraft(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1<<20)
	var faults []githubtest.Fault
	for range testRetry.Attempts {
		faults = append(faults, githubtest.Fault{Status: http.StatusBadGateway})
	}
	fx.gh.FailUpload(dist.MD5SumsName, faults...)
	out, err := fx.run()
	if err == nil {
		t.Fatalf("release succeeded although every upload of MD5SUMS failed:\n%s", out)
	}
	if !strings.Contains(err.Error(), "stays a draft") {
		t.Errorf("error does not say the release stays a draft: %v", err)
	}
	rel := fx.gh.Release("v1.0.0")
	if rel == nil || !rel.Draft {
		t.Fatalf("half-failed release is visible as published: %+v", rel)
	}
	// Running again once GitHub is healthy finishes it.
	if out, err := fx.run(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	assertPublished(t, fx)
}

func countUploads(fx *fixture, name string) int {
	n := 0
	for _, u := range fx.gh.UploadLog() {
		if u.Name == name {
			n++
		}
	}
	return n
}

func TestDifferentContentNeedsForce(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1<<20)
	if out, err := fx.run(); err != nil {
		t.Fatalf("first release: %v\n%s", err, out)
	}
	fx.writeBuild(randomBytes(2, 1<<20)) // a rebuild with other content
	before := len(fx.gh.Writes())
	out, err := fx.run()
	if !errors.Is(err, ErrChecklist) {
		t.Fatalf("release of different content without -force: %v, want the checklist to stop it\n%s", err, out)
	}
	if w := fx.gh.Writes()[before:]; len(w) != 0 {
		t.Errorf("%d write request(s) without -force: %v", len(w), w)
	}
	for _, want := range []string{"✗ v1.0.0 not already published with different content", "novasphere-installer-v1.0.0.iso: sha256", "run again with -force"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, err = fx.run(force)
	if err != nil {
		t.Fatalf("release -force: %v\n%s", err, out)
	}
	assertPublished(t, fx)
	if !strings.Contains(out, "turned v1.0.0 back into a draft while its files change") {
		t.Errorf("the published release was changed without being hidden first:\n%s", out)
	}
}

func TestDryRunMakesNoWriteRequest(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1<<20)
	out, err := fx.run(dryRun)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if w := fx.gh.Writes(); len(w) != 0 {
		t.Errorf("dry run made %d write request(s): %v", len(w), w)
	}
	for _, want := range []string{"dry run: these actions would run", "create draft release v1.0.0", "upload novasphere-installer-v1.0.0.iso (1.0 MiB)", "upload SHA256SUMS", "publish v1.0.0 and make it the latest release", "dry run: nothing was uploaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
}

func TestDraftThenPublish(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0-rc.1", 1<<20)
	fx.write(ChangelogName, strings.Replace(sampleChangelog, "## [1.0.0] - 2026-11-27", "## [1.0.0-rc.1] - 2026-11-27", 1))
	fx.commit("changelog for the release candidate")
	out, err := fx.run(draft)
	if err != nil {
		t.Fatalf("release -draft: %v\n%s", err, out)
	}
	rel := fx.gh.Release("v1.0.0-rc.1")
	if rel == nil || !rel.Draft || len(rel.Assets) != 7 {
		t.Fatalf("after -draft: %+v, want a draft with 7 assets\n%s", rel, out)
	}
	if !strings.Contains(out, "publish it with: go run magefile.go release v1.0.0-rc.1") {
		t.Errorf("-draft does not say how to publish:\n%s", out)
	}
	uploads := len(fx.gh.UploadLog())
	out, err = fx.run()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	rel = fx.gh.Release("v1.0.0-rc.1")
	if rel.Draft || !rel.Prerelease {
		t.Errorf("release candidate: draft %v, prerelease %v; want a published prerelease", rel.Draft, rel.Prerelease)
	}
	if n := len(fx.gh.UploadLog()); n != uploads {
		t.Errorf("publishing the draft uploaded %d more file(s)", n-uploads)
	}
	if fx.gh.LatestTag() != "" {
		t.Errorf("a prerelease became latest: %q", fx.gh.LatestTag())
	}
}

// TestGitHubReportWithAWeakerMarkerIsNotKept: GitHub's verify-report.json
// for this exact ISO is kept in place of a newer local one only when it
// too records verify's default boot marker; one made with a custom marker
// (or none) counts as different content, replaced with -force.
func TestGitHubReportWithAWeakerMarkerIsNotKept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, marker, why string
	}{
		{"custom marker", ".", `GitHub's copy is for this exact ISO, but verify booted with the custom marker "."`},
		{"no marker", "", "GitHub's copy is for this exact ISO, but it does not record the boot marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "v1.0.0", 64<<10)
			assets := map[string][]byte{dist.ISOName(fx.version): fx.iso}
			for _, name := range fx.published() {
				data, err := os.ReadFile(filepath.Join(fx.dist, name))
				if err != nil {
					t.Fatal(err)
				}
				assets[name] = data
			}
			var rep map[string]any
			must(t, json.Unmarshal(assets[dist.VerifyReportName], &rep))
			rep["time"] = "2026-11-26T08:00:00Z"
			if tc.marker == "" {
				delete(rep, "boot_marker")
			} else {
				rep["boot_marker"] = tc.marker
			}
			assets[dist.VerifyReportName] = mustJSON(t, rep)
			fx.gh.Seed(fx.version, false, false, time.Now().Add(-time.Hour), assets)

			out, err := fx.run()
			wantStopped(t, fx, out, err, "✗ v1.0.0 not already published with different content", "verify-report.json: "+tc.why, "run again with -force")
			if out, err := fx.run(force); err != nil {
				t.Fatalf("release -force: %v\n%s", err, out)
			}
			assertPublished(t, fx)
		})
	}
}

// With the digests verify computed in the same run, the release does not
// read the ISO again; with digests of another size it does, and a digest
// that does not match SHA256SUMS still stops it.
func TestReleaseTakesVerifysDigests(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 3<<20)
	d, err := hashing.File(t.Context(), filepath.Join(fx.dist, dist.ISOName(fx.version)), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := fx.run(withISODigests(d))
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	if strings.Contains(out, "hashing dist/") {
		t.Errorf("the release read the ISO again although verify's digests were given:\n%s", out)
	}
	assertPublished(t, fx)

	other := newFixture(t, "v1.0.0", 3<<20)
	wrong := hashing.Digests{SHA256: strings.Repeat("0", 64), MD5: strings.Repeat("0", 32), Size: 3 << 20}
	out, err = other.run(dryRun, withISODigests(wrong))
	if err == nil || !strings.Contains(out, "SHA256SUMS gives") {
		t.Errorf("digests that disagree with SHA256SUMS did not stop the release (%v):\n%s", err, out)
	}
}

// Issue 20 item 11: sign makes new bytes on every run (the signature's
// time), so a re-run on the same commit with the same key has another
// SHA256SUMS.gpg than GitHub's. GitHub's copy is kept because it verifies
// over this SHA256SUMS with the release key: nothing is uploaded, and the
// release needs no -force.
func TestRerunKeepsAPublishedSignatureOfTheSameSums(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1<<20)
	if out, err := fx.run(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(fx.dist, dist.SHA256SumsName))
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(fx.dist, dist.SignatureName))
	if err != nil {
		t.Fatal(err)
	}
	// verify ran again: a new signature of the same SHA256SUMS, made at
	// another second.
	for i := 0; ; i++ {
		time.Sleep(200 * time.Millisecond)
		fx.sign(sums)
		now, err := os.ReadFile(filepath.Join(fx.dist, dist.SignatureName))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, old) {
			break
		}
		if i > 20 {
			t.Fatal("two signatures seconds apart have the same bytes")
		}
	}
	before := len(fx.gh.Writes())
	out, err := fx.run()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "keep SHA256SUMS.gpg: GitHub's copy is a valid signature of this SHA256SUMS by the release key") {
		t.Errorf("second run does not keep GitHub's signature, saying why:\n%s", out)
	}
	if w := fx.gh.Writes()[before:]; len(w) != 0 {
		t.Errorf("second run made %d write request(s): %v\n%s", len(w), w, out)
	}
}

// withISODigests lists the ISO with d, as verify does.
func withISODigests(d hashing.Digests) func(*Options) {
	return func(o *Options) {
		o.Artifacts[0].SHA256, o.Artifacts[0].MD5, o.Artifacts[0].Size = d.SHA256, d.MD5, d.Size
	}
}
