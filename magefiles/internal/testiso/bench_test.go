package testiso

import (
	"context"
	"testing"
)

// BenchmarkBuild builds the standard fixture into an empty cache that shares
// the kernel download: the generator's own cost (GRUB images, ESP,
// initramfs, squashfs, xorriso).
func BenchmarkBuild(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		cache := linkedKernelCache(b)
		b.StartTimer()
		if _, err := Build(context.Background(), Options{CacheDir: cache}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildCached is what every test binary pays once the fixture is in
// the cache: resolving the kernel package, hashing the inputs, reading the
// manifest.
func BenchmarkBuildCached(b *testing.B) {
	Shared(b)
	for b.Loop() {
		fx, err := Build(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !fx.Cached {
			b.Fatal("not cached")
		}
	}
}
