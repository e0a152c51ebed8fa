package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// testOnlyTools are what the tests drive for real beyond the stages' and
// the test ISO's own tools: unsquashfs (reading the test ISO's layer back),
// OpenSSH and rsync (the release's server copy against a real sshd), git
// (release checkouts), GnuPG (gpg --verify of the release signature), and
// dpkg-deb and apt-get (real .debs for the offline-package check and the
// SBOM, apt's resolver as the check's reference), and containerd with ctr
// (a real import of the container images' archives).
var testOnlyTools = []tool.Tool{
	tool.Unsquashfs,
	tool.SSH, tool.SCP, tool.SSHKeygen, tool.SSHD, tool.Rsync, tool.Git,
	tool.GPG, tool.GPGAgent, tool.DpkgDeb, tool.AptGet,
	tool.Containerd, tool.Ctr,
	tool.Debugfs, tool.MkfsExt4, // the reinstall guard's test
}

// testTools is everything the test command installs: every tool a stage
// declares (pipeline.Tools), the test ISO builder's (testiso.Tools), and the
// tests' own.
func testTools() []tool.Tool { return tool.Union(pipeline.Tools(), testiso.Tools(), testOnlyTools) }

// lintModfile pins the linter (golangci-lint) and its dependencies.
const lintModfile = "magefiles/lint/tools.mod"

// lintConfig is the linter's configuration.
const lintConfig = "magefiles/lint/golangci.yaml"

// Test installs what the tests need (apt packages, Go modules) and runs go vet, the linter and every test.
//
// This is the command CI runs (.ci/run). Missing tools are installed with
// apt-get (through sudo when not root); with NOVASPHERE_NO_INSTALL=1 the
// exact apt-get line is printed instead. golangci-lint (pinned in magefiles/lint/tools.mod,
// configured in magefiles/lint/golangci.yaml) checks formatting, import grouping and the
// linters there before the tests run. Tests build their own small ISOs and
// boot them under QEMU; nothing is downloaded from the internet except Go
// modules and Debian packages.
//
// Environment: NOVASPHERE_NO_INSTALL, GOFLAGS (passed to go test).
func Test(ctx context.Context) error {
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	if err := tool.NewProvisioner(c.NoInstall, os.Stderr).Ensure(ctx, "test", testTools()...); err != nil {
		return err
	}
	steps := [][]string{
		{"go", "mod", "download"},
		{"go", "mod", "download", "-modfile=" + lintModfile},
		{"go", "vet", "./..."},
		// golangci-lint v2, pinned in magefiles/lint/tools.mod (kept apart from go.mod so
		// its dependencies never change the pipeline's build); its
		// configuration is magefiles/lint/golangci.yaml.
		{"go", "tool", "-modfile=" + lintModfile, "golangci-lint", "run", "--config", lintConfig, "./..."},
		{"go", "test", "-count=1", "-timeout", "45m", "./..."},
	}
	for _, s := range steps {
		fmt.Fprintln(os.Stderr, "test: "+tool.Command(s[0], s[1:]...).String())
		if err := tool.Command(s[0], s[1:]...).Dir(c.Root).Stream(os.Stdout).Run(ctx); err != nil {
			return fmt.Errorf("test: %w", err)
		}
	}
	return nil
}

// Clean removes what the pipeline wrote in the build and dist directories; the download cache is kept.
//
// A directory the pipeline created (it holds the marker file
// .novasphere-iso-output) is removed whole; from one it did not create,
// clean removes only the names the pipeline writes there and says what it
// left. BUILD_DIR and DIST_DIR that are, contain or lie inside the
// checkout's tracked files, a payload folder, the cache, / or the home
// directory are refused before anything is removed.
//
// Environment: BUILD_DIR (default build), DIST_DIR (default dist). To drop
// cached downloads too, remove $CACHE_DIR by hand.
func Clean() error {
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	return pipeline.Clean(c, os.Stderr)
}

// Settings prints every setting the pipeline reads: its effective value, where it came from, and its meaning.
//
// FROM is "default", "environment", "argument" (release's version) or "git"
// (SOURCE_DATE_EPOCH from the commit time of HEAD); a default only known
// later shows "-" and says where it comes from ("default: the base ISO's
// ..."). Wrong values are listed after the table, one a line. Secrets (GH_TOKEN,
// GITHUB_TOKEN) show only as set or unset. README's configuration table is
// the same table, with each setting's default and meaning in full.
func Settings() error {
	c, err := loadConfig(config.OSEnv())
	if c.Root != "" {
		// The values are shown even when some are wrong; the problems follow.
		if derr := c.DumpSettings(os.Stdout); derr != nil && err == nil {
			err = derr
		}
	}
	return err
}

