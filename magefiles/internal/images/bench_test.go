package images_test

import (
	"context"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
)

// benchLayers and benchLayerSize make 1 GiB of image: 8 layers of
// 128 MiB of random (incompressible) bytes.
const (
	benchLayers    = 8
	benchLayerSize = 128 << 20
)

// gibImage pushes a 1 GiB image to a registry on loopback that keeps its
// blobs on disk, and returns the pinned reference and the blobs' directory.
func gibImage(b *testing.B) (ref, blobDir string) {
	b.Helper()
	blobDir = b.TempDir()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(blobDir))))
	b.Cleanup(srv.Close)
	r := &testRegistry{srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	img := empty.Image
	for range benchLayers {
		data := make([]byte, benchLayerSize)
		for i := 0; i < len(data); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				data[i+j] = byte(v >> (8 * j))
			}
		}
		var err error
		if img, err = mutate.AppendLayers(img, static.NewLayer(data, types.OCIUncompressedLayer)); err != nil {
			b.Fatal(err)
		}
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	return r.push(b, "bench/big:1", mutate.MediaType(img, types.OCIManifestSchema1)), blobDir
}

// BenchmarkFetchAndWrite1GiB is the stage on a cold cache: render, fetch
// 1 GiB from the registry on loopback into the cache (hashing every blob),
// and write the OCI archive. Compare with BenchmarkPlainCopy1GiB.
func BenchmarkFetchAndWrite1GiB(b *testing.B) {
	ref, _ := gibImage(b)
	dir := serverChart(ref).write(b)
	b.SetBytes(benchLayers * benchLayerSize)
	b.ResetTimer()
	for range b.N {
		cache, out := b.TempDir(), b.TempDir()
		if _, err := images.Run(context.Background(), images.Options{Render: images.RenderOptions{Chart: dir}, CacheDir: cache, Dir: out,
			Keychain: authn.NewMultiKeychain()}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(cache)
		os.RemoveAll(out)
		b.StartTimer()
	}
}

// BenchmarkPlainCopy1GiB copies the same 1 GiB of blobs from the
// registry's directory to a new one, file by file: the floor for getting
// the bytes somewhere else on this disk.
func BenchmarkPlainCopy1GiB(b *testing.B) {
	_, blobDir := gibImage(b)
	var files []string
	err := filepath.Walk(blobDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() >= benchLayerSize {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(files) != benchLayers {
		b.Fatalf("found %d layer files in the registry, want %d", len(files), benchLayers)
	}
	b.SetBytes(benchLayers * benchLayerSize)
	b.ResetTimer()
	for range b.N {
		dst := b.TempDir()
		for i, f := range files {
			if err := copyFile(f, filepath.Join(dst, strings.Repeat("x", i+1))); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
