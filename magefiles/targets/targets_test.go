package targets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy/sshdtest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// mage runs `go run magefile.go args...` from the repository root, as a
// user would, and returns its combined output.
func mage(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), "go", append([]string{"run", "magefile.go"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestListShowsEveryTargetWithADescription(t *testing.T) {
	out, err := mage(t, nil, "-l")
	if err != nil {
		t.Fatalf("mage -l: %v\n%s", err, out)
	}
	for _, name := range []string{"fetch", "fetch:recheck", "extract", "customize", "images", "pack", "verify",
		"release", "release:rollback", "test", "clean", "settings", "reproduce", "testiso", "bases", "vm"} {
		re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `\s{2,}\S.{20,}$`)
		if !re.MatchString(out) {
			t.Errorf("mage -l does not list %q with a description:\n%s", name, out)
		}
	}
}

func TestVMRefusesAnUnknownFirmware(t *testing.T) {
	out, err := mage(t, nil, "vm", "efi")
	if err == nil || !strings.Contains(out, `vm: firmware "efi": use bios or uefi`) {
		t.Errorf("mage vm efi: %v\n%s", err, out)
	}
	out, err = mage(t, nil, "-h", "vm")
	if err != nil || !strings.Contains(out, "mage vm <firmware>") || !strings.Contains(out, "ssh -p <free port>") {
		t.Errorf("mage -h vm: %v\n%s", err, out)
	}
}

// TestBasesListsEveryBaseWithItsLockState: the committed 22.04.3 is the
// locked default, the others wait for their first fetch.
func TestBasesListsEveryBaseWithItsLockState(t *testing.T) {
	out, err := mage(t, nil, "bases")
	if err != nil {
		t.Fatalf("mage bases: %v\n%s", err, out)
	}
	for _, re := range []string{
		`(?m)^ubuntu-22\.04\.3 \(default\)\s+22\.04\.3 jammy\s+yes\s+sha256:a4acfda10b18… \(configs/bases\.lock:\d+\)`,
		`(?m)^ubuntu-24\.04\.4\s+24\.04\.4 noble\s+no\s+unlocked: the first fetch locks it\s+autoinstall-schema=24\.04`,
		`(?m)^ubuntu-26\.04\.1\s+26\.04\.1 resolute\s+no\s+unlocked`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("mage bases does not match %s:\n%s", re, out)
		}
	}
}

func TestHelpReleaseShowsUsageAndEnvironment(t *testing.T) {
	out, err := mage(t, nil, "-h", "release")
	if err != nil {
		t.Fatalf("mage -h release: %v\n%s", err, out)
	}
	if n := strings.Count(out, "Usage:"); n != 1 {
		t.Errorf("mage -h release shows %d Usage blocks, want mage's one:\n%s", n, out)
	}
	for _, want := range []string{"mage release <version>", "-draft", "-dryrun", "-force",
		"GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "RELEASE_SCP_TARGET", "CHANGELOG.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("mage -h release lacks %q:\n%s", want, out)
		}
	}
}

// pipelineEnv points the whole pipeline at the test ISO and at temporary
// directories.
func pipelineEnv(t *testing.T, version string) (env []string, dist string) {
	fx := testiso.Shared(t)
	sum := digestOf(t, fx.ISO)
	tmp := t.TempDir()
	dist = filepath.Join(tmp, "dist")
	// The image the repository's chart pins, as a fetch leaves it.
	if err := imagestest.WarmCache(filepath.Join(tmp, "cache")); err != nil {
		t.Fatal(err)
	}
	return []string{
		"BASE_ISO_URL=" + fx.ISO,
		"BASE_ISO_SHA256=" + sum,
		"BASE_ISO_SUMS_URL=",
		"VERSION=" + version,
		"DIST_DIR=" + dist,
		"BUILD_DIR=" + filepath.Join(tmp, "build"),
		"CACHE_DIR=" + filepath.Join(tmp, "cache"),
		// The boots are proven in the verify and qemu packages; this test is
		// about the chain of targets.
		"VERIFY_BOOT=0",
	}, dist
}

func TestVerifyRunsTheWholeChainOnceEachInOrder(t *testing.T) {
	env, dist := pipelineEnv(t, "v1.2.3")
	out, err := mage(t, env, "verify")
	if err != nil {
		t.Fatalf("go run magefile.go verify: %v\n%s", err, out)
	}
	last := -1
	for _, stage := range []string{"fetch: ", "extract: ", "customize: ", "pack: ", "verify: "} {
		i := strings.Index(out, "\n"+stage)
		if strings.HasPrefix(out, stage) {
			i = 0
		}
		if i < 0 {
			t.Fatalf("no %q line in the output:\n%s", stage, out)
		}
		if i < last {
			t.Errorf("%q ran out of order:\n%s", stage, out)
		}
		last = i
	}
	if n := strings.Count(out, "pack: wrote "); n != 1 {
		t.Errorf("pack wrote the ISO %d times, want once:\n%s", n, out)
	}
	for _, f := range []string{"novasphere-installer-v1.2.3.iso", "SHA256SUMS", "MD5SUMS", "verify-report.json"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Errorf("verify left no %s: %v", f, err)
		}
	}

	again, err := mage(t, env, "pack")
	if err != nil {
		t.Fatalf("second pack: %v\n%s", err, again)
	}
	if !strings.Contains(again, "up to date") || strings.Contains(again, "pack: wrote ") {
		t.Errorf("a second pack with no change must do nothing:\n%s", again)
	}
}

