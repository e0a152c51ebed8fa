package installproof

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// VMOptions describe an interactive boot of an installed disk (`mage vm`).
type VMOptions struct {
	// Disk is the installed disk (a proof's Result.Disk); UEFIVars the
	// machine's UEFI variables (Result.UEFIVars), needed for UEFI. Both
	// are booted writable: what the person does in the machine stays on
	// the disk until the next proof replaces it.
	Disk, UEFIVars string
	// Firmware is qemu.BIOS or qemu.UEFI.
	Firmware qemu.Firmware
	// Accel is "kvm" or "tcg"; empty: KVM when it works.
	Accel string
	// MemoryMiB defaults to DefaultMemoryMiB.
	MemoryMiB int
	// User is the installed system's user, for the ssh command printed.
	User string
	// Port is the 127.0.0.1 port forwarded to the guest's SSH port; 0
	// picks a free one.
	Port int
	// Binary and OVMFCode default to qemu.DefaultBinary and
	// qemu.DefaultOVMFCode.
	Binary, OVMFCode string
	// Stdin, Stdout and Stderr are the terminal the serial console is on
	// (default the process's own); Out receives VM's own lines (default
	// os.Stderr).
	Stdin               io.Reader
	Stdout, Stderr, Out io.Writer
}

// VM boots the installed disk with its serial console on the terminal
// (QEMU -nographic: Ctrl-A X quits, Ctrl-A C is QEMU's monitor) and its SSH
// port forwarded from 127.0.0.1, after printing the ssh command to log in,
// in the manner of `mkosi qemu` and `mkosi ssh`. It returns when QEMU ends.
func VM(ctx context.Context, o VMOptions) error {
	o, err := o.withDefaults(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "vm: booting %s (%s, %s); the serial console follows, Ctrl-A X ends QEMU\n", o.Disk, o.Firmware, o.Accel)
	fmt.Fprintf(o.Out, "vm: log in from another terminal with:\n  %s\n", SSHCommand(o.User, o.Port))
	cmd := exec.CommandContext(ctx, o.Binary, o.args()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vm: %s: %w", o.Binary, err)
	}
	return nil
}

// SSHCommand is the command that logs in to a machine whose SSH port is
// forwarded from 127.0.0.1:port. Every installed machine makes its own host
// key at first boot, so the key is not recorded in known_hosts.
func SSHCommand(user string, port int) string {
	return fmt.Sprintf("ssh -p %d -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no %s@127.0.0.1", port, user)
}

func (o VMOptions) withDefaults(ctx context.Context) (VMOptions, error) {
	if o.Binary == "" {
		o.Binary = qemu.DefaultBinary
	}
	if o.OVMFCode == "" {
		o.OVMFCode = qemu.DefaultOVMFCode
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if st, err := os.Stat(o.Disk); err != nil {
		return o, fmt.Errorf("vm: the installed disk: %w (an install proof leaves it: VERIFY_INSTALL=1 go run magefile.go verify)", err)
	} else if !st.Mode().IsRegular() {
		return o, fmt.Errorf("vm: %s is not a disk image file", o.Disk)
	}
	if o.Firmware == qemu.UEFI && o.UEFIVars == "" {
		return o, errors.New("vm: UEFI needs the machine's UEFI variables (the proof keeps them beside the disk)")
	}
	if o.Port == 0 {
		p, err := freeLoopbackPort()
		if err != nil {
			return o, err
		}
		o.Port = p
	}
	if o.Accel == "" {
		o.Accel, _ = qemu.Accelerator(ctx, o.Binary)
	}
	return o, nil
}

// args is QEMU's command line for VM.
func (o VMOptions) args() []string {
	cfg := machineConfig{sshPort: o.Port}
	a := []string{
		"-name", "novasphere-vm",
		"-machine", "pc,accel=" + o.Accel,
		"-m", strconv.Itoa(o.MemoryMiB),
		"-nographic",
	}
	a = append(a, cfg.nicArgs()...)
	if o.Accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if o.Firmware == qemu.UEFI {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escape(o.OVMFCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+escape(o.UEFIVars))
	}
	return append(a,
		"-drive", "if=none,id=disk,format=raw,file="+escape(o.Disk),
		"-device", "ide-hd,drive=disk,bootindex=0")
}
