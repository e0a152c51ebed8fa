package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// BootTarget is one way the ISO must boot.
type BootTarget struct {
	Firmware qemu.Firmware
	Media    qemu.Media
}

// Name is "<firmware>-<media>" in lower case: "bios-cdrom", "uefi-disk".
func (b BootTarget) Name() string {
	fw := map[qemu.Firmware]string{qemu.BIOS: "bios", qemu.UEFI: "uefi"}[b.Firmware]
	media := map[qemu.Media]string{qemu.CDROM: "cdrom", qemu.Disk: "disk"}[b.Media]
	return fw + "-" + media
}

// AllBootTargets are the four boots: SeaBIOS and OVMF, each from a CD-ROM
// drive and from a raw disk (the USB-stick path).
var AllBootTargets = []BootTarget{
	{qemu.BIOS, qemu.CDROM}, {qemu.BIOS, qemu.Disk}, {qemu.UEFI, qemu.CDROM}, {qemu.UEFI, qemu.Disk},
}

// DefaultBootTimeout bounds each boot when Options.BootTimeout is zero. A
// real Ubuntu ISO under TCG loads a 100 MB initrd before its kernel speaks.
const DefaultBootTimeout = 5 * time.Minute

// kernelAutoinstallArgs are the autoinstall arguments as the kernel receives
// them: GRUB removes the backslash before ';'.
var kernelAutoinstallArgs = strings.ReplaceAll(customize.AutoinstallArgs, `\;`, ";")

// DefaultBootMarker proves that GRUB loaded our grub.cfg, kernel and initrd:
// the kernel command line with the autoinstall arguments, as the kernel logs
// it ("Command line: ...", on the serial console when console=ttyS0 is in
// KERNEL_ARGS) or as the test ISO's /init prints it ("NOVASPHERE-CMDLINE: ...").
var DefaultBootMarker = regexp.MustCompile(`(?:Command line:|NOVASPHERE-CMDLINE:).*` + regexp.QuoteMeta(kernelAutoinstallArgs))

// runBoots boots every target, BootParallel at a time, and returns one check
// per boot in target order, or one skipped "boot" check.
func runBoots(ctx context.Context, o Options) []Check {
	if skip, why := bootsSkipped(o); skip {
		return []Check{{Name: CheckBoot, Passed: true, Skipped: true, Detail: why}}
	}
	checks := make([]Check, len(o.BootTargets))
	slots := make(chan struct{}, o.BootParallel)
	var wg sync.WaitGroup
	for i, t := range o.BootTargets {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			checks[i] = bootOne(ctx, o, t)
		})
	}
	wg.Wait()
	return checks
}

func bootsSkipped(o Options) (bool, string) {
	switch {
	case o.Boot == BootOff:
		return true, "skipped: boots turned off (VERIFY_BOOT=0)"
	case o.Boot == BootAuto && !tool.Qemu.Present():
		return true, fmt.Sprintf("skipped: %s is not installed (install %s, or set VERIFY_BOOT=1 to require the boots)", tool.Qemu.Command, tool.Qemu.Package)
	}
	return false, ""
}

// bootOne boots one target and turns the result into a check.
func bootOne(ctx context.Context, o Options, t BootTarget) Check {
	c := Check{Name: "boot-" + t.Name()}
	log := o.dist().BootLog(t.Name())
	fmt.Fprintf(o.Out, "verify: booting %s (timeout %s)\n", t.Name(), o.BootTimeout)
	res, err := qemu.Boot(ctx, qemu.Options{ISO: o.ISO, Firmware: t.Firmware, Media: t.Media,
		Marker: o.BootMarker, Timeout: o.BootTimeout, LogPath: log})
	if err != nil || !res.Matched {
		c.Detail = fmt.Sprintf("%s %s: no line matching %q on the serial console: %s%s; last console line: %q; log %s",
			t.Firmware, t.Media, o.BootMarker, bootFailure(err, o.BootTimeout), consoleHint(o, log), lastConsoleLine(log), log)
		fmt.Fprintf(o.Out, "verify: boot %s FAILED after %s\n", t.Name(), res.Duration.Round(100*time.Millisecond))
		return c
	}
	c.Passed, c.duration = true, res.Duration
	c.Detail = fmt.Sprintf("%s %s: marker after %s (%s): %q; log %s", t.Firmware, t.Media,
		res.Duration.Round(100*time.Millisecond), res.Accel, oneLine(res.Match, 120), log)
	fmt.Fprintf(o.Out, "verify: boot %s passed after %s (%s)\n", t.Name(), res.Duration.Round(100*time.Millisecond), res.Accel)
	return c
}

// bootFailure says briefly why a boot failed; the serial log has the rest.
func bootFailure(err error, timeout time.Duration) string {
	switch {
	case err == nil:
		return "QEMU ended without it"
	case errors.Is(err, qemu.ErrTimeout):
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, qemu.ErrNoMarker):
		return "QEMU exited first (the guest powered off, rebooted or crashed)"
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}

// ansiEscape matches terminal control sequences GRUB and OVMF write.
var ansiEscape = regexp.MustCompile(`\x1b(\[[0-9;:?=]*[ -/]*[@-~]|[@-Z\\-_])`)

// lastConsoleLine is the last line of the serial log with text in it,
// without terminal control sequences, shortened.
func lastConsoleLine(log string) string {
	data, _ := os.ReadFile(log)
	text := ansiEscape.ReplaceAllString(string(data), "")
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		clean := strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f || r == utf8.RuneError {
				return -1
			}
			return r
		}, lines[i])
		if clean = oneLine(clean, 120); clean != "" {
			return clean
		}
	}
	return ""
}

// consoleHint explains an empty-handed default-marker boot whose kernel
// never wrote to the serial console: Ubuntu's kernel does so only with
// console=ttyS0 on its command line.
func consoleHint(o Options, log string) string {
	if o.BootMarker != DefaultBootMarker {
		return ""
	}
	data, _ := os.ReadFile(log)
	if bytes.Contains(data, []byte("Command line:")) || bytes.Contains(data, []byte("NOVASPHERE-CMDLINE:")) {
		return ""
	}
	return "; the kernel never printed its command line on the serial console: for an Ubuntu ISO put console=ttyS0,115200n8 in KERNEL_ARGS, or set VERIFY_BOOT_MARKER"
}
