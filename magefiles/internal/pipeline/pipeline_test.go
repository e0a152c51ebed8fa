package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sbom"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing/signingtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

const testVersion = "v1.2.3"

// repoCopy copies the repository's payload directories into a new root,
// where a test may add a release key or packages.
func repoCopy(t *testing.T) string {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, d := range payload.Dirs {
		if err := tool.Command("cp", "-a", filepath.Join(root, d), dst).Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// run runs the pipeline through last on the shared test ISO, with the
// settings env adds, and returns the Build and what it logged.
func run(t *testing.T, root, last string, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	return runIn(t, t.TempDir(), root, last, env)
}

// runIn is run with the build, dist and cache directories under dir.
func runIn(t *testing.T, dir, root, last string, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	return runOn(t, testiso.Shared(t), dir, root, last, env)
}

// runOn is runIn on the fixture fx.
func runOn(t *testing.T, fx testiso.Fixture, dir, root, last string, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	fxEnv, err := fx.PipelineEnv(testVersion, dir, 1767225600)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{config.EnvVerifyBoot: "0"}
	for _, kv := range fxEnv {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	for k, v := range env {
		m[k] = v
	}
	c, err := config.Load(root, config.MapEnv(m))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	w := tool.LockedWriter(&log)
	b := pipeline.New(c, w, w, false)
	err = b.Run(context.Background(), last)
	return b, log.String(), err
}

// A report that passed for this exact ISO and the same settings is reused
// (and verify says so); VERIFY_FORCE=1 or another setting runs the checks.
func TestVerifyReusesAPassingReportForTheSameISO(t *testing.T) {
	root, dir := repoCopy(t), t.TempDir()
	if _, log, err := runIn(t, dir, root, "verify", nil); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	_, log, err := runIn(t, dir, root, "verify", nil)
	if err != nil || !strings.Contains(log, "for this exact ISO") || !strings.Contains(log, "reused; VERIFY_FORCE=1 runs them again") {
		t.Fatalf("second verify did not reuse the report (%v):\n%s", err, log)
	}
	for _, env := range []map[string]string{{config.EnvVerifyForce: "1"}, {config.EnvBootMarker: "Linux version"}} {
		_, log, err := runIn(t, dir, root, "verify", env)
		if err != nil || strings.Contains(log, "reused") || !strings.Contains(log, "verify: PASSED") {
			t.Errorf("with %v verify reused the report or failed (%v):\n%s", env, err, log)
		}
	}
}

// verify signs SHA256SUMS with the configured key, GnuPG and coreutils
// accept what it wrote, and the SBOM lists exactly what the ISO holds.
func TestVerifyWritesSignedSumsAndAnSBOMOfTheISO(t *testing.T) {
	root := repoCopy(t)
	key := signingtest.NewKey(t, "NovaSphere Release Test")
	if err := os.WriteFile(filepath.Join(root, config.ReleaseKeyPath), key.Public, 0o644); err != nil {
		t.Fatal(err)
	}
	b, log, err := run(t, root, "sign", map[string]string{config.EnvSigningKey: string(key.Private)})
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, log)
	}
	if strings.Contains(log, "PRIVATE KEY") {
		t.Fatalf("the log shows the private key:\n%s", log)
	}
	l := b.Dist
	// sha256sum -c checks the ISO and the SBOM.
	data, err := os.ReadFile(l.SHA256Sums())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range sums.Lines(data, sums.SHA256) {
		names[line.Name] = true
	}
	if !names[dist.ISOName(testVersion)] || !names[dist.SBOMName(testVersion)] || len(names) != 2 {
		t.Errorf("SHA256SUMS lists %v, want the ISO and the SBOM", names)
	}
	if err := tool.Command("sha256sum", "--strict", "-c", dist.SHA256SumsName).Dir(l.Dir).Run(t.Context()); err != nil {
		t.Errorf("sha256sum -c: %v", err)
	}
	// gpg --verify with only the committed public key.
	home := t.TempDir()
	gpg := func(args ...string) error {
		return tool.Command("gpg", append([]string{"--homedir", home, "--batch"}, args...)...).Run(t.Context())
	}
	if err := gpg("--import", filepath.Join(root, config.ReleaseKeyPath)); err != nil {
		t.Fatal(err)
	}
	if err := gpg("--verify", l.Signature(), l.SHA256Sums()); err != nil {
		t.Errorf("gpg --verify SHA256SUMS.gpg SHA256SUMS: %v", err)
	}
	// A tampered SHA256SUMS fails gpg.
	if err := os.WriteFile(l.SHA256Sums(), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := gpg("--verify", l.Signature(), l.SHA256Sums()); err == nil {
		t.Error("gpg accepted a changed SHA256SUMS")
	}
	checkSBOMCounts(t, b)
}

// checkSBOMCounts: the SBOM lists every package of the default install
// source's manifests (the test ISO's: 600 + 20, not the installer layer's),
// every file of MANIFEST.sha256, and the chart.
func checkSBOMCounts(t *testing.T, b *pipeline.Build) {
	t.Helper()
	data, err := os.ReadFile(b.Dist.SBOM())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components []struct {
			Name       string `json:"name"`
			Properties []struct{ Name, Value string }
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, c := range doc.Components {
		for _, p := range c.Properties {
			if p.Name == sbom.PropRole {
				roles[p.Value]++
			}
		}
		if c.Name == "subiquity-server" {
			t.Error("the SBOM lists a package of the installer layer, which is not installed")
		}
	}
	manifestLines := len(sums.Lines(b.Packed.Manifest, sums.SHA256))
	want := map[string]int{sbom.RoleBasePackage: 620, sbom.RolePayloadFile: manifestLines, sbom.RoleHelmChart: 1, sbom.RoleBaseISO: 1}
	for role, n := range want {
		if roles[role] != n {
			t.Errorf("the SBOM has %d %s components, want %d (all: %v)", roles[role], role, n, roles)
		}
	}
}

// A key that is not the committed release key is refused before anything
// else happens, and no signature is left.
func TestSignatureByAnotherKeyFailsVerify(t *testing.T) {
	root := repoCopy(t)
	release, other := signingtest.NewKey(t, "Release"), signingtest.NewKey(t, "Someone Else")
	if err := os.WriteFile(filepath.Join(root, config.ReleaseKeyPath), release.Public, 0o644); err != nil {
		t.Fatal(err)
	}
	b, log, err := run(t, root, "sign", map[string]string{config.EnvSigningKey: string(other.Private)})
	if err == nil || !strings.Contains(err.Error(), "does not verify with "+config.ReleaseKeyPath) {
		t.Fatalf("want the other key refused, got %v\n%s", err, log)
	}
	if _, err := os.Stat(b.Dist.Signature()); !os.IsNotExist(err) {
		t.Errorf("a signature by the wrong key was left: %v", err)
	}
}

// Without a key nothing is signed, and an old signature does not stay
// beside a new SHA256SUMS.
func TestNoKeyLeavesNoSignature(t *testing.T) {
	b, log, err := run(t, repoCopy(t), "sign", nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if _, err := os.Stat(b.Dist.Signature()); !os.IsNotExist(err) {
		t.Errorf("SHA256SUMS.gpg exists without a key: %v", err)
	}
	if !strings.Contains(log, config.EnvSigningKey+" is not set") {
		t.Errorf("the log does not say SHA256SUMS is unsigned:\n%s", log)
	}
}

// Stages run in the order of the list, each once.
func TestStagesRunInOrder(t *testing.T) {
	_, log, err := run(t, repoCopy(t), "sign", nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	last := -1
	for _, s := range pipeline.Stages {
		name := s.String()
		if name == "release" || name == "verify" { // verify writes its table to Out
			continue
		}
		i := strings.Index(log, "\n"+name+": ")
		if strings.HasPrefix(log, name+": ") {
			i = 0
		}
		if i < 0 || i < last {
			t.Errorf("%s did not log, or logged out of order:\n%s", name, log)
		}
		last = max(last, i)
	}
	if n := strings.Count(log, "pack: wrote "); n != 1 {
		t.Errorf("pack wrote %d times", n)
	}
}

// Two builds from empty build directories give the same ISO byte for byte.
func TestReproduceFindsTwoBuildsIdentical(t *testing.T) {
	fx := testiso.Shared(t)
	dir := t.TempDir()
	fxEnv, err := fx.PipelineEnv(testVersion, dir, 1767225600)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range fxEnv {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	c, err := config.Load(repoCopy(t), config.MapEnv(m))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	d, err := pipeline.Reproduce(t.Context(), c, filepath.Join(dir, "reproduce"), &log)
	if err != nil || !d.Identical() || d.SizeA < 1<<20 {
		t.Fatalf("reproduce: %v, %s\n%s", err, d, log.String())
	}
	if strings.Count(log.String(), "pack: wrote ") != 2 {
		t.Errorf("want two packs from scratch:\n%s", log.String())
	}
}

// layoutFixture is the test ISO in the layout of the base id of
// configs/bases.yaml.
func layoutFixture(t *testing.T, id string) testiso.Fixture {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	set, err := bases.Load(filepath.Join(root, bases.File), bases.File)
	if err != nil {
		t.Fatal(err)
	}
	b, err := set.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := testiso.Build(t.Context(), testiso.Options{Layout: testiso.LayoutOf(b)})
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// TestLayoutOf2604: the 26.04 layout (install-sources.yaml as a version 2
// catalog, kernel layers, no HWE entries) builds and verifies as
// ubuntu-26.04.1, with /autoinstall.yaml at the root; the same ISO declared
// as a 22.04 base stops at the packages stage naming both forms.
func TestLayoutOf2604(t *testing.T) {
	fx, root := layoutFixture(t, "ubuntu-26.04.1"), repoCopy(t)
	b, log, err := runOn(t, fx, t.TempDir(), root, "sbom", map[string]string{config.EnvBase: "ubuntu-26.04.1"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, want := range []string{"kernel layers ubuntu-server-minimal.ubuntu-server.installer.generic", "/autoinstall.yaml holds the same configuration", "verify: PASSED"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if b.Report == nil || !b.Report.Passed {
		t.Fatal("verify did not pass")
	}
	_, log, err = runOn(t, fx, t.TempDir(), root, "packages", map[string]string{config.EnvBase: "ubuntu-22.04.5"})
	if err == nil || !strings.Contains(err.Error(), "expects casper/install-sources.yaml as list, but this ISO has it as catalog-v2") {
		t.Fatalf("a 22.04 base on the 26.04 layout: %v\n%s", err, log)
	}
}

// The artifact list names every file the run wrote to dist/, each file
// exists, and the ISO's and SBOM's digests are the files' own. The run is of
// a base other than the default: every versioned output, the build
// directory, the build record and the SBOM carry it.
func TestArtifactsListWhatTheRunWrote(t *testing.T) {
	const base = "ubuntu-24.04.4"
	b, log, err := runOn(t, layoutFixture(t, base), t.TempDir(), repoCopy(t), "sign", map[string]string{config.EnvBase: base})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	stem := testVersion + "-" + base
	want := map[string]dist.Kind{
		dist.ISOName(stem): dist.KindISO, dist.BuildRecordName(stem): dist.KindRecord,
		dist.SHA256SumsName: dist.KindChecksums, dist.MD5SumsName: dist.KindChecksums,
		dist.VerifyReportName: dist.KindReport, dist.SBOMName(stem): dist.KindSBOM,
	}
	got := b.Artifacts.List()
	if len(got) != len(want) {
		t.Errorf("artifacts %+v, want %v", got, want)
	}
	for _, a := range got {
		if want[a.Name] != a.Kind {
			t.Errorf("artifact %s of kind %q, want %q", a.Name, a.Kind, want[a.Name])
		}
		if _, err := os.Stat(a.Path); err != nil {
			t.Errorf("artifact %s: %v", a.Name, err)
		}
		if a.SHA256 != "" {
			d, err := hashing.File(t.Context(), a.Path, 0)
			if err != nil || d.SHA256 != a.SHA256 || d.Size != a.Size {
				t.Errorf("artifact %s: listed sha256 %s size %d, the file has %s %d (%v)", a.Name, a.SHA256, a.Size, d.SHA256, d.Size, err)
			}
		}
	}
	for _, name := range []string{dist.ISOName(stem), dist.SBOMName(stem)} {
		if a, _ := b.Artifacts.Get(name); a.SHA256 == "" {
			t.Errorf("%s is listed without its digest", name)
		}
	}
	if !strings.HasSuffix(filepath.Dir(b.Dir("extract")), string(filepath.Separator)+base) {
		t.Errorf("extract's directory %s is not under the base's", b.Dir("extract"))
	}
	var rec struct{ Base string }
	if data, err := os.ReadFile(b.Dist.BuildRecord()); err != nil || json.Unmarshal(data, &rec) != nil || rec.Base != base {
		t.Errorf("build record names base %q (%v)", rec.Base, err)
	}
	bom, err := os.ReadFile(b.Dist.SBOM())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"value": "` + base + `"`, "distro=ubuntu-24.04", `"value": "ubuntu-24.04"`} {
		if !bytes.Contains(bom, []byte(s)) {
			t.Errorf("the SBOM lacks %s", s)
		}
	}
	if bytes.Contains(bom, []byte("distro=ubuntu-22.04")) {
		t.Error("the SBOM of a 24.04 base has ubuntu-22.04 purls")
	}
	// The 24.04 layout's menus have HWE entries: each kernel line of
	// grub.cfg and loopback.cfg (2 + 2) keeps the autoinstall argument.
	if !strings.Contains(log, "/autoinstall.yaml holds the same configuration; 4 kernel lines carry") {
		t.Errorf("verify did not check the HWE entries and /autoinstall.yaml:\n%s", log)
	}
}