func TestBadVersionStopsBeforeAnyWork(t *testing.T) {
	env, dist := pipelineEnv(t, "1.0")
	out, err := mage(t, env, "pack")
	if err == nil {
		t.Fatalf("pack accepted VERSION=1.0:\n%s", out)
	}
	if !strings.Contains(out, `version "1.0" is not accepted`) || !strings.Contains(out, "vX.Y.Z") {
		t.Errorf("the error does not name the version and the accepted forms:\n%s", out)
	}
	if strings.Contains(out, "fetch: ") {
		t.Errorf("fetch ran despite the bad version:\n%s", out)
	}
	if _, err := os.Stat(dist); !os.IsNotExist(err) {
		t.Errorf("dist was created for a refused build: %v", err)
	}
}

func TestReleaseRefusesABadVersionArgument(t *testing.T) {
	out, err := mage(t, []string{"VERSION=20261127"}, "release", "latest")
	if err == nil || !strings.Contains(out, `version "latest" is not accepted`) {
		t.Fatalf("release latest: err=%v\n%s", err, out)
	}
}

// The version argument of release is the version: a VERSION left in the
// environment (here an invalid one) neither blocks nor changes the build.
func TestReleaseArgumentOverridesVersionEnv(t *testing.T) {
	env, dist := pipelineEnv(t, "dev")
	// Release always runs the install proof; the shared test ISO has no
	// installer, so let it fail at once: this test is about the version.
	// A key to log in with, so that the release gets past customize's
	// "nobody can log in" refusal.
	env = append(env, "GH_TOKEN=", "GITHUB_TOKEN=", "GITHUB_REPOSITORY=novasphere/novasphere-iso", "VERIFY_INSTALL_TIMEOUT=1s",
		config.EnvAdminAuthorizedKeys+"="+sshdtest.PublicKeyFile(t))
	out, err := mage(t, env, "release", "v1.2.4", "-dryrun")
	if err == nil {
		t.Fatalf("release without a token and without boots passed its checklist:\n%s", out)
	}
	if strings.Contains(out, `version "dev"`) {
		t.Errorf("VERSION=dev blocked release v1.2.4:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dist, "novasphere-installer-v1.2.4.iso")); err != nil {
		t.Errorf("release v1.2.4 did not build the v1.2.4 ISO: %v\n%s", err, out)
	}
	if !strings.Contains(out, "install-bios") || strings.Contains(out, "uploaded novasphere-installer") {
		t.Errorf("want the install proof (part of every release) to stop it before any upload:\n%s", out)
	}
}

// Every target named after a stage has a `mage -h` that names every
// setting it reads, its own stage's and those of the stages it runs first,
// as the settings table declares them.
func TestHelpOfEachStageNamesEverySettingItReads(t *testing.T) {
	list, err := mage(t, nil, "-l")
	if err != nil {
		t.Fatalf("mage -l: %v\n%s", err, list)
	}
	targets := 0
	for _, st := range pipeline.Stages {
		name := st.Name().String()
		if !regexp.MustCompile(`(?m)^  ` + name + `\s`).MatchString(list) {
			continue // no target of its own (packages, sbom, sign)
		}
		targets++
		out, err := mage(t, nil, "-h", name)
		if err != nil {
			t.Fatalf("mage -h %s: %v\n%s", name, err, out)
		}
		for _, s := range config.Settings {
			if pipeline.Reads(s, st.Name()) && !strings.Contains(out, s.Name) {
				t.Errorf("mage -h %s does not name %s, which it reads", name, s.Name)
			}
		}
	}
	if targets != 7 {
		t.Errorf("%d stages have a target, want 7 (fetch, extract, customize, images, pack, verify, release):\n%s", targets, list)
	}
}

// mage settings shows where each value came from and never a secret.
func TestSettingsShowsOriginsAndHidesSecrets(t *testing.T) {
	out, err := mage(t, []string{"GH_TOKEN=ghp_doNotShowMe", "DIST_DIR=/tmp/elsewhere", "VERSION=v2.0.0", "NOVASPHERE_NO_INSTALL=false"}, "settings")
	if err != nil {
		t.Fatalf("mage settings: %v\n%s", err, out)
	}
	if strings.Contains(out, "ghp_doNotShowMe") {
		t.Fatalf("mage settings printed the token:\n%s", out)
	}
	for _, re := range []string{`(?m)^GH_TOKEN\s+set\s+environment`, `(?m)^GITHUB_TOKEN\s+unset\s+default`,
		`(?m)^DIST_DIR\s+/tmp/elsewhere\s+environment`, `(?m)^VERSION\s+v2\.0\.0\s+environment`, `(?m)^BUILD_DIR\s+/\S+/build\s+default`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("mage settings does not match %s:\n%s", re, out)
		}
	}
}

