package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Boot files in the initramfs (bootFiles): GRUB's MBR code, the BIOS
// core.img for a / that holds /boot and for a separate /boot, and the UEFI
// GRUB, which reads grub.cfg beside it on the ESP.
const (
	bootImg     = "boot.img"
	coreImg     = "core.img"
	coreBootImg = "core-boot.img"
	efiGrub     = "BOOTX64.EFI"
)

// curthooks configures the copied system as curtin's curthooks and
// subiquity's postinstall do, in outline: fstab, hostname, cloud-init's
// first-boot config, netplan, the SSH server, kernel and initramfs, boot
// loader.
func (in *installer) curthooks() error {
	if err := in.writeFiles([]targetFile{{"/etc/fstab", "# written by the NovaSphere test installer, as curtin writes it\n" + fstabLines(in.mounts), 0o644}}); err != nil {
		return err
	}
	group, err := os.ReadFile(target + "/etc/group")
	if err != nil {
		return err
	}
	ci, err := cloudInitFiles(in.ai, targetGroups(string(group)), newInstanceID())
	if err != nil {
		return err
	}
	nw, err := networkFiles(in.ai)
	if err != nil {
		return err
	}
	if err := in.writeFiles(append(ci, nw...)); err != nil {
		return err
	}
	if err := in.sshServer(); err != nil {
		return err
	}
	if err := in.kernel(); err != nil {
		return err
	}
	return in.bootloader()
}

func (in *installer) writeFiles(files []targetFile) error {
	for _, f := range files {
		p := target + f.path
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.content), os.FileMode(f.mode)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(f.mode)); err != nil {
			return err
		}
		fmt.Fprintf(in.out, "installer: wrote %s\n", f.path)
	}
	return nil
}

// sshServer: subiquity installs openssh-server only for ssh.install-server
// (subiquity/models/ssh.py, target_packages). The test install source
// already has it (no package pool to install from), so without
// install-server the installer removes it with the target's dpkg.
func (in *installer) sshServer() error {
	if in.ai.SSH.InstallServer {
		fmt.Fprintln(in.out, "installer: ssh.install-server: openssh-server stays installed and enabled")
		return nil
	}
	fmt.Fprintln(in.out, "installer: no ssh.install-server: removing openssh-server")
	return in.exec("curtin", []string{"in-target", "--target=" + target, "--", "dpkg", "--purge", "openssh-server"}, "TARGET_MOUNT_POINT="+target)
}

// kernel puts the ISO's kernel and initramfs in /boot (standing in for the
// kernel package curtin installs), the initramfs with the target's lvm
// added (see installedInitramfs).
func (in *installer) kernel() error {
	if err := os.MkdirAll(target+"/boot/grub", 0o755); err != nil {
		return err
	}
	if err := copyFile(cdrom+"/casper/vmlinuz", target+"/boot/vmlinuz"); err != nil {
		return err
	}
	initrd, err := os.ReadFile(cdrom + "/casper/initrd")
	if err != nil {
		return err
	}
	files, err := lvmInitramfsFiles(target)
	if err != nil {
		return fmt.Errorf("the installed system's initramfs: %w", err)
	}
	img, err := installedInitramfs(initrd, target, files)
	if err != nil {
		return err
	}
	fmt.Fprintf(in.out, "installer: /boot/initrd.img: the ISO's initramfs and %d files of the target's lvm2 (%d KiB)\n", len(files), (len(img)-len(initrd))/1024)
	return os.WriteFile(target+"/boot/initrd.img", img, 0o644)
}

// bootMount is the mount that holds /boot: a separate /boot, else /.
func (in *installer) bootMount() mounted {
	for _, m := range in.mounts {
		if m.path == "/boot" {
			return m
		}
	}
	return in.mounts[0]
}

// kernelArgs are the installed system's: root=, ro, and the carried-over
// arguments as GRUB_CMDLINE_LINUX_DEFAULT (curtin/commands/install_grub.py,
// get_carryover_params and replace_grub_cmdline_linux_default). The root is
// named as update-grub names it: an LV by its /dev/mapper path, a partition
// by UUID.
func (in *installer) kernelArgs() []string {
	root := "root=UUID=" + in.mounts[0].uuid
	if in.mounts[0].dev == lvDevice {
		root = "root=" + lvDevice
	}
	return append([]string{root, "ro"}, in.args.Carry...)
}

