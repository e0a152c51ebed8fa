package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sbom"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy/sshdtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing/signingtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
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
func run(t *testing.T, root string, last stage.Name, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	return runIn(t, t.TempDir(), root, last, env)
}

// runIn is run with the build, dist and cache directories under dir.
func runIn(t *testing.T, dir, root string, last stage.Name, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	c, err := loadIn(t, dir, root, env)
	if err != nil {
		t.Fatal(err)
	}
	return runConfig(c, last)
}

// runConfig runs the pipeline of c through last.
func runConfig(c config.Config, last stage.Name) (*pipeline.Build, string, error) {
	var log bytes.Buffer
	w := tool.LockedWriter(&log)
	b := pipeline.New(c, w, w, false)
	err := b.Run(context.Background(), last)
	return b, log.String(), err
}

// loadIn loads the configuration run uses, with the directories under dir.
func loadIn(t *testing.T, dir, root string, env map[string]string) (config.Config, error) {
	t.Helper()
	return loadOn(t, testiso.Shared(t), dir, root, env)
}

// loadOn is loadIn on the fixture fx.
func loadOn(t *testing.T, fx testiso.Fixture, dir, root string, env map[string]string) (config.Config, error) {
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
	return config.Load(root, config.MapEnv(m))
}

// runOn runs the pipeline through last on the fixture fx, with the
// directories under dir.
func runOn(t *testing.T, fx testiso.Fixture, dir, root string, last stage.Name, env map[string]string) (*pipeline.Build, string, error) {
	t.Helper()
	c, err := loadOn(t, fx, dir, root, env)
	if err != nil {
		t.Fatal(err)
	}
	return runConfig(c, last)
}

