package targets

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/outdir"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// readOnlyCheckout copies the repository's tracked files to a temporary
// directory and returns it with a function that runs a shell command there
// while the copy is read-only: as root (who ignores permission bits) through
// a read-only bind mount in a private mount namespace, otherwise by taking
// the write bits away.
func readOnlyCheckout(t *testing.T) (dir string, run func(env []string, script string) (string, error)) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "checkout")
	if err := testiso.CopyCheckout(dir); err != nil {
		t.Fatal(err)
	}
	shell := func(env []string, script string, argv ...string) (string, error) {
		cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if os.Geteuid() == 0 {
		return dir, func(env []string, script string) (string, error) {
			// util-linux's unshare: the mount exists only for this shell.
			bind := `mount --bind "$PWD" "$PWD" && mount -o remount,ro,bind "$PWD" "$PWD" && cd "$PWD" && ` + script
			return shell(env, script, "unshare", "--mount", "--propagation", "private", "sh", "-c", bind)
		}
	}
	setWritable(t, dir, false)
	t.Cleanup(func() { setWritable(t, dir, true) })
	return dir, func(env []string, script string) (string, error) {
		return shell(env, script, "sh", "-c", script)
	}
}

func setWritable(t *testing.T, dir string, w bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o444)
		if d.IsDir() {
			mode = 0o555
		}
		if w {
			mode |= 0o200
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGoRunMagefileWorksInAReadOnlyCheckout runs the documented entry point
// in a checkout nobody can write to: mage must not need to write its
// generated main file into magefiles/.
func TestGoRunMagefileWorksInAReadOnlyCheckout(t *testing.T) {
	dir, run := readOnlyCheckout(t)
	if out, err := run(nil, `touch magefiles/probe`); err == nil {
		t.Fatalf("the copy is writable, the test proves nothing:\n%s", out)
	}

	out, err := run(nil, `go run magefile.go -l`)
	if err != nil || !strings.Contains(out, "pack ") {
		t.Fatalf("go run magefile.go -l: %v\n%s", err, out)
	}

	// A target that runs: clean removes BUILD_DIR and DIST_DIR, both
	// outside the read-only checkout, made as the pipeline makes them.
	work := t.TempDir()
	build, dist := filepath.Join(work, "build"), filepath.Join(work, "dist")
	for _, d := range []string{build, dist} {
		if err := outdir.Make(d); err != nil {
			t.Fatal(err)
		}
	}
	out, err = run([]string{"BUILD_DIR=" + build, "DIST_DIR=" + dist}, `go run magefile.go clean`)
	if err != nil {
		t.Fatalf("go run magefile.go clean in a read-only checkout: %v\n%s", err, out)
	}
	for _, d := range []string{build, dist} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("clean did not remove %s (%v):\n%s", d, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "magefiles", "mage_output_file.go")); !os.IsNotExist(err) {
		t.Errorf("a generated main file is in magefiles/: %v", err)
	}
}
