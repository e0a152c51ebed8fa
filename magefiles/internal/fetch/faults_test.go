package fetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// helperEnv makes the test binary a fetch process (see TestMain).
const helperEnv = "FETCH_FAULT_HELPER"

// helperJob is what a helper fetch process does, passed as JSON in
// helperEnv.
type helperJob struct {
	Cache  string
	URL    string
	SHA256 string
	// KillPoint and KillAt: SIGKILL itself at the fault hook point
	// KillPoint once n >= KillAt.
	KillPoint string
	KillAt    int64
	// WatchPart and WatchAt: SIGKILL itself once the file WatchPart holds
	// WatchAt bytes or more (for downloads, where grab writes).
	WatchPart string
	WatchAt   int64
}

// TestMain turns the test binary into a real fetch process when helperEnv
// is set: it fetches, prints the cached path on success, and can SIGKILL
// itself at a chosen point.
func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runHelper(spec))
	}
	os.Exit(m.Run())
}

func runHelper(spec string) int {
	var job helperJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	die := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	o := Options{
		Locations:    []config.BaseLocation{{ISOURL: job.URL}},
		SHA256:       job.SHA256,
		CacheDir:     job.Cache,
		Log:          os.Stderr,
		Attempts:     1,
		StallTimeout: 10 * time.Second,
		Command:      "fetch helper",
		copyChunk:    256 << 10,
		faultHook: func(point string, n int64) {
			if point == job.KillPoint && n >= job.KillAt {
				die()
			}
		},
	}
	if job.WatchPart != "" {
		go func() {
			for {
				if fi, err := os.Stat(job.WatchPart); err == nil && fi.Size() >= job.WatchAt {
					die()
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	res, err := Fetch(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(res.Path)
	return 0
}

// helperRun is the outcome of one helper process.
type helperRun struct {
	killed bool
	code   int
	stdout string
	stderr string
}

func startHelper(t *testing.T, job helperJob) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	spec, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

func waitHelper(cmd *exec.Cmd, stdout, stderr *bytes.Buffer) helperRun {
	_ = cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return helperRun{
		killed: ws.Signaled() && ws.Signal() == syscall.SIGKILL,
		code:   cmd.ProcessState.ExitCode(),
		stdout: strings.TrimSpace(stdout.String()),
		stderr: stderr.String(),
	}
}

func runHelperProcess(t *testing.T, job helperJob) helperRun {
	t.Helper()
	return waitHelper(startHelper(t, job))
}

// partialEntries lists what is in the cache's partial/ directory.
func partialEntries(t *testing.T, cache string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cache, "partial"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// killPoint is one place where a fetch process is SIGKILLed.
type killPoint struct {
	name string
	job  func(cache string) helperJob
}

// TestFaultInjectionKilledFetchRecovers SIGKILLs real fetch processes at 20
// points, 10 spread over copying a local 8 MiB file (by bytes copied, and
// after the copy is verified) and 10 over downloading it from a throttled
// server (by bytes written to the partial file, and after the download is
// verified). Each time a second run must leave the verified file in the
// cache and nothing in partial/.
func TestFaultInjectionKilledFetchRecovers(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	iso := make([]byte, size)
	if _, err := rand.Read(iso); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(iso)
	hexsum := hex.EncodeToString(sum[:])
	src := filepath.Join(t.TempDir(), isoName)
	if err := os.WriteFile(src, iso, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t)
	srv.put("/"+isoName, iso)
	srv.slowDown(2 * time.Millisecond) // 32 KiB per 2 ms: 8 MiB in about 0.6 s

	var points []killPoint
	for k := range 9 {
		at := int64(size) * int64(k) / 9
		points = append(points, killPoint{fmt.Sprintf("copy at %d bytes", at), func(cache string) helperJob {
			return helperJob{Cache: cache, URL: "file://" + src, SHA256: hexsum, KillPoint: "copy", KillAt: at}
		}})
	}
	points = append(points, killPoint{"copy verified, before the cache", func(cache string) helperJob {
		return helperJob{Cache: cache, URL: src, SHA256: hexsum, KillPoint: "verified"}
	}})
	for k := range 9 {
		at := int64(size) * int64(k) / 9
		points = append(points, killPoint{fmt.Sprintf("download at %d bytes", at), func(cache string) helperJob {
			return helperJob{Cache: cache, URL: srv.URL + "/" + isoName, SHA256: hexsum,
				WatchPart: filepath.Join(cache, "partial", hexsum+".part"), WatchAt: at}
		}})
	}
	points = append(points, killPoint{"download verified, before the cache", func(cache string) helperJob {
		return helperJob{Cache: cache, URL: srv.URL + "/" + isoName, SHA256: hexsum, KillPoint: "downloaded"}
	}})

	var killed, recovered, leftoversAfter int
	leftByKills := map[string]int{}
	for _, p := range points {
		cache := t.TempDir()
		job := p.job(cache)
		run := runHelperProcess(t, job)
		if !run.killed {
			t.Errorf("%s: the fetch was not killed (exit %d):\n%s", p.name, run.code, run.stderr)
			continue
		}
		killed++
		for _, name := range partialEntries(t, cache) {
			leftByKills[kindOf(name, hexsum)]++
		}

		job.KillPoint, job.WatchPart = "", ""
		run = runHelperProcess(t, job)
		blob := filepath.Join(cache, "blobs", "sha256", hexsum)
		if run.code != 0 || run.stdout != blob {
			t.Errorf("%s: the next run failed (exit %d, printed %q):\n%s", p.name, run.code, run.stdout, run.stderr)
			continue
		}
		if got, err := os.ReadFile(blob); err != nil || !bytes.Equal(got, iso) {
			t.Errorf("%s: the cached file is not the verified ISO (%v)", p.name, err)
			continue
		}
		recovered++
		if left := partialEntries(t, cache); len(left) > 0 {
			leftoversAfter += len(left)
			t.Errorf("%s: left in partial/ after the recovering run: %v", p.name, left)
		}
	}
	t.Logf("fault injection: %d points killed, %d runs recovered, %d leftovers after recovery; left by the kills and taken over by the next run: %v",
		killed, recovered, leftoversAfter, leftByKills)
	if killed != len(points) || recovered != len(points) {
		t.Errorf("%d of %d points killed, %d recovered", killed, len(points), recovered)
	}
}

// kindOf names a partial/ entry without its digest: ".copy", ".part",
// "lock".
func kindOf(name, hexsum string) string {
	switch {
	case name == "."+hexsum+".lock":
		return "lock"
	case strings.HasPrefix(name, hexsum):
		return strings.TrimPrefix(name, hexsum)
	}
	return name
}

// TestTwoFetchProcessesShareOneDownload runs two real fetch processes at
// once on one cache: both succeed, the server sends the file once, and the
// one that waited said whom it waited for.
func TestTwoFetchProcessesShareOneDownload(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 8<<20)
	m.srv.slowDown(time.Millisecond)
	cache := t.TempDir()
	job := helperJob{Cache: cache, URL: m.location().ISOURL, SHA256: m.hex}
	a, aout, aerr := startHelper(t, job)
	// Let the first one take the lock before the second starts.
	waitForFile(t, filepath.Join(cache, "partial", m.hex+".part"))
	b, bout, berr := startHelper(t, job)
	ra, rb := waitHelper(a, aout, aerr), waitHelper(b, bout, berr)
	for _, r := range []helperRun{ra, rb} {
		if r.code != 0 || r.stdout != filepath.Join(cache, "blobs", "sha256", m.hex) {
			t.Fatalf("a fetch failed (exit %d):\n%s", r.code, r.stderr)
		}
	}
	if n := m.srv.gets(m.isoPath()); n != 1 || m.srv.bodyBytes(m.isoPath()) != int64(len(m.iso)) {
		t.Errorf("two fetches made %d downloads (%d bytes), want one", n, m.srv.bodyBytes(m.isoPath()))
	}
	want := fmt.Sprintf("fetch: waiting for sha256:%s in the cache %s: held by pid %d (fetch helper) since ", m.hex, cache, a.Process.Pid)
	if !strings.Contains(rb.stderr, want) {
		t.Errorf("the second fetch did not say whom it waited for (want %q):\n%s", want, rb.stderr)
	}
	if left := partialEntries(t, cache); len(left) > 0 {
		t.Errorf("left in partial/: %v", left)
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFetchWithNoWaitNamesTheOtherFetch(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 1024)
	c := cache{dir: m.options.CacheDir}
	l, err := lock.Acquire(context.Background(), c.lockTarget(digestOf(m.hex)), lock.Options{Command: "mage fetch"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	m.options.NoWait = true
	_, err = Fetch(context.Background(), m.options)
	if !errors.Is(err, lock.ErrBusy) {
		t.Fatalf("got %v, want lock.ErrBusy", err)
	}
	want := fmt.Sprintf("fetch: sha256:%s in the cache %s is in use: held by pid %d (mage fetch) since ", m.hex, m.options.CacheDir, os.Getpid())
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

// TestInterruptedCopyResumesAndSaysInterrupted cancels a local copy (as
// Ctrl-C does) half-way: the error says "interrupted" and what is kept, and
// the next fetch continues the copy instead of starting again.
func TestInterruptedCopyResumesAndSaysInterrupted(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	src := filepath.Join(t.TempDir(), isoName)
	if err := os.WriteFile(src, m.iso, 0o644); err != nil {
		t.Fatal(err)
	}
	m.options.Locations = []config.BaseLocation{{ISOURL: src}}
	m.options.copyChunk = 256 << 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := m.options
	o.faultHook = func(point string, n int64) {
		if point == "copy" && n >= testISOSize/2 {
			cancel()
		}
	}
	_, err := Fetch(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	copyPath := filepath.Join(m.options.CacheDir, "partial", m.hex+".copy")
	want := fmt.Sprintf("%s: interrupted while copying; 2.0 MiB of 4.0 MiB is kept in %s: run fetch again to resume", src, copyPath)
	if err.Error() != want || strings.Contains(err.Error(), "context canceled") {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "fetch: resuming the copy of "+src+" at 2.0 MiB of 4.0 MiB")
	if left := partialEntries(t, m.options.CacheDir); len(left) > 0 {
		t.Errorf("left in partial/: %v", left)
	}
}

// TestResumedCopyOfAChangedSourceStartsOver: a copy begun from a wrong file
// and resumed from the right one does not match; fetch copies again from
// the beginning rather than failing or caching a mix.
func TestResumedCopyOfAChangedSourceStartsOver(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	src := filepath.Join(t.TempDir(), isoName)
	wrong := bytes.Clone(m.iso)
	wrong[0] ^= 0xff
	if err := os.WriteFile(src, wrong, 0o644); err != nil {
		t.Fatal(err)
	}
	m.options.Locations = []config.BaseLocation{{ISOURL: src}}
	m.options.copyChunk = 256 << 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := m.options
	o.faultHook = func(point string, n int64) {
		if point == "copy" && n >= testISOSize/2 {
			cancel()
		}
	}
	if _, err := Fetch(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if err := os.WriteFile(src, m.iso, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	assertContains(t, "log", m.logBuf.String(), "the source changed since the copy began; copying again from the beginning")
}

// TestFetchRemovesWhatKilledFetchesLeft: copies and lock files that earlier
// (killed) fetches left in partial/, including the names older versions
// used, are removed; a partial download stays for its resume.
func TestFetchRemovesWhatKilledFetchesLeft(t *testing.T) {
	t.Parallel()
	m := newMirror(t, testISOSize)
	src := filepath.Join(t.TempDir(), isoName)
	if err := os.WriteFile(src, m.iso, 0o644); err != nil {
		t.Fatal(err)
	}
	m.options.Locations = []config.BaseLocation{{ISOURL: src}}
	partial := filepath.Join(m.options.CacheDir, "partial")
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("ab", 32)
	old := time.Now().Add(-25 * time.Hour)
	files := map[string]bool{ // name: kept
		m.hex + ".copy-1234567":  false, // old versions' copy, its fetch is gone
		m.hex + ".lock":          false, // old versions' lock file
		other + ".copy-99":       false,
		other + ".lock":          false,
		"." + other + ".lock":    false,
		other + ".copy":          false, // untouched for a day
		other + ".part":          true,  // resumable download
		"notes.txt":              true,
		strings.Repeat("cd", 32): true, // not a name fetch makes
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(partial, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(partial, other+".copy"), old, old); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), m.options)
	if err != nil {
		t.Fatalf("Fetch: %v\nlog:\n%s", err, m.logBuf)
	}
	assertCached(t, m, res)
	var want []string
	for name, kept := range files {
		if kept {
			want = append(want, name)
		}
	}
	sort.Strings(want)
	if got := partialEntries(t, m.options.CacheDir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("partial/ holds %v, want %v", got, want)
	}
	assertContains(t, "log", m.logBuf.String(), "fetch: removed "+filepath.Join(partial, m.hex+".copy-1234567")+", left by a fetch that was killed")
}

func digestOf(hexsum string) digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, hexsum)
}
