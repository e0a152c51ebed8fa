// Package ocitar writes and checks OCI archives: an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) in one tar file, which
// containerd's `ctr images import`, k3s's and RKE2's agent/images/
// directories, k0s's image bundles, `podman load`, `skopeo copy
// oci-archive:` and Docker 25+'s `docker load` read as is.
//
// Write makes the same bytes for the same blobs: entries in a fixed order,
// fixed owner, mode and time, no extended headers. Check re-reads an
// archive: every blob against its digest and size, and every blob a
// manifest needs. It uses the standard library only, so verify can link it
// without the image stage's dependencies.
package ocitar

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Layout is the oci-layout file's content.
const Layout = `{"imageLayoutVersion":"1.0.0"}`

// Annotations containerd's importer and OCI tools read for an image's name.
const (
	// AnnotationImageName is containerd's full image name
	// (docker.io/library/x:1.0); its importer creates one image per entry.
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName is the OCI image spec's reference name.
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// Media types the checker follows.
const (
	MediaOCIIndex      = "application/vnd.oci.image.index.v1+json"
	MediaOCIManifest   = "application/vnd.oci.image.manifest.v1+json"
	MediaDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaDockerSchema2 = "application/vnd.docker.distribution.manifest.v2+json"
)

// Blob is one blob to write.
type Blob struct {
	// Digest is "sha256:<hex>", Size its length.
	Digest string
	Size   int64
	// Open returns its content.
	Open func() (io.ReadCloser, error)
}

// Write writes an archive: oci-layout, index.json, then each blob under
// blobs/sha256/ in digest order, every entry owned by root, mode 0644 and
// dated mtime. A blob whose content does not match its digest or size
// fails the write.
func Write(w io.Writer, index []byte, blobs []Blob, mtime time.Time) error {
	tw := tar.NewWriter(w)
	mtime = mtime.UTC().Truncate(time.Second)
	if err := writeBytes(tw, "oci-layout", []byte(Layout), mtime); err != nil {
		return err
	}
	if err := writeBytes(tw, "index.json", index, mtime); err != nil {
		return err
	}
	sorted := append([]Blob(nil), blobs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Digest < sorted[j].Digest })
	for i, b := range sorted {
		if i > 0 && b.Digest == sorted[i-1].Digest {
			continue
		}
		if err := writeBlob(tw, b, mtime); err != nil {
			return err
		}
	}
	return tw.Close()
}

func header(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mtime, Format: tar.FormatUSTAR}
}

func writeBytes(tw *tar.Writer, name string, data []byte, mtime time.Time) error {
	if err := tw.WriteHeader(header(name, int64(len(data)), mtime)); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func writeBlob(tw *tar.Writer, b Blob, mtime time.Time) error {
	hexd, ok := strings.CutPrefix(b.Digest, "sha256:")
	if !ok {
		return fmt.Errorf("blob %s: only sha256 digests are supported", b.Digest)
	}
	rc, err := b.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	hdr := header("blobs/sha256/"+hexd, b.Size, mtime)
	if b.Size >= 1<<33 {
		hdr.Format = tar.FormatGNU // ustar sizes stop at 8 GiB
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), rc)
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != b.Digest || n != b.Size {
		return fmt.Errorf("blob %s: content is %d bytes with %s, want %d bytes", b.Digest, n, got, b.Size)
	}
	return nil
}

// Descriptor is an OCI content descriptor, as far as Check reads it.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is a descriptor's platform.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// manifest is an image manifest or an index.
type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    *Descriptor  `json:"config"`
	Layers    []Descriptor `json:"layers"`
	Manifests []Descriptor `json:"manifests"`
}

// Image is one image an archive's index.json names, as Check found it.
type Image struct {
	// Names are its entries' io.containerd.image.name annotations.
	Names []string
	// Digest is the descriptor's digest (the declared digest).
	Digest string
	// Manifest is the linux/amd64 image manifest's digest, Layers its
	// layers' digests.
	Manifest string
	Layers   []string
}

// Contents is what Check read.
type Contents struct {
	Images []Image
	// Blobs is how many blobs the archive holds, Bytes their total size.
	Blobs int
	Bytes int64
}

// maxManifest bounds the blobs Check keeps in memory to read as JSON.
const maxManifest = 4 << 20

