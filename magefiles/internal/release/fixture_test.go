package release

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing/signingtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// testToken looks like a real token so that any leak of it is unmistakable.
const testToken = "ghp_Zq8TESTtokenNeverPrint3dXy0123456789"

// sampleChangelog is a Keep a Changelog file with a complete v1.0.0
// section and an [Unreleased] one.
const sampleChangelog = `# Changelog

All notable changes to this project are documented in this file.
The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).

## [Unreleased]

### Added
- Work in progress.

## [1.0.0] - 2026-11-27

### Added
- Unattended installer ISO for NovaSphere.

### Known issues
- Secure Boot must be disabled on some older firmware.

### Upgrade
- Boot the new ISO and choose "Install"; existing data under /var/lib/novasphere is kept.

[Unreleased]: https://github.com/novasphere/novasphere-iso/compare/v1.0.0...HEAD
[1.0.0]: https://github.com/novasphere/novasphere-iso/releases/tag/v1.0.0
`

// fixture is a repository checkout with a built and verified ISO in dist/
// (small random bytes standing for it) and a fake GitHub, which has every
// commit made with commit (as if pushed) and no tags.
type fixture struct {
	t       *testing.T
	root    string
	dist    string
	version string
	env     map[string]string
	gh      *githubtest.Server
	iso     []byte
	key     signingtest.Key
	// built is what the pipeline's stages would list for the release,
	// in upload order.
	built []dist.Artifact
}

