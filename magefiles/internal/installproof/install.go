// Package installproof proves that an installer ISO installs NovaSphere: it boots
// the ISO under QEMU with a blank virtual disk and no network, lets the
// unattended install run to its end (the installer powers off or reboots),
// then boots the installed disk and reads, from the installed system itself,
// the report of NovaSphere's first-boot unit (configs/systemd/
// novasphere-firstboot.service running scripts/firstboot.sh): the installed
// /opt/novasphere/VERSION, the MANIFEST.sha256 check, the config in
// /etc/novasphere/ and every offline package of /novasphere/packages/ on the
// ISO, installed at its version.
//
// Each step (install, first-boot, check) is recorded with its result and
// duration; the serial console of each boot is streamed to
// <DistDir>/install-<firmware>.log and <DistDir>/firstboot-<firmware>.log, and
// a picture of the screen (QEMU's screendump, converted to PNG) is saved at
// the end of each boot and on failure. A failure names the step and shows the
// last console lines.
//
// It works on Ubuntu 22.04 live-server ISOs remastered by the pipeline
// (subiquity installs, which takes minutes under KVM and much longer under
// TCG) and on the test ISO of package testiso, whose test installer follows
// subiquity's order in seconds.
package installproof

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Timeouts bound the two boots.
type Timeouts struct {
	// Install bounds the installer's boot, from QEMU's start to the guest
	// powering off or rebooting.
	Install time.Duration `json:"install"`
	// FirstBoot bounds the installed system's boot, from QEMU's start to the
	// first-boot unit's result line.
	FirstBoot time.Duration `json:"first_boot"`
}

// DefaultTimeouts are generous bounds for Ubuntu's real installer, per
// accelerator: under KVM subiquity installs 22.04 in 5 to 15 minutes and
// the installed system boots in under a minute; under TCG (no usable KVM)
// everything is 10 to 20 times slower. The test ISO's install takes about a
// minute under TCG.
func DefaultTimeouts(accel string) Timeouts {
	if accel == "kvm" {
		return Timeouts{Install: 30 * time.Minute, FirstBoot: 5 * time.Minute}
	}
	return Timeouts{Install: 3 * time.Hour, FirstBoot: 30 * time.Minute}
}

// Defaults of Options.
const (
	// DefaultMemoryMiB is the guest's memory: subiquity wants 2 GiB or more.
	DefaultMemoryMiB = 3072
	// DefaultDiskBytes is the blank disk's size (a sparse file): large
	// enough that subiquity's "scaled" sizing policy would show (it gives /
	// half of a disk under 200 GiB; sizes.py), which the root-size step
	// refuses.
	DefaultDiskBytes = 40 << 30
	// DefaultProgressInterval is how often the progress line is printed.
	DefaultProgressInterval = 10 * time.Second
)

// Options describe one install proof.
type Options struct {
	// ISO is the installer ISO to install from; it is never modified.
	ISO string
	// Version is the version the ISO was built for; the installed
	// /opt/novasphere/VERSION must equal it.
	Version string
	// Firmware is qemu.BIOS (SeaBIOS) or qemu.UEFI (OVMF), for both boots.
	Firmware qemu.Firmware
	// DistDir receives the console logs and screen pictures.
	DistDir string
	// Timeouts bound the boots; a zero field takes DefaultTimeouts for the
	// accelerator used.
	Timeouts Timeouts
	// Accel forces "kvm" or "tcg"; empty uses KVM when it works
	// (qemu.Accelerator).
	Accel string
	// MemoryMiB is the guest's memory (default DefaultMemoryMiB).
	MemoryMiB int
	// DiskBytes is the blank disk's size (default DefaultDiskBytes).
	DiskBytes int64
	// WorkDir holds the virtual disk while the proof runs (default the
	// system's temporary directory); it is removed at the end.
	WorkDir string
	// Progress receives a progress line every ProgressInterval while a boot
	// runs; nil discards them.
	Progress io.Writer
	// ProgressInterval defaults to DefaultProgressInterval.
	ProgressInterval time.Duration
	// Binary, OVMFCode and OVMFVars are as in qemu.Options (defaults
	// qemu.DefaultBinary, qemu.DefaultOVMFCode, qemu.DefaultOVMFVars).
	Binary, OVMFCode, OVMFVars string
	// PrivateKey, when set, is the private half of one of the ISO's
	// authorized keys (a key made for a test run): the proof logs in with it
	// and checks the installed system from inside. Without it (a release,
	// whose private keys the pipeline never has) the proof asks the
	// installed system's SSH server whether it accepts each configured
	// public key for the user (AcceptsKey) and skips the inside checks. It
	// is never printed or written.
	PrivateKey ssh.Signer
	// DiskDir, when set, keeps the installed disk there as a sparse raw
	// image, disk.raw (and the machine's UEFI variables, OVMF_VARS.fd),
	// replacing the previous proof's once this one is done; `mage vm`
	// boots it. Empty: the disk is removed with WorkDir's copy.
	DiskDir string
}

// Step names, in order.
const (
	StepInstall   = "install"
	StepFirstBoot = "first-boot"
	StepCheck     = "check"
	// StepLogin logs in over SSH as the configured user (or, without
	// Options.PrivateKey, proves the server accepts every configured key).
	StepLogin = "ssh-login"
	// The checks from inside the installed system, over SSH.
	StepVersion  = "version"
	StepUserKeys = "user-keys"
	StepNetwork  = "network-dhcp"
	StepRootSize = "root-size"
	StepUnits    = "units"
	// StepReinstall boots the medium again with the installed disk
	// attached: the reinstall guard must stop it and the disk stay as it
	// was.
	StepReinstall = "reinstall-guard"
)

