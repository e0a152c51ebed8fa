package debcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The benchmark's packages/: 200 .debs (each with a 64 KiB text file,
// compressed with xz as dpkg-deb and Debian do, or zstd as Ubuntu does)
// that depend on each other, on a virtual package and on base packages,
// against a 700-line manifest.
const (
	benchDebs      = 200
	benchManifest  = 700
	benchPayload   = 64 << 10
	benchDepsPerPk = 3
)

type benchFixture struct {
	once sync.Once
	dir  string
	err  error
}

var benchFixtures = map[string]*benchFixture{"xz": {}, "zstd": {}}

func benchSpecs(compress string) map[string]spec {
	out := map[string]spec{}
	for i := 0; i < benchDebs; i++ {
		deps := []string{fmt.Sprintf("libbench%03d (>= 1.%d-1)", i%benchManifest, i%benchManifest)}
		for j := 1; j < benchDepsPerPk; j++ {
			n := (i*37 + j*101) % benchManifest
			deps = append(deps, fmt.Sprintf("libnothere%d | libbench%03d:amd64", n, n))
		}
		if i+1 < benchDebs {
			deps = append(deps, fmt.Sprintf("bench-%03d (= 1.0-%d)", i+1, i+1))
		}
		if i+7 < benchDebs {
			deps = append(deps, fmt.Sprintf("bench-%03d", i+7))
		}
		fields := []string{"Depends: " + strings.Join(deps, ", "), fmt.Sprintf("Breaks: libbench%03d (<< 0.1)", (i+3)%benchManifest)}
		if i == 0 {
			fields = append(fields, "Provides: bench-virtual (= 2.0)")
		} else {
			fields[0] += ", bench-virtual (>= 2)"
		}
		arch := "amd64"
		if i%2 == 1 {
			arch = "all"
		}
		out[fmt.Sprint(i)] = spec{Package: fmt.Sprintf("bench-%03d", i), Version: fmt.Sprintf("1.0-%d", i), Arch: arch, Fields: fields, Payload: benchPayload, Compress: compress}
	}
	return out
}

func benchBase(b *testing.B) Base {
	var m strings.Builder
	for i := 0; i < benchManifest; i++ {
		fmt.Fprintf(&m, "libbench%03d:amd64\t1.%d-1\n", i, i)
	}
	base, err := ReadBase([]File{{Path: "casper/filesystem.manifest", Data: []byte(m.String())}})
	if err != nil {
		b.Fatal(err)
	}
	return base
}

func benchDir(b *testing.B, compress string) string {
	f := benchFixtures[compress]
	f.once.Do(func() {
		f.dir, f.err = buildAll(benchSpecs(compress))
		if f.err == nil {
			// TestMain removes the test fixture; this one goes with it.
			built.mu.Lock()
			built.extra = append(built.extra, f.dir)
			built.mu.Unlock()
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.dir
}

// BenchmarkCheck200Debs measures the check of 200 .debs against a 700-line
// manifest, for each compression. ReadBytes is the baseline: only reading
// the 200 files.
func BenchmarkCheck200Debs(b *testing.B) {
	for _, compress := range []string{"xz", "zstd"} {
		b.Run(compress, func(b *testing.B) { benchCheck(b, compress) })
	}
}

func benchCheck(b *testing.B, compress string) {
	dir := benchDir(b, compress)
	base := benchBase(b)
	debs, err := ReadDebDir(dir, "packages")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Check(base, debs); err != nil {
		b.Fatalf("the benchmark's packages/ does not pass: %v", err)
	}
	var total int64
	for _, d := range debs {
		total += d.Size
	}
	b.Logf("%d .debs (%s), %d bytes in all; %d base packages", len(debs), compress, total, len(base.Packages))
	b.Run("ReadBytes", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			entries, err := os.ReadDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range entries {
				if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ReadDebDir", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			if _, err := ReadDebDir(dir, "packages"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Check(base, debs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadAndCheck", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			got, err := ReadDebDir(dir, "packages")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Check(base, got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
