// Command installer is the test ISO's stand-in for Ubuntu's installer
// (subiquity + curtin). The test ISO's /init runs it when the kernel command
// line holds "autoinstall ds=nocloud;s=<dir>"; it installs the ISO's Debian
// root file system onto the blank disk in subiquity's order, following
// subiquity 23.08.1 (Ubuntu 22.04.3's) and the curtin it pins where a user
// would notice, each rule after the source file named:
//
//  1. read the autoinstall configuration where the medium's release reads it
//     (selectConfig): <dir>/user-data (cloud-config, autoinstall: version 1),
//     or /cdrom/autoinstall.yaml;
//     identity needs username, hostname and password and nothing else
//     (autoinstall-schema.json); storage takes layout name lvm or direct and
//     sizing-policy scaled or all (subiquity/common/types.py SizingPolicy);
//  2. mount the install source and make the live system of it (the bottom
//     layer under a writable overlay, with /dev, /proc, /sys, /run and the
//     ISO at /cdrom), then run early-commands chrooted into it, as subiquity
//     runs them in its live session; a failure stops the install before any
//     disk is touched, runs error-commands the same way
//     (subiquity/server/server.py, _run_error_cmds) and powers off;
//  3. storage, subiquity's guided layout on the largest disk that is not the
//     install medium (subiquity/server/controllers/filesystem.py guided,
//     guided_lvm, guided_direct; without a storage section: lvm): GPT, a
//     1 MiB bios_grub partition (BIOS) or an ESP sized by get_efi_size,
//     vfat at /boot/efi (UEFI) (subiquity/common/filesystem/boot.py,
//     sizes.py); for lvm an ext4 /boot sized by get_bootfs_size and a PV
//     holding ubuntu-vg/ubuntu-lv, the LV scaled_rootfs_size of the VG
//     ("scaled", the default: all under 10 GiB, 10 GiB under 20 GiB, half
//     under 200 GiB, else 100 GiB) or the whole VG ("all"), ext4 /; for
//     direct one ext4 /. Sizes and alignment are in sizes.go; the commands
//     are curtin's (sfdisk, mkfs, vgcreate/lvcreate of curtin/commands/
//     block_meta.py) run from the live layer's Debian packages (fdisk,
//     e2fsprogs, dosfstools, lvm2);
//  4. copy the install source of /cdrom/casper/install-sources.yaml (its
//     squashfs layer stack, subiquity/server/controllers/source.py) to
//     /target;
//  5. curthooks: fstab as curtin writes it (the LV by its dm-uuid link,
//     partitions by UUID); hostname and hosts; the first boot's cloud-init
//     config as subiquity writes it (subiquity/models/subiquity.py
//     _cloud_init_config, _cloud_init_files): /etc/cloud/cloud.cfg.d/
//     99-installer.cfg (0600) with datasource_list [None] and the
//     cloud-config as its user data (the identity user: name, gecos,
//     password hash, lock_passwd false, /bin/bash, subiquity's groups the
//     target has, ssh_authorized_keys; ssh_pwauth from allow-pw, whose
//     default is "no authorized-keys" (subiquity/server/controllers/ssh.py),
//     when the SSH server is installed; autoinstall's user-data: merged in,
//     merge_cloud_init_config), ds-identify.cfg "policy: enabled";
//     the installed system's real cloud-init creates the user at its first
//     boot; the network section as /etc/netplan/00-installer-config.yaml
//     and cloud-init's networking disabled (subiquity/models/network.py;
//     without a section every NIC without an address is dropped,
//     subiquitycore/controllers/network.py update_initial_configs, and the
//     test installer runs no DHCP, so none is kept); openssh-server only
//     with ssh.install-server (subiquity/models/ssh.py; the install source
//     has it, so it is purged otherwise); the kernel and initramfs (those
//     of the ISO, standing in for the kernel package curtin installs; the
//     initramfs gets the target's lvm to activate an LVM root, see
//     initramfs.go); GRUB for BIOS (boot.img in the protective MBR,
//     core.img in the bios_grub partition) or UEFI (\EFI\BOOT\BOOTX64.EFI
//     and a grub.cfg on the ESP that finds /boot by UUID); the kernel
//     arguments are root=, ro and curtin's carry-over: every console=
//     before "---" and everything after it but BOOTIF=, initrd= and
//     BOOT_IMAGE= (curtin/commands/install_grub.py get_carryover_params),
//     also written as GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub;
//  6. run every late-commands entry as subiquity does (a string with sh -c, a
//     list as argv), with the ISO at /cdrom and the new system at /target
//     ($TARGET_MOUNT_POINT); `curtin in-target --target=/target -- CMD` runs
//     CMD chrooted into /target (this binary, called as curtin);
//  7. unmount, deactivate ubuntu-vg, then power off or reboot as
//     autoinstall's shutdown key says.
//
// Left out: storage.config actions, match: other than the largest disk,
// encryption, a swap file, the apt, locale, keyboard and timezone sections
// (accepted and ignored), packages from a pool, an NVRAM boot entry, DHCP
// during the install, late-commands in the live system (they run in the
// installer's busybox environment), the /dev/disk/by-id/dm-uuid-* link on the
// installed system (its udev sees the LV activated without udev).
//
// It prints its progress and these markers to the serial console and tty0:
//
//	NOVASPHERE-INSTALL-STEP <step> done in <duration>
//	NOVASPHERE-INSTALL-DONE
//	NOVASPHERE-INSTALL-FAILED: <step>: <reason>
//
// Subiquity stays at its error screen after a failure; this installer prints
// the failure and powers off, so that a test sees it at once.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Paths of the installer environment.
const (
	cdrom       = "/cdrom"
	target      = "/target"
	live        = "/run/live"                     // the live system: the bottom install layer under an overlay, source of mkfs, sfdisk, lvm
	liveRW      = "/run/live-rw"                  // the overlay's writable tmpfs
	layersDir   = "/run/layers"                   // each layer of the install source, for the copy
	bootFiles   = "/usr/lib/novasphere-installer" // boot.img, core.img, core-boot.img, BOOTX64.EFI
	sourcesYAML = "/cdrom/casper/install-sources.yaml"
	cmdlinePath = "/proc/cmdline"
)

