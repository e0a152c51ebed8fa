package targets

import (
	"context"
	"fmt"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// testTools is everything the test suite drives for real: the ISO tools, the
// GRUB images and firmware of the test ISO, QEMU, OpenSSH for scp, and for the
// install proof mmdebstrap and tar2sqfs (the Debian root file system of the
// installer test ISO) and dpkg-deb (its offline packages).
var testTools = []tool.Tool{
	tool.Xorriso, tool.Mksquashfs, tool.Unsquashfs, tool.Mformat, tool.Mcopy,
	tool.GrubMkimage, tool.GrubPCModules, tool.GrubEFIModule,
	tool.Qemu, tool.OVMFCode, tool.OVMFVars,
	tool.Busybox, tool.Cpio, tool.Modinfo,
	tool.SSH, tool.SCP, tool.SSHKeygen, tool.SSHD, tool.Rsync, tool.Git,
	tool.Mmdebstrap, tool.Tar2sqfs, tool.DpkgQuery, tool.DpkgDeb, tool.GrubPCBootImg,
}

// Test installs what the tests need (apt packages, Go modules) and runs go vet and every test.
//
// This is the command CI runs (.ci/run). Missing tools are installed with
// apt-get (through sudo when not root); with NOVASPHERE_NO_INSTALL=1 the
// exact apt-get line is printed instead. Tests build their own small ISOs and
// boot them under QEMU; nothing is downloaded from the internet except Go
// modules and Debian packages.
//
// Environment: NOVASPHERE_NO_INSTALL, GOFLAGS (passed to go test).
func Test(ctx context.Context) error {
	c, err := settings()
	if err != nil {
		return err
	}
	if err := installer(c).Ensure(ctx, "test", testTools...); err != nil {
		return err
	}
	steps := [][]string{
		{"go", "mod", "download"},
		{"go", "vet", "./..."},
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

// Clean removes the build and dist directories; the download cache is kept.
//
// Environment: BUILD_DIR (default build), DIST_DIR (default dist). To drop
// cached downloads too, remove $CACHE_DIR by hand.
func Clean() error {
	c, err := settings()
	if err != nil {
		return err
	}
	for _, dir := range []string{c.Path(c.BuildDir), c.Path(c.DistDir)} {
		fmt.Fprintln(os.Stderr, "clean: removing "+dir)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
	}
	return nil
}
