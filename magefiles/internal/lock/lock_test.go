package lock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// helperEnv makes the test binary a lock holder (see TestMain).
const helperEnv = "LOCK_TEST_HOLD"

// TestMain turns the test binary into a second process when helperEnv is
// set: it locks the target named there, creates a temporary file for it,
// prints "ready <temp>" and holds both until its standard input closes.
func TestMain(m *testing.M) {
	if target := os.Getenv(helperEnv); target != "" {
		os.Exit(hold(target))
	}
	os.Exit(m.Run())
}

func hold(target string) int {
	l, err := Acquire(context.Background(), target, Options{Stage: "helper", Command: "mage pack", Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := CreateTemp(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ready %s\n", tmp.Name())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Remove(tmp.Name())
	if err := l.Release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// holder is a second process holding the lock on a target.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	temp  string
}

// startHolder starts a process that locks target and creates a temporary
// file for it; it returns once both are done.
func startHolder(t *testing.T, target string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+target)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("holder process did not start: %v", err)
	}
	h.temp = strings.TrimSpace(strings.TrimPrefix(line, "ready "))
	return h
}

// release makes the holder let go and exit.
func (h *holder) release(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("holder process: %v", err)
	}
}

// kill SIGKILLs the holder, as the OOM killer or `kill -9` would.
func (h *holder) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSecondProcessWaitsNamingTheHolder(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "dist", "x.iso")
	h := startHolder(t, target)

	var log tool.Buffer
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(context.Background(), target, Options{Stage: "pack", Name: "dist/x.iso", Log: &log, Poll: 10 * time.Millisecond})
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	want := fmt.Sprintf("pack: waiting for dist/x.iso: held by pid %d (mage pack) since ", h.cmd.Process.Pid)
	waitFor(t, "the waiting message", func() bool { return strings.Contains(log.String(), want) })
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while another process held the lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	h.release(t)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(log.String(), "\n"); lines != 1 {
		t.Errorf("waiting message printed %d times, want once:\n%s", lines, log.String())
	}
	if _, err := os.Stat(Path(target)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after the last release: %v", err)
	}
	t.Logf("message: %s", strings.TrimSpace(log.String()))
}

func TestNoWaitStopsAtOnceNamingTheHolder(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "x.iso")
	h := startHolder(t, target)
	start := time.Now()
	_, err := Acquire(context.Background(), target, Options{Stage: "pack", Name: "dist/x.iso", NoWait: true})
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v, want a *BusyError", err)
	}
	if busy.Holder.PID != h.cmd.Process.Pid || busy.Holder.Command != "mage pack" {
		t.Errorf("holder = %+v, want pid %d (mage pack)", busy.Holder, h.cmd.Process.Pid)
	}
	want := fmt.Sprintf("pack: dist/x.iso is in use: held by pid %d (mage pack) since ", h.cmd.Process.Pid)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("NoWait took %s", d)
	}
	if hh, held := Holders(target); !held || hh.PID != h.cmd.Process.Pid {
		t.Errorf("Holders = %+v, %v", hh, held)
	}
	t.Logf("message: %v", err)
}

func TestCancelWhileWaitingSaysInterrupted(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "x.iso")
	h := startHolder(t, target)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := Acquire(ctx, target, Options{Stage: "pack", Name: "dist/x.iso", Poll: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "pack: timed out while waiting for dist/x.iso (held by pid "+strconv.Itoa(h.cmd.Process.Pid)) {
		t.Errorf("timeout: got %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = Acquire(ctx, target, Options{Stage: "pack", Name: "dist/x.iso", Poll: 10 * time.Millisecond})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "pack: interrupted while waiting for dist/x.iso") || strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancel: got %v", err)
	}
}

func TestKilledHolderFreesTheLockAndItsTempIsCleaned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "x.iso")
	h := startHolder(t, target)
	// A live run's temporary file for the same target must survive.
	mine, err := CreateTemp(target)
	if err != nil {
		t.Fatal(err)
	}
	mine.Close()
	if removed, err := RemoveOrphanTemps(target); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveOrphanTemps while the holder runs removed %v (%v)", removed, err)
	}
	h.kill(t)

	// flock is released by the kernel at death: no wait.
	l, err := Acquire(context.Background(), target, Options{NoWait: true})
	if err != nil {
		t.Fatalf("lock still held after its holder was killed: %v", err)
	}
	removed, err := RemoveOrphanTemps(target)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != h.temp {
		t.Errorf("RemoveOrphanTemps removed %v, want only the killed holder's %s", removed, h.temp)
	}
	if _, err := os.Stat(mine.Name()); err != nil {
		t.Errorf("a live process's temporary file was removed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	os.Remove(mine.Name())
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("left in the directory: %v", names)
	}
}

