package images_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// repoChart is the repository's chart.
const repoChart = "../../../charts/novasphere"

// offline fails every request: a build that needs the network fails.
type offline struct{}

func (offline) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, errors.New("test: no network for " + r.URL.Host)
}

// The repository's chart declares its default image pinned, renders only
// declared images, and with the image in the cache builds without any
// request; the archive imports with a real ctr.
func TestRepositoryChartShipsItsImage(t *testing.T) {
	cache := t.TempDir()
	if err := imagestest.WarmCache(cache); err != nil {
		t.Fatal(err)
	}
	var log tool.Buffer
	res, err := images.Run(context.Background(), images.Options{
		Render:    images.RenderOptions{Chart: repoChart},
		CacheDir:  filepath.Join(cache, "images"),
		Dir:       t.TempDir(),
		Keychain:  authn.NewMultiKeychain(),
		Transport: offline{},
		Log:       &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Images) != 1 || res.Images[0].Image != imagestest.Reference() || len(res.Uses) != 1 || res.Uses[0].Image != imagestest.Reference() {
		t.Fatalf("the chart ships %+v and renders %+v, want its default image %s declared and rendered", res.Images, res.Uses, imagestest.Reference())
	}
	archive(t, res, 0)
	ctrd := startContainerd(t)
	if out, err := ctrd.ctr(t.Context(), "-n", "k8s.io", "images", "import", "--snapshotter", "native", res.Path(res.Images[0])); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	ls, _ := ctrd.ctr(t.Context(), "-n", "k8s.io", "images", "ls")
	d, _ := imagestest.Server()
	if !hasImage(ls, imagestest.Repository+":"+imagestest.Tag, d) || !hasImage(ls, imagestest.Repository+"@"+d, d) {
		t.Errorf("ctr images ls:\n%s\nwant %s under both names", ls, d)
	}
}