// A flag given before the version is named as a flag, with the right order.
func TestReleaseSaysFlagsGoAfterTheVersion(t *testing.T) {
	out, err := mage(t, nil, "release", "-dryrun", "v1.2.3")
	if err == nil {
		t.Fatalf("release -dryrun v1.2.3 succeeded:\n%s", out)
	}
	if !strings.Contains(out, `"-dryrun" is a flag, not a version: flags go after the version`) {
		t.Errorf("the error does not say where flags go:\n%s", out)
	}
}

// Two packs at once in one checkout (issue 13, defect 1): the second waits
// for the first instead of deleting its temporary file, both succeed, and
// the ISO left is whole (as long as its build record says).
func TestTwoPacksAtOnceLeaveAWholeISO(t *testing.T) {
	env, dist := pipelineEnv(t, "v1.2.5")
	type result struct {
		out string
		err error
	}
	done := make(chan result, 2)
	for range 2 {
		go func() {
			out, err := mage(t, env, "pack")
			done <- result{out, err}
		}()
	}
	var outs []string
	for range 2 {
		r := <-done
		if r.err != nil {
			t.Fatalf("a concurrent pack failed: %v\n%s", r.err, r.out)
		}
		outs = append(outs, r.out)
	}
	all := strings.Join(outs, "\n----\n")
	if strings.Count(all, "pack: wrote ") != 1 || !strings.Contains(all, "(newer than every input); nothing to do") {
		t.Errorf("want one pack to write and the other to find it up to date:\n%s", all)
	}
	iso := filepath.Join(dist, "novasphere-installer-v1.2.5.iso")
	fi, err := os.Stat(iso)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dist, "novasphere-installer-v1.2.5.build.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), fmt.Sprintf(`"iso_size": %d`, fi.Size())) || fi.Size() < 1<<20 {
		t.Errorf("the ISO left is %d bytes; its record says:\n%s", fi.Size(), data)
	}
	if leftovers := hiddenFiles(dist); len(leftovers) > 0 {
		t.Errorf("temporary or lock files left in dist: %v", leftovers)
	}
}

// Two verifies at once in one checkout: the second waits for the first's
// pack and report, then reuses the report that passed for the same ISO.
func TestTwoVerifiesAtOnce(t *testing.T) {
	env, dist := pipelineEnv(t, "v1.2.6")
	done := make(chan string, 2)
	for range 2 {
		go func() {
			out, err := mage(t, env, "verify")
			if err != nil {
				out = "FAILED: " + err.Error() + "\n" + out
			}
			done <- out
		}()
	}
	all := <-done + "\n----\n" + <-done
	if strings.Contains(all, "FAILED: ") {
		t.Fatalf("a concurrent verify failed:\n%s", all)
	}
	if strings.Count(all, "verify: PASSED") != 1 || !strings.Contains(all, "reused; VERIFY_FORCE=1 runs them again") {
		t.Errorf("want one verify to check and the other to reuse its report:\n%s", all)
	}
	if leftovers := hiddenFiles(dist); len(leftovers) > 0 {
		t.Errorf("temporary or lock files left in dist: %v", leftovers)
	}
}

// TestBasesJSON: the workflows' matrix reads every base, its output suffix
// and its locked digest from `bases -json`.
func TestBasesJSON(t *testing.T) {
	out, err := mage(t, nil, "bases", "-json")
	if err != nil {
		t.Fatalf("mage bases -json: %v\n%s", err, out)
	}
	var list []struct {
		ID, Suffix, SHA256 string
		Release, Default   bool
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &list); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(list) < 4 || list[0].ID != "ubuntu-22.04.3" || !list[0].Default || list[0].Suffix != "" || !list[0].Release ||
		list[0].SHA256 != "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd" {
		t.Errorf("bases -json = %+v", list)
	}
	for _, b := range list[1:] {
		if b.Default || b.Suffix != "-"+b.ID {
			t.Errorf("%s: default %v, suffix %q", b.ID, b.Default, b.Suffix)
		}
	}
}

// hiddenFiles are the dot files in dir but the pipeline's marker:
// temporary and lock files left behind.
func hiddenFiles(dir string) []string {
	all, _ := filepath.Glob(filepath.Join(dir, ".*"))
	var out []string
	for _, f := range all {
		if filepath.Base(f) != config.OutputMarker {
			out = append(out, f)
		}
	}
	return out
}
