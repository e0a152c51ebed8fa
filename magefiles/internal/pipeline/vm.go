package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// InstallDiskDir is where the install proof of fw keeps its installed disk
// ($BUILD_DIR/install/bios or uefi).
func (b *Build) InstallDiskDir(fw qemu.Firmware) string {
	return verify.InstallDiskDir(filepath.Join(b.Config.BuildDir, "install"), fw)
}

// VM builds the ISO (the stages up to pack; nothing is redone when it is up
// to date), installs it in fw when no install proof left a disk yet, then
// boots the installed disk interactively (installproof.VM).
func (b *Build) VM(ctx context.Context, fw qemu.Firmware) error {
	if err := b.Run(ctx, stage.Pack); err != nil {
		return err
	}
	dir := b.InstallDiskDir(fw)
	disk := filepath.Join(dir, installproof.DiskName)
	if _, err := os.Stat(disk); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(b.Log, "vm: no installed disk in %s yet: installing %s first (%s)\n", dir, b.Packed.ISO, fw)
		res, err := installproof.Run(ctx, installproof.Options{ISO: b.Packed.ISO, Version: b.Config.Version, Firmware: fw,
			DistDir: b.Dist.Dir, DiskDir: dir, Progress: b.Log,
			Timeouts: installproof.Timeouts{Install: b.Config.Verify.InstallTimeout}})
		if err != nil {
			return fmt.Errorf("vm: installing first: %w", err)
		}
		disk = res.Disk
	} else if err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	user := "novasphere"
	if b.Customized != nil && b.Customized.Login.Username != "" {
		user = b.Customized.Login.Username
	}
	return installproof.VM(ctx, installproof.VMOptions{Disk: disk, UEFIVars: filepath.Join(dir, installproof.VarsName), Firmware: fw, User: user})
}
