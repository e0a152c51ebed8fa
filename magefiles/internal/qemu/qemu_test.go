package qemu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// bootTimeout is generous: a fixture boot takes about 10 s under TCG alone,
// longer when two share the machine's two cores.
const bootTimeout = 4 * time.Minute

// TestFixtureBoots proves the unmodified fixture boots with both firmwares
// from both media and prints its markers: the kernel command line from
// grub.cfg, no version (the fixture has no /novasphere/VERSION), then done.
func TestFixtureBoots(t *testing.T) {
	fx := testiso.Shared(t)
	for _, fw := range []qemu.Firmware{qemu.BIOS, qemu.UEFI} {
		for _, media := range []qemu.Media{qemu.CDROM, qemu.Disk} {
			t.Run(fw.String()+"-"+media.String(), func(t *testing.T) {
				t.Parallel()
				log := filepath.Join(t.TempDir(), "serial.log")
				res, err := qemu.Boot(context.Background(), qemu.Options{
					ISO: fx.ISO, Firmware: fw, Media: media,
					Marker: qemu.BootDone, Timeout: bootTimeout, LogPath: log,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s from %s: marker after %s (%s)", fw, media, res.Duration.Round(time.Millisecond), res.Accel)
				if !res.Matched || res.Match != "NOVASPHERE-BOOT-DONE" || res.LogPath != log {
					t.Fatalf("result %+v, want the BOOT-DONE marker matched in %s", res, log)
				}
				lines := markerLines(t, log)
				want := []string{"NOVASPHERE-CMDLINE: BOOT_IMAGE=/casper/vmlinuz ---", "NOVASPHERE-BOOT-DONE"}
				if strings.Join(lines, "\n") != strings.Join(want, "\n") {
					t.Errorf("marker lines on the serial console:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// markerLines are the NOVASPHERE- lines of a serial log, carriage returns
// removed.
func markerLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(data), "\r", ""), "\n") {
		if i := strings.Index(l, "NOVASPHERE-"); i >= 0 {
			lines = append(lines, l[i:])
		}
	}
	return lines
}

// TestBootTimeout checks that a marker that never appears ends the boot at
// the timeout with ErrTimeout, QEMU stopped, and the serial log named.
func TestBootTimeout(t *testing.T) {
	fx := testiso.Shared(t)
	t.Parallel()
	log := filepath.Join(t.TempDir(), "serial.log")
	// An outer deadline far beyond the 3 s timeout: if Boot ignored its own
	// Timeout, this would end it with a context error, not ErrTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := qemu.Boot(ctx, qemu.Options{
		ISO: fx.ISO, Marker: regexp.MustCompile(`NEVER-PRINTED`), Timeout: 3 * time.Second, LogPath: log,
	})
	if !errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("err = %v, want one wrapping qemu.ErrTimeout", err)
	}
	if res.Matched {
		t.Errorf("result %+v says matched", res)
	}
	for _, want := range []string{"NEVER-PRINTED", log, "BIOS", "CD-ROM"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestGuestPowersOffWithoutMarker boots the fixture to its end (it powers
// off) while waiting for a line it never prints: Boot must return as soon as
// QEMU exits, with ErrNoMarker and the end of the serial log.
func TestGuestPowersOffWithoutMarker(t *testing.T) {
	fx := testiso.Shared(t)
	t.Parallel()
	res, err := qemu.Boot(context.Background(), qemu.Options{
		ISO: fx.ISO, Firmware: qemu.BIOS, Media: qemu.CDROM,
		Marker: regexp.MustCompile(`NEVER-PRINTED`), Timeout: bootTimeout,
	})
	defer os.Remove(res.LogPath)
	if !errors.Is(err, qemu.ErrNoMarker) {
		t.Fatalf("err = %v, want one wrapping qemu.ErrNoMarker", err)
	}
	if errors.Is(err, qemu.ErrTimeout) {
		t.Fatalf("err = %v: the guest powered off, that is no timeout", err)
	}
	if !strings.Contains(err.Error(), "NOVASPHERE-BOOT-DONE") {
		t.Errorf("error does not show the end of the serial log:\n%v", err)
	}
	t.Logf("guest powered off after %s", res.Duration.Round(time.Millisecond))
}

func TestBootRejectsBadInputs(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "some.iso")
	if err := os.WriteFile(iso, []byte("not booted"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "serial.log")
	for _, tc := range []struct {
		name string
		opts qemu.Options
		want string
	}{
		{"no ISO", qemu.Options{LogPath: log}, "no ISO given"},
		{"missing ISO", qemu.Options{ISO: iso + ".missing", LogPath: log}, "some.iso.missing"},
		{"missing QEMU", qemu.Options{ISO: iso, LogPath: log, Binary: "qemu-system-nonexistent"}, "qemu-system-nonexistent is not installed"},
		{"missing OVMF", qemu.Options{ISO: iso, LogPath: log, Firmware: qemu.UEFI, OVMFCode: "/nonexistent/OVMF_CODE.fd"}, "package ovmf"},
		{"bad accelerator", qemu.Options{ISO: iso, LogPath: log, Accel: "hvf"}, `unknown accelerator "hvf"`},
		{"bad firmware", qemu.Options{ISO: iso, LogPath: log, Firmware: qemu.Firmware(7)}, "unknown firmware"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qemu.Boot(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestQEMUFailsToStart: a QEMU that refuses its options and exits at once is
// reported as an early exit naming the command line.
func TestQEMUFailsToStart(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "empty.iso")
	if err := os.WriteFile(iso, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := qemu.Boot(context.Background(), qemu.Options{
		ISO: iso, Timeout: time.Minute, MemoryMiB: -5, LogPath: filepath.Join(t.TempDir(), "serial.log"),
	})
	if !errors.Is(err, qemu.ErrNoMarker) || !strings.Contains(err.Error(), "-m -5") {
		t.Fatalf("err = %v, want ErrNoMarker naming the failed command line", err)
	}
}
