package iso_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/ocitar"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// BenchmarkPackWithImages compares the whole pipeline through pack on the
// shared test ISO with and without 1 GiB of container images in the
// payload (one OCI archive of 8 random 128 MiB layers, as the images stage
// writes it), and a plain cp of that archive:
//
//	go test -run '^$' -bench PackWithImages -benchtime 3x ./magefiles/internal/iso/
func BenchmarkPackWithImages(b *testing.B) {
	ctx := context.Background()
	f := testiso.Shared(b)
	root, err := config.FindRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	tree := filepath.Join(dir, "bench-images")
	archive := filepath.Join(tree, "big.oci.tar")
	if err := writeGiBArchive(archive); err != nil {
		b.Fatal(err)
	}
	opts := func(name string, trees []payload.Source) RemasterOptions {
		return RemasterOptions{Base: f.ISO, BaseSHA256: pinOf(f.ISO), Root: root, BuildDir: filepath.Join(dir, name, "build"),
			DistDir: filepath.Join(dir, name, "dist"), Version: testVersion, KernelArgs: testKernelArgs, SourceDateEpoch: testEpoch, Trees: trees}
	}
	plain, withImages := opts("plain", nil), opts("with-images", []payload.Source{{Rel: "bench-images", Path: tree}})
	var isos [2]string
	for i, o := range []RemasterOptions{plain, withImages} { // untimed: caches, page cache
		res, err := Remaster(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		isos[i] = res.ISO
	}
	pack := func(o RemasterOptions, iso string) func() {
		return func() {
			if err := os.Remove(iso); err != nil {
				b.Fatal(err)
			}
			if _, err := Remaster(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	cp := func() {
		os.Remove(filepath.Join(dir, "copy.tar"))
		if err := tool.Command("cp", archive, filepath.Join(dir, "copy.tar")).Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var times [3]time.Duration
	runs := []func(){pack(plain, isos[0]), pack(withImages, isos[1]), cp}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range runs {
			j := (i + k) % len(runs)
			syscall.Sync()
			start := time.Now()
			runs[j]()
			times[j] += time.Since(start)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(times[0].Seconds()/n, "pack-s/op")
	b.ReportMetric(times[1].Seconds()/n, "pack-1GiB-images-s/op")
	b.ReportMetric(times[2].Seconds()/n, "cp-1GiB-s/op")
	b.ReportMetric(times[1].Seconds()/times[0].Seconds(), "images/plain")
	b.ReportMetric((times[1]-times[0]).Seconds()/times[2].Seconds(), "added/cp")
}

// writeGiBArchive writes a 1 GiB OCI archive of random layers.
func writeGiBArchive(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewChaCha8([32]byte{2}))
	var blobs []ocitar.Blob
	for range 8 {
		data := make([]byte, 128<<20)
		for i := 0; i < len(data); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				data[i+j] = byte(v >> (8 * j))
			}
		}
		blobs = append(blobs, ocitar.Blob{Digest: sha256Digest(data), Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ocitar.Write(out, []byte(`{"schemaVersion":2,"manifests":[]}`), blobs, time.Unix(testEpoch, 0)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
