package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Blob is one blob an image needs on the target.
type Blob struct {
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"media_type"`
}

// Image is a declared image as fetched: the blobs of its linux/amd64
// manifest, in the cache.
type Image struct {
	Pinned
	// Top is the declared digest's manifest or index.
	Top Blob
	// Manifest is the linux/amd64 image manifest (Top itself when the
	// declared digest is an image manifest).
	Manifest Blob
	// Config and Layers are the linux/amd64 image's.
	Config Blob
	Layers []Blob
	// Platforms are the platforms the declared digest offers.
	Platforms []string
}

// Blobs are every blob the image needs, each once: Top, Manifest, Config,
// then the layers.
func (im Image) Blobs() []Blob {
	out := []Blob{im.Top}
	seen := map[v1.Hash]bool{im.Top.Digest: true}
	for _, b := range append([]Blob{im.Manifest, im.Config}, im.Layers...) {
		if !seen[b.Digest] {
			seen[b.Digest] = true
			out = append(out, b)
		}
	}
	return out
}

// Size is the sum of the blobs' sizes.
func (im Image) Size() int64 {
	var n int64
	for _, b := range im.Blobs() {
		n += b.Size
	}
	return n
}

// Fetcher gets images by digest into the Cache over the registry protocol
// (go-containerregistry's remote package). A blob already cached whole is
// never asked for: with a warm cache no request is made at all.
type Fetcher struct {
	Cache Cache
	// Keychain finds registry credentials (default: authn.DefaultKeychain,
	// the Docker config and credential helpers). They are never printed.
	Keychain authn.Keychain
	// Transport carries the requests (default: remote.DefaultTransport).
	Transport http.RoundTripper
	// Log receives what is fetched and what corrupt blob is fetched again.
	Log io.Writer
}

// Fetch gets p's manifest (or index), picks its linux/amd64 image and gets
// that image's config and layers. An image without linux/amd64 is refused,
// with the platforms it has.
func (f *Fetcher) Fetch(ctx context.Context, p Pinned) (Image, error) {
	im := Image{Pinned: p}
	top, data, err := f.manifest(ctx, p.Ref)
	if err != nil {
		return im, err
	}
	im.Top, im.Manifest = top, top
	if !top.MediaType.IsIndex() && !top.MediaType.IsImage() {
		return im, fmt.Errorf("declared image %s (%s) is a %s: only OCI and Docker v2 images and indexes can be imported offline", p.Image, p.Name, top.MediaType)
	}
	if top.MediaType.IsIndex() {
		if im.Manifest, im.Platforms, err = f.pickAmd64(ctx, p, data); err != nil {
			return im, err
		}
		if _, data, err = f.manifest(ctx, p.Ref.Context().Digest(im.Manifest.Digest.String())); err != nil {
			return im, err
		}
	}
	var m v1.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return im, fmt.Errorf("%s: manifest %s: %w", p.Image, im.Manifest.Digest, err)
	}
	im.Config = Blob{Digest: m.Config.Digest, Size: m.Config.Size, MediaType: m.Config.MediaType}
	if err := f.blob(ctx, p, im.Config); err != nil {
		return im, err
	}
	plat, err := f.configPlatform(im.Config.Digest)
	if err != nil {
		return im, fmt.Errorf("%s: config %s: %w", p.Image, im.Config.Digest, err)
	}
	if !top.MediaType.IsIndex() {
		im.Platforms = []string{plat}
	}
	if plat != Required {
		return im, fmt.Errorf("declared image %s (%s) is %s only: the installed system needs %s", p.Image, p.Name, plat, Required)
	}
	for _, l := range m.Layers {
		b := Blob{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}
		if err := f.blob(ctx, p, b); err != nil {
			return im, err
		}
		im.Layers = append(im.Layers, b)
	}
	return im, nil
}

// pickAmd64 finds the linux/amd64 image in an index.
func (f *Fetcher) pickAmd64(_ context.Context, p Pinned, data []byte) (Blob, []string, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return Blob{}, nil, fmt.Errorf("%s: index: %w", p.Image, err)
	}
	var plats []string
	var pick *v1.Descriptor
	for i, d := range idx.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // attestations and other non-images
		}
		plats = append(plats, platformString(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant))
		if pick == nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" && d.MediaType.IsImage() {
			pick = &idx.Manifests[i]
		}
	}
	if pick == nil {
		return Blob{}, plats, fmt.Errorf("declared image %s (%s) has no %s image (it has: %s): the installed system needs %s", p.Image, p.Name, Required, strings.Join(plats, ", "), Required)
	}
	return Blob{Digest: pick.Digest, Size: pick.Size, MediaType: pick.MediaType}, plats, nil
}

func platformString(os, arch, variant string) string {
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

// configPlatform reads os/architecture from a cached image config.
func (f *Fetcher) configPlatform(d v1.Hash) (string, error) {
	data, err := f.Cache.Read(d)
	if err != nil {
		return "", err
	}
	var c v1.ConfigFile
	if err := json.Unmarshal(data, &c); err != nil {
		return "", err
	}
	return platformString(c.OS, c.Architecture, ""), nil
}

// manifest returns the manifest or index ref names, from the cache or else
// from the registry (then cached).
func (f *Fetcher) manifest(ctx context.Context, ref name.Digest) (Blob, []byte, error) {
	d, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return Blob{}, nil, err
	}
	ok, err := f.Cache.Has(d, -1)
	f.noteCorrupt(err)
	if ok {
		data, err := f.Cache.Read(d)
		if err != nil {
			return Blob{}, nil, err
		}
		return Blob{Digest: d, Size: int64(len(data)), MediaType: sniffMediaType(data)}, data, nil
	}
	if err != nil && !isCorrupt(err) {
		return Blob{}, nil, err
	}
	desc, err := remote.Get(ref, f.options(ctx)...)
	if err != nil {
		return Blob{}, nil, f.remoteError(ref, err)
	}
	if desc.Digest != d {
		return Blob{}, nil, fmt.Errorf("registry %s sent manifest %s for %s", ref.RegistryStr(), desc.Digest, ref)
	}
	if err := f.Cache.PutBytes(d, desc.Manifest); err != nil {
		return Blob{}, nil, err
	}
	fmt.Fprintf(f.log(), "images: fetched manifest %s from %s\n", d, ref.RegistryStr())
	mt := sniffMediaType(desc.Manifest)
	return Blob{Digest: d, Size: int64(len(desc.Manifest)), MediaType: mt}, desc.Manifest, nil
}

// blob gets one config or layer blob into the cache.
func (f *Fetcher) blob(ctx context.Context, p Pinned, b Blob) error {
	ok, err := f.Cache.Has(b.Digest, b.Size)
	f.noteCorrupt(err)
	if ok {
		return nil
	}
	if err != nil && !isCorrupt(err) {
		return err
	}
	ref := p.Ref.Context().Digest(b.Digest.String())
	l, err := remote.Layer(ref, f.options(ctx)...)
	if err != nil {
		return f.remoteError(ref, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return f.remoteError(ref, err)
	}
	defer rc.Close()
	if err := f.Cache.PutVerified(b.Digest, b.Size, rc); err != nil {
		return fmt.Errorf("%s: %w", p.Image, f.remoteError(ref, err))
	}
	fmt.Fprintf(f.log(), "images: fetched %s (%d bytes) from %s\n", b.Digest, b.Size, ref.RegistryStr())
	return nil
}

func (f *Fetcher) options(ctx context.Context) []remote.Option {
	kc := f.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	t := f.Transport
	if t == nil {
		t = remote.DefaultTransport
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(t),
		remote.WithUserAgent("novasphere-iso")}
}

// remoteError names the registry and says what to do; it never holds
// credentials (go-containerregistry's errors carry no secrets).
func (f *Fetcher) remoteError(ref name.Digest, err error) error {
	return fmt.Errorf("fetching %s from registry %s (not in the cache %s): %w; check the registry is reachable and your credentials (docker login %s), or build once with network to fill the cache",
		ref, ref.RegistryStr(), f.Cache.Dir, err, ref.RegistryStr())
}

func (f *Fetcher) noteCorrupt(err error) {
	if isCorrupt(err) {
		fmt.Fprintf(f.log(), "images: %v\n", err)
	}
}

func isCorrupt(err error) bool {
	var c *CorruptError
	return errors.As(err, &c)
}

func (f *Fetcher) log() io.Writer {
	if f.Log == nil {
		return io.Discard
	}
	return f.Log
}

// sniffMediaType is a manifest's media type from its own mediaType field,
// or from its shape when it has none (OCI allows that).
func sniffMediaType(data []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(data, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}
