package qemu_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// BenchmarkBoot measures a fixture boot to its BOOT-DONE marker for each
// firmware and medium (run with -benchtime=1x on a quiet machine; the
// accelerator is reported as a metric: 1 = KVM, 0 = TCG).
func BenchmarkBoot(b *testing.B) {
	fx := testiso.Shared(b)
	for _, fw := range []qemu.Firmware{qemu.BIOS, qemu.UEFI} {
		for _, media := range []qemu.Media{qemu.CDROM, qemu.Disk} {
			b.Run(fw.String()+"-"+media.String(), func(b *testing.B) {
				kvm := 0.0
				for b.Loop() {
					res, err := qemu.Boot(context.Background(), qemu.Options{
						ISO: fx.ISO, Firmware: fw, Media: media, Timeout: bootTimeout,
						LogPath: filepath.Join(b.TempDir(), "serial.log"),
					})
					if err != nil {
						b.Fatal(err)
					}
					if res.Accel == "kvm" {
						kvm = 1
					}
				}
				b.ReportMetric(kvm, "kvm")
			})
		}
	}
}
