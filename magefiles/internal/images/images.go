// Package images is the pipeline's images stage: it reads the container
// images charts/novasphere declares in Chart.yaml's artifacthub.io/images
// annotation (each pinned by digest, for linux/amd64), renders the chart
// with Helm's SDK and refuses an image a rendered manifest names that is
// not declared, fetches each image by digest with go-containerregistry into
// a content-addressed cache under CACHE_DIR, and writes one reproducible OCI
// archive per image for /novasphere/images on the ISO.
package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// ISODir is where the archives are on the ISO, under /novasphere.
const ISODir = "images"

// ArchiveSuffix ends every archive's name: <name>.oci.tar.
const ArchiveSuffix = ".oci.tar"

// Options configure Run.
type Options struct {
	// Render says which chart and values to render.
	Render RenderOptions
	// CacheDir is the blob cache (CACHE_DIR/images).
	CacheDir string
	// Dir is the stage's own directory; the archives go to Dir/images/,
	// the tree pack maps to /novasphere/images (stamps stay beside it).
	Dir string
	// SourceDateEpoch dates every entry of the archives (Unix seconds).
	SourceDateEpoch int64
	// Keychain and Transport are the Fetcher's (defaults: the Docker
	// config's credentials, remote.DefaultTransport).
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// Log receives what the stage does; nil discards it.
	Log io.Writer
}

// Record is one image as the build record and the SBOM list it.
type Record = ocitar.Record

// Result is what Run produced.
type Result struct {
	// Tree is the directory pack maps to /novasphere/images: the archives.
	Tree string
	// Images are the declared images in declaration order.
	Images []Record
	// Uses are the images the rendered chart names.
	Uses []Use
}

// Run renders the chart, refuses it when it names an image that is not
// declared pinned (before fetching anything), fetches every declared image
// into the cache and writes one OCI archive per image. An archive already
// written for the same image and epoch is left as it is. Without a chart
// (no Chart.yaml) there is nothing to ship.
func Run(ctx context.Context, o Options) (Result, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	res := Result{Tree: filepath.Join(o.Dir, ISODir)}
	if _, err := os.Stat(filepath.Join(o.Render.Chart, "Chart.yaml")); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "images: no chart at %s: no container image to ship\n", o.Render.Chart)
		return res, nil
	}
	decl, err := ReadDeclared(o.Render.Chart)
	if err != nil {
		return res, err
	}
	docs, err := Render(o.Render)
	if err != nil {
		return res, err
	}
	if res.Uses, err = Discover(docs); err != nil {
		return res, err
	}
	pinned, err := Match(decl, res.Uses)
	if err != nil {
		return res, fmt.Errorf("chart %s names images that cannot ship offline; nothing was fetched or written:\n%w", o.Render.Chart, err)
	}
	f := &Fetcher{Cache: Cache{Dir: o.CacheDir}, Keychain: o.Keychain, Transport: o.Transport, Log: log}
	out := res.Tree
	if err := os.MkdirAll(out, 0o755); err != nil {
		return res, err
	}
	for _, p := range pinned {
		if rec, ok := fresh(o, out, p); ok {
			res.Images = append(res.Images, rec)
			fmt.Fprintf(log, "images: %s %s is up to date (%s)\n", rec.Name, rec.Digest, rec.File)
			continue
		}
		im, err := f.Fetch(ctx, p)
		if err != nil {
			return res, err
		}
		rec, err := writeArchive(f.Cache, im, o, out)
		if err != nil {
			return res, err
		}
		res.Images = append(res.Images, rec)
		fmt.Fprintf(log, "images: %s %s (%s, %d layers, %d bytes)\n", rec.Name, rec.Digest, rec.File, len(rec.Layers), rec.Size)
	}
	if err := removeStale(out, o.Dir, pinned); err != nil {
		return res, err
	}
	if len(res.Images) == 0 {
		fmt.Fprintf(log, "images: %s declares no image and its rendered manifests name none\n", o.Render.Chart)
	}
	return res, nil
}

