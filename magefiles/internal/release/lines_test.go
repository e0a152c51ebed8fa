package release

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/signing/signingtest"

	"github.com/cli/go-gh/v2/pkg/api"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// goodState is a gathered state on which every line holds: a verified ISO
// with its files, a clean checkout, release notes, GitHub without a
// release or tag for the version but with HEAD, and a reachable server.
func goodState(t *testing.T) *state {
	const version = "v1.0.0"
	head := strings.Repeat("4", 40)
	layout := dist.New("/repo/dist", version)
	isoSHA, isoMD5 := strings.Repeat("a", 64), strings.Repeat("b", 32)
	name := dist.ISOName(version)
	local := &localBuild{Layout: layout, ISO: asset{Name: name, Path: layout.ISO(), Size: 3 << 20, SHA256: isoSHA}, MD5: isoMD5,
		Files: map[string]asset{}, FileErrs: map[string]error{},
		Report: verify.Report{Version: version, ISO: name, SHA256: isoSHA, MD5: isoMD5, Passed: true,
			Checks: []verify.Check{{Name: "checksums", Passed: true}, {Name: "boot-bios-cdrom", Passed: true},
				{Name: "install-bios", Passed: true}, {Name: "install-uefi", Passed: true}}, BootMarker: verify.DefaultBootMarker.String(), Time: "2026-11-27T10:00:00Z"},
		Build: iso.BuildRecord{Version: version, GitCommit: head, BaseISOSHA256: strings.Repeat("c", 64), XorrisoVersion: "xorriso 1.5.4", SourceDateEpoch: 1764237600}}
	bomSHA := dataAsset("", []byte("{}"), "").SHA256
	shaSums := isoSHA + "  " + name + "\n" + bomSHA + "  " + dist.SBOMName(version) + "\n"
	key := releaseKey(t)
	for _, f := range []struct {
		n string
		k dist.Kind
	}{{dist.SHA256SumsName, dist.KindChecksums}, {dist.MD5SumsName, dist.KindChecksums}, {dist.SignatureName, dist.KindSignature},
		{dist.SBOMName(version), dist.KindSBOM}, {dist.VerifyReportName, dist.KindReport}, {dist.BuildRecordName(version), dist.KindRecord}} {
		n := f.n
		local.order, local.orderKinds = append(local.order, n), append(local.orderKinds, f.k)
		data := "{}"
		switch n {
		case dist.SHA256SumsName:
			data = shaSums
		case dist.MD5SumsName:
			data = isoMD5 + "  " + name + "\n" + dataAsset("", []byte("{}"), "").MD5 + "  " + dist.SBOMName(version) + "\n"
		case dist.SignatureName:
			data = string(signOnce(t, key, []byte(shaSums)))
		}
		local.Files[n] = dataAsset(n, []byte(data), layout.Path(n))
	}
	copier, err := servercopy.New(servercopy.Options{Target: servercopy.Target{Host: "deploy@files", Dir: "/srv"}, Tool: servercopy.Rsync})
	if err != nil {
		panic(err)
	}
	copier.Existing = map[string]string{name: isoSHA}
	return &state{
		Version: version, Root: "/repo", ReleaseKey: key.Public,
		Sizing: sizing{Limit: github.AssetLimit, PartSize: DefaultPartSize, Split: true},
		Local:  local,
		Git:    gitState{Head: head},
		Changelog: changelogState{Notes: releaseNotes{Heading: "## [1.0.0] - 2026-11-27", Body: "notes",
			Subsections: map[string]string{"known issues": "None.", "upgrade": "None."}}},
		GitHub: gitHubState{Settings: gitHubSettings{APIBase: "https://api.github.com", Repo: "novasphere/novasphere-iso", RepoSource: "GITHUB_REPOSITORY", Token: testToken, TokenSource: "GH_TOKEN"},
			Remote: &remoteState{}},
		Tag:    tagState{Checked: true, HeadOnGitHub: true},
		Server: &serverState{Label: "deploy@files:/srv/", Copier: copier, Probed: true},
		Login: &customize.Login{Username: "novasphere", Keys: []customize.PublicKey{{Fingerprint: "SHA256:k"}},
			Fingerprints: []string{"SHA256:k"}, InstallServer: true},
	}
}

var signed = struct {
	sync.Mutex
	sigs  map[string][]byte
	other *signingtest.Key
}{sigs: map[string][]byte{}}

// signOnce signs data with key once per test binary: a signature records
// the second it was made, and goodState must give equal states.
func signOnce(t *testing.T, key signingtest.Key, data []byte) []byte {
	signed.Lock()
	defer signed.Unlock()
	k := string(key.Public) + "\x00" + string(data)
	if sig, ok := signed.sigs[k]; ok {
		return sig
	}
	sig := signWith(t, key, data)
	signed.sigs[k] = sig
	return sig
}

