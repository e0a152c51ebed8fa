package iso_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
)

// A tree a stage before pack put in the Build (as the container images
// stage puts /novasphere/images; here /novasphere/extra, beside the images
// tree the repository's chart makes) is on the ISO with the repository's
// payload, listed in MANIFEST.sha256 and md5sum.txt; a change in it makes
// the next pack write the ISO again, and without a change pack is up to
// date.
func TestPackShipsTheTreesEarlierStagesMade(t *testing.T) {
	base := sharedPack(t).base
	root, dir := copyPayload(t), t.TempDir()
	images := filepath.Join(t.TempDir(), "images")
	layer := filepath.Join(images, "blobs", "sha256", "layer")
	if err := os.MkdirAll(filepath.Dir(layer), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string]string{layer: "layer bytes\n", filepath.Join(images, "index.json"): `{"manifests":[]}` + "\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	withImages := func(o *RemasterOptions) { o.Trees = []payload.Source{{Rel: "extra", Path: images}} }
	res, _, err := remasterIn(t, base.ISO, root, dir, withImages)
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(t.TempDir(), "tree")
	if err := ExtractTree(t.Context(), res.ISO, tree); err != nil {
		t.Fatal(err)
	}
	expectFile(t, tree, "novasphere/extra/blobs/sha256/layer", []byte("layer bytes\n"))
	expectFile(t, tree, "novasphere/extra/index.json", []byte(`{"manifests":[]}`+"\n"))
	expectFile(t, tree, "novasphere/scripts/install.sh", mustRead(t, filepath.Join(root, "scripts", "install.sh")))
	manifest := string(mustRead(t, filepath.Join(tree, "novasphere", payload.ManifestName)))
	if !strings.Contains(manifest, "  extra/blobs/sha256/layer\n") || !strings.Contains(manifest, "  extra/index.json\n") {
		t.Errorf("MANIFEST.sha256 does not list the images tree:\n%s", manifest)
	}
	if s := checkMD5Sum(t, tree); !strings.Contains(s, "  ./novasphere/extra/index.json\n") {
		t.Errorf("md5sum.txt does not list /novasphere/extra/index.json")
	}

	again, _, err := remasterIn(t, base.ISO, root, dir, withImages)
	if err != nil || !again.UpToDate {
		t.Fatalf("a second pack with the same trees was not up to date (%v)", err)
	}
	later := time.Now().Add(time.Second)
	if err := os.WriteFile(layer, []byte("other bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(layer, later, later); err != nil {
		t.Fatal(err)
	}
	changed, _, err := remasterIn(t, base.ISO, root, dir, withImages)
	if err != nil || changed.UpToDate {
		t.Fatalf("a changed file in the images tree did not make pack write the ISO again (up to date %v, %v)", changed.UpToDate, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
