package testiso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// The installer fixture's extra files.
const (
	// SourcesPath is the ISO path of the install sources list, as on Ubuntu's
	// live-server ISO.
	SourcesPath = "/casper/install-sources.yaml"
	// ManifestPath is the ISO path of the layer's package list.
	ManifestPath = "/casper/ubuntu-server-minimal.manifest"
	// installerPackage is the Go package of the test installer, relative to
	// the repository root.
	installerPackage = "magefiles/internal/testiso/installer"
	// installerBootDir is where the initramfs holds the installed disk's
	// boot images (boot.img, core.img, core-boot.img, BOOTX64.EFI).
	installerBootDir = "usr/lib/novasphere-installer"
	// grubBootImg is GRUB's MBR code for BIOS disks.
	grubBootImg = "/usr/lib/grub/i386-pc/boot.img"
)

// installedGrubModules go into the installed disk's GRUB images: read the
// GPT, ext4 and (UEFI) the ESP's FAT, find the file system holding /boot,
// boot Linux.
var installedGrubModules = []string{"part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_file", "search_fs_uuid",
	"normal", "configfile", "linux", "echo", "test", "serial", "terminal", "sleep"}

// installerTools are what an installer fixture needs besides requiredTools.
var installerTools = append([]tool.Tool{tool.GrubPCBootImg}, rootfsTools...)

// installerSourceDir is the directory of the test installer's Go package.
func (b *builder) installerSourceDir() string {
	return filepath.Join(b.opts.RepoRoot, filepath.FromSlash(installerPackage))
}

// buildInstaller compiles the test installer as a static binary (no cgo:
// the initramfs has no C library).
func (b *builder) buildInstaller(ctx context.Context, out string) error {
	return tool.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./"+installerPackage).
		Dir(b.opts.RepoRoot).Env("CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64").Run(ctx)
}

// installedBootImages writes the installed disk's GRUB images: boot.img
// (the MBR code), two BIOS core.img files, one for a / that holds /boot
// (it finds /boot/grub/grub.cfg) and one for a separate /boot (core-boot.img,
// /grub/grub.cfg; grub-install embeds the same choice), and BOOTX64.EFI,
// which reads grub.cfg beside it on the ESP (its prefix is /EFI/BOOT on
// the device it was loaded from); the installer writes that grub.cfg with
// the UUID of the file system holding /boot, as Ubuntu's ESP has it.
func (b *builder) installedBootImages(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := copyFile(grubBootImg, filepath.Join(dir, "boot.img"), 0o644); err != nil {
		return err
	}
	for img, early := range map[string]string{"core.img": "grub-installed-early.cfg", "core-boot.img": "grub-installed-early-boot.cfg"} {
		core := append([]string{"-O", "i386-pc", "-o", filepath.Join(dir, img), "-p", "/boot/grub", "-c", b.static(early), "biosdisk"},
			installedGrubModules...)
		if err := tool.Command("grub-mkimage", core...).Run(ctx); err != nil {
			return err
		}
	}
	args := append([]string{"-O", "x86_64-efi", "-o", filepath.Join(dir, "BOOTX64.EFI"), "-p", "/EFI/BOOT", "efi_gop"}, installedGrubModules...)
	return tool.Command("grub-mkimage", args...).Run(ctx)
}

// installSources is /casper/install-sources.yaml: one source, the Debian
// layer, in the format of Ubuntu's (subiquity's SourceModel).
func installSources(r Rootfs) []byte {
	name := strings.TrimSuffix(filepath.Base(SquashfsPath), ".squashfs")
	return []byte(fmt.Sprintf(`- default: true
  description:
    en: Debian %s (minbase, systemd) standing in for Ubuntu Server in the NovaSphere test ISO.
  id: %s
  locale_support: none
  name:
    en: Debian %s test system
  path: %s
  size: %d
  type: fsimage
  variant: server
`, RootfsSuite, name, RootfsSuite, filepath.Base(SquashfsPath), r.Size))
}
