package testiso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// cacheKey hashes everything the fixture is made from: the generator's
// version, the options, the static inputs, the kernel package and the
// versions of the tools that write the image.
func (b *builder) cacheKey(ctx context.Context, k kernelRef) (string, error) {
	h := sha256.New()
	// kernelCacheName holds the module lists: a new module is a new initramfs.
	fmt.Fprintf(h, "generator %s\nsilent %v\nsquashfs-bytes %d\nepoch %d\nkernel %s %s %s\n",
		generatorVersion, b.opts.Silent, b.opts.SquashfsBytes, b.opts.SourceDateEpoch, k.Package, k.Version, kernelCacheName(k))
	if !b.opts.Layout.seed() {
		// Only other layouts add to the key: the seed's fixture keeps its.
		fmt.Fprintf(h, "layout %+v\n", b.opts.Layout)
	}
	if err := hashTree(h, b.opts.TestdataDir); err != nil {
		return "", fmt.Errorf("reading the static inputs: %w", err)
	}
	if b.rootfs != nil {
		fmt.Fprintf(h, "installer rootfs %s\n", b.rootfs.Key)
		if err := hashTree(h, b.installerSourceDir()); err != nil {
			return "", fmt.Errorf("reading the test installer's source: %w", err)
		}
		for _, f := range []string{"go.mod", "go.sum"} {
			if err := hashFile(h, filepath.Join(b.opts.RepoRoot, f)); err != nil {
				return "", err
			}
		}
		out, err := tool.Command("go", "version").Output(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", firstLine(string(out)))
		if err := hashFile(h, grubBootImg); err != nil {
			return "", err
		}
	}
	for _, v := range [][]string{
		{"xorriso", "-version"},
		{"grub-mkimage", "--version"},
		{"mksquashfs", "-version"},
		{"mformat", "--version"},
	} {
		out, err := tool.Command(v[0], v[1:]...).Output(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", firstLine(string(out)))
	}
	if err := hashFile(h, busyboxPath); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

func hashTree(h hash.Hash, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && filepath.Ext(p) != ".md" { // documentation does not change the ISO
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "file %s\n", rel)
		if err := hashFile(h, f); err != nil {
			return err
		}
	}
	return nil
}

func hashFile(h hash.Hash, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// cached runs fill unless dir already exists, under a lock so that only one
// process builds a given entry. fill receives an empty temporary directory
// beside dir; when it succeeds the directory is renamed to dir, so dir is
// either absent or complete.
func cached(ctx context.Context, dir string, fill func(tmp string) error) (hit bool, err error) {
	if _, err := os.Stat(dir); err == nil {
		return true, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, err
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return true, nil // built by another process while we waited
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return false, err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		os.RemoveAll(tmp)
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(dir); statErr == nil {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel the
// wait. The lock ends with the returned function (or the process).
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// Closing the file drops the lock too, whatever LOCK_UN says.
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another build holding %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
