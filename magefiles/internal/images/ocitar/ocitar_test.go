package ocitar_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
)

func digest(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func blob(b []byte) ocitar.Blob {
	return ocitar.Blob{Digest: digest(b), Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// archive writes an index of one arm64 and one amd64 manifest, with the
// blobs keep says to include.
func archive(t *testing.T, keep func(name string) bool) []byte {
	t.Helper()
	config, layer := []byte(`{"os":"linux","architecture":"amd64"}`), []byte("layer")
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"config":{"digest":%q,"size":%d},"layers":[{"digest":%q,"size":%d}]}`,
		digest(config), len(config), digest(layer), len(layer)))
	arm := []byte(`{"schemaVersion":2,"config":{"digest":"sha256:` + strings.Repeat("0", 64) + `","size":1}}`)
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`,
		ocitar.MediaOCIManifest, digest(arm), len(arm), ocitar.MediaOCIManifest, digest(manifest), len(manifest)))
	top := []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"annotations":{%q:"x:1"}}]}`,
		ocitar.MediaOCIIndex, digest(index), len(index), ocitar.AnnotationImageName))
	var blobs []ocitar.Blob
	for name, b := range map[string][]byte{"index": index, "manifest": manifest, "config": config, "layer": layer} {
		if keep(name) {
			blobs = append(blobs, blob(b))
		}
	}
	var buf bytes.Buffer
	if err := ocitar.Write(&buf, top, blobs, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An index shipped with its amd64 image only passes; the same without a
// layer, or without the amd64 manifest, fails naming what is missing; the
// same blobs in another order give the same bytes.
func TestCheck(t *testing.T) {
	all := func(string) bool { return true }
	data := archive(t, all)
	c, err := ocitar.Check(bytes.NewReader(data))
	if err != nil || len(c.Images) != 1 || c.Blobs != 4 || c.Images[0].Names[0] != "x:1" {
		t.Fatalf("Check: %+v, %v", c, err)
	}
	if again := archive(t, all); !bytes.Equal(again, data) {
		t.Error("the same blobs gave different archives")
	}
	for _, tc := range []struct{ drop, want string }{{"layer", "is missing"}, {"manifest", "no linux/amd64 manifest in the archive"}} {
		_, err := ocitar.Check(bytes.NewReader(archive(t, func(n string) bool { return n != tc.drop })))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without the %s: %v, want %q", tc.drop, err, tc.want)
		}
	}
	if _, err := ocitar.Check(bytes.NewReader(data[:len(data)/2])); err == nil {
		t.Error("a cut archive passed")
	}
}
