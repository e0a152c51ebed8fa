package verify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// InstallFirmwares are the install proofs verify runs: the same ISO
// installed with SeaBIOS and with OVMF.
var InstallFirmwares = []qemu.Firmware{qemu.BIOS, qemu.UEFI}

// InstallCheckName is the check of one install proof: "install-bios".
func InstallCheckName(fw qemu.Firmware) string {
	return "install-" + map[qemu.Firmware]string{qemu.BIOS: "bios", qemu.UEFI: "uefi"}[fw]
}

// InstallDiskDir is where the proof of fw keeps its installed disk under
// dir ("" when dir is ""): dir/bios or dir/uefi.
func InstallDiskDir(dir string, fw qemu.Firmware) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, strings.TrimPrefix(InstallCheckName(fw), "install-"))
}

// runInstalls runs the install proofs, after the boots (whose KVM fallback
// they then share), both at once, and returns a check each and every
// proof's result for the report.
func runInstalls(ctx context.Context, o Options) ([]Check, []installproof.Result) {
	checks := make([]Check, len(InstallFirmwares))
	results := make([]installproof.Result, len(InstallFirmwares))
	var wg sync.WaitGroup
	for i, fw := range InstallFirmwares {
		wg.Go(func() { checks[i], results[i] = installOne(ctx, o, fw) })
	}
	wg.Wait()
	return checks, results
}

// installOne runs one install proof and turns it into a check.
func installOne(ctx context.Context, o Options, fw qemu.Firmware) (Check, installproof.Result) {
	c := Check{Name: InstallCheckName(fw)}
	fmt.Fprintf(o.Out, "verify: installing the ISO on a blank disk (%s, no network)\n", fw)
	res, err := installproof.Run(ctx, installproof.Options{ISO: o.ISO, Version: o.Version, Firmware: fw, DistDir: o.DistDir,
		Timeouts: o.InstallTimeouts, Accel: o.InstallAccel, Progress: o.Out, DiskDir: InstallDiskDir(o.InstallDiskDir, fw)})
	c.Detail = stepsSummary(res)
	if err != nil {
		c.Detail = strings.TrimSpace(c.Detail + "; " + firstLines(err.Error(), 30))
		if errors.Is(err, context.Canceled) {
			c.Detail = "interrupted"
		}
		fmt.Fprintf(o.Out, "verify: install %s FAILED\n", fw)
		return c, res
	}
	c.Passed = res.Passed
	fmt.Fprintf(o.Out, "verify: install %s passed: %s\n", fw, c.Detail)
	return c, res
}

// stepsSummary is "install 40.2s, first-boot 26.9s, check ok (tcg)".
func stepsSummary(res installproof.Result) string {
	var parts []string
	for _, s := range res.Steps {
		mark := (time.Duration(s.Seconds * float64(time.Second))).Round(100 * time.Millisecond).String()
		switch {
		case !s.Passed:
			mark = "FAILED after " + mark
		case s.Skipped:
			mark = "skipped"
		}
		parts = append(parts, s.Name+" "+mark)
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " (" + res.Accel + ")"
}

// firstLines keeps the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
