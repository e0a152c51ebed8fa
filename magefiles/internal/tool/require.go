package tool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Tool is something the pipeline needs from the system: a command in PATH or
// a file (firmware, boot images), and the Debian/Ubuntu package that has it.
type Tool struct {
	// Command is looked up in PATH when set.
	Command string
	// File is an absolute path that must exist when set.
	File string
	// Package is the Debian/Ubuntu package that provides it.
	Package string
}

// Name is the command name or file path.
func (t Tool) Name() string {
	if t.Command != "" {
		return t.Command
	}
	return t.File
}

// Present reports whether the tool is installed.
func (t Tool) Present() bool {
	if t.Command != "" {
		if _, err := exec.LookPath(t.Command); err != nil {
			return false
		}
	}
	if t.File != "" {
		if _, err := os.Stat(t.File); err != nil {
			return false
		}
	}
	return true
}

// The tools the pipeline and its tests use.
var (
	Xorriso       = Tool{Command: "xorriso", Package: "xorriso"}
	Mksquashfs    = Tool{Command: "mksquashfs", Package: "squashfs-tools"}
	Unsquashfs    = Tool{Command: "unsquashfs", Package: "squashfs-tools"}
	Mformat       = Tool{Command: "mformat", Package: "mtools"}
	Mcopy         = Tool{Command: "mcopy", Package: "mtools"}
	GrubMkimage   = Tool{Command: "grub-mkimage", Package: "grub-common"}
	GrubPCModules = Tool{File: "/usr/lib/grub/i386-pc/boot_hybrid.img", Package: "grub-pc-bin"}
	GrubEFIModule = Tool{File: "/usr/lib/grub/x86_64-efi/linux.mod", Package: "grub-efi-amd64-bin"}
	Qemu          = Tool{Command: "qemu-system-x86_64", Package: "qemu-system-x86"}
	OVMFCode      = Tool{File: "/usr/share/OVMF/OVMF_CODE_4M.fd", Package: "ovmf"}
	OVMFVars      = Tool{File: "/usr/share/OVMF/OVMF_VARS_4M.fd", Package: "ovmf"}
	Busybox       = Tool{File: "/bin/busybox", Package: "busybox-static"}
	Cpio          = Tool{Command: "cpio", Package: "cpio"}
	Modinfo       = Tool{Command: "modinfo", Package: "kmod"}
	SSH           = Tool{Command: "ssh", Package: "openssh-client"}
	SCP           = Tool{Command: "scp", Package: "openssh-client"}
	SSHKeygen     = Tool{Command: "ssh-keygen", Package: "openssh-client"}
	SSHD          = Tool{File: "/usr/sbin/sshd", Package: "openssh-server"}
	Rsync         = Tool{Command: "rsync", Package: "rsync"}
	Git           = Tool{Command: "git", Package: "git"}
	GPG           = Tool{Command: "gpg", Package: "gnupg"}
	GPGAgent      = Tool{Command: "gpg-agent", Package: "gnupg"}
	DpkgDeb       = Tool{Command: "dpkg-deb", Package: "dpkg"}
	AptGet        = Tool{Command: "apt-get", Package: "apt"}
	Mmdebstrap    = Tool{Command: "mmdebstrap", Package: "mmdebstrap"}
	Tar2sqfs      = Tool{Command: "tar2sqfs", Package: "squashfs-tools-ng"}
	DpkgQuery     = Tool{Command: "dpkg-query", Package: "dpkg"}
	Debugfs       = Tool{Command: "debugfs", Package: "e2fsprogs"}
	MkfsExt4      = Tool{Command: "mkfs.ext4", Package: "e2fsprogs"}
	GrubPCBootImg = Tool{File: "/usr/lib/grub/i386-pc/boot.img", Package: "grub-pc-bin"}
	// Containerd and Ctr import the images' OCI archives in the images
	// tests (a real importer, as the installed system runs it).
	Containerd = Tool{Command: "containerd", Package: "containerd"}
	Ctr        = Tool{Command: "ctr", Package: "containerd"}
)

