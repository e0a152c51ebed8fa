package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
)

// testArchive is an OCI archive of one linux/amd64 image (manifest, config,
// one layer) named name:1.0 and name@digest, and the image's manifest
// digest and layer.
func testArchive(t *testing.T, name string) (data []byte, digest string, layer []byte) {
	t.Helper()
	layer = bytes.Repeat([]byte("layer-bytes "), 1000)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	d := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		ocitar.MediaOCIManifest, d(config), len(config), d(layer), len(layer)))
	digest = d(manifest)
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"annotations":{%q:%q}},{"mediaType":%q,"digest":%q,"size":%d,"annotations":{%q:%q}}]}`,
		ocitar.MediaOCIManifest, digest, len(manifest), ocitar.AnnotationImageName, name+":1.0",
		ocitar.MediaOCIManifest, digest, len(manifest), ocitar.AnnotationImageName, name+"@"+digest))
	var blobs []ocitar.Blob
	for _, b := range [][]byte{manifest, config, layer} {
		blobs = append(blobs, ocitar.Blob{Digest: d(b), Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
	}
	var buf bytes.Buffer
	if err := ocitar.Write(&buf, index, blobs, time.Unix(1767225600, 0)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), digest, layer
}

// The images check re-reads each archive from the ISO: an archive that
// holds the image the build wrote passes; a flipped byte in a layer, an
// archive the build did not write, or a missing one fail with their names.
func TestImagesCheck(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	data, digest, layer := testArchive(t, "example.com/novasphere/server")
	want := []Image{{File: "images/server.oci.tar", Digest: digest, Names: []string{"example.com/novasphere/server:1.0", "example.com/novasphere/server@" + digest}}}
	good := filepath.Join(t.TempDir(), "images.iso")
	if err := mutate(t.Context(), iso, good, map[string][]byte{"/novasphere/images/server.oci.tar": data}, true); err != nil {
		t.Fatal(err)
	}
	c := imagesCheck(t, good, base.ISO, want)
	if !c.Passed || !strings.Contains(c.Detail, "1 image(s), 3 blobs") {
		t.Errorf("images check on a good archive: %+v", c)
	}

	i := bytes.Index(data, layer)
	bad := append([]byte(nil), data...)
	bad[i+10] ^= 1
	flipped := filepath.Join(t.TempDir(), "flipped.iso")
	if err := mutate(t.Context(), iso, flipped, map[string][]byte{"/novasphere/images/server.oci.tar": bad, "/novasphere/images/extra.oci.tar": data}, true); err != nil {
		t.Fatal(err)
	}
	c = imagesCheck(t, flipped, base.ISO, want)
	sum := sha256.Sum256(layer)
	for _, w := range []string{"/novasphere/images/server.oci.tar: blobs/sha256/" + hex.EncodeToString(sum[:]) + ": content has sha256:",
		"/novasphere/images/extra.oci.tar is not an image this build wrote"} {
		if c.Passed || !strings.Contains(c.Detail, w) {
			t.Errorf("images check: %+v, want a failure with %q", c, w)
		}
	}
	c = imagesCheck(t, iso, base.ISO, append([]Image{{File: "images/missing.oci.tar", Digest: digest}}, repoImages...))
	if c.Passed || !strings.Contains(c.Detail, "/novasphere/images/missing.oci.tar is missing") {
		t.Errorf("images check on an ISO without the archive: %+v", c)
	}
}

// repoImages is the image the repository's chart ships: every ISO
// remastered from the repository's payload carries it.
var repoImages = func() []Image {
	d, _ := imagestest.Server()
	return []Image{{File: "images/server.oci.tar", Digest: d, Names: []string{imagestest.Repository + ":" + imagestest.Tag, imagestest.Repository + "@" + d}}}
}()

func imagesCheck(t *testing.T, iso, base string, want []Image) Check {
	t.Helper()
	rep, _ := Run(t.Context(), Options{ISO: iso, BaseISO: base, Version: testVersion, DistDir: t.TempDir(), Boot: BootOff, Images: want})
	return checkNamed(t, rep, CheckImages)
}
