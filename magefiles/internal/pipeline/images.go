package pipeline

import (
	"context"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sbom"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// imagesStage renders charts/novasphere, refuses images it runs that
// Chart.yaml does not declare pinned for linux/amd64, fetches the declared
// ones into CACHE_DIR/images and adds their OCI archives to the payload as
// /novasphere/images, before any ISO is written.
type imagesStage struct{}

func (imagesStage) Name() stage.Name { return stage.Images }

// Outputs is the stage's directory (the archives and their stamps).
func (imagesStage) Outputs(b *Build) []string { return []string{b.Dir(stage.Images)} }

func (imagesStage) Run(ctx context.Context, b *Build) error {
	c := b.Config
	// The chart is payload too: what pack would refuse in it (a symbolic
	// link out of the payload, a device file) is refused with pack's
	// message before Helm reads it.
	if _, err := payload.WalkSources([]payload.Source{{Rel: "charts", Path: filepath.Join(c.Root, "charts"), Optional: true}}); err != nil {
		return err
	}
	res, err := images.Run(ctx, images.Options{
		Render:          images.RenderOptions{Chart: filepath.Join(c.Root, "charts", "novasphere")},
		CacheDir:        filepath.Join(c.CacheDir, "images"),
		Dir:             b.Dir(stage.Images),
		SourceDateEpoch: c.SourceDateEpoch,
		Log:             b.Log,
	})
	if err != nil {
		return err
	}
	b.Images = &res
	if len(res.Images) > 0 {
		b.Payload = append(b.Payload, payload.Source{Rel: images.ISODir, Path: res.Tree})
	}
	return nil
}

// imageRecords are the images as the build record lists them.
func (b *Build) imageRecords() []images.Record {
	if b.Images == nil {
		return nil
	}
	return b.Images.Images
}

// verifyImages are the images verify must find on the ISO.
func (b *Build) verifyImages() []verify.Image {
	var out []verify.Image
	for _, r := range b.imageRecords() {
		out = append(out, verify.Image{File: r.File, Digest: r.Digest, Names: r.Names})
	}
	return out
}

// sbomImages are the images as the SBOM lists them.
func (b *Build) sbomImages() []sbom.Image {
	var out []sbom.Image
	for _, r := range b.imageRecords() {
		out = append(out, sbom.Image{Repository: r.Repository, Tag: r.Tag, Digest: r.Digest, Manifest: r.Manifest, Layers: r.Layers, File: r.File})
	}
	return out
}
