package testiso

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/images/imagestest"
)

// RunMage runs `go run magefile.go args...` from the repository root, as a
// user would, with env added to the environment, and returns its combined
// output. Tests of packages the pipeline imports (verify) build their ISOs
// this way: through exactly the chain the targets drive.
func RunMage(ctx context.Context, env []string, args ...string) (string, error) {
	root, err := config.FindRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", "magefile.go"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// PipelineEnv is the environment that points the pipeline at the fixture
// and keeps its build, dist and cache directories under dir. The cache
// holds the image the repository's chart pins (imagestest's stand-in), as
// a build that fetched it would have left it: the images stage then needs
// no registry.
func (f Fixture) PipelineEnv(version, dir string, epoch int64) ([]string, error) {
	sum, err := fileSHA256(f.ISO)
	if err != nil {
		return nil, err
	}
	if err := imagestest.WarmCache(filepath.Join(dir, "cache")); err != nil {
		return nil, err
	}
	return []string{
		config.EnvBaseISOURL + "=" + f.ISO,
		config.EnvBaseISOSHA256 + "=" + sum,
		config.EnvBaseISOSumsURL + "=",
		config.EnvVersion + "=" + version,
		config.EnvSourceDateEpoch + "=" + strconv.FormatInt(epoch, 10),
		config.EnvDistDir + "=" + filepath.Join(dir, "dist"),
		config.EnvBuildDir + "=" + filepath.Join(dir, "build"),
		config.EnvCacheDir + "=" + filepath.Join(dir, "cache"),
	}, nil
}

// Pack builds the installer ISO for version from the fixture with `go run
// magefile.go pack` (the repository's own payload and autoinstall files)
// under dir, with the settings extra adds ("KERNEL_ARGS="), and returns its
// path.
func (f Fixture) Pack(ctx context.Context, version, dir string, epoch int64, extra ...string) (string, error) {
	env, err := f.PipelineEnv(version, dir, epoch)
	if err != nil {
		return "", err
	}
	env = append(env, extra...)
	if out, err := RunMage(ctx, env, "pack"); err != nil {
		return "", fmt.Errorf("go run magefile.go pack: %w\n%s", err, out)
	}
	return dist.New(filepath.Join(dir, "dist"), version).ISO(), nil
}

func fileSHA256(path string) (string, error) {
	d, err := hashing.File(context.Background(), path, 0)
	return d.SHA256, err
}

// CopyCheckout copies the repository's tracked files (as `git ls-files`
// lists them, those deleted in the work tree left out) to dst, for tests
// that run targets in a checkout of their own.
func CopyCheckout(dst string) error {
	root, err := config.FindRoot()
	if err != nil {
		return err
	}
	files, err := git.TrackedFiles(context.Background(), root)
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the work tree
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
