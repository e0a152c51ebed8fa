package hashing

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hexSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func hexMD5(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// wantParts hashes each partSize section of data on its own.
func wantParts(data []byte, partSize int) []string {
	var sums []string
	for off := 0; off < len(data); off += partSize {
		sums = append(sums, hexSHA256(data[off:min(off+partSize, len(data))]))
	}
	return sums
}

func TestReaderMatchesEachHash(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize*chunksInFlight + 12345} {
		data := make([]byte, n)
		_, _ = rand.Read(data)
		d, err := Reader(t.Context(), bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		if d.SHA256 != hexSHA256(data) || d.MD5 != hexMD5(data) || d.Size != int64(n) || d.Parts != nil {
			t.Errorf("%d bytes: got %+v, want sha256 %s md5 %s and no parts", n, d, hexSHA256(data), hexMD5(data))
		}
	}
}

// TestPartsMatchTheSplitFile checks the per-part digests against hashing
// each section separately, for part sizes that do and do not line up with
// the read size, and a last part that is shorter or exactly full.
func TestPartsMatchTheSplitFile(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5*chunkSize+777)
	_, _ = rand.Read(data)
	for _, tc := range []struct {
		name     string
		size     int
		partSize int
	}{
		{"parts smaller than a read", len(data), 400 << 10},
		{"parts larger than a read", len(data), 2*chunkSize + 3},
		{"parts of exactly a read", len(data), chunkSize},
		{"last part exactly full", 4 * chunkSize, 2 * chunkSize},
		{"one part larger than the file", len(data), 64 * chunkSize},
		{"one byte parts", 4097, 1},
		{"empty input", 0, chunkSize},
	} {
		in := data[:tc.size]
		d, err := Reader(t.Context(), bytes.NewReader(in), int64(tc.partSize))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := wantParts(in, tc.partSize)
		if strings.Join(d.Parts, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %d parts %v, want %d parts %v", tc.name, len(d.Parts), d.Parts, len(want), want)
		}
		if d.SHA256 != hexSHA256(in) || d.MD5 != hexMD5(in) || d.Size != int64(tc.size) {
			t.Errorf("%s: whole-file digests wrong: %+v", tc.name, d)
		}
	}
}

func TestFileNamesThePathInErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "novasphere.iso")
	data := []byte("pretend this is an ISO\n")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := File(t.Context(), path, 8)
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != hexSHA256(data) || d.MD5 != hexMD5(data) || len(d.Parts) != 3 {
		t.Errorf("File: %+v", d)
	}
	missing := filepath.Join(dir, "missing.iso")
	if _, err := File(t.Context(), missing, 0); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v, want a not-exist error naming %s", err, missing)
	}
	if _, err := File(t.Context(), path, -1); err == nil || !strings.Contains(err.Error(), "part size -1") {
		t.Errorf("negative part size: %v", err)
	}
}

// failingReader yields some data and then an error.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestReaderReportsReadErrorsAndCancellation(t *testing.T) {
	t.Parallel()
	for _, partSize := range []int64{0, chunkSize / 2} {
		if _, err := Reader(t.Context(), &failingReader{n: 5 * chunkSize}, partSize); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("part size %d: read error: got %v", partSize, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Reader(ctx, io.LimitReader(rand.Reader, 100*chunkSize), partSize); !errors.Is(err, context.Canceled) {
			t.Errorf("part size %d: cancelled: got %v", partSize, err)
		}
	}
}