func (in *installer) bootloader() error {
	def := fmt.Sprintf("GRUB_CMDLINE_LINUX_DEFAULT=%q\n", strings.Join(in.args.Carry, " "))
	if err := in.writeFiles([]targetFile{{"/etc/default/grub", def, 0o644}}); err != nil {
		return err
	}
	boot := in.bootMount()
	prefix := "/boot" // where /boot's files are on the file system that holds them
	if boot.path == "/boot" {
		prefix = ""
	}
	grubCfg := fmt.Sprintf(`# written by the NovaSphere test installer
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=1
menuentry "Debian GNU/Linux (NovaSphere test install)" {
	search --no-floppy --fs-uuid --set=root %s
	linux %s/vmlinuz %s
	initrd %s/initrd.img
}
`, boot.uuid, prefix, strings.Join(in.kernelArgs(), " "), prefix)
	if err := os.WriteFile(target+"/boot/grub/grub.cfg", []byte(grubCfg), 0o644); err != nil {
		return err
	}
	if in.uefi {
		return in.installGrubEFI(boot.uuid, prefix+"/grub")
	}
	return in.installGrubBIOS(prefix == "")
}

// installGrubEFI puts GRUB on the ESP as the removable-media boot file
// \EFI\BOOT\BOOTX64.EFI, with a grub.cfg beside it that finds the file
// system holding /boot by UUID, as the one Ubuntu writes on its ESP. (No
// NVRAM boot entry: the firmware boots the removable path.)
func (in *installer) installGrubEFI(uuid, grubDir string) error {
	dir := target + "/boot/efi/EFI/BOOT"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(bootFiles, efiGrub), filepath.Join(dir, efiGrub)); err != nil {
		return err
	}
	stub := fmt.Sprintf("search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)%s\nconfigfile $prefix/grub.cfg\n", uuid, grubDir)
	return os.WriteFile(filepath.Join(dir, "grub.cfg"), []byte(stub), 0o644)
}

// Offsets GRUB's own grub-setup patches (grub-core/boot/i386/pc/boot.S
// GRUB_BOOT_MACHINE_KERNEL_SECTOR; diskboot.S's first block list entry,
// the last 12 bytes of core.img's first sector).
const (
	bootKernelSector = 0x5c
	coreBlockStart   = 0x200 - 12
)

// patchBIOSGrub points boot.img at core.img's first sector and core.img's
// block list at the sector after it, for core.img written at sector (the
// bios_grub partition of a GPT disk, where grub-install embeds it).
func patchBIOSGrub(boot, core []byte, sector int64) error {
	if len(boot) != 512 || len(core) < 512 {
		return fmt.Errorf("boot.img is %d bytes (want 512), core.img %d", len(boot), len(core))
	}
	if got := binary.LittleEndian.Uint64(boot[bootKernelSector:]); got != 1 {
		return fmt.Errorf("boot.img's kernel sector is %d, not grub-mkimage's default 1: not the GRUB boot.img this installer knows", got)
	}
	if got := binary.LittleEndian.Uint64(core[coreBlockStart:]); got != 2 {
		return fmt.Errorf("core.img's first block list starts at %d, not grub-mkimage's default 2: not an i386-pc core.img this installer knows", got)
	}
	binary.LittleEndian.PutUint64(boot[bootKernelSector:], uint64(sector))
	binary.LittleEndian.PutUint64(core[coreBlockStart:], uint64(sector+1))
	return nil
}

// installGrubBIOS writes GRUB for BIOS as grub-install does on a GPT disk:
// boot.img's code into the protective MBR (the partition table is kept) and
// core.img into the bios_grub partition. The core.img for a / holding
// /boot finds /boot/grub/grub.cfg, the one for a separate /boot /grub/grub.cfg.
func (in *installer) installGrubBIOS(separateBoot bool) error {
	boot, err := os.ReadFile(filepath.Join(bootFiles, bootImg))
	if err != nil {
		return err
	}
	name := coreImg
	if separateBoot {
		name = coreBootImg
	}
	core, err := os.ReadFile(filepath.Join(bootFiles, name))
	if err != nil {
		return err
	}
	if int64(len(core)) > in.biosGrub.Size {
		return fmt.Errorf("%s is %d bytes: it does not fit the %d-byte bios_grub partition", name, len(core), in.biosGrub.Size)
	}
	sector := in.biosGrub.Start / 512
	if err := patchBIOSGrub(boot, core, sector); err != nil {
		return err
	}
	f, err := os.OpenFile(in.disk, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(boot[:440], 0); err != nil { // up to the disk signature
		return err
	}
	if _, err := f.WriteAt(core, in.biosGrub.Start); err != nil {
		return err
	}
	return f.Sync()
}