func newFixture(t *testing.T, version string, isoSize int) *fixture {
	t.Helper()
	root := t.TempDir()
	fx := &fixture{t: t, root: root, dist: filepath.Join(root, "dist"), version: version, gh: githubtest.New(t, testToken)}
	fx.env = map[string]string{
		config.EnvRepository: "novasphere/novasphere-iso",
		config.EnvAPIURL:     fx.gh.APIURL(),
		config.EnvGHToken:    testToken,
	}
	fx.git("init", "-q", "-b", "main")
	fx.write(".gitignore", "/dist/\n/build/\n")
	fx.write(ChangelogName, sampleChangelog)
	fx.key = releaseKey(t)
	fx.write(config.ReleaseKeyPath, string(fx.key.Public))
	fx.commit("initial")
	fx.writeBuild(randomBytes(1, isoSize))
	return fx
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (fx *fixture) write(name, content string) {
	fx.t.Helper()
	path := filepath.Join(fx.root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) git(args ...string) string {
	fx.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", fx.root, "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fx.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit commits every change and pushes it: the fake GitHub's main
// branch moves to the new HEAD.
func (fx *fixture) commit(msg string) {
	fx.t.Helper()
	fx.commitLocal(msg)
	fx.gh.Push(githubtest.DefaultBranch, fx.head())
}

// commitLocal commits every change without pushing it: GitHub does not
// have the new HEAD.
func (fx *fixture) commitLocal(msg string) {
	fx.t.Helper()
	fx.git("add", "-A")
	fx.git("commit", "-q", "-m", msg)
}

// head is the full SHA of the checkout's HEAD.
func (fx *fixture) head() string { return fx.git("rev-parse", "HEAD") }

// writeBuild writes what pack and verify leave in dist/ for iso.
func (fx *fixture) writeBuild(iso []byte) {
	fx.t.Helper()
	fx.iso = iso
	name := dist.ISOName(fx.version)
	sha := sha256.Sum256(iso)
	md := md5.Sum(iso)
	shaHex, mdHex := hex.EncodeToString(sha[:]), hex.EncodeToString(md[:])
	report := map[string]any{"version": fx.version, "iso": name, "sha256": shaHex, "md5": mdHex, "size": len(iso), "passed": true,
		"checks": []map[string]any{{"name": "checksums", "passed": true, "detail": "ok"}, {"name": "boot-bios-cdrom", "passed": true, "detail": "ok"},
			{"name": "install-bios", "passed": true, "detail": "install 40.2s, first-boot 26.9s, check 0s (tcg)"},
			{"name": "install-uefi", "passed": true, "detail": "install 35.7s, first-boot 28.3s, check 0s (tcg)"}},
		"boot_marker": verify.DefaultBootMarker.String(),
		"time":        "2026-11-27T10:00:00Z"}
	record := map[string]any{"version": fx.version, "base_iso_sha256": strings.Repeat("a", 64), "payload_manifest_sha256": strings.Repeat("b", 64),
		"git_commit": fx.head(), "xorriso_version": "xorriso 1.5.4", "source_date_epoch": 1764237600}
	bom := []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}` + "\n")
	bomSHA, bomMD5 := sha256.Sum256(bom), md5.Sum(bom)
	bomName := dist.SBOMName(fx.version)
	fx.built = builtArtifacts(fx.dist, fx.version)
	fx.writeDist(name, iso)
	fx.writeDist(bomName, bom)
	shaSums := fmt.Sprintf("%s  %s\n%x  %s\n", shaHex, name, bomSHA, bomName)
	fx.writeDist(dist.SHA256SumsName, []byte(shaSums))
	fx.writeDist(dist.MD5SumsName, []byte(fmt.Sprintf("%s  %s\n%x  %s\n", mdHex, name, bomMD5, bomName)))
	fx.sign([]byte(shaSums))
	fx.writeDist(dist.VerifyReportName, mustJSON(fx.t, report))
	fx.writeDist(dist.BuildRecordName(fx.version), mustJSON(fx.t, record))
}

// builtArtifacts are the files of writeBuild as the pipeline's stages list
// them for the release, in upload order (Artifacts.Published).
func builtArtifacts(distDir, version string) []dist.Artifact {
	var as dist.Artifacts
	// A slice, not a map: the pipeline adds artifacts in stage order, and the
	// release notes list them in that order, so a map's random order made
	// two runs of one build write different notes.
	for _, a := range []struct {
		name string
		kind dist.Kind
	}{
		{dist.ISOName(version), dist.KindISO}, {dist.SHA256SumsName, dist.KindChecksums}, {dist.MD5SumsName, dist.KindChecksums},
		{dist.SignatureName, dist.KindSignature}, {dist.SBOMName(version), dist.KindSBOM},
		{dist.VerifyReportName, dist.KindReport}, {dist.BuildRecordName(version), dist.KindRecord},
	} {
		as.Add(dist.Artifact{Name: a.name, Path: filepath.Join(distDir, a.name), Kind: a.kind})
	}
	return as.Published()
}

// published are the names of the small files the release attaches.
func (fx *fixture) published() []string {
	var names []string
	for _, a := range fx.built {
		if a.Kind != dist.KindISO {
			names = append(names, a.Name)
		}
	}
	return names
}

// sign writes SHA256SUMS.gpg for sums with the fixture's release key.
func (fx *fixture) sign(sums []byte) {
	fx.t.Helper()
	fx.writeDist(dist.SignatureName, signWith(fx.t, fx.key, sums))
}

// signWith signs data with key as verify does.
func signWith(t *testing.T, key signingtest.Key, data []byte) []byte {
	t.Helper()
	s, err := signing.LoadSigningKey(key.Private, nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(data)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

var releaseKeyOnce struct {
	sync.Once
	key signingtest.Key
}

// releaseKey is one throw-away release key for every fixture.
func releaseKey(t *testing.T) signingtest.Key {
	releaseKeyOnce.Do(func() { releaseKeyOnce.key = signingtest.NewKey(t, "NovaSphere Release Test") })
	return releaseKeyOnce.key
}

func (fx *fixture) writeDist(name string, data []byte) {
	fx.t.Helper()
	if err := os.MkdirAll(fx.dist, 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.dist, name), data, 0o644); err != nil {
		fx.t.Fatal(err)
	}
}

// editReport rewrites verify-report.json through edit.
func (fx *fixture) editReport(edit func(map[string]any)) {
	fx.t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.dist, dist.VerifyReportName))
	if err != nil {
		fx.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		fx.t.Fatal(err)
	}
	edit(m)
	fx.writeDist(dist.VerifyReportName, mustJSON(fx.t, m))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// settings are the release settings of fx.env.
func (fx *fixture) settings() config.ReleaseSettings {
	fx.t.Helper()
	s, err := config.ReleaseFromEnv(config.MapEnv(fx.env))
	if err != nil {
		fx.t.Fatal(err)
	}
	return s
}

// testRetry retries quickly.
var testRetry = github.Retry{Attempts: 4, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}

func (fx *fixture) options(out io.Writer) Options {
	return Options{Version: fx.version, Root: fx.root, DistDir: fx.dist, Out: out, Settings: fx.settings(), Retry: testRetry,
		Artifacts: slices.Clone(fx.built),
		Login: &customize.Login{Username: "novasphere", Keys: []customize.PublicKey{{Fingerprint: "SHA256:test"}},
			Fingerprints: []string{"SHA256:test"}, InstallServer: true}}

}

// run runs the release and returns what it printed.
func (fx *fixture) run(mods ...func(*Options)) (string, error) {
	fx.t.Helper()
	return fx.capture(2*time.Minute, func(ctx context.Context, out io.Writer) error {
		o := fx.options(out)
		for _, m := range mods {
			m(&o)
		}
		return Run(ctx, o)
	})
}

// capture runs f with a writer and a deadline and returns what f wrote,
// then its error; the token must not appear in either.
func (fx *fixture) capture(timeout time.Duration, f func(context.Context, io.Writer) error) (string, error) {
	fx.t.Helper()
	var out tool.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := f(ctx, &out)
	text := out.String()
	if err != nil {
		text += "error: " + err.Error() + "\n"
	}
	if strings.Contains(text, testToken) {
		fx.t.Errorf("the token appears in the output:\n%s", text)
	}
	return text, err
}

func force(o *Options)  { o.Force = true }
func dryRun(o *Options) { o.DryRun = true }
func draft(o *Options)  { o.Draft = true }