// Bases lists the Ubuntu bases of configs/bases.yaml with their lock state in configs/bases.lock.
//
// BASE=<id> builds on one of them (the default is marked). A base is
// locked once its first fetch took its SHA-256 from Ubuntu's signed
// SHA256SUMS and wrote its line to configs/bases.lock (commit that line);
// with CI=true an unlocked base is refused. QUIRKS are the ways the
// release differs from 22.04, documented in configs/bases.yaml.
//
// -json prints them as one line of JSON (id, version, codename, iso,
// release, default, suffix of the output names, locked sha256), which
// .github/workflows reads to build its matrix.
func Bases(json *bool) error {
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	if json != nil && *json {
		return c.Bases.WriteJSON(os.Stdout, c.BaseLock)
	}
	return c.Bases.WriteTable(os.Stdout, c.BaseLock)
}

// Reproduce builds the installer ISO twice from empty build directories and proves the two are identical byte for byte.
//
// Both builds run fetch, extract, customize, packages and pack with the same
// settings, in $BUILD_DIR/reproduce/build-1 and build-2 (the download cache
// is shared). When they differ, it fails naming the first differing bytes and
// the file inside the ISO they belong to. CI's release workflow does the same
// on two separate runners.
//
// Environment: those of pack: VERSION, DIST_DIR, SOURCE_DATE_EPOCH,
// KERNEL_ARGS, GRUB_TIMEOUT, GRUB_TITLE, BASE, CI, BASE_ISO_URL, BASE_ISO_SHA256,
// BASE_ISO_SUMS_URL, BASE_ISO_KEYRING, CACHE_DIR, BUILD_DIR,
// NOVASPHERE_NO_INSTALL, NOVASPHERE_NO_WAIT.
func Reproduce(ctx context.Context) error {
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	if _, err := pipeline.Reproduce(ctx, c, filepath.Join(c.BuildDir, "reproduce"), os.Stderr); err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	return nil
}

// Testiso writes a small test ISO with an Ubuntu release's layout (22.04.3's, or -base's) and a test installer to path and prints its SHA-256, to try the pipeline without downloading Ubuntu.
//
// -base <id> (a base of configs/bases.yaml, or a series such as ubuntu-24.04
// for its latest entry) writes that release's layout: its /.disk/info and
// volume id, casper/install-sources.yaml as a list or a version 2 catalog,
// the kernel layers' manifests and HWE menu entries where the release has
// them; the test installer reads autoinstall where that release's
// subiquity does. Build on it with the printed BASE=<id>.
//
// The ISO boots like Ubuntu's (GRUB, El Torito BIOS and EFI, GPT ESP) with
// Debian's kernel; its casper layer is a real Debian 12 root file system
// (mmdebstrap, cached in $CACHE_DIR/testiso) with its package manifest and
// install-sources.yaml, and its initramfs holds a test installer that does
// what subiquity does with our autoinstall (partition, copy, late-commands,
// GRUB, power off). Then, in a few minutes under TCG:
//
//	BASE_ISO_URL=<path> BASE_ISO_SHA256=<printed digest> VERIFY_INSTALL=1 go run magefile.go verify
//
// Environment: CACHE_DIR, NOVASPHERE_NO_INSTALL.
func Testiso(ctx context.Context, path string, base *string) error {
	c, err := loadConfig(config.OSEnv())
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	opts := testiso.Options{CacheDir: c.CacheDir, RepoRoot: c.Root}
	use := ""
	if base != nil && *base != "" {
		b, err := c.Bases.Latest(*base)
		if err != nil {
			return fmt.Errorf("testiso: %w", err)
		}
		opts.Layout, use = testiso.LayoutOf(b), "BASE="+b.ID+" "
	}
	sum, err := testiso.WriteInstallerISO(ctx, abs, opts)
	if err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	fmt.Printf("%s  %s\n", sum, abs)
	fmt.Fprintf(os.Stderr, "testiso: wrote %s; try the pipeline on it:\n  %sBASE_ISO_URL=%s BASE_ISO_SHA256=%s VERIFY_INSTALL=1 go run magefile.go verify\n", abs, use, abs, sum)
	return nil
}