// A report that passed for this exact ISO and the same settings is reused
// (and verify says so); VERIFY_FORCE=1 or another setting runs the checks.
func TestVerifyReusesAPassingReportForTheSameISO(t *testing.T) {
	root, dir := repoCopy(t), t.TempDir()
	if _, log, err := runIn(t, dir, root, stage.Verify, nil); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	_, log, err := runIn(t, dir, root, stage.Verify, nil)
	if err != nil || !strings.Contains(log, "for this exact ISO") || !strings.Contains(log, "reused; VERIFY_FORCE=1 runs them again") {
		t.Fatalf("second verify did not reuse the report (%v):\n%s", err, log)
	}
	for _, env := range []map[string]string{{config.EnvVerifyForce: "1"}, {config.EnvBootMarker: "Linux version"}} {
		_, log, err := runIn(t, dir, root, stage.Verify, env)
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
	b, log, err := run(t, root, stage.Sign, map[string]string{config.EnvSigningKey: string(key.Private)})
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
	for _, c := range []struct{ cmd, file string }{{"sha256sum", dist.SHA256SumsName}, {"md5sum", dist.MD5SumsName}} {
		if err := tool.Command(c.cmd, "--strict", "-c", c.file).Dir(l.Dir).Run(t.Context()); err != nil {
			t.Errorf("%s -c %s: %v", c.cmd, c.file, err)
		}
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
	checkImages(t, b)
}

// checkImages: the chart's image is on the ISO, in the build record with
// its digest, and verify's images check re-read it.
func checkImages(t *testing.T, b *pipeline.Build) {
	t.Helper()
	rec, err := iso.ReadBuildRecord(b.Dist.BuildRecord())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := imagestest.Server()
	if len(rec.Images) != 1 || rec.Images[0].Digest != d || rec.Images[0].Tag != imagestest.Tag || rec.Images[0].File != "images/server.oci.tar" {
		t.Errorf("build record images %+v, want the chart's image %s", rec.Images, d)
	}
	if !strings.Contains(string(b.Packed.Manifest), "  images/server.oci.tar\n") {
		t.Errorf("MANIFEST.sha256 does not list images/server.oci.tar:\n%s", b.Packed.Manifest)
	}
	var found bool
	for _, c := range b.Report.Checks {
		if c.Name == verify.CheckImages {
			found = c.Passed && strings.Contains(c.Detail, "1 image(s)")
			t.Logf("images check: %s", c.Detail)
		}
	}
	if !found {
		t.Errorf("verify's images check did not pass on the chart's image: %+v", b.Report.Checks)
	}
}

// A chart that runs an image it does not declare stops the build at the
// images stage, naming the template and the image, before any ISO is
// written.
func TestUndeclaredImageStopsTheBuildBeforePack(t *testing.T) {
	root := repoCopy(t)
	values := filepath.Join(root, "charts", "novasphere", "values.yaml")
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := imagestest.Server()
	other := "sha256:" + strings.Repeat("1", 64)
	if err := os.WriteFile(values, []byte(strings.Replace(string(data), d, other, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, log, err := run(t, root, stage.Pack, nil)
	want := `images: chart ` + filepath.Join(root, "charts", "novasphere") + ` names images that cannot ship offline; nothing was fetched or written:
novasphere/templates/deployment.yaml: Deployment novasphere-novasphere, container containers/novasphere: image "docker.io/novasphere/server:1.0.0@` + other + `" is not declared`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error:\n%v\nwant:\n%s\n%s", err, want, log)
	}
	if _, err := os.Stat(b.Dist.ISO()); err == nil || strings.Contains(log, "pack: ") {
		t.Errorf("pack ran after the images stage refused the chart:\n%s", log)
	}
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
			Hashes     []struct{ Content string }
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	roles, hashes := map[string]int{}, map[string]string{}
	for _, c := range doc.Components {
		if len(c.Hashes) > 0 {
			hashes[c.Name] = c.Hashes[0].Content
		}
		for _, p := range c.Properties {
			if p.Name == sbom.PropRole {
				roles[p.Value]++
			}
		}
		if c.Name == "subiquity-server" {
			t.Error("the SBOM lists a package of the installer layer, which is not installed")
		}
	}
	// MANIFEST.sha256 itself is a payload file too (issue 20 item 9).
	manifestLines := len(sums.Lines(b.Packed.Manifest, sums.SHA256))
	want := map[string]int{sbom.RoleBasePackage: 620, sbom.RolePayloadFile: manifestLines + 1, sbom.RoleHelmChart: 1, sbom.RoleBaseISO: 1,
		sbom.RoleImage: 1}
	if h := sha256.Sum256(b.Packed.Manifest); hashes["/novasphere/"+payload.ManifestName] != hex.EncodeToString(h[:]) {
		t.Errorf("the SBOM lists /novasphere/%s with SHA-256 %q, want %x", payload.ManifestName, hashes["/novasphere/"+payload.ManifestName], h)
	}
	for role, n := range want {
		if roles[role] != n {
			t.Errorf("the SBOM has %d %s components, want %d (all: %v)", roles[role], role, n, roles)
		}
	}
}

// A key that is not the committed release key is refused when the
// configuration loads, before any work (issue 20 item 6); a sign that
// fails anyway leaves no signature, and no temporary file of a killed sign
// survives the next run (items 3 and 4).
func TestSignatureByAnotherKeyFailsVerify(t *testing.T) {
	root := repoCopy(t)
	release, other := signingtest.NewKey(t, "Release"), signingtest.NewKey(t, "Someone Else")
	keyPath := filepath.Join(root, config.ReleaseKeyPath)
	env := map[string]string{config.EnvSigningKey: string(other.Private)}

	// Loaded before the release key is committed, the other key passes the
	// load; committed before the run, the sign stage refuses it.
	dir := t.TempDir()
	c, err := loadIn(t, dir, root, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, release.Public, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadIn(t, t.TempDir(), root, env); err == nil || !strings.Contains(err.Error(), config.EnvSigningKey+": key ") ||
		!strings.Contains(err.Error(), "is not the release key "+config.ReleaseKeyPath) {
		t.Errorf("loading with another key than the release key: %v, want it refused", err)
	}

	// A signature of an earlier SHA256SUMS, and the temporary file of a sign
	// that was killed, are there before the run.
	distDir := filepath.Join(dir, "dist")
	stale := filepath.Join(distDir, dist.SignatureName)
	orphan := filepath.Join(distDir, fmt.Sprintf(".%s.%d.0badcafe.tmp", dist.SignatureName, deadPID(t)))
	for _, f := range []string{stale, orphan} {
		if err := os.MkdirAll(distDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("-----BEGIN PGP SIGNATURE-----\nstale\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, log, err := runConfig(c, stage.Sign)
	if err == nil || !strings.Contains(err.Error(), "does not verify with "+config.ReleaseKeyPath) {
		t.Fatalf("want the other key refused, got %v\n%s", err, log)
	}
	if _, err := os.Stat(b.Dist.Signature()); !os.IsNotExist(err) {
		t.Errorf("a failed sign left a SHA256SUMS.gpg beside the new SHA256SUMS: %v", err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the temporary file of a killed sign is still there: %v\n%s", err, log)
	}
	if !strings.Contains(log, "left by a run that was stopped") {
		t.Errorf("the log does not say the orphan was removed:\n%s", log)
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// Without a key nothing is signed, and an old signature does not stay
// beside a new SHA256SUMS.
func TestNoKeyLeavesNoSignature(t *testing.T) {
	b, log, err := run(t, repoCopy(t), stage.Sign, nil)
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
	_, log, err := run(t, repoCopy(t), stage.Sign, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	last := -1
	for _, s := range pipeline.Stages {
		if s.Name() == stage.Release || s.Name() == stage.Verify { // verify writes its table to Out
			continue
		}
		name := s.Name().String()
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
	b, err := testiso.CommittedBase(id)
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
	b, log, err := runOn(t, fx, t.TempDir(), root, stage.SBOM, map[string]string{config.EnvBase: "ubuntu-26.04.1", config.EnvAdminAuthorizedKeys: sshdtest.PublicKeyFile(t)})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	log += autoinstallDetail(b)
	for _, want := range []string{"kernel layers ubuntu-server-minimal.ubuntu-server.installer.generic", "/autoinstall.yaml holds the same configuration", "verify: PASSED"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if b.Report == nil || !b.Report.Passed {
		t.Fatal("verify did not pass")
	}
	_, log, err = runOn(t, fx, t.TempDir(), root, stage.Packages, map[string]string{config.EnvBase: "ubuntu-22.04.5"})
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
	b, log, err := runOn(t, layoutFixture(t, base), t.TempDir(), repoCopy(t), stage.Sign, map[string]string{config.EnvBase: base, config.EnvAdminAuthorizedKeys: sshdtest.PublicKeyFile(t)})
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
	for _, a := range got {
		if a.SHA256 == "" || a.MD5 == "" {
			t.Errorf("%s is listed without its digests", a.Name)
		}
	}
	if !strings.HasSuffix(filepath.Dir(b.Dir(stage.Extract)), string(filepath.Separator)+base) {
		t.Errorf("extract's directory %s is not under the base's", b.Dir(stage.Extract))
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
	// grub.cfg and loopback.cfg (the entry, its HWE twin and the erasing
	// copy of the first: 3 + 3) keeps the autoinstall argument.
	if !strings.Contains(autoinstallDetail(b), "/autoinstall.yaml holds the same configuration; 6 kernel lines carry") {
		t.Errorf("verify did not check the HWE entries and /autoinstall.yaml: %s\n%s", autoinstallDetail(b), log)
	}
}

// Every setting's stage is one of Stages (a stage value can name no
// other, but one could be missing from the list), and each stage has its
// own name.
func TestEverySettingsStageIsInTheList(t *testing.T) {
	t.Parallel()
	seen := map[stage.Name]bool{}
	for _, s := range pipeline.Stages {
		if seen[s.Name()] || s.Name() == (stage.Name{}) {
			t.Errorf("stage %q is listed twice or has no name", s.Name())
		}
		seen[s.Name()] = true
	}
	for _, s := range config.Settings {
		if s.Stage != (stage.Name{}) && !seen[s.Stage] {
			t.Errorf("setting %s is read from stage %q, which is not in pipeline.Stages", s.Name, s.Stage)
		}
		if s.Stage != (stage.Name{}) && !pipeline.Reads(s, stage.Release) {
			t.Errorf("a release does not read %s", s.Name)
		}
	}
	if s, _ := config.Lookup(config.EnvSigningKey); pipeline.Reads(s, stage.Pack) || !pipeline.Reads(s, stage.Verify) {
		t.Errorf("%s is read from verify on, not by pack", config.EnvSigningKey)
	}
}

// A stage's error carries its name once: the runner adds it, the stage's
// package does not ("sbom: sbom: ..." before).
func TestStageErrorIsPrefixedOnce(t *testing.T) {
	root := repoCopy(t)
	chart := filepath.Join(root, "charts", "novasphere", "Chart.yaml")
	if err := os.WriteFile(chart, []byte("apiVersion: v2\nname: novasphere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The images stage, which renders the chart long before the SBOM
	// reads it, refuses it first, with Helm's reason.
	_, log, err := run(t, root, stage.Sign, nil)
	if err == nil {
		t.Fatalf("a chart without a version passed:\n%s", log)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "images: ") || strings.Count(msg, "images: ") != 1 || !strings.Contains(msg, "Chart.yaml: version is required") {
		t.Errorf("error %q: want one \"images: \" prefix and the reason", msg)
	}
}

// A release of a configuration nobody can log in to stops at customize,
// before any ISO is written, naming what to set; with ADMIN_AUTHORIZED_KEYS
// the same configuration gets past that point.
func TestReleaseRefusesABuildNobodyCanLogInTo(t *testing.T) {
	root := repoCopy(t)
	b, log, err := run(t, root, stage.Release, nil)
	if err == nil || !strings.Contains(err.Error(), "customize: the release checklist refuses this configuration: nobody can log in to the installed machine: set ADMIN_AUTHORIZED_KEYS") {
		t.Fatalf("release: %v\n%s", err, log)
	}
	if b.Packed != nil {
		t.Errorf("an ISO was written: %+v", b.Packed)
	}
	b, log, err = run(t, root, stage.Customize, map[string]string{config.EnvAdminAuthorizedKeys: sshdtest.PublicKeyFile(t)})
	if err != nil || !b.Customized.Login.CanLogIn() {
		t.Fatalf("customize with ADMIN_AUTHORIZED_KEYS: %v\n%s", err, log)
	}
}

// autoinstallDetail is the whole detail of verify's autoinstall check (the
// terminal table shortens it).
func autoinstallDetail(b *pipeline.Build) string {
	if b.Report == nil {
		return ""
	}
	for _, c := range b.Report.Checks {
		if c.Name == "autoinstall" {
			return c.Detail
		}
	}
	return ""
}
