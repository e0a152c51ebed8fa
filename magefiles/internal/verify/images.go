package verify

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
)

// Image is a container image the ISO must carry, as the images stage
// wrote it.
type Image struct {
	// File is the archive's path under /novasphere (images/server.oci.tar).
	File string
	// Digest is the declared digest; Names the image names the archive
	// gives containerd.
	Digest string
	Names  []string
}

// imagesDir is where the archives are on the ISO.
const imagesDir = payload.ISODir + "/images"

// checkImages re-reads every image archive from the ISO: every blob
// against its digest, every manifest each image needs (its linux/amd64
// manifest, config and layers), and each image the build wrote is there
// under its names, with no other archive beside them.
func checkImages(_ context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	var p problems
	found := map[string]ocitar.Contents{}
	for _, name := range im.under(imagesDir) {
		if path.Dir(name) != imagesDir || !strings.HasSuffix(name, ".oci.tar") {
			continue
		}
		r, _, err := im.open(name)
		if err != nil {
			return "", err
		}
		c, err := ocitar.Check(r)
		if err != nil {
			p.add("%s: %v", name, err)
			continue
		}
		found[strings.TrimPrefix(name, payload.ISODir+"/")] = c
	}
	var blobs int
	var bytes int64
	for _, want := range in.o.Images {
		c, ok := found[want.File]
		delete(found, want.File)
		if !ok {
			p.add("%s/%s is missing (or unreadable, above)", payload.ISODir, want.File)
			continue
		}
		if len(c.Images) != 1 || c.Images[0].Digest != want.Digest || !slices.Equal(c.Images[0].Names, want.Names) {
			p.add("%s/%s holds %+v, want %s named %s", payload.ISODir, want.File, c.Images, want.Digest, strings.Join(want.Names, ", "))
		}
		blobs, bytes = blobs+c.Blobs, bytes+c.Bytes
	}
	for f := range found {
		p.add("%s/%s is not an image this build wrote", payload.ISODir, f)
	}
	if err := p.err(); err != nil {
		return "", err
	}
	if len(in.o.Images) == 0 {
		return "the ISO ships no container image (the chart declares none)", nil
	}
	return fmt.Sprintf("%d image(s), %d blobs (%d bytes) match their digests; every manifest, config and layer linux/amd64 needs is there", len(in.o.Images), blobs, bytes), nil
}
