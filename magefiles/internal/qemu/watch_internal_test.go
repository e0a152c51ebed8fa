package qemu

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestWatcherMatchesWholeLines: a marker is matched only once its line is
// complete (a half-written version must not match as a shorter one), with
// carriage returns and terminal escapes removed; the last unterminated line
// counts once QEMU has ended.
func TestWatcherMatchesWholeLines(t *testing.T) {
	log := filepath.Join(t.TempDir(), "serial.log")
	w := &watcher{path: log, marker: regexp.MustCompile(`NOVASPHERE-VERSION: \S+$`)}
	appendLog := func(s string) {
		f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok := w.poll(false); ok {
		t.Fatalf("matched %q in a missing log", m)
	}
	appendLog("\x1b[1;1H\x1b[2JGNU GRUB\r\nNOVASPHERE-VERSION: 2024")
	if m, ok := w.poll(false); ok {
		t.Fatalf("matched %q on a half-written line", m)
	}
	appendLog("0101\r\nNOVASPHERE-BOOT-DONE\r\n")
	if m, ok := w.poll(false); !ok || m != "NOVASPHERE-VERSION: 20240101" {
		t.Fatalf("poll = %q, %v; want the whole version", m, ok)
	}

	w2 := &watcher{path: log, marker: regexp.MustCompile(`^tail without newline$`)}
	appendLog("tail without newline")
	if _, ok := w2.poll(false); ok {
		t.Fatal("matched an unterminated line while QEMU runs")
	}
	if m, ok := w2.poll(true); !ok || m != "tail without newline" {
		t.Fatalf("final poll = %q, %v", m, ok)
	}
	tail := w2.tail()
	if strings.Contains(tail, "\x1b") || strings.Contains(tail, "\r") {
		t.Errorf("tail keeps terminal escapes: %q", tail)
	}
	lines := strings.Split(tail, "\n")
	if !slices.Contains(lines, "  GNU GRUB") || !slices.Contains(lines, "  tail without newline") {
		t.Errorf("tail does not show the log's lines:\n%s", tail)
	}
}

func TestArgs(t *testing.T) {
	o := Options{ISO: "/tmp/a,b.iso", Firmware: UEFI, Media: Disk, LogPath: "/tmp/s.log", MemoryMiB: 512,
		OVMFCode: DefaultOVMFCode}
	a := strings.Join(args(o, "tcg", "/tmp/vars.fd"), " ")
	for _, want := range []string{
		"-machine pc,accel=tcg",
		"-display none", "-no-reboot",
		"if=pflash,format=raw,unit=0,readonly=on,file=" + DefaultOVMFCode,
		"if=pflash,format=raw,unit=1,file=/tmp/vars.fd",
		"snapshot=on,file=/tmp/a,,b.iso",
		"ide-hd,drive=boot,bootindex=0",
		"file,id=serial0,path=/tmp/s.log",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("QEMU arguments lack %q:\n%s", want, a)
		}
	}
	o.Firmware, o.Media = BIOS, CDROM
	a = strings.Join(args(o, "kvm", ""), " ")
	if strings.Contains(a, "pflash") || !strings.Contains(a, "media=cdrom,readonly=on") || !strings.Contains(a, "-cpu host") {
		t.Errorf("BIOS CD-ROM arguments under KVM:\n%s", a)
	}
}