// archiveIndex is the archive's index.json: the declared digest under
// repository:tag and repository@digest, the two names Kubernetes looks the
// image up by (a pod's `image:` with a digest is resolved by
// repository@digest).
func archiveIndex(im Image) ([]byte, []string) {
	var names []string
	if t := im.TagName(); t != "" {
		names = append(names, t)
	}
	names = append(names, im.DigestName())
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations"`
	}
	idx := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}{SchemaVersion: 2, MediaType: ocitar.MediaOCIIndex}
	for _, n := range names {
		a := map[string]string{ocitar.AnnotationImageName: n}
		if n == im.TagName() {
			a[ocitar.AnnotationRefName] = im.Tag
		}
		idx.Manifests = append(idx.Manifests, desc{MediaType: string(im.Top.MediaType), Digest: im.Top.Digest.String(), Size: im.Top.Size, Annotations: a})
	}
	data, _ := json.Marshal(idx)
	return append(data, '\n'), names
}

// stamp is what Run keeps beside the tree for each archive it wrote.
type stamp struct {
	Record
	Epoch int64 `json:"epoch"`
}

func stampPath(o Options, name string) string { return filepath.Join(o.Dir, name+".record.json") }

// fresh returns the record of p's archive when this stage wrote it for the
// same declaration and epoch and it still has the length it was written
// with: the image is then neither read from the cache nor fetched (verify
// re-reads every blob of the archive from the ISO).
func fresh(o Options, out string, p Pinned) (Record, bool) {
	var st stamp
	if err := atomicfile.ReadJSON(stampPath(o, p.Name), &st); err != nil || st.Image != p.Image || st.Epoch != o.SourceDateEpoch {
		return Record{}, false
	}
	fi, err := os.Stat(filepath.Join(out, p.Name+ArchiveSuffix))
	if err != nil || fi.Size() != st.FileSize {
		return Record{}, false
	}
	return st.Record, true
}

// writeArchive writes im's archive and its stamp.
func writeArchive(c Cache, im Image, o Options, out string) (Record, error) {
	index, names := archiveIndex(im)
	rec := record(im, names)
	path := filepath.Join(out, im.Name+ArchiveSuffix)
	var blobs []ocitar.Blob
	for _, b := range im.Blobs() {
		d := b.Digest
		blobs = append(blobs, ocitar.Blob{Digest: d.String(), Size: b.Size, Open: func() (io.ReadCloser, error) { return os.Open(c.Path(d)) }})
	}
	tmp, err := lock.CreateTemp(path)
	if err != nil {
		return rec, err
	}
	defer os.Remove(tmp.Name())
	cw := &countWriter{w: tmp}
	err = ocitar.Write(cw, index, blobs, time.Unix(o.SourceDateEpoch, 0))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return rec, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return rec, err
	}
	rec.FileSize = cw.n
	return rec, atomicfile.WriteJSON(stampPath(o, im.Name), stamp{Record: rec, Epoch: o.SourceDateEpoch}, 0o644)
}

func record(im Image, names []string) Record {
	r := Record{
		Name: im.Name, Image: im.Image, Repository: im.Repository(), Tag: im.Tag,
		Digest: im.Top.Digest.String(), MediaType: string(im.Top.MediaType), Platforms: im.Platforms,
		Manifest: im.Manifest.Digest.String(), Config: im.Config.Digest.String(), Size: im.Size(),
		Names: names, File: ISODir + "/" + im.Name + ArchiveSuffix,
	}
	for _, l := range im.Layers {
		r.Layers = append(r.Layers, l.Digest.String())
	}
	return r
}

// removeStale removes archives this stage wrote earlier for images no
// longer declared (the tree is the stage's own output).
func removeStale(out, dir string, pinned []Pinned) error {
	keep := map[string]bool{}
	for _, p := range pinned {
		keep[p.Name+ArchiveSuffix] = true
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	var stale []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ArchiveSuffix) && !keep[n] {
			stale = append(stale, n)
		}
	}
	sort.Strings(stale)
	for _, n := range stale {
		if err := os.Remove(filepath.Join(out, n)); err != nil {
			return err
		}
		os.Remove(filepath.Join(dir, strings.TrimSuffix(n, ArchiveSuffix)+".record.json")) // its stamp, if any
	}
	return nil
}

// Path is where the archive of r is on disk.
func (res Result) Path(r Record) string { return filepath.Join(res.Tree, path.Base(r.File)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
