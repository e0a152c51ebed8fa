package release

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

func workflowsDir(t *testing.T) string {
	t.Helper()
	root, err := config.FindRoot()
	must(t, err)
	return filepath.Join(root, ".github", "workflows")
}

// TestWorkflowsPassActionlint lints every workflow with actionlint (the
// library, offline: syntax, expressions, contexts, action inputs and
// outdated actions).
func TestWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	dir := workflowsDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	must(t, err)
	if len(files) < 2 {
		t.Fatalf("workflows in %s: %v, want build-iso.yml and ci.yml at least", dir, files)
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Color: actionlint.ColorOptionKindNever, WorkingDir: filepath.Dir(filepath.Dir(dir))})
	must(t, err)
	errs, err := linter.LintFiles(files, nil)
	must(t, err)
	if len(errs) > 0 {
		t.Errorf("actionlint found %d problem(s):\n%s", len(errs), out.String())
	}
}

type workflow struct {
	On          map[string]any   `yaml:"on"`
	Permissions any              `yaml:"permissions"`
	Jobs        map[string]wfJob `yaml:"jobs"`
}

type wfJob struct {
	RunsOn      string            `yaml:"runs-on"`
	Needs       stringList        `yaml:"needs"`
	Permissions map[string]string `yaml:"permissions"`
	Outputs     map[string]string `yaml:"outputs"`
	Strategy    struct {
		Matrix struct {
			Include []map[string]any `yaml:"include"`
			// Base is the matrix of bases, read from `bases -json`.
			Base any `yaml:"base"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Env   map[string]string `yaml:"env"`
	Steps []wfStep          `yaml:"steps"`
}

type wfStep struct {
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// stringList reads `needs: a` and `needs: [a, b]` alike.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = []string{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}

func readWorkflow(t *testing.T, name string) (workflow, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(workflowsDir(t), name))
	must(t, err)
	var w workflow
	must(t, yaml.Unmarshal(data, &w))
	return w, string(data)
}

// minimumActions are the oldest major versions still current (the
// upload-artifact@v3 of the old process is retired).
var minimumActions = map[string]int{"actions/checkout": 4, "actions/setup-go": 5, "actions/cache": 4, "actions/upload-artifact": 4, "actions/download-artifact": 4, "actions/attest-build-provenance": 2}

func checkActionVersions(t *testing.T, name string, w workflow) {
	t.Helper()
	re := regexp.MustCompile(`^([^@]+)@v(\d+)`)
	for job, j := range w.Jobs {
		for _, s := range j.Steps {
			m := re.FindStringSubmatch(s.Uses)
			if s.Uses == "" {
				continue
			}
			if m == nil {
				t.Errorf("%s: job %s uses %q, not pinned to a major version", name, job, s.Uses)
				continue
			}
			major, _ := strconv.Atoi(m[2])
			if minimum, ok := minimumActions[m[1]]; ok && major < minimum {
				t.Errorf("%s: job %s uses %s, older than v%d", name, job, s.Uses, minimum)
			}
		}
	}
}

func TestBuildISOWorkflowReleasesTheVersion(t *testing.T) {
	t.Parallel()
	w, text := readWorkflow(t, "build-iso.yml")
	checkActionVersions(t, "build-iso.yml", w)
	release, _ := w.On["release"].(map[string]any)
	if types, _ := release["types"].([]any); len(types) != 1 || types[0] != "created" {
		t.Errorf("build-iso.yml: release trigger %v, want types [created]", w.On["release"])
	}
	push, _ := w.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) != 1 || tags[0] != "v*" {
		t.Errorf("build-iso.yml: push trigger %v, want tags [v*]", w.On["push"])
	}
	dispatch, _ := w.On["workflow_dispatch"].(map[string]any)
	inputs, _ := dispatch["inputs"].(map[string]any)
	if _, ok := inputs["version"]; !ok {
		t.Errorf("build-iso.yml: workflow_dispatch has no version input: %v", w.On["workflow_dispatch"])
	}
	var runsRelease, cache bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "go run magefile.go") && strings.Contains(s.Run, "release") && s.Env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}" {
				runsRelease = true
			}
			if strings.HasPrefix(s.Uses, "actions/cache@") && strings.Contains(s.With["key"], "steps.pin.outputs.sha256") && strings.Contains(s.With["path"], "steps.pin.outputs.sha256") {
				cache = true
			}
		}
	}
	if !runsRelease {
		t.Error("build-iso.yml: no step runs `go run magefile.go release` with GITHUB_TOKEN")
	}
	if !cache {
		t.Error("build-iso.yml: the base ISO is not cached under its pinned digest")
	}
	if !strings.Contains(text, "contents: write") {
		t.Error("build-iso.yml: the job cannot write releases (permissions: contents: write)")
	}
}

func TestCIWorkflowRunsTestAndVerify(t *testing.T) {
	t.Parallel()
	w, _ := readWorkflow(t, "ci.yml")
	checkActionVersions(t, "ci.yml", w)
	if _, ok := w.On["pull_request"]; !ok || len(w.On) != 1 {
		t.Errorf("ci.yml triggers on %v, want pull_request", w.On)
	}
	runs := map[string]bool{}
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			runs[strings.TrimSpace(s.Run)] = true
		}
	}
	for _, want := range []string{"go run magefile.go test", "go run magefile.go verify"} {
		if !runs[want] {
			t.Errorf("ci.yml has no step running %q", want)
		}
	}
}

// stepIndex returns the index of the first step of j that matches, or -1.
func stepIndex(j wfJob, match func(wfStep) bool) int {
	for i, s := range j.Steps {
		if match(s) {
			return i
		}
	}
	return -1
}

func runsMage(target string) func(wfStep) bool {
	return func(s wfStep) bool {
		// Lines that only list the bases (`bases -json`) run no stage.
		var run []string
		for _, line := range strings.Split(s.Run, "\n") {
			if !strings.Contains(line, "go run magefile.go bases") {
				run = append(run, line)
			}
		}
		text := strings.Join(run, "\n")
		return strings.Contains(text, "go run magefile.go") && strings.Contains(text, target)
	}
}

// The release job attests the ISO, the SBOM and SHA256SUMS after building
// them, with the permissions artifact attestations need; the signing key
// reaches the release step only from secrets.
func TestBuildISOWorkflowAttestsTheRelease(t *testing.T) {
	t.Parallel()
	w, _ := readWorkflow(t, "build-iso.yml")
	if top, ok := w.Permissions.(map[string]any); !ok || top["contents"] != "read" || len(top) != 1 {
		t.Errorf("build-iso.yml: workflow permissions %v, want only contents: read (jobs raise their own)", w.Permissions)
	}
	var attested bool
	for name, j := range w.Jobs {
		attest := stepIndex(j, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/attest-build-provenance@") })
		if attest < 0 {
			continue
		}
		attested = true
		for perm, want := range map[string]string{"id-token": "write", "attestations": "write", "contents": "write"} {
			if j.Permissions[perm] != want {
				t.Errorf("build-iso.yml: job %s attests but has permissions %v, want %s: %s", name, j.Permissions, perm, want)
			}
		}
		subjects := j.Steps[attest].With["subject-path"]
		for _, want := range []string{".iso", ".cdx.json", "dist/SHA256SUMS"} {
			if !strings.Contains(subjects, want) {
				t.Errorf("build-iso.yml: job %s: attestation subjects %q lack %s", name, subjects, want)
			}
		}
		release := stepIndex(j, runsMage("release"))
		if release < 0 || release > attest {
			t.Errorf("build-iso.yml: job %s attests (step %d) before or without the release step (%d)", name, attest, release)
		}
		if rel := j.Steps[max(release, 0)]; rel.Env["RELEASE_SIGNING_KEY"] != "${{ secrets.RELEASE_SIGNING_KEY }}" || rel.Env["RELEASE_SIGNING_PASSPHRASE"] != "${{ secrets.RELEASE_SIGNING_PASSPHRASE }}" {
			t.Errorf("build-iso.yml: job %s: the release step does not get RELEASE_SIGNING_KEY and RELEASE_SIGNING_PASSPHRASE from secrets: %v", name, rel.Env)
		}
	}
	if !attested {
		t.Error("build-iso.yml: no job uses actions/attest-build-provenance")
	}
	for name, j := range w.Jobs {
		if stepIndex(j, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/attest-build-provenance@") }) < 0 && len(j.Permissions) > 0 {
			t.Errorf("build-iso.yml: job %s raises permissions %v without attesting", name, j.Permissions)
		}
	}
}

// The same commit is built on two separate runners, a third job fails
// unless both ISO digests are identical, and the release waits for it.
func TestBuildISOWorkflowProvesReproducibility(t *testing.T) {
	t.Parallel()
	w, _ := readWorkflow(t, "build-iso.yml")
	// The builders: jobs that pack the ISO and upload its digest without
	// releasing it, counted once per matrix entry.
	builders := map[string]int{}
	for name, j := range w.Jobs {
		if stepIndex(j, runsMage("pack")) < 0 || stepIndex(j, runsMage("release")) >= 0 ||
			stepIndex(j, func(s wfStep) bool { return strings.Contains(s.Run, "sha256sum") }) < 0 ||
			stepIndex(j, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") }) < 0 {
			continue
		}
		if j.RunsOn == "" {
			t.Errorf("build-iso.yml: builder job %s has no runs-on", name)
		}
		builders[name] = max(1, len(j.Strategy.Matrix.Include))
	}
	total := 0
	for _, n := range builders {
		total += n
	}
	if total != 2 {
		t.Fatalf("build-iso.yml: %d builds of the ISO that keep their digest (%v), want 2 on separate runners", total, builders)
	}
	var compare string
	for name, j := range w.Jobs {
		if stepIndex(j, func(s wfStep) bool { return strings.HasPrefix(s.Uses, "actions/download-artifact@") }) < 0 {
			continue
		}
		script := ""
		for _, s := range j.Steps {
			script += s.Run
		}
		if !strings.Contains(script, "exit 1") || !strings.Contains(script, "!=") {
			continue
		}
		compare = name
		for b := range builders {
			if !slices.Contains(j.Needs, b) {
				t.Errorf("build-iso.yml: compare job %s does not need builder %s (needs %v)", name, b, j.Needs)
			}
		}
		if j.Outputs["sha256"] == "" {
			t.Errorf("build-iso.yml: compare job %s does not output the reproduced sha256", name)
		}
	}
	if compare == "" {
		t.Fatal("build-iso.yml: no job downloads the builds' digests and fails when they differ")
	}
	for name, j := range w.Jobs {
		if stepIndex(j, runsMage("release")) >= 0 && !slices.Contains(j.Needs, compare) {
			t.Errorf("build-iso.yml: release job %s does not wait for %s (needs %v)", name, compare, j.Needs)
		}
	}
}

// TestInstallTestWorkflowRunsTheProof: the nightly install proof runs on a
// schedule and by hand, with KVM, runs verify with the install proof, and
// keeps the consoles and screen pictures even when it fails.
func TestInstallTestWorkflowRunsTheProof(t *testing.T) {
	t.Parallel()
	w, text := readWorkflow(t, "install-test.yml")
	checkActionVersions(t, "install-test.yml", w)
	if _, ok := w.On["schedule"]; !ok {
		t.Errorf("install-test.yml triggers on %v, want a schedule", w.On)
	}
	if _, ok := w.On["workflow_dispatch"]; !ok {
		t.Errorf("install-test.yml triggers on %v, want workflow_dispatch", w.On)
	}
	var proof, upload bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "go run magefile.go verify") && s.Env["VERIFY_INSTALL"] == "1" {
				proof = true
			}
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && strings.Contains(s.With["path"], "dist/install-*.log") &&
				strings.Contains(s.With["path"], "dist/*.png") {
				upload = true
			}
		}
	}
	if !proof {
		t.Error("install-test.yml: no step runs `go run magefile.go verify` with VERIFY_INSTALL=1")
	}
	if !upload {
		t.Error("install-test.yml: the install consoles and screen pictures are not kept as artifacts")
	}
	if !strings.Contains(text, "udevadm trigger --name-match=kvm") || !strings.Contains(text, "runs-on: ubuntu-24.04") {
		t.Error("install-test.yml: not on ubuntu-24.04 with KVM opened to the runner's user")
	}
}

// baseMatrix checks that workflow name runs job once per base that a job
// listing `go run magefile.go bases -json` filtered by filter outputs, with
// BASE set from the matrix and the base ISO cached under the digest its pin
// step reads from configs/bases.lock.
func baseMatrix(t *testing.T, name, job, filter string) wfJob {
	t.Helper()
	w, _ := readWorkflow(t, name)
	lister := ""
	output := ""
	for n, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "go run magefile.go bases -json") && strings.Contains(s.Run, filter) {
				lister = n
				for k := range j.Outputs {
					output = k
				}
			}
		}
	}
	if lister == "" {
		t.Fatalf("%s: no job lists the bases with `bases -json` and %s", name, filter)
	}
	j, ok := w.Jobs[job]
	if !ok {
		t.Fatalf("%s: no job %s", name, job)
	}
	want := "${{ fromJSON(needs." + lister + ".outputs." + output + ") }}"
	if j.Strategy.Matrix.Base != want || !slices.Contains(j.Needs, lister) {
		t.Errorf("%s: job %s's matrix of bases is %v (needs %v), want %s", name, job, j.Strategy.Matrix.Base, j.Needs, want)
	}
	if j.Env["BASE"] != "${{ matrix.base.id }}" {
		t.Errorf("%s: job %s does not set BASE from its matrix: %v", name, job, j.Env)
	}
	pin, cache := stepIndex(j, func(s wfStep) bool { return s.Name != "" && strings.Contains(s.Name, "configs/bases.lock") }),
		stepIndex(j, func(s wfStep) bool {
			return strings.HasPrefix(s.Uses, "actions/cache@") && strings.Contains(s.With["key"], "steps.pin.outputs.sha256")
		})
	if pin < 0 || cache < pin {
		t.Errorf("%s: job %s does not cache the base ISO under the digest locked in configs/bases.lock", name, job)
	}
	return j
}

// TestWorkflowsRunEveryBase: build-iso.yml packs every base marked for
// release twice (reproducibility) and install-test.yml proves every locked
// base, each job caching its own base ISO by its locked digest.
func TestWorkflowsRunEveryBase(t *testing.T) {
	t.Parallel()
	build := baseMatrix(t, "build-iso.yml", "build", "select(.release)")
	if len(build.Strategy.Matrix.Include) != 2 {
		t.Errorf("build-iso.yml: %d builders per base, want 2", len(build.Strategy.Matrix.Include))
	}
	if i := stepIndex(build, func(s wfStep) bool { return strings.Contains(s.Run, "novasphere-installer-$VERSION$SUFFIX.iso") }); i < 0 ||
		build.Steps[i].Env["SUFFIX"] != "${{ matrix.base.suffix }}" {
		t.Error("build-iso.yml: the builds do not name each base's ISO with its suffix")
	}
	_, text := readWorkflow(t, "build-iso.yml")
	if !strings.Contains(text, `for base in $(echo "$BASES" | jq -r '.[].id'); do`) {
		t.Error("build-iso.yml: the reproducibility check does not compare every base")
	}
	baseMatrix(t, "install-test.yml", "install", `select(.sha256 != "")`)
}
