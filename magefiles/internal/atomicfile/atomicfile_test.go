package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteCreatesAndReplaces(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dist", "SHA256SUMS")
	if err := Write(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("second\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "second\n" {
		t.Fatalf("content %q, %v; want second", data, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode(), err)
	}
	assertOnly(t, filepath.Dir(path), "SHA256SUMS")
}

// assertOnly checks dir holds exactly the named files (no temporary ones).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestReadersNeverSeeAPartialFile rewrites a 4 MiB file between two
// contents while readers read it: every read is one content whole.
func TestReadersNeverSeeAPartialFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "novasphere.build.json")
	a, b := bytes.Repeat([]byte("a"), 4<<20), bytes.Repeat([]byte("b"), 4<<20)
	if err := Write(path, a, 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				data, err := os.ReadFile(path)
				if err != nil || !(bytes.Equal(data, a) || bytes.Equal(data, b)) {
					bad.Store(len(data), err)
				}
			}
		})
	}
	for i := range 40 {
		content := a
		if i%2 == 0 {
			content = b
		}
		if err := Write(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("a reader saw %d bytes (error %v): neither content whole", k, v)
		return true
	})
	assertOnly(t, filepath.Dir(path), filepath.Base(path))
}

func TestFailedWriteLeavesTheOldFileAndNoTemporary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteJSON(path, map[string]int{"v": 1}, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteJSON(path, map[string]any{"v": make(chan int)}, 0o644)
	if err == nil || !strings.Contains(err.Error(), "writing "+path) {
		t.Errorf("unencodable value: %v, want an error naming %s", err, path)
	}
	// A directory where the file should be: the rename fails.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(blocked, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "writing "+blocked) {
		t.Errorf("write over a directory: %v", err)
	}
	// A file where the directory should be: nothing can be created.
	if err := Write(filepath.Join(path, "under-a-file"), []byte("x"), 0o644); err == nil {
		t.Error("write below a regular file succeeded")
	}
	var v map[string]int
	if err := ReadJSON(path, &v); err != nil || v["v"] != 1 {
		t.Errorf("old file after failed writes: %v, %v; want v=1", v, err)
	}
	assertOnly(t, dir, "blocked", "state.json")
}

func TestJSONRoundTripAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type state struct {
		Version string `json:"version"`
		Files   int    `json:"files"`
	}
	path := filepath.Join(dir, "customize.json")
	if err := WriteJSON(path, state{"v1.0.0", 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := "{\n  \"version\": \"v1.0.0\",\n  \"files\": 3\n}\n"; string(data) != want {
		t.Errorf("written %q, want %q", data, want)
	}
	var got state
	if err := ReadJSON(path, &got); err != nil || got != (state{"v1.0.0", 3}) {
		t.Errorf("read back %+v, %v", got, err)
	}
	missing := filepath.Join(dir, "extract.json")
	if err := ReadJSON(missing, &got); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v, want a not-exist error naming it", err)
	}
	if err := os.WriteFile(path, []byte("{\"version\": "), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReadJSON(path, &got); err == nil || !strings.Contains(err.Error(), path+" is not valid JSON: ") {
		t.Errorf("truncated file: %v", err)
	}
}
