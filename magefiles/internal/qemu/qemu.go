// Package qemu boots an ISO under QEMU and watches its serial console for a
// marker: the boot harness of the tests and of `mage verify`.
//
// It boots with SeaBIOS (BIOS) or OVMF (UEFI), from an emulated CD-ROM drive
// or from a raw disk (the hybrid USB-stick path), without a display. The
// guest's first serial port is written to a log file, which is watched while
// QEMU runs: QEMU is stopped as soon as the marker appears, when the guest
// powers off, or at the timeout. QEMU is always killed by its own PID.
//
// KVM is used when it works; otherwise (no /dev/kvm, or a /dev/kvm that does
// not run guests, as on the project's CI machines) QEMU runs under TCG.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Firmware selects how the virtual machine boots.
type Firmware int

// The firmware choices.
const (
	// BIOS boots with SeaBIOS: El Torito BIOS image from CD, MBR from disk.
	BIOS Firmware = iota
	// UEFI boots with OVMF: El Torito EFI image from CD, ESP from disk.
	UEFI
)

// String is "BIOS" or "UEFI".
func (f Firmware) String() string {
	switch f {
	case BIOS:
		return "BIOS"
	case UEFI:
		return "UEFI"
	}
	return "Firmware(" + strconv.Itoa(int(f)) + ")"
}

// Media selects how the ISO is attached.
type Media int

// The media choices.
const (
	// CDROM attaches the ISO to an IDE CD-ROM drive.
	CDROM Media = iota
	// Disk attaches the ISO as a raw IDE hard disk, as a USB stick written
	// with dd would be seen. Writes go to a throw-away overlay.
	Disk
)

// String is "CD-ROM" or "disk".
func (m Media) String() string {
	switch m {
	case CDROM:
		return "CD-ROM"
	case Disk:
		return "disk"
	}
	return "Media(" + strconv.Itoa(int(m)) + ")"
}

