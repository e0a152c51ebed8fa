package sbom

import (
	"fmt"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"
)

// Image is a container image shipped under /novasphere/images.
type Image struct {
	// Repository is the full repository (docker.io/novasphere/server), Tag
	// its tag ("" when declared without one).
	Repository string
	Tag        string
	// Digest is the declared manifest's or index's digest (sha256:…);
	// Manifest the linux/amd64 image manifest's, Layers its layers'.
	Digest   string
	Manifest string
	Layers   []string
	// File is the archive's path under /novasphere (images/server.oci.tar).
	File string
}

// Properties of an image component.
const (
	PropImageManifest = "novasphere:image-manifest"
	PropImageLayer    = "novasphere:image-layer"
	RoleImage         = "container-image"
)

// imagePURL is the image's package URL as the purl spec's oci type writes
// it: pkg:oci/<last path part>@sha256:…?repository_url=<repository>&tag=…
// (github.com/package-url/purl-spec, types/oci-definition.json).
func imagePURL(im Image) string {
	name := im.Repository[strings.LastIndex(im.Repository, "/")+1:]
	q := packageurl.Qualifiers{{Key: "repository_url", Value: im.Repository}}
	if im.Tag != "" {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: im.Tag})
	}
	return packageurl.NewPackageURL("oci", "", name, im.Digest, q, "").ToString()
}

func imageComponents(images []Image) ([]cdx.Component, error) {
	sorted := append([]Image(nil), images...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].File < sorted[j].File })
	out := make([]cdx.Component, 0, len(sorted))
	for _, im := range sorted {
		isoPath, err := payloadPath(im.File)
		if err != nil {
			return nil, fmt.Errorf("container image %s: %w", im.Repository, err)
		}
		hexd, ok := strings.CutPrefix(im.Digest, "sha256:")
		if !ok || im.Repository == "" {
			return nil, fmt.Errorf("container image %s (%s): repository and a sha256 digest must be set", im.Repository, isoPath)
		}
		if err := validSHA256(hexd); err != nil {
			return nil, fmt.Errorf("container image %s: %w", isoPath, err)
		}
		kv := []string{PropRole, RoleImage, PropPath, isoPath, PropImageManifest, im.Manifest}
		for _, l := range im.Layers {
			kv = append(kv, PropImageLayer, l)
		}
		out = append(out, cdx.Component{
			BOMRef:     RoleImage + ":" + im.Repository + "@" + im.Digest,
			Type:       cdx.ComponentTypeContainer,
			Name:       im.Repository,
			Version:    im.Tag,
			Hashes:     sha256Hash(hexd),
			PackageURL: imagePURL(im),
			Properties: props(kv...),
		})
	}
	return out, nil
}
