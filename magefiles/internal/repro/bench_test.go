package repro

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Benchmarks: Compare of two identical 256 MiB ISOs against the baseline of
// only reading both files (what any byte comparison must do). Run with
//
//	go test -run '^$' -bench . ./magefiles/internal/repro/

var (
	benchOnce sync.Once
	benchA    string
	benchB    string
)

func benchISOs(b *testing.B) (string, string) {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "repro-bench")
		if err != nil {
			b.Fatal(err)
		}
		tree := filepath.Join(dir, "tree")
		payload(b, tree)
		big := make([]byte, 256<<20)
		_, _ = rand.NewChaCha8([32]byte{1}).Read(big) // ChaCha8.Read never fails
		if err := os.WriteFile(filepath.Join(tree, "novasphere", "big.bin"), big, 0o644); err != nil {
			b.Fatal(err)
		}
		benchA, benchB = filepath.Join(dir, "a.iso"), filepath.Join(dir, "b.iso")
		mkiso(b, tree, benchA)
		mkiso(b, tree, benchB)
		os.RemoveAll(tree)
	})
	return benchA, benchB
}

func BenchmarkCompareIdentical(b *testing.B) {
	a, c := benchISOs(b)
	st, _ := os.Stat(a)
	b.SetBytes(2 * st.Size())
	for i := 0; i < b.N; i++ {
		d, err := Compare(a, c)
		if err != nil || !d.Identical() {
			b.Fatal(err, d)
		}
	}
}

func BenchmarkReadBothBaseline(b *testing.B) {
	a, c := benchISOs(b)
	st, _ := os.Stat(a)
	b.SetBytes(2 * st.Size())
	buf := make([]byte, chunk)
	for i := 0; i < b.N; i++ {
		for _, p := range []string{a, c} {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchA != "" {
		os.RemoveAll(filepath.Dir(benchA))
	}
	os.Exit(code)
}
