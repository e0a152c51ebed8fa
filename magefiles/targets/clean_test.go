package targets_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/outdir"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// gitCheckout copies the repository's tracked files to dir and makes it a
// git work tree with them added, as a user's clone is.
func gitCheckout(t *testing.T, dir string) {
	t.Helper()
	if err := testiso.CopyCheckout(dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// tree is every file, directory and link under dir with its mode and a
// digest of its content (or its link target).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			v += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		m[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diff names what differs between two trees.
func diff(before, after map[string]string) []string {
	var d []string
	for _, p := range slices.Sorted(maps.Keys(before)) {
		if a, ok := after[p]; !ok {
			d = append(d, "removed "+p)
		} else if a != before[p] {
			d = append(d, "changed "+p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[p]; !ok {
			d = append(d, "added "+p)
		}
	}
	return d
}

// TestCleanNeverDeletesTheCheckout (issue 20, items 1 and 2) runs `clean`
// in a git checkout copy with each setting that names the checkout, a part
// of it, the home directory or the cache: each is refused, naming the
// setting, and the whole tree (checkout, .git, home, cache) is
// byte-identical afterwards. Then clean removes what the pipeline made,
// and from a directory it did not make only the pipeline's own files.
func TestCleanNeverDeletesTheCheckout(t *testing.T) {
	bin := compiledMage(t)
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	checkout := filepath.Join(home, "src", "novasphere-iso")
	cache := filepath.Join(tmp, "cache")
	gitCheckout(t, checkout)
	for _, f := range []string{filepath.Join(cache, "blobs", "sha256", "ab"), filepath.Join(home, "notes.txt"),
		filepath.Join(checkout, "packages", "mine.deb")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(env ...string) (string, error) {
		cmd := exec.CommandContext(context.Background(), bin, "clean")
		cmd.Dir = checkout
		cmd.Env = append(os.Environ(), append([]string{"HOME=" + home, "CACHE_DIR=" + cache}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	before := tree(t, tmp)
	for _, setting := range []string{
		"DIST_DIR=.", "BUILD_DIR=./", "DIST_DIR=configs/..", "DIST_DIR=charts", "DIST_DIR=charts/out",
		"BUILD_DIR=packages/b", "BUILD_DIR=packages", "DIST_DIR=.git", "DIST_DIR=magefiles", "BUILD_DIR=" + filepath.Dir(checkout),
		"DIST_DIR=" + home, "BUILD_DIR=" + cache, "DIST_DIR=" + tmp,
	} {
		out, err := run(setting)
		name, _, _ := strings.Cut(setting, "=")
		if err == nil || !strings.Contains(out, name+"=") || strings.Contains(out, "clean: remov") {
			t.Errorf("%s: clean was not refused naming %s (%v):\n%s", setting, name, err, out)
		}
		if d := diff(before, tree(t, tmp)); len(d) > 0 {
			t.Fatalf("%s: clean changed the tree:\n%s\n%s", setting, strings.Join(d, "\n"), out)
		}
	}

	// What the pipeline made goes whole; a directory it did not make keeps
	// everything that is not the pipeline's.
	made, mine := filepath.Join(tmp, "out", "build"), filepath.Join(tmp, "out", "mine")
	if err := outdir.Make(made); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(made, "extract", "grub.cfg"), filepath.Join(made, "notes.txt"),
		filepath.Join(mine, "SHA256SUMS"), filepath.Join(mine, "boot-bios-cdrom.log"), filepath.Join(mine, "notes.txt"),
		filepath.Join(mine, ".SHA256SUMS.gpg.123.0badcafe.tmp")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run("BUILD_DIR="+made, "DIST_DIR="+mine)
	if err != nil {
		t.Fatalf("clean: %v\n%s", err, out)
	}
	if _, err := os.Stat(made); !os.IsNotExist(err) {
		t.Errorf("clean left the directory the pipeline made (%v):\n%s", err, out)
	}
	left, err := os.ReadDir(mine)
	if err != nil || len(left) != 1 || left[0].Name() != "notes.txt" {
		t.Errorf("clean of a directory the pipeline did not make left %v (%v), want only notes.txt:\n%s", left, err, out)
	}
	if !strings.Contains(out, "left 1 others: notes.txt") {
		t.Errorf("clean does not say what it left:\n%s", out)
	}
}