// Union is every tool of the lists, in order, each once (by name).
func Union(lists ...[]Tool) []Tool {
	var out []Tool
	seen := map[string]bool{}
	for _, l := range lists {
		for _, t := range l {
			if !seen[t.Name()] {
				seen[t.Name()] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// Provisioner installs missing tools (apt packages). The zero value is not useful; use
// NewProvisioner.
type Provisioner struct {
	// NoInstall refuses to install and prints the command instead
	// (NOVASPHERE_NO_INSTALL=1).
	NoInstall bool
	// Log receives what is being installed.
	Log io.Writer
	// osRelease is the path of os-release (overridden in tests).
	osRelease string
	// run runs the install command (overridden in tests).
	run func(ctx context.Context, c *Cmd) error
}

// NewProvisioner returns a Provisioner that logs to log.
func NewProvisioner(noInstall bool, log io.Writer) *Provisioner {
	return &Provisioner{
		NoInstall: noInstall,
		Log:       log,
		osRelease: "/etc/os-release",
		run:       func(ctx context.Context, c *Cmd) error { return c.Run(ctx) },
	}
}

// Ensure checks that every tool is present. Missing ones are installed with
// apt-get on Debian and Ubuntu (through sudo when not root). Where that is
// not possible or not allowed, the error names the packages and the command
// that installs them.
func (in *Provisioner) Ensure(ctx context.Context, stage string, tools ...Tool) error {
	pkgs, names := missing(tools)
	if len(pkgs) == 0 {
		return nil
	}
	line := installLine(pkgs)
	if !in.isApt() {
		return fmt.Errorf("%s: missing %s; install the package(s) %s with your system's package manager",
			stage, strings.Join(names, ", "), strings.Join(pkgs, " "))
	}
	if in.NoInstall {
		return fmt.Errorf("%s: missing %s and NOVASPHERE_NO_INSTALL is set; install them with:\n  %s",
			stage, strings.Join(names, ", "), line)
	}
	fmt.Fprintf(in.Log, "%s: installing %s (missing %s)\n", stage, strings.Join(pkgs, " "), strings.Join(names, ", "))
	if err := in.aptInstall(ctx, pkgs); err != nil {
		return fmt.Errorf("%s: installing %s failed (run it yourself: %s): %w", stage, strings.Join(pkgs, " "), line, err)
	}
	if _, still := missing(tools); len(still) > 0 {
		return fmt.Errorf("%s: still missing %s after installing %s", stage, strings.Join(still, ", "), strings.Join(pkgs, " "))
	}
	return nil
}

func (in *Provisioner) aptInstall(ctx context.Context, pkgs []string) error {
	// Package lists may be missing or stale on a fresh machine.
	if err := in.run(ctx, in.apt("apt-get", "update", "-q")); err != nil {
		return err
	}
	args := append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)
	return in.run(ctx, in.apt(args...))
}

// apt builds an apt-get command, through sudo when not root.
func (in *Provisioner) apt(args ...string) *Cmd {
	const env = "DEBIAN_FRONTEND=noninteractive"
	if os.Geteuid() == 0 {
		return Command(args[0], args[1:]...).Env(env).Stream(in.Log)
	}
	return Command("sudo", append([]string{env}, args...)...).Stream(in.Log)
}

func installLine(pkgs []string) string {
	prefix := ""
	if os.Geteuid() != 0 {
		prefix = "sudo "
	}
	return prefix + "apt-get install -y " + strings.Join(pkgs, " ")
}

func missing(tools []Tool) (pkgs, names []string) {
	seen := map[string]bool{}
	for _, t := range tools {
		if t.Present() {
			continue
		}
		names = append(names, t.Name())
		if !seen[t.Package] {
			seen[t.Package] = true
			pkgs = append(pkgs, t.Package)
		}
	}
	sort.Strings(pkgs)
	return pkgs, names
}

// isApt reports whether this is Debian, Ubuntu or a derivative with apt-get.
func (in *Provisioner) isApt() bool {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return false
	}
	f, err := os.Open(in.osRelease)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok || (k != "ID" && k != "ID_LIKE") {
			continue
		}
		v = strings.Trim(v, `"`)
		for _, id := range strings.Fields(v) {
			if id == "debian" || id == "ubuntu" {
				return true
			}
		}
	}
	return false
}
