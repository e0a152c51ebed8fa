package release

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkUploadVersusCurl uploads the same 256 MiB file to the fake
// GitHub's upload endpoint through this package (go-gh's HTTP client, the
// progress counter, a section reader over the file) and with a plain
// `curl --data-binary @file` (which reads the whole file into memory
// first), and with curl streaming it (`-T file`, no Expect: 100-continue
// wait). Compare the MB/s figures:
//
//	go test -run '^$' -bench UploadVersusCurl -benchtime 5x ./magefiles/internal/release/
func BenchmarkUploadVersusCurl(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	file := filepath.Join(dir, "payload.iso")
	writeRandomFile(b, file, size)
	gh := newFakeGitHub(b, testToken)
	seeded := gh.seed("v9.9.9", true, false, time.Now(), nil)
	var rel ghRelease
	client, err := newGitHub(gitHubSettings{APIBase: gh.apiURL(), Host: "127.0.0.1", Repo: gh.repo, Token: testToken}, nil, testRetry, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := client.do(context.Background(), "GET", client.url("/releases/%d", seeded.id), nil, &rel); err != nil {
		b.Fatal(err)
	}
	headers := filepath.Join(dir, "headers")
	must(b, os.WriteFile(headers, []byte("Authorization: token "+testToken+"\nContent-Type: application/octet-stream\n"), 0o600))

	b.Run("release-package", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			a := asset{Name: fmt.Sprintf("gh-%d.iso", benchSeq.Add(1)), Path: file, Size: size}
			p := newProgress(io.Discard, a.Name, a.Size)
			if _, err := client.uploadOnce(context.Background(), &rel, a, p.update); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("curl", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			u := uploadURL(rel.UploadURL, fmt.Sprintf("curl-%d.iso", benchSeq.Add(1)))
			out, err := exec.Command("curl", "-sS", "-f", "-o", "/dev/null", "-H", "@"+headers, "--data-binary", "@"+file, u).CombinedOutput()
			if err != nil {
				b.Fatalf("curl: %v\n%s", err, out)
			}
		}
	})
	b.Run("curl-streaming", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			u := uploadURL(rel.UploadURL, fmt.Sprintf("curlT-%d.iso", benchSeq.Add(1)))
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