// Step is the record of one step.
type Step struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Seconds is how long the step took.
	Seconds float64 `json:"seconds"`
	// Error says why it failed.
	Error string `json:"error,omitempty"`
	// Detail is the evidence of a passed step ("10.0.2.15/24 on enp0s3").
	Detail string `json:"detail,omitempty"`
	// Skipped says the step did not run, and why.
	Skipped bool `json:"skipped,omitempty"`
	// Log is the serial console log of a boot step.
	Log string `json:"log,omitempty"`
	// Screen is the PNG picture of the screen at the end of a boot step.
	Screen string `json:"screen,omitempty"`
}

// Result is the record of a proof.
type Result struct {
	Passed   bool     `json:"passed"`
	Firmware string   `json:"firmware"`
	Accel    string   `json:"accel"`
	Timeouts Timeouts `json:"timeouts"`
	Steps    []Step   `json:"steps"`
	// Report is what the installed system's first-boot unit printed.
	Report *Report `json:"report,omitempty"`
	// Logs and Screens list every console log and screen picture written.
	Logs    []string `json:"logs"`
	Screens []string `json:"screens"`
	// Login is the installed machine's user and the fingerprints of its
	// keys, as the ISO's /nocloud/user-data gives them.
	Login *customize.Login `json:"login,omitempty"`
	// Disk and UEFIVars are the installed disk (a sparse raw image) and
	// the machine's UEFI variables kept in Options.DiskDir.
	Disk     string `json:"disk,omitempty"`
	UEFIVars string `json:"uefi_vars,omitempty"`
}

// ErrTimeout is wrapped by the error of a step that did not end in time.
var ErrTimeout = errors.New("timed out")

// ErrFailed is wrapped by the error of a proof that ran and found the
// installation wrong (as opposed to one that could not run).
var ErrFailed = errors.New("install proof failed")

// Run installs o.ISO on a blank disk and proves NovaSphere is on the
// installed system (see the package documentation). The error names the step
// that failed; Result records every step that ran.
func Run(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	if err := o.check(); err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	accel := o.Accel
	if accel == "" {
		accel = qemu.SettleAccelerator(ctx, o.Binary, o.ISO, o.WorkDir)
	}
	t := DefaultTimeouts(accel)
	if o.Timeouts.Install > 0 {
		t.Install = o.Timeouts.Install
	}
	if o.Timeouts.FirstBoot > 0 {
		t.FirstBoot = o.Timeouts.FirstBoot
	}
	p := &proof{o: o, accel: accel, t: t, fw: strings.ToLower(o.Firmware.String())}
	p.res = Result{Firmware: p.fw, Accel: accel, Timeouts: t, Logs: []string{}, Screens: []string{}}
	err = p.run(ctx)
	p.res.Passed = err == nil
	if err != nil {
		return p.res, fmt.Errorf("install %s (%s): %w", o.Firmware, accel, err)
	}
	return p.res, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.MemoryMiB == 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.DiskBytes == 0 {
		o.DiskBytes = DefaultDiskBytes
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Binary == "" {
		o.Binary = qemu.DefaultBinary
	}
	if o.OVMFCode == "" {
		o.OVMFCode = qemu.DefaultOVMFCode
	}
	if o.OVMFVars == "" {
		o.OVMFVars = qemu.DefaultOVMFVars
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	var err error
	for _, p := range []*string{&o.ISO, &o.DistDir, &o.WorkDir, &o.DiskDir} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

// check reports bad or missing inputs before anything starts.
func (o Options) check() error {
	switch {
	case o.ISO == "":
		return errors.New("no ISO given (Options.ISO is empty)")
	case o.Version == "":
		return errors.New("no version given (Options.Version is empty): the installed /opt/novasphere/VERSION is compared with it")
	case o.DistDir == "":
		return errors.New("no output directory given (Options.DistDir is empty)")
	case o.Firmware != qemu.BIOS && o.Firmware != qemu.UEFI:
		return fmt.Errorf("unknown firmware %v: use qemu.BIOS or qemu.UEFI", o.Firmware)
	case o.Accel != "" && o.Accel != "kvm" && o.Accel != "tcg":
		return fmt.Errorf("unknown accelerator %q: use \"kvm\", \"tcg\" or leave it empty", o.Accel)
	case o.Timeouts.Install < 0 || o.Timeouts.FirstBoot < 0:
		return fmt.Errorf("negative timeout %+v", o.Timeouts)
	case o.DiskBytes < 1<<30:
		return fmt.Errorf("a disk of %d bytes is too small to install to: give 1 GiB or more", o.DiskBytes)
	}
	if st, err := os.Stat(o.ISO); err != nil {
		return fmt.Errorf("the ISO to install: %w", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("the ISO to install, %s, is not a regular file", o.ISO)
	}
	tools := []tool.Tool{{Command: o.Binary, Package: tool.Qemu.Package}, tool.Xorriso, tool.DpkgDeb}
	if o.Firmware == qemu.UEFI {
		tools = append(tools, tool.Tool{File: o.OVMFCode, Package: tool.OVMFCode.Package}, tool.Tool{File: o.OVMFVars, Package: tool.OVMFVars.Package})
	}
	for _, t := range tools {
		if !t.Present() {
			return fmt.Errorf("%s is missing: install the package %s (`go run magefile.go test` installs it)", t.Name(), t.Package)
		}
	}
	return nil
}