// Check reads an archive and proves it importable offline: oci-layout and
// index.json present, every blob's content matching its name and every
// manifest's descriptor's size, and for each image in index.json its
// linux/amd64 manifest, config and layers all present. It returns every
// problem at once.
func Check(r io.Reader) (Contents, error) {
	var c Contents
	blobs := map[string]int64{}
	small := map[string][]byte{}
	var index []byte
	var probs []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, fmt.Errorf("not a whole tar archive: %w", err)
		}
		name := path.Clean(hdr.Name)
		switch {
		case hdr.Typeflag == tar.TypeDir:
		case name == "oci-layout":
			data, _ := io.ReadAll(io.LimitReader(tr, 1<<10))
			if !strings.Contains(string(data), `"imageLayoutVersion"`) {
				probs = append(probs, "oci-layout does not name an imageLayoutVersion")
			}
			blobs["oci-layout"] = 0
		case name == "index.json":
			if index, err = io.ReadAll(io.LimitReader(tr, maxManifest)); err != nil {
				return c, err
			}
		case strings.HasPrefix(name, "blobs/sha256/"):
			d := "sha256:" + strings.TrimPrefix(name, "blobs/sha256/")
			h := sha256.New()
			var keep bytes.Buffer
			var dst io.Writer = h
			if hdr.Size <= maxManifest {
				dst = io.MultiWriter(h, &keep)
			}
			n, err := io.Copy(dst, tr)
			if err != nil {
				return c, fmt.Errorf("%s: %w", name, err)
			}
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d {
				probs = append(probs, fmt.Sprintf("%s: content has %s", name, got))
				continue
			}
			blobs[d] = n
			c.Blobs++
			c.Bytes += n
			if hdr.Size <= maxManifest {
				small[d] = keep.Bytes()
			}
		default:
			probs = append(probs, fmt.Sprintf("unexpected entry %s", hdr.Name))
		}
	}
	if _, ok := blobs["oci-layout"]; !ok {
		probs = append(probs, "no oci-layout")
	}
	if index == nil {
		probs = append(probs, "no index.json")
	} else {
		imgs, p := walkIndex(index, blobs, small)
		c.Images, probs = imgs, append(probs, p...)
	}
	if len(probs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return c, nil
}

// walkIndex follows index.json to every blob its images need.
func walkIndex(index []byte, blobs map[string]int64, small map[string][]byte) ([]Image, []string) {
	var idx manifest
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil, []string{"index.json: " + err.Error()}
	}
	if len(idx.Manifests) == 0 {
		return nil, []string{"index.json names no image"}
	}
	var probs []string
	byDigest := map[string]int{}
	var out []Image
	for _, d := range idx.Manifests {
		name := d.Annotations[AnnotationImageName]
		if i, ok := byDigest[d.Digest]; ok {
			out[i].Names = append(out[i].Names, name)
			continue
		}
		im, p := walkImage(d, blobs, small)
		im.Names = []string{name}
		probs = append(probs, p...)
		byDigest[d.Digest] = len(out)
		out = append(out, im)
	}
	return out, probs
}

// walkImage checks one image: an index's linux/amd64 manifest (other
// platforms may be left out), its config and layers.
func walkImage(d Descriptor, blobs map[string]int64, small map[string][]byte) (Image, []string) {
	im := Image{Digest: d.Digest}
	m, err := readManifest(d, blobs, small)
	if err != nil {
		return im, []string{err.Error()}
	}
	if d.MediaType == MediaOCIIndex || d.MediaType == MediaDockerList || m.Manifests != nil {
		var pick *Descriptor
		for i, c := range m.Manifests {
			if c.Platform != nil && c.Platform.OS == "linux" && c.Platform.Architecture == "amd64" {
				if _, ok := blobs[c.Digest]; ok {
					pick = &m.Manifests[i]
					break
				}
			}
		}
		if pick == nil {
			return im, []string{fmt.Sprintf("index %s: no linux/amd64 manifest in the archive", d.Digest)}
		}
		d = *pick
		if m, err = readManifest(d, blobs, small); err != nil {
			return im, []string{err.Error()}
		}
	}
	im.Manifest = d.Digest
	if m.Config == nil {
		return im, []string{fmt.Sprintf("manifest %s has no config", d.Digest)}
	}
	var probs []string
	for _, b := range append([]Descriptor{*m.Config}, m.Layers...) {
		if err := present(b, blobs); err != nil {
			probs = append(probs, fmt.Sprintf("image %s: %v", im.Digest, err))
		}
	}
	for _, l := range m.Layers {
		im.Layers = append(im.Layers, l.Digest)
	}
	return im, probs
}

func readManifest(d Descriptor, blobs map[string]int64, small map[string][]byte) (manifest, error) {
	var m manifest
	if err := present(d, blobs); err != nil {
		return m, err
	}
	data, ok := small[d.Digest]
	if !ok {
		return m, fmt.Errorf("manifest %s is too large to be a manifest", d.Digest)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	return m, nil
}

func present(d Descriptor, blobs map[string]int64) error {
	n, ok := blobs[d.Digest]
	if !ok {
		return fmt.Errorf("blob %s (%s) is missing", d.Digest, d.MediaType)
	}
	if n != d.Size {
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d", d.Digest, n, d.Size)
	}
	return nil
}

// Record is one image as the build record and the SBOM list it.
type Record struct {
	// Name and Image are the declaration's.
	Name  string `json:"name"`
	Image string `json:"image"`
	// Repository, Tag and Digest are the image's (Digest is the declared
	// manifest's or index's).
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest"`
	MediaType  string `json:"media_type"`
	// Platforms are those the declared digest offers; Manifest is the
	// linux/amd64 image manifest shipped, Config and Layers its blobs.
	Platforms []string `json:"platforms"`
	Manifest  string   `json:"manifest"`
	Config    string   `json:"config"`
	Layers    []string `json:"layers"`
	// Size is the total size of the blobs shipped.
	Size int64 `json:"size"`
	// Names are the image names the archive gives containerd.
	Names []string `json:"names"`
	// File is the archive's path on the ISO under /novasphere
	// (images/<name>.oci.tar), FileSize its length (its SHA-256 is in
	// MANIFEST.sha256 with every payload file).
	File     string `json:"file"`
	FileSize int64  `json:"file_size"`
}
