package installproof_test

import (
	"context"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// BenchmarkInstallProof measures the whole proof on the test ISO, one
// firmware at a time, under TCG (run with -benchtime=1x on a quiet machine).
// The install and first-boot steps and the whole proof (every step: the SSH
// checks and the medium booted again included) are reported in seconds.
func BenchmarkInstallProof(b *testing.B) {
	isoPath := remasterB(b)
	for _, fw := range []qemu.Firmware{qemu.BIOS, qemu.UEFI} {
		b.Run(fw.String(), func(b *testing.B) {
			var installS, bootS, totalS float64
			n := 0
			for b.Loop() {
				res, err := installproof.Run(context.Background(), installproof.Options{
					ISO: isoPath, Version: testVersion, Firmware: fw, DistDir: b.TempDir(), Accel: "tcg",
					Timeouts: testTimeouts, MemoryMiB: 1024, ProgressInterval: time.Hour, PrivateKey: testKey(b).signer,
				})
				if err != nil {
					b.Fatal(err)
				}
				installS += res.Steps[0].Seconds
				bootS += res.Steps[1].Seconds
				for _, s := range res.Steps {
					totalS += s.Seconds
				}
				n++
			}
			b.ReportMetric(installS/float64(n), "install-s")
			b.ReportMetric(bootS/float64(n), "firstboot-s")
			b.ReportMetric(totalS/float64(n), "proof-s")
		})
	}
}
