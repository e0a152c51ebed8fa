package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// probeTimeout bounds the KVM probe. Under working KVM SeaBIOS prints its
// banner within milliseconds.
const probeTimeout = 5 * time.Second

var accel struct {
	sync.Mutex
	done         bool
	name, reason string
}

// Accelerator returns the accelerator boots use, "kvm" or "tcg", and why. The
// first call decides, once per process: KVM is used only when /dev/kvm opens
// and a probe VM actually runs guest code (SeaBIOS writes its banner to the
// debug console); otherwise TCG. binary is the QEMU program (empty means
// DefaultBinary).
func Accelerator(ctx context.Context, binary string) (name, reason string) {
	accel.Lock()
	defer accel.Unlock()
	if !accel.done {
		if binary == "" {
			binary = DefaultBinary
		}
		accel.name, accel.reason = probeKVM(ctx, binary)
		if ctx.Err() == nil {
			accel.done = true // a cancelled probe decides nothing
		}
	}
	return accel.name, accel.reason
}

// useTCG makes TCG the accelerator of every later boot of this process.
func useTCG(reason string) {
	accel.Lock()
	defer accel.Unlock()
	accel.done, accel.name, accel.reason = true, "tcg", reason
}

func probeKVM(ctx context.Context, binary string) (string, string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", fmt.Sprintf("KVM unavailable (%v)", err)
	}
	f.Close()
	dir, err := os.MkdirTemp("", "novasphere-kvm-probe-")
	if err != nil {
		return "tcg", fmt.Sprintf("KVM not probed (%v)", err)
	}
	defer os.RemoveAll(dir)
	debug := filepath.Join(dir, "debugcon.log")
	p, err := tool.Command(binary,
		"-machine", "pc,accel=kvm", "-nodefaults", "-display", "none", "-no-reboot",
		"-monitor", "none", "-serial", "none",
		"-chardev", "file,id=dbg,path="+escape(debug),
		"-device", "isa-debugcon,iobase=0x402,chardev=dbg").Start(ctx)
	if err != nil {
		return "tcg", fmt.Sprintf("KVM probe did not start: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Wait() }()
	defer func() {
		_ = p.Kill()
		<-exited
	}()
	deadline := time.After(probeTimeout)
	for {
		if data, _ := os.ReadFile(debug); bytes.Contains(data, []byte("SeaBIOS")) {
			return "kvm", "KVM runs guests"
		}
		select {
		case err := <-exited:
			exited <- err // for the deferred wait
			return "tcg", fmt.Sprintf("KVM does not work: %v", err)
		case <-deadline:
			return "tcg", fmt.Sprintf("KVM does not work: a probe VM showed no firmware output within %s", probeTimeout)
		case <-ctx.Done():
			return "tcg", ctx.Err().Error()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kernelSpeaks matches the first lines a Linux kernel prints on a serial
// console.
var kernelSpeaks = regexp.MustCompile(`Linux version|^\[\s*\d+\.\d+\]`)

// SettleAccelerator returns the accelerator for long runs of iso (the
// install proof), which have no stall watchdog of their own. When KVM is
// the choice, iso is booted once until its kernel speaks: where KVM runs
// the firmware but hangs the kernel, that boot stalls, Boot falls back to
// TCG for the rest of the process, and the caller does not wait hours for
// work that never starts. tmpDir holds the boot's serial log ("" for the
// system's temporary directory).
func SettleAccelerator(ctx context.Context, binary, iso, tmpDir string) string {
	accel, _ := Accelerator(ctx, binary)
	if accel != "kvm" {
		return accel
	}
	log, err := os.CreateTemp(tmpDir, "novasphere-kvm-check-*.log")
	if err != nil {
		return accel
	}
	log.Close()
	defer os.Remove(log.Name())
	res, err := Boot(ctx, Options{ISO: iso, Firmware: BIOS, Media: CDROM, Marker: kernelSpeaks,
		Timeout: 3 * time.Minute, Binary: binary, LogPath: log.Name()})
	if err == nil && res.Matched {
		return res.Accel
	}
	accel, _ = Accelerator(ctx, binary)
	return accel
}