// Defaults used when Options leave a field zero.
const (
	// DefaultTimeout bounds a boot when Options.Timeout is zero.
	DefaultTimeout = 3 * time.Minute
	// DefaultMemoryMiB is the guest's memory when Options.MemoryMiB is zero.
	DefaultMemoryMiB = 512
	// DefaultBinary is the QEMU system emulator that is run.
	DefaultBinary = "qemu-system-x86_64"
	// DefaultOVMFCode and DefaultOVMFVars are Debian's OVMF (package ovmf).
	DefaultOVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	DefaultOVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// BootDone matches the line the test ISO's /init prints last.
var BootDone = regexp.MustCompile(`NOVASPHERE-BOOT-DONE`)

// ErrTimeout is wrapped by the error of a boot whose marker did not appear in
// time.
var ErrTimeout = errors.New("qemu: timed out waiting for the marker on the serial console")

// ErrNoMarker is wrapped by the error of a boot where QEMU ended (the guest
// powered off, rebooted or crashed) without printing the marker.
var ErrNoMarker = errors.New("qemu: QEMU exited before the marker appeared on the serial console")

// Options describe one boot.
type Options struct {
	// ISO is the image to boot. It is never modified.
	ISO string
	// Firmware is BIOS (SeaBIOS) or UEFI (OVMF).
	Firmware Firmware
	// Media is CDROM or Disk.
	Media Media
	// Marker is looked for in each line of the serial console (carriage
	// returns removed); nil means BootDone.
	Marker *regexp.Regexp
	// Timeout bounds the boot (default DefaultTimeout).
	Timeout time.Duration
	// LogPath receives the serial console; empty means a new temporary file
	// (named in Result.LogPath, left for the caller to read or remove).
	LogPath string
	// MemoryMiB is the guest's memory (default DefaultMemoryMiB).
	MemoryMiB int
	// Accel forces "kvm" or "tcg"; empty picks KVM when it works (see
	// Accelerator).
	Accel string
	// Binary is the QEMU program (default DefaultBinary).
	Binary string
	// OVMFCode and OVMFVars are the UEFI firmware files (defaults
	// DefaultOVMFCode, DefaultOVMFVars). The code is mapped read-only; the
	// variables are copied so that every boot starts from the pristine file.
	OVMFCode string
	OVMFVars string
}

// Result is what a boot showed.
type Result struct {
	// Matched reports whether the marker appeared.
	Matched bool
	// Match is the text the marker matched.
	Match string
	// Duration is the time from starting QEMU to the marker (or to the end).
	Duration time.Duration
	// Accel is the accelerator QEMU ran with: "kvm" or "tcg".
	Accel string
	// LogPath is the serial console log.
	LogPath string
}

// Boot starts QEMU on opts.ISO and waits until the marker appears on the
// serial console (Result.Matched, nil error), QEMU exits without it (error
// wrapping ErrNoMarker), the timeout passes (error wrapping ErrTimeout) or ctx
// ends. Errors carry the last lines of the serial log.
func Boot(ctx context.Context, opts Options) (Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	res := Result{LogPath: opts.LogPath}
	if err := opts.check(); err != nil {
		return res, err
	}
	res.Accel = opts.Accel
	if res.Accel == "" {
		res.Accel, _ = Accelerator(ctx, opts.Binary)
	}
	tmp, err := os.MkdirTemp("", "novasphere-qemu-")
	if err != nil {
		return res, fmt.Errorf("qemu: %w", err)
	}
	defer os.RemoveAll(tmp)
	vars := ""
	if opts.Firmware == UEFI {
		vars = filepath.Join(tmp, "OVMF_VARS.fd")
		if err := copyFile(opts.OVMFVars, vars); err != nil {
			return res, fmt.Errorf("qemu: copying the UEFI variables: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(opts.LogPath), 0o755); err != nil {
		return res, fmt.Errorf("qemu: serial log: %w", err)
	}
	if err := os.WriteFile(opts.LogPath, nil, 0o644); err != nil {
		return res, fmt.Errorf("qemu: serial log: %w", err)
	}
	auto := opts.Accel == ""
	out, err := run(ctx, opts, args(opts, res.Accel, vars), res, auto && res.Accel == "kvm")
	if errors.Is(err, errKVMStalled) {
		// /dev/kvm ran the firmware but not the guest's kernel (seen on
		// nested virtualisation): boot again under TCG, as every later
		// boot of this process will.
		if vars != "" {
			if err := copyFile(opts.OVMFVars, vars); err != nil {
				return res, fmt.Errorf("qemu: copying the UEFI variables: %w", err)
			}
		}
		if err := os.WriteFile(opts.LogPath, nil, 0o644); err != nil {
			return res, fmt.Errorf("qemu: serial log: %w", err)
		}
		res.Accel = "tcg"
		return run(ctx, opts, args(opts, res.Accel, vars), res, false)
	}
	return out, err
}

func (o Options) withDefaults() (Options, error) {
	if o.Marker == nil {
		o.Marker = BootDone
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if o.OVMFCode == "" {
		o.OVMFCode = DefaultOVMFCode
	}
	if o.OVMFVars == "" {
		o.OVMFVars = DefaultOVMFVars
	}
	if o.LogPath == "" {
		f, err := os.CreateTemp("", "novasphere-serial-*.log")
		if err != nil {
			return o, fmt.Errorf("qemu: serial log: %w", err)
		}
		f.Close()
		o.LogPath = f.Name()
	}
	abs, err := filepath.Abs(o.LogPath)
	if err != nil {
		return o, fmt.Errorf("qemu: serial log: %w", err)
	}
	o.LogPath = abs
	return o, nil
}

// check reports missing inputs before QEMU is started, naming what to do.
func (o Options) check() error {
	if o.Firmware != BIOS && o.Firmware != UEFI {
		return fmt.Errorf("qemu: unknown firmware %v: use qemu.BIOS or qemu.UEFI", o.Firmware)
	}
	if o.Media != CDROM && o.Media != Disk {
		return fmt.Errorf("qemu: unknown media %v: use qemu.CDROM or qemu.Disk", o.Media)
	}
	if o.Accel != "" && o.Accel != "kvm" && o.Accel != "tcg" {
		return fmt.Errorf("qemu: unknown accelerator %q: use \"kvm\", \"tcg\" or leave it empty", o.Accel)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("qemu: negative timeout %s", o.Timeout)
	}
	if o.ISO == "" {
		return errors.New("qemu: no ISO given (Options.ISO is empty)")
	}
	if st, err := os.Stat(o.ISO); err != nil {
		return fmt.Errorf("qemu: the ISO to boot: %w", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("qemu: the ISO to boot, %s, is not a regular file", o.ISO)
	}
	if _, err := exec.LookPath(o.Binary); err != nil {
		return fmt.Errorf("qemu: %s is not installed or not in PATH (Debian/Ubuntu package %s; `go run magefile.go test` installs it): %w",
			o.Binary, tool.Qemu.Package, err)
	}
	if o.Firmware == UEFI {
		for _, f := range []string{o.OVMFCode, o.OVMFVars} {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("qemu: UEFI firmware %s is missing (Debian/Ubuntu package %s): %w", f, tool.OVMFCode.Package, err)
			}
		}
	}
	return nil
}

// args is QEMU's command line for one boot.
func args(o Options, accel, vars string) []string {
	a := []string{
		"-name", "novasphere-boot",
		"-machine", "pc,accel=" + accel,
		"-m", strconv.Itoa(o.MemoryMiB),
		"-display", "none",
		"-no-reboot",
		"-nic", "none",
		"-monitor", "none",
		"-parallel", "none",
		"-chardev", "file,id=serial0,path=" + escape(o.LogPath),
		"-serial", "chardev:serial0",
	}
	if accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if o.Firmware == UEFI {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escape(o.OVMFCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+escape(vars))
	}
	switch o.Media {
	case CDROM:
		a = append(a,
			"-drive", "if=none,id=boot,format=raw,media=cdrom,readonly=on,file="+escape(o.ISO),
			"-device", "ide-cd,drive=boot,bootindex=0")
	case Disk:
		// snapshot=on: the guest may write, the ISO never changes.
		a = append(a,
			"-drive", "if=none,id=boot,format=raw,snapshot=on,file="+escape(o.ISO),
			"-device", "ide-hd,drive=boot,bootindex=0")
	}
	return a
}

// escape doubles commas, QEMU's escape inside an option value.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}
