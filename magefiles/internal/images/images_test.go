package images_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

const epoch = 1767225600

// run runs the stage on chartDir with the cache and returns its result and
// log.
func run(t *testing.T, chartDir, cache string, valuesFiles ...string) (images.Result, string, error) {
	t.Helper()
	return runIn(t, t.TempDir(), chartDir, cache, valuesFiles...)
}

// runIn is run with the stage's directory dir.
func runIn(t *testing.T, dir, chartDir, cache string, valuesFiles ...string) (images.Result, string, error) {
	t.Helper()
	var log tool.Buffer
	res, err := images.Run(context.Background(), images.Options{
		Render:          images.RenderOptions{Chart: chartDir, ValuesFiles: valuesFiles},
		CacheDir:        cache,
		Dir:             dir,
		SourceDateEpoch: epoch,
		Keychain:        authn.NewMultiKeychain(), // anonymous: never this machine's credentials
		Log:             &log,
	})
	return res, log.String(), err
}

// archive reads and checks the archive of the result's image i.
func archive(t *testing.T, res images.Result, i int) ([]byte, ocitar.Contents) {
	t.Helper()
	data, err := os.ReadFile(res.Path(res.Images[i]))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ocitar.Check(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("archive %s: %v", res.Images[i].File, err)
	}
	return data, c
}

// The chart's image, declared pinned, is fetched into the cache and written
// as an OCI archive with the linux/amd64 image only; a second build
// downloads nothing and writes the same bytes.
func TestPinnedImageShipsAndASecondBuildDownloadsNothing(t *testing.T) {
	reg := newRegistry(t)
	idx := testIndex(t, "amd64", "arm64")
	ref := reg.pushIndex(t, "novasphere/server:1.0.0", idx)
	dir, cache := serverChart(ref).write(t), t.TempDir()

	res, log, err := run(t, dir, cache)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if len(res.Images) != 1 {
		t.Fatalf("shipped %d images, want 1: %+v", len(res.Images), res.Images)
	}
	rec := res.Images[0]
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	amd64 := im.Manifests[0].Digest
	if rec.Digest != d.String() || rec.Manifest != amd64.String() || rec.File != "images/server.oci.tar" {
		t.Errorf("record %+v: want digest %s, manifest %s, images/server.oci.tar", rec, d, amd64)
	}
	if !slices.Equal(rec.Platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", rec.Platforms)
	}
	first, c := archive(t, res, 0)
	repo := reg.host + "/novasphere/server"
	if len(c.Images) != 1 || !slices.Equal(c.Images[0].Names, []string{repo + ":1.0.0", repo + "@" + d.String()}) ||
		c.Images[0].Manifest != amd64.String() || !slices.Equal(c.Images[0].Layers, rec.Layers) {
		t.Errorf("archive holds %+v, record says %+v", c.Images, rec)
	}
	// index + amd64 manifest + config + 1 layer: no arm64 blob.
	if c.Blobs != 4 {
		t.Errorf("archive holds %d blobs, want 4 (index, amd64 manifest, config, layer)", c.Blobs)
	}

	before := reg.requests.Load()
	res2, log, err := run(t, dir, cache)
	if err != nil {
		t.Fatalf("second build: %v\n%s", err, log)
	}
	if n := reg.requests.Load() - before; n != 0 {
		t.Errorf("second build with a warm cache made %d registry requests, want 0:\n%s", n, log)
	}
	second, _ := archive(t, res2, 0)
	if !bytes.Equal(first, second) {
		t.Error("two builds of the same image wrote different archives")
	}

	// In the same build directory, the archive is left alone.
	stageDir := filepath.Dir(res2.Tree)
	file := res2.Path(rec)
	before1, _ := os.Stat(file)
	res3, log, err := runIn(t, stageDir, dir, cache)
	after, _ := os.Stat(file)
	if err != nil || !strings.Contains(log, "images: server "+rec.Digest+" is up to date") || !after.ModTime().Equal(before1.ModTime()) ||
		res3.Images[0].Manifest != rec.Manifest {
		t.Errorf("a third build in the same directory: %v, rewrote the archive: %v\n%s", err, !after.ModTime().Equal(before1.ModTime()), log)
	}
}