func TestCleanStaleRemovesOnlyWhatNoLiveProcessOwns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	killed := startHolder(t, filepath.Join(dir, "a.iso"))
	killed.kill(t) // leaves .a.iso.lock and its temp
	live := startHolder(t, filepath.Join(dir, "b.iso"))
	old, err := CreateTemp(filepath.Join(dir, "c.iso"))
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	dayAgo := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(old.Name(), dayAgo, dayAgo); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "notes.tmp") // not ours
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	removed, err := CleanStale(dir, OrphanAge)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{killed.temp: true, Path(filepath.Join(dir, "a.iso")): true, old.Name(): true}
	for _, r := range removed {
		if !want[r] {
			t.Errorf("removed %s", r)
		}
		delete(want, r)
	}
	for w := range want {
		t.Errorf("did not remove %s", w)
	}
	for _, keep := range []string{live.temp, Path(filepath.Join(dir, "b.iso")), other} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s is gone: %v", keep, err)
		}
	}
	live.release(t)
}

// TestLockExcludesUnderChurn has goroutines (each with its own open file,
// as separate processes have) take and release one lock while CleanStale
// runs: never two holders at once, and no lock file afterwards.
func TestLockExcludesUnderChurn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "x.iso")
	var inside, worst atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = CleanStale(dir, OrphanAge)
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				l, err := Acquire(context.Background(), target, Options{Poll: time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > worst.Load() {
					worst.Store(n)
				}
				time.Sleep(50 * time.Microsecond)
				inside.Add(-1)
				if err := l.Release(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if w := worst.Load(); w != 1 {
		t.Errorf("%d holders at once", w)
	}
	if _, err := os.Stat(Path(target)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left: %v", err)
	}
}

func TestOwnerRunningSeesThroughReusedPids(t *testing.T) {
	t.Parallel()
	before := time.Now().Add(-time.Hour)
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if !ownerRunning(pid, time.Now().Add(2*time.Second)) {
		t.Error("a process that started before the file changed is not its owner")
	}
	if ownerRunning(pid, before) {
		t.Error("a process that started after the file last changed was taken for its (dead) owner")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if ownerRunning(pid, time.Now()) {
		t.Error("a dead process is taken for running")
	}
}

func TestParseTemp(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]struct {
		base string
		pid  int
		ok   bool
	}{
		".novasphere-installer-1.2.3.iso.4242.0a1b2c3d.tmp": {"novasphere-installer-1.2.3.iso", 4242, true},
		".x.1.deadbeef.tmp":                     {"x", 1, true},
		".novasphere-installer-1.iso.12345.tmp": {}, // os.CreateTemp's old names
		"x.1.deadbeef.tmp":                      {},
		".x.+1.deadbeef.tmp":                    {},
		".x.1.deadbeeg.tmp":                     {},
		"..1.deadbeef.tmp":                      {},
	} {
		base, pid, ok := parseTemp(name)
		if base != want.base || pid != want.pid || ok != want.ok {
			t.Errorf("parseTemp(%q) = %q, %d, %v; want %+v", name, base, pid, ok, want)
		}
	}
	f, err := CreateTemp(filepath.Join(t.TempDir(), "a.b.iso"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if base, pid, ok := parseTemp(filepath.Base(f.Name())); base != "a.b.iso" || pid != os.Getpid() || !ok {
		t.Errorf("CreateTemp made %s, parsed as %q %d %v", f.Name(), base, pid, ok)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Issue 20 item 4: what a killed writer left (a temporary file, an
// extract directory) is removed under a directory, at any depth; what a
// live process is writing stays, and so does a file that is not ours.
func TestRemoveOrphanTempsUnderRemovesWhatKilledWritersLeft(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deep := filepath.Join(dir, "customize", "v1", "iso")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	orphans := []string{
		filepath.Join(dir, fmt.Sprintf(".SHA256SUMS.gpg.%d.0badcafe.tmp", dead.Process.Pid)),
		filepath.Join(deep, fmt.Sprintf(".grub.cfg.%d.0badcafe.tmp", dead.Process.Pid)),
	}
	for _, o := range orphans {
		if err := os.WriteFile(o, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orphanDir := filepath.Join(dir, fmt.Sprintf(".extract.%d.0badcafe.tmp", dead.Process.Pid))
	if err := os.MkdirAll(filepath.Join(orphanDir, "iso", "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	live, err := CreateTemp(filepath.Join(deep, "md5sum.txt"))
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	liveDir, err := MkdirTemp(filepath.Join(dir, "extract"))
	if err != nil {
		t.Fatal(err)
	}
	notOurs := filepath.Join(deep, "notes.tmp")
	if err := os.WriteFile(notOurs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveOrphanTempsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v, want the 2 files and the directory of the killed writer", removed)
	}
	for _, gone := range append(orphans, orphanDir) {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", gone, err)
		}
	}
	for _, keep := range []string{live.Name(), liveDir, notOurs} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s is gone: %v", keep, err)
		}
	}
}
