package testiso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	// boot images (boot.img, core.img, esp.img).
	installerBootDir = "usr/lib/novasphere-installer"
	// grubBootImg is GRUB's MBR code for BIOS disks.
	grubBootImg = "/usr/lib/grub/i386-pc/boot.img"
)

// installedGrubModules go into the installed disk's GRUB images: read the
// MS-DOS label and ext4, find the root file system, boot Linux.
var installedGrubModules = []string{"part_msdos", "ext2", "search", "search_fs_file", "search_fs_uuid",
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

// installedBootImages writes boot.img, core.img (BIOS) and esp.img (a FAT
// ESP holding \EFI\BOOT\BOOTX64.EFI) for the disk the test installer
// writes. Both GRUBs find the root file system by /boot/grub/grub.cfg, which
// the installer writes.
func (b *builder) installedBootImages(ctx context.Context, work, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	early := b.static("grub-installed-early.cfg")
	if err := copyFile(grubBootImg, filepath.Join(dir, "boot.img"), 0o644); err != nil {
		return err
	}
	core := append([]string{"-O", "i386-pc", "-o", filepath.Join(dir, "core.img"), "-p", "/boot/grub", "-c", early, "biosdisk"},
		installedGrubModules...)
	if err := tool.Command("grub-mkimage", core...).Run(ctx); err != nil {
		return err
	}
	espTree := filepath.Join(work, "installed-esp")
	efi := filepath.Join(espTree, "EFI", "BOOT", "BOOTX64.EFI")
	if err := os.MkdirAll(filepath.Dir(efi), 0o755); err != nil {
		return err
	}
	args := append([]string{"-O", "x86_64-efi", "-o", efi, "-p", "/boot/grub", "-c", early, "efi_gop"}, installedGrubModules...)
	if err := tool.Command("grub-mkimage", args...).Run(ctx); err != nil {
		return err
	}
	if err := setTimes(espTree, b.opts.SourceDateEpoch); err != nil {
		return err
	}
	img := filepath.Join(dir, "esp.img")
	const size = 8 << 20
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(img, size); err != nil {
		return err
	}
	epoch := "SOURCE_DATE_EPOCH=" + strconv.FormatInt(b.opts.SourceDateEpoch, 10)
	serial := fmt.Sprintf("%08x", uint32(b.opts.SourceDateEpoch)+1)
	if err := tool.Command("mformat", "-i", img, "-N", serial, "-v", "ESP", "-h", "64", "-s", "32", "-T", strconv.Itoa(size/512), "::").Env(epoch).Run(ctx); err != nil {
		return err
	}
	return tool.Command("mcopy", "-s", "-m", "-i", img, filepath.Join(espTree, "EFI"), "::/").Env(epoch).Run(ctx)
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
