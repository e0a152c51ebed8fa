package images_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
)

// testRegistry is go-containerregistry's registry, in process on loopback,
// counting the blob and manifest requests it serves.
type testRegistry struct {
	srv      *httptest.Server
	host     string
	requests atomic.Int64
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, "/blobs/") || strings.Contains(req.URL.Path, "/manifests/") {
			r.requests.Add(1)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// push writes img as repo:tag and returns "host/repo:tag@sha256:…".
func (r *testRegistry) push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.String() + "@" + d.String()
}

// pushIndex writes idx as repo:tag and returns its pinned reference.
func (r *testRegistry) pushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.String() + "@" + d.String()
}

// testImage is a small image for arch with n random gzip layers (each a
// tar of one file), as a real build would push.
func testImage(t testing.TB, arch string, n int) v1.Image {
	t.Helper()
	img := empty.Image
	for range n {
		l, err := random.Layer(2048, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"/bin/true"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

// testIndex is an index of one image per arch.
func testIndex(t testing.TB, archs ...string) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, a := range archs {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: testImage(t, a, 1),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: a}}})
	}
	return idx
}

// chart is a test chart: its declarations, values and templates.
type chart struct {
	decl      []images.Declared
	values    map[string]any
	templates map[string]string
}

// deployment renders .Values.image (repository, tag, digest) in a
// Deployment's container "server".
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-server
spec:
  selector:
    matchLabels: {app: server}
  template:
    metadata:
      labels: {app: server}
    spec:
      containers:
        - name: server
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}"
          imagePullPolicy: Never
`

// serverChart is a chart whose one Deployment runs ref (repo:tag@digest),
// declared as "server".
func serverChart(ref string) chart {
	repoTag, digest, _ := strings.Cut(ref, "@")
	i := strings.LastIndex(repoTag, ":")
	return chart{
		decl:      []images.Declared{{Name: "server", Image: ref}},
		values:    map[string]any{"image": map[string]any{"repository": repoTag[:i], "tag": repoTag[i+1:], "digest": digest}},
		templates: map[string]string{"deployment.yaml": deployment},
	}
}

// write writes the chart to a new directory and returns it.
func (c chart) write(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "novasphere")
	meta := map[string]any{"apiVersion": "v2", "name": "novasphere", "version": "0.1.0", "appVersion": "1.0.0"}
	if c.decl != nil {
		list, err := yaml.Marshal(c.decl)
		if err != nil {
			t.Fatal(err)
		}
		meta["annotations"] = map[string]string{images.AnnotationKey: string(list)}
	}
	files := map[string]any{"Chart.yaml": meta, "values.yaml": c.values}
	for n, v := range files {
		data, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, n), string(data))
	}
	for n, body := range c.templates {
		writeFile(t, filepath.Join(dir, "templates", n), body)
	}
	return dir
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func declared(name, ref string) images.Declared { return images.Declared{Name: name, Image: ref} }