func main() {
	if filepath.Base(os.Args[0]) == "curtin" {
		os.Exit(curtinMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	out := console()
	in := &installer{out: out}
	err := in.run()
	if err != nil {
		fmt.Fprintf(out, "NOVASPHERE-INSTALL-FAILED: %v\n", err)
		in.errorCommands()
		in.shutdown("poweroff")
	}
	fmt.Fprintln(out, "NOVASPHERE-INSTALL-DONE")
	in.shutdown(in.ai.Shutdown)
}

// console writes to the first serial port and to tty0 (the screen), as far
// as each can be opened.
func console() io.Writer {
	var ws []io.Writer
	for _, dev := range []string{"/dev/ttyS0", "/dev/tty0"} {
		if f, err := os.OpenFile(dev, os.O_WRONLY|syscall.O_NOCTTY, 0); err == nil {
			ws = append(ws, f)
		}
	}
	if len(ws) == 0 {
		return os.Stdout
	}
	return &lineWriter{ws: ws}
}

// lineWriter copies to several writers and turns "\n" into "\r\n" for the
// terminals; a write error on one does not stop the others.
type lineWriter struct{ ws []io.Writer }

func (l *lineWriter) Write(p []byte) (int, error) {
	q := []byte(strings.ReplaceAll(string(p), "\n", "\r\n"))
	for _, w := range l.ws {
		_, _ = w.Write(q) // a console that went away must not stop the install
	}
	return len(p), nil
}

type installer struct {
	out      io.Writer
	args     bootArgs
	ai       autoinstall
	disk     string    // /dev/sdX
	uefi     bool      // booted by UEFI firmware
	layout   layout    // the guided storage plan
	biosGrub part      // the bios_grub partition (BIOS)
	mounts   []mounted // the target's file systems, / first
}

type step struct {
	name string
	run  func() error
}

func (in *installer) run() error {
	steps := []step{
		{"read autoinstall config", in.readConfig},
		{"mount install source", in.mountSource},
		{"early-commands", func() error { return in.commands("early-commands", in.ai.EarlyCommands, true) }},
		{"storage", in.storage},
		{"copy install source", in.copySource},
		{"curthooks", in.curthooks},
		{"late-commands", func() error { return in.commands("late-commands", in.ai.LateCommands, false) }},
		{"unmount", in.unmount},
	}
	for _, s := range steps {
		start := time.Now()
		fmt.Fprintf(in.out, "installer: %s\n", s.name)
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(in.out, "NOVASPHERE-INSTALL-STEP %s done in %s\n", s.name, time.Since(start).Round(10*time.Millisecond))
	}
	return nil
}

func (in *installer) readConfig() error {
	cmdline, err := os.ReadFile(cmdlinePath)
	if err != nil {
		return err
	}
	if in.args, err = parseCmdline(string(cmdline)); err != nil {
		return err
	}
	if !in.args.Autoinstall {
		return fmt.Errorf("the kernel command line has no autoinstall argument: %s", strings.TrimSpace(string(cmdline)))
	}
	info, _ := os.ReadFile("/cdrom/.disk/info")
	var from string
	if in.ai, from, err = selectConfig(in.args, mediumRelease(info), os.ReadFile); err != nil {
		return err
	}
	fmt.Fprintf(in.out, "installer: autoinstall configuration from %s\n", from)
	fmt.Fprintf(in.out, "installer: %d early-commands, %d late-commands, shutdown %q\n",
		len(in.ai.EarlyCommands), len(in.ai.LateCommands), in.ai.Shutdown)
	return nil
}

// commands runs a command list as subiquity's CmdListController does: in
// order, stopping at the first failure. early-commands and error-commands
// run in the live system (chrooted into /run/live, with the ISO at
// /cdrom, the disks in /dev), as subiquity runs them in its live session;
// late-commands run in the installer's environment with the target at
// /target, where `curtin in-target` is this binary.
func (in *installer) commands(list string, cmds []command, inLive bool) error {
	for i, c := range cmds {
		fmt.Fprintf(in.out, "installer: %s[%d]: %s\n", list, i, c)
		argv := c.argv()
		var err error
		if inLive {
			err = in.execLive(argv, "TARGET_MOUNT_POINT="+target)
		} else {
			err = in.exec(argv[0], argv[1:], "TARGET_MOUNT_POINT="+target)
		}
		if err != nil {
			return fmt.Errorf("%s[%d] %q: %w", list, i, c.String(), err)
		}
	}
	return nil
}

// errorCommands runs error-commands after a failure, as subiquity's
// server does before it shows its error screen (subiquity/server/
// server.py, _run_error_cmds); their own failure is reported and ignored.
func (in *installer) errorCommands() {
	if len(in.ai.ErrorCommands) == 0 {
		return
	}
	if _, err := os.Stat(live + cdrom + "/.disk"); err != nil {
		fmt.Fprintln(in.out, "installer: error-commands: the live system is not mounted; running them in the installer environment")
		if err := in.commands("error-commands", in.ai.ErrorCommands, false); err != nil {
			fmt.Fprintf(in.out, "installer: %v\n", err)
		}
		return
	}
	if err := in.commands("error-commands", in.ai.ErrorCommands, true); err != nil {
		fmt.Fprintf(in.out, "installer: %v\n", err)
	}
}

// shutdown ends the installer; under QEMU -no-reboot both end QEMU.
func (in *installer) shutdown(how string) {
	syscall.Sync()
	time.Sleep(200 * time.Millisecond) // let the console drain
	cmd := syscall.LINUX_REBOOT_CMD_POWER_OFF
	if how == "reboot" || how == "" { // subiquity's default is reboot
		cmd = syscall.LINUX_REBOOT_CMD_RESTART
	}
	if err := syscall.Reboot(cmd); err != nil {
		fmt.Fprintln(os.Stderr, "installer: reboot:", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}
