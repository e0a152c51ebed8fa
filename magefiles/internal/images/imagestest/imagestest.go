// Package imagestest holds the stand-in for NovaSphere's server image that
// charts/novasphere pins until the real image is published, and puts it in
// a cache so pipeline tests build the repository's chart offline.
//
// The stand-in is built from fixed bytes here (an uncompressed layer of one
// file, a config and a manifest written as literal JSON), so its digest
// never depends on a library's or Go's version: a chart that pins it is
// reproducible, and tests never need the internet.
package imagestest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Repository and Tag are the stand-in's name, the chart's default.
const (
	Repository = "docker.io/novasphere/server"
	Tag        = "1.0.0"
)

// Blob is one blob of the stand-in.
type Blob struct {
	Digest string
	Data   []byte
}

// Server is the stand-in image: its manifest's digest and every blob
// (manifest, config, layer).
func Server() (digest string, blobs []Blob) {
	layer := layerTar()
	ld := sum(layer)
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`, ld))
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		sum(config), len(config), ld, len(layer)))
	return sum(manifest), []Blob{{sum(manifest), manifest}, {sum(config), config}, {ld, layer}}
}

// Reference is the stand-in's pinned reference, as the chart declares it.
func Reference() string {
	d, _ := Server()
	return Repository + ":" + Tag + "@" + d
}

// WarmCache writes the stand-in's blobs into the images cache under
// cacheDir (CACHE_DIR), as a build that fetched it would have left them.
func WarmCache(cacheDir string) error {
	_, blobs := Server()
	dir := filepath.Join(cacheDir, "images", "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := os.WriteFile(filepath.Join(dir, b.Digest[len("sha256:"):]), b.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// layerTar is a tar of one file saying what the image is.
func layerTar() []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("NovaSphere server stand-in image: pin the real image's digest in charts/novasphere.\n")
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/novasphere-server-image", Size: int64(len(body)),
		Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR})
	_, _ = tw.Write(body) // a bytes.Buffer does not fail
	_ = tw.Close()
	return buf.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