// An image only declared by a single arm64 manifest, or by an index
// without linux/amd64, is refused with what it has.
func TestArm64OnlyImageIsRefused(t *testing.T) {
	reg := newRegistry(t)
	for _, tc := range []struct{ name, ref, want string }{
		{"manifest", reg.push(t, "x/single:1", testImage(t, "arm64", 1)), "is linux/arm64 only: the installed system needs linux/amd64"},
		{"index", reg.pushIndex(t, "x/multi:1", testIndex(t, "arm64", "s390x")), "has no linux/amd64 image (it has: linux/arm64, linux/s390x)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log, err := run(t, serverChart(tc.ref).write(t), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.ref) {
				t.Fatalf("error %v, want one naming %s and %q\n%s", err, tc.ref, tc.want, log)
			}
		})
	}
}

// A declared image with a tag but no digest, or whose declared platforms
// leave out linux/amd64, is refused before anything is fetched.
func TestUnpinnedDeclarationIsRefused(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.push(t, "novasphere/server:1.0.0", testImage(t, "amd64", 1))
	tagOnly, _, _ := strings.Cut(ref, "@")
	before := reg.requests.Load()
	c := serverChart(ref)
	c.decl[0].Image = tagOnly
	_, _, err := run(t, c.write(t), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `declared image "`+tagOnly+`" (server) is not pinned`) {
		t.Fatalf("error %v, want the unpinned image named", err)
	}
	c = serverChart(ref)
	c.decl[0].Platforms = []string{"linux/arm64"}
	_, _, err = run(t, c.write(t), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "without linux/amd64") {
		t.Fatalf("error %v, want the platforms refused", err)
	}
	if n := reg.requests.Load() - before; n != 0 {
		t.Errorf("refused charts made %d registry requests", n)
	}
}

// hookJob is a pre-install hook Job running image "migrate".
const hookJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    "helm.sh/hook": pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {{ .Values.migrateImage | quote }}
`

// initDeployment runs .Values.initImage as init container "wait".
const initDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-worker
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      initContainers:
        - name: wait
          image: {{ .Values.initImage | quote }}
      containers:
        - name: worker
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}@{{ .Values.image.digest }}"
`

// debugPod has an ephemeral container; agentCR is a custom resource with
// an image field, as operators' CRDs have.
const debugPod = `apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
    - name: main
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}@{{ .Values.image.digest }}"
  ephemeralContainers:
    - name: shell
      image: {{ .Values.debugImage | quote }}
`

const agentCR = `apiVersion: example.com/v1
kind: List
items:
  - apiVersion: example.com/v1
    kind: Agent
    metadata:
      name: agent
    spec:
      runtime:
        image: {{ .Values.agentImage | quote }}
`

// Every image a rendered document names must be declared: in a hook, an
// init container, an ephemeral container, a custom resource in a List, and
// one chosen through a values file. The message names the template, the
// container and the image, and nothing is fetched.
func TestUndeclaredImagesAreRefused(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.push(t, "novasphere/server:1.0.0", testImage(t, "amd64", 1))
	extra := reg.host + "/other/tool:2.0@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, template, body, value, values, want string
	}{
		{"hook", "hook.yaml", hookJob, "migrateImage", "",
			`novasphere/templates/hook.yaml (hook pre-install): Job novasphere-migrate, container containers/migrate: image "` + extra + `"`},
		{"init", "worker.yaml", initDeployment, "initImage", "",
			`novasphere/templates/worker.yaml: Deployment novasphere-worker, container initContainers/wait: image "` + extra + `"`},
		{"ephemeral", "debug.yaml", debugPod, "debugImage", "",
			`novasphere/templates/debug.yaml: Pod debug, container ephemeralContainers/shell: image "` + extra + `"`},
		{"custom resource", "agent.yaml", agentCR, "agentImage", "",
			`novasphere/templates/agent.yaml: Agent agent, container spec.runtime.image: image "` + extra + `"`},
		{"values", "deployment.yaml", deployment, "", "image:\n  repository: " + reg.host + "/other/tool\n  tag: \"2.0\"\n",
			`novasphere/templates/deployment.yaml: Deployment novasphere-server, container containers/server: image "` + reg.host + `/other/tool:2.0@`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serverChart(ref)
			c.templates[tc.template] = tc.body
			if tc.value != "" {
				c.values[tc.value] = extra
			}
			dir := c.write(t)
			var files []string
			if tc.values != "" {
				f := filepath.Join(t.TempDir(), "release-values.yaml")
				writeFile(t, f, tc.values)
				files = append(files, f)
			}
			before := reg.requests.Load()
			_, log, err := run(t, dir, t.TempDir(), files...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "is not declared in Chart.yaml's artifacthub.io/images annotation") {
				t.Fatalf("error:\n%v\nwant one with:\n%s\n%s", err, tc.want, log)
			}
			if n := reg.requests.Load() - before; n != 0 {
				t.Errorf("a refused chart made %d registry requests", n)
			}
		})
	}
}

