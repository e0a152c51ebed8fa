package space

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// inNamespaceEnv marks the re-executed test binary that runs in its own
// mount namespace and may mount a tmpfs there.
const inNamespaceEnv = "SPACE_TEST_IN_NAMESPACE"

// TestCheckOnASmallTmpfs measures a real 4 MiB tmpfs as it fills up. The
// mount lives in a private mount namespace of a re-executed test binary,
// so nothing is left mounted on the machine whatever happens.
func TestCheckOnASmallTmpfs(t *testing.T) {
	if os.Getenv(inNamespaceEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN); CI runs the tests as root, where this runs")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckOnASmallTmpfs$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), inNamespaceEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		t.Logf("in a private mount namespace:\n%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestCheckOnASmallTmpfs") {
			t.Fatalf("the check on a tmpfs failed: %v", err)
		}
		return
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mount -t tmpfs -o size=4m: %v", err)
	}
	defer func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	}()

	free, err := Free(dir)
	if err != nil || free != 4<<20 {
		t.Fatalf("Free of an empty 4 MiB tmpfs = %d, %v", free, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "1m"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Check(dir, 8<<20, "pack")
	var short *ShortError
	if !errors.As(err, &short) || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Check for 8 MiB on a tmpfs with 3 MiB left: %v", err)
	}
	if want := dir + "/ has 3.0 MiB free, pack needs 8.0 MiB"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	t.Logf("message: %v", err)
	if err := Check(dir, 3<<20, "pack"); err != nil {
		t.Errorf("Check for exactly what is free: %v", err)
	}
	if err := Check(filepath.Join(dir, "not", "yet"), 3<<20, "pack"); err != nil {
		t.Errorf("Check of a directory still to be created: %v", err)
	}

	// What Free reports is what a writer really gets.
	before, _ := Free(dir)
	written := fill(t, filepath.Join(dir, "fill"))
	if diff := before - written; diff < 0 || diff > 64<<10 {
		t.Errorf("Free said %d bytes, %d could be written", before, written)
	}
	if err := Check(dir, 1, "pack"); err == nil || !strings.Contains(err.Error(), " has 0 B free, pack needs 1 B") {
		t.Errorf("Check on a full tmpfs: %v", err)
	}
}

// fill writes to path until the disk is full and returns how much it wrote.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckComparesWithWhatIsFree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free <= 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	if err := Check(dir, 0, "pack"); err != nil {
		t.Errorf("Check for nothing: %v", err)
	}
	err = Check(filepath.Join(dir, "dist"), free*2+1<<30, "pack")
	if !errors.Is(err, ErrNoSpace) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "dist")+"/ has ") || !strings.Contains(err.Error(), "free, pack needs ") {
		t.Errorf("Check for more than the disk has: %v", err)
	}
	if _, err := Free("relative/not/there"); err != nil {
		t.Errorf("Free of a relative path still to be created: %v", err)
	}
}
