package github_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github/githubtest"
)

// BenchmarkUploadVersusCurl uploads the same 256 MiB file to the fake
// GitHub's upload endpoint through this package (go-gh's HTTP client, a
// progress callback, a section reader over the file, as release uploads a
// part) and with a plain `curl --data-binary @file` (which reads the whole
// file into memory first), and with curl streaming it (`-T file`, no
// Expect: 100-continue wait). Compare the MB/s figures:
//
//	go test -run '^$' -bench UploadVersusCurl -benchtime 5x ./magefiles/internal/github/
func BenchmarkUploadVersusCurl(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	file := filepath.Join(dir, "payload.iso")
	writeRandomFile(b, file, size)
	gh := githubtest.New(b, testToken)
	gh.Seed("v9.9.9", true, false, time.Now(), nil)
	client := newClient(b, gh, nil)
	rel, err := client.FindRelease(context.Background(), "v9.9.9")
	if err != nil || rel == nil {
		b.Fatalf("the seeded draft: %v, %v", rel, err)
	}
	headers := filepath.Join(dir, "headers")
	must(b, os.WriteFile(headers, []byte("Authorization: token "+testToken+"\nContent-Type: application/octet-stream\n"), 0o600))
	uploadURL, _, _ := strings.Cut(rel.UploadURL, "{")

	b.Run("github-package", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			f, err := os.Open(file)
			must(b, err)
			var seen int64
			_, err = client.UploadOnce(context.Background(), rel, fmt.Sprintf("gh-%d.iso", benchSeq.Add(1)), io.NewSectionReader(f, 0, size), size, func(n int64) { seen = n })
			f.Close()
			if err != nil || seen != size {
				b.Fatalf("upload: %v (%d of %d bytes reported)", err, seen, size)
			}
		}
	})
	b.Run("curl", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			u := fmt.Sprintf("%s?name=curl-%d.iso", uploadURL, benchSeq.Add(1))
			out, err := exec.Command("curl", "-sS", "-f", "-o", "/dev/null", "-H", "@"+headers, "--data-binary", "@"+file, u).CombinedOutput()
			if err != nil {
				b.Fatalf("curl: %v\n%s", err, out)
			}
		}
	})
	b.Run("curl-streaming", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			u := fmt.Sprintf("%s?name=curlT-%d.iso", uploadURL, benchSeq.Add(1))
			out, err := exec.Command("curl", "-sS", "-f", "-o", "/dev/null", "-H", "@"+headers, "-H", "Expect:", "-X", "POST", "-T", file, u).CombinedOutput()
			if err != nil {
				b.Fatalf("curl: %v\n%s", err, out)
			}
		}
	})
}

// benchSeq makes every benchmark upload's name unique.
var benchSeq atomic.Int64

func writeRandomFile(tb testing.TB, path string, size int) {
	tb.Helper()
	r := rand.NewChaCha8([32]byte{42})
	f, err := os.Create(path)
	must(tb, err)
	if _, err := io.CopyN(f, r, int64(size)); err != nil {
		tb.Fatal(err)
	}
	must(tb, f.Close())
}