// otherKey is a key that is not the release key.
func otherKey(t *testing.T) signingtest.Key {
	signed.Lock()
	defer signed.Unlock()
	if signed.other == nil {
		k := signingtest.NewKey(t, "Someone Else")
		signed.other = &k
	}
	return *signed.other
}

// TestLinesReadOnlyTheState decides the checklist from gathered states,
// without disk, git, GitHub or a server: each case breaks one thing and
// names the lines it changes (every other line must hold). Evaluating the
// lines in reverse order gives the same lines and leaves the state as it
// was: no line depends on another having run first.
func TestLinesReadOnlyTheState(t *testing.T) {
	t.Parallel()
	published := &github.Release{ID: 7, TagName: "v1.0.0", PublishedAt: ptr(time.Now())}
	cases := []struct {
		name  string
		edit  func(st *state)
		lines map[string]string // title prefix -> mark and a detail that must appear
	}{
		{"every line holds", func(*state) {}, nil},
		{"nobody can log in", func(st *state) { st.Login = &customize.Login{Username: "novasphere", InstallServer: true} }, map[string]string{
			"an operator can log in": "✗ nobody can log in to the installed machine: set ADMIN_AUTHORIZED_KEYS",
		}},
		{"login not known", func(st *state) { st.Login = nil }, map[string]string{
			"an operator can log in": "- not checked",
		}},
		{"no ISO", func(st *state) { st.Local.ISOErr = errors.New("dist/novasphere-installer-v1.0.0.iso does not exist") }, map[string]string{
			"ISO built":                         "✗ does not exist",
			"verify passed":                     "- there is no ISO",
			"SHA256SUMS, MD5SUMS":               "- there is no ISO",
			"every asset under":                 "- there is no ISO",
			"v1.0.0 not already published":      "- the local files are not complete",
			"server copy to deploy@files:/srv/": "- there is no ISO",
		}},
		{"verify skipped the boots", func(st *state) { st.Local.Report.Checks[1].Skipped = true }, map[string]string{
			"verify passed": "✗ verify skipped boot-bios-cdrom",
		}},
		{"no install proof", func(st *state) { st.Local.Report.Checks = st.Local.Report.Checks[:2] }, map[string]string{
			"verify passed for this exact ISO": "✗ verify-report.json: no passing install proof install-bios, install-uefi",
		}},
		{"unsigned", func(st *state) { delete(st.Local.Files, dist.SignatureName) }, map[string]string{
			"SHA256SUMS is signed": "✗ SHA256SUMS.gpg does not exist: a release must be signed",
		}},
		{"signed by another key", func(st *state) {
			st.Local.Files[dist.SignatureName] = dataAsset(dist.SignatureName, signOnce(t, otherKey(t), st.Local.Files[dist.SHA256SumsName].Data), "")
		}, map[string]string{
			"SHA256SUMS is signed": "✗ SHA256SUMS.gpg does not verify with configs/keys/novasphere-release.asc",
		}},
		{"no committed release key", func(st *state) { st.ReleaseKey, st.ReleaseKeyErr = nil, errors.New("file does not exist") }, map[string]string{
			"SHA256SUMS is signed": "✗ the release public key configs/keys/novasphere-release.asc cannot be read",
		}},
		{"SBOM changed after its digest was listed", func(st *state) {
			st.Local.Files[dist.SBOMName("v1.0.0")] = dataAsset(dist.SBOMName("v1.0.0"), []byte(`{"changed": true}`), "")
		}, map[string]string{
			"SHA256SUMS, MD5SUMS": "✗ SHA256SUMS gives",
		}},
		{"MD5SUMS of another ISO", func(st *state) { st.Local.MD5 = strings.Repeat("0", 32) }, map[string]string{
			"SHA256SUMS, MD5SUMS": "✗ MD5SUMS gives bbbb",
		}},
		{"over the limit, splitting forbidden", func(st *state) { st.Local.OverLimit, st.Sizing.Split = true, false }, map[string]string{
			"every asset under":            "✗ RELEASE_SPLIT=0 forbids splitting",
			"v1.0.0 not already published": "- the local files are not complete",
		}},
		{"dirty work tree", func(st *state) { st.Git = gitState{Changes: []string{" M CHANGELOG.md"}} }, map[string]string{
			"git work tree clean": "✗  M CHANGELOG.md",
			"tag v1.0.0":          "- HEAD is not known",
		}},
		{"no changelog section", func(st *state) {
			st.Changelog = changelogState{Err: errNoSection, HasUnreleased: true}
		}, map[string]string{
			"CHANGELOG.md has a section": `✗ move the entries under "## [Unreleased]"`,
			"release notes have":         "- there is no section",
		}},
		{"dry run without a token", func(st *state) {
			st.DryRun, st.GitHub.Settings.Token, st.GitHub.Remote, st.Tag = true, "", nil, tagState{}
		}, map[string]string{
			"GitHub: novasphere/novasphere-iso": "- GitHub was not asked (dry run)",
			"tag v1.0.0":                        "- no access to GitHub",
			"v1.0.0 not already published":      "- no access to GitHub",
		}},
		{"no token", func(st *state) { st.GitHub.Settings.Token, st.GitHub.Remote, st.Tag = "", nil, tagState{} }, map[string]string{
			"GitHub: novasphere/novasphere-iso": "✗ no GitHub token: set GH_TOKEN or GITHUB_TOKEN",
			"tag v1.0.0":                        "- no access to GitHub",
			"v1.0.0 not already published":      "- no access to GitHub",
		}},
		{"token refused", func(st *state) {
			st.GitHub.RepoErr, st.GitHub.Remote, st.Tag = &api.HTTPError{StatusCode: http.StatusUnauthorized, Message: "Bad credentials"}, nil, tagState{}
		}, map[string]string{
			"GitHub: novasphere/novasphere-iso": "✗ GitHub refused the token from GH_TOKEN",
			"tag v1.0.0":                        "- no access to GitHub",
			"v1.0.0 not already published":      "- no access to GitHub",
		}},
		{"tag at another commit", func(st *state) { st.Tag = tagState{Checked: true, Commit: strings.Repeat("9", 40), Annotated: true} }, map[string]string{
			"tag v1.0.0": "✗ tag v1.0.0 points at 999999999999, HEAD is 444444444444",
		}},
		{"tag at HEAD", func(st *state) { st.Tag = tagState{Checked: true, Commit: st.Git.Head, Annotated: true} }, map[string]string{
			"tag v1.0.0": "✓ annotated tag v1.0.0 on GitHub points at HEAD 444444444444",
		}},
		{"HEAD not pushed", func(st *state) { st.Tag.HeadOnGitHub = false }, map[string]string{
			"tag v1.0.0": "✗ HEAD 444444444444 is not on GitHub: push it first",
		}},
		{"published with different content", func(st *state) {
			st.GitHub.Remote.Release = published
			st.Content = contentState{Checked: true, Checks: []assetCheck{{Local: asset{Name: "SHA256SUMS"}, State: stateDiffers, Why: "sha256 x on GitHub, y here"}}}
		}, map[string]string{
			"v1.0.0 not already published": "✗ SHA256SUMS: sha256 x on GitHub, y here",
		}},
		{"different content with -force", func(st *state) {
			st.Force, st.GitHub.Remote.Release = true, published
			st.Content = contentState{Checked: true, Checks: []assetCheck{{Local: asset{Name: "SHA256SUMS"}, State: stateDiffers, Why: "differs"}}}
		}, map[string]string{
			"v1.0.0 not already published": "✓ -force: these will be replaced",
		}},
		{"server unreachable", func(st *state) { st.Server.ProbeErr = errors.New("exit status 255") }, map[string]string{
			"server copy to": "✗ cannot reach the server: exit status 255",
		}},
		{"no ssh", func(st *state) { st.Server.NoSSH, st.Server.Probed = true, false }, map[string]string{
			"server copy to": "✗ ssh is not installed",
		}},
	}
	for _, tc := range cases {
		st, snapshot := goodState(t), goodState(t)
		tc.edit(st)
		tc.edit(snapshot)
		lines := st.evaluate()
		var reversed []line
		if st.Server != nil {
			reversed = append(reversed, lineServer(st))
		}
		for i := len(checklistLines) - 1; i >= 0; i-- {
			reversed = append(reversed, checklistLines[i](st))
		}
		for i := range lines {
			if !reflect.DeepEqual(lines[i], reversed[len(reversed)-1-i]) {
				t.Errorf("%s: line %q differs when the lines run in reverse order", tc.name, lines[i].Title)
			}
		}
		if !reflect.DeepEqual(st, snapshot) { //nolint:govet // deepequalerrors: the same error values, compared as values on purpose
			t.Errorf("%s: evaluating the lines changed the state", tc.name)
		}
		if len(lines) != 13 {
			t.Errorf("%s: %d lines, want 13", tc.name, len(lines))
		}
		matched := map[string]bool{}
		for _, l := range lines {
			text := l.Mark.symbol() + " " + l.Title + "\n" + strings.Join(l.Detail, "\n")
			want, ok := "", false
			for prefix, w := range tc.lines {
				if strings.HasPrefix(l.Title, prefix) {
					want, ok = w, true
					matched[prefix] = true
				}
			}
			switch {
			case !ok && l.Mark != markPass:
				t.Errorf("%s: line %s does not hold:\n%s", tc.name, l.Title, text)
			case ok && (l.Mark.symbol() != want[:strings.Index(want, " ")] || !strings.Contains(text, want[strings.Index(want, " ")+1:])):
				t.Errorf("%s: line %s is\n%s\nwant %q", tc.name, l.Title, text, want)
			}
		}
		for prefix := range tc.lines {
			if !matched[prefix] {
				t.Errorf("%s: no line starts with %q", tc.name, prefix)
			}
		}
	}
}
