// Command installer is the test ISO's stand-in for Ubuntu's installer
// (subiquity + curtin). The test ISO's /init runs it when the kernel command
// line holds "autoinstall ds=nocloud;s=<dir>"; it installs the ISO's Debian
// root file system onto the blank disk in subiquity's order:
//
//  1. read the autoinstall configuration where the medium's release reads it
//     (selectConfig): <dir>/user-data (cloud-config, autoinstall: version 1),
//     or /cdrom/autoinstall.yaml;
//  2. run early-commands;
//  3. storage: the largest disk that is not the install medium gets an MS-DOS
//     label, an EFI System Partition and an ext4 root (subiquity's "direct"
//     layout shape; the test installer does not emulate LVM);
//  4. copy the install source of /cdrom/casper/install-sources.yaml (its
//     squashfs layer stack) to /target;
//  5. curthooks: fstab, hostname, the kernel and initramfs (those of the ISO,
//     standing in for the kernel package curtin installs), GRUB for BIOS
//     (boot.img in the MBR, core.img after it) and UEFI (\EFI\BOOT\BOOTX64.EFI
//     on the ESP), with the kernel arguments that followed "---";
//  6. run every late-commands entry as subiquity does (a string with sh -c, a
//     list as argv), with the ISO at /cdrom and the new system at /target
//     ($TARGET_MOUNT_POINT); `curtin in-target --target=/target -- CMD` runs
//     CMD chrooted into /target (this binary, called as curtin);
//  7. unmount, then power off or reboot as autoinstall's shutdown key says.
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
	live        = "/run/live"                     // the bottom install layer, source of mkfs.ext4, sfdisk, blkid
	layersDir   = "/run/layers"                   // each layer of the install source, for the copy
	bootFiles   = "/usr/lib/novasphere-installer" // boot.img, core.img, esp.img
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
	out  io.Writer
	args bootArgs
	ai   autoinstall
	disk string // /dev/sdX
	root string // root partition
	uuid string // its file system UUID
}

type step struct {
	name string
	run  func() error
}

func (in *installer) run() error {
	steps := []step{
		{"read autoinstall config", in.readConfig},
		{"early-commands", func() error { return in.commands("early-commands", in.ai.EarlyCommands) }},
		{"mount install source", in.mountSource},
		{"storage", in.storage},
		{"copy install source", in.copySource},
		{"curthooks", in.curthooks},
		{"late-commands", func() error { return in.commands("late-commands", in.ai.LateCommands) }},
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
// order, stopping at the first failure.
func (in *installer) commands(list string, cmds []command) error {
	for i, c := range cmds {
		fmt.Fprintf(in.out, "installer: %s[%d]: %s\n", list, i, c)
		argv := c.argv()
		err := in.exec(argv[0], argv[1:], "TARGET_MOUNT_POINT="+target)
		if err != nil {
			return fmt.Errorf("%s[%d] %q: %w", list, i, c.String(), err)
		}
	}
	return nil
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