// Declared, the hook's and the init container's images ship too.
func TestHookAndInitContainerImagesShipWhenDeclared(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.push(t, "novasphere/server:1.0.0", testImage(t, "amd64", 1))
	migrate := reg.push(t, "novasphere/migrate:1.0.0", testImage(t, "amd64", 2))
	wait := reg.pushIndex(t, "tools/wait:3", testIndex(t, "amd64"))
	c := serverChart(ref)
	c.templates["hook.yaml"], c.values["migrateImage"] = hookJob, migrate
	c.templates["worker.yaml"], c.values["initImage"] = initDeployment, wait
	c.decl = append(c.decl, images.Declared{Name: "migrate", Image: migrate}, images.Declared{Name: "wait", Image: wait, Platforms: []string{"linux/amd64"}})
	res, log, err := run(t, c.write(t), t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	var files []string
	for i, r := range res.Images {
		archive(t, res, i)
		files = append(files, r.File)
	}
	if !slices.Equal(files, []string{"images/server.oci.tar", "images/migrate.oci.tar", "images/wait.oci.tar"}) {
		t.Errorf("shipped %v", files)
	}
	if len(res.Images) == 3 && len(res.Images[1].Layers) != 2 {
		t.Errorf("migrate has %d layers, want 2", len(res.Images[1].Layers))
	}
}

// With the registry down, a warm cache builds (offline); a cold one stops
// with an error that names the registry.
func TestRegistryDown(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.push(t, "novasphere/server:1.0.0", testImage(t, "amd64", 2))
	dir, cache := serverChart(ref).write(t), t.TempDir()
	if _, log, err := run(t, dir, cache); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	reg.srv.Close()
	res, log, err := run(t, dir, cache)
	if err != nil {
		t.Fatalf("warm cache, registry down: %v\n%s", err, log)
	}
	archive(t, res, 0)
	_, _, err = run(t, dir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "from registry "+reg.host+" (not in the cache") {
		t.Fatalf("cold cache, registry down: error %v, want one naming registry %s", err, reg.host)
	}
}

// A cached blob whose bytes changed is found, removed and fetched again.
func TestCorruptCachedBlobIsFetchedAgain(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.push(t, "novasphere/server:1.0.0", testImage(t, "amd64", 1))
	dir, cache := serverChart(ref).write(t), t.TempDir()
	res, log, err := run(t, dir, cache)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	want, _ := archive(t, res, 0)
	layer := filepath.Join(cache, "blobs", "sha256", strings.TrimPrefix(res.Images[0].Layers[0], "sha256:"))
	data, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	writeFile(t, layer, string(data))
	before := reg.requests.Load()
	res, log, err = run(t, dir, cache)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log, "cached blob "+layer+" is corrupt") || reg.requests.Load() == before {
		t.Errorf("the corrupt layer was not reported and fetched again:\n%s", log)
	}
	if got, _ := archive(t, res, 0); !bytes.Equal(got, want) {
		t.Error("the archive after the corrupt blob differs from the first")
	}
}

// A chart that does not render, or fails Helm's lint rules, is refused
// with Helm's own message.
func TestChartThatDoesNotRenderIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"template error", "{{ .Values.missing.field }}", "nil pointer evaluating interface {}.field"},
		{"not YAML", "kind: [", "fails helm lint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serverChart("example.com/x:1@sha256:" + strings.Repeat("0", 64))
			c.templates["bad.yaml"] = tc.body
			_, _, err := run(t, c.write(t), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
				t.Fatalf("error %v, want Helm's message with %q about bad.yaml", err, tc.want)
			}
		})
	}
}
