package installproof

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// pollInterval is how often the serial console log is read.
const pollInterval = 200 * time.Millisecond

// machineConfig describes one QEMU run of the proof.
type machineConfig struct {
	what      string // for messages: "install", "first boot"
	firmware  qemu.Firmware
	accel     string
	memoryMiB int
	binary    string
	ovmfCode  string
	vars      string // the machine's UEFI variables, kept across its boots
	iso       string // attached as a CD-ROM when set, booted first
	disk      string // the virtual disk
	logPath   string // serial console
	qmpPath   string // QMP unix socket
	// sshPort, when not zero, gives the machine a NIC on QEMU's user
	// network, restricted to the guest (no route to the host or beyond),
	// with 127.0.0.1:sshPort forwarded to the guest's port 22.
	sshPort int
}

// nicArgs is the machine's network: none, or the restricted user network
// with the SSH forward.
func (c machineConfig) nicArgs() []string {
	if c.sshPort == 0 {
		return []string{"-nic", "none"}
	}
	return []string{"-nic", fmt.Sprintf("user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:%d-:22", c.sshPort)}
}

// freeLoopbackPort is a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// args is QEMU's command line. -no-shutdown keeps QEMU alive when the guest
// powers off (and, with -no-reboot, when it reboots), so that the screen can
// still be saved; QMP reports it as a SHUTDOWN event.
func (c machineConfig) args() []string {
	a := []string{
		"-name", "novasphere-install",
		"-machine", "pc,accel=" + c.accel,
		"-m", strconv.Itoa(c.memoryMiB),
		"-display", "none",
		"-vga", "std",
		"-no-reboot", "-no-shutdown",
	}
	a = append(a, c.nicArgs()...)
	a = append(a,
		"-monitor", "none",
		"-parallel", "none",
		"-qmp", "unix:"+escape(c.qmpPath)+",server=on,wait=off",
		"-chardev", "file,id=serial0,path="+escape(c.logPath),
		"-serial", "chardev:serial0",
	)
	if c.accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if c.firmware == qemu.UEFI {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escape(c.ovmfCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+escape(c.vars))
	}
	diskIndex := "0"
	if c.iso != "" {
		a = append(a,
			"-drive", "if=none,id=cd,format=raw,media=cdrom,readonly=on,file="+escape(c.iso),
			"-device", "ide-cd,drive=cd,bootindex=0")
		diskIndex = "1"
	}
	a = append(a,
		"-drive", "if=none,id=disk,format=raw,cache=unsafe,file="+escape(c.disk),
		"-device", "ide-hd,drive=disk,bootindex="+diskIndex)
	return a
}

func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// machine is a running QEMU.
type machine struct {
	cfg     machineConfig
	proc    *tool.Process
	exited  chan error
	qmp     *qmp
	console *consoleLog
	start   time.Time
}

func startMachine(ctx context.Context, cfg machineConfig) (*machine, error) {
	if err := os.WriteFile(cfg.logPath, nil, 0o644); err != nil {
		return nil, err
	}
	os.Remove(cfg.qmpPath)
	p, err := tool.Command(cfg.binary, cfg.args()...).Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting QEMU: %w", err)
	}
	m := &machine{cfg: cfg, proc: p, exited: make(chan error, 1), console: &consoleLog{path: cfg.logPath}, start: time.Now()}
	go func() { m.exited <- p.Wait() }()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	type dialed struct {
		q   *qmp
		err error
	}
	ch := make(chan dialed, 1)
	go func() { q, err := dialQMP(dctx, cfg.qmpPath); ch <- dialed{q, err} }()
	select {
	case d := <-ch:
		if d.err != nil {
			m.kill()
			return nil, d.err
		}
		m.qmp = d.q
	case err := <-m.exited:
		cancel()
		<-ch
		return nil, fmt.Errorf("QEMU exited at start: %v\n  %s", err, strings.Join(append([]string{cfg.binary}, cfg.args()...), " "))
	}
	return m, nil
}

// outcome is how a wait ended.
type outcome int

const (
	outMatched  outcome = iota // the condition was met
	outShutdown                // the guest powered off or rebooted
	outExited                  // QEMU itself ended
	outTimeout
	outCancelled
)

// waitFor reads the console until match reports a line done, the guest
// shuts down, QEMU exits, the timeout passes or ctx ends. tick is called
// with the elapsed time every interval, for the progress line.
func (m *machine) waitFor(ctx context.Context, timeout time.Duration, match func(string) bool,
	interval time.Duration, tick func(elapsed time.Duration, last string)) (outcome, error) {
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	nextTick := time.Now().Add(interval)
	scan := func(final bool) bool {
		for _, l := range m.console.poll(final) {
			if match != nil && match(l) {
				return true
			}
		}
		return false
	}
	for {
		select {
		case <-poll.C:
			if scan(false) {
				return outMatched, nil
			}
			if tick != nil && interval > 0 && time.Now().After(nextTick) {
				tick(time.Since(m.start), m.console.last())
				nextTick = time.Now().Add(interval)
			}
		case ev := <-m.qmp.events:
			if ev == "SHUTDOWN" {
				if scan(true) {
					return outMatched, nil
				}
				return outShutdown, nil
			}
		case err := <-m.exited:
			m.exited <- err // for kill
			if scan(true) {
				return outMatched, nil
			}
			return outExited, err
		case <-deadline.C:
			scan(true)
			return outTimeout, nil
		case <-ctx.Done():
			return outCancelled, ctx.Err()
		}
	}
}

// screendump saves the screen as a PNG (QEMU writes PPM).
func (m *machine) screendump(ctx context.Context, png string) error {
	ppm := png + ".ppm"
	defer os.Remove(ppm)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := m.qmp.execute(sctx, "screendump", map[string]string{"filename": ppm}); err != nil {
		return err
	}
	return ppmToPNG(ppm, png)
}

// stop ends QEMU: quit through QMP, then by its PID if it lingers.
func (m *machine) stop() {
	if m.qmp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = m.qmp.execute(ctx, "quit", nil) // QEMU may be gone already; the PID kill follows
		cancel()
	}
	select {
	case err := <-m.exited:
		m.exited <- err
	case <-time.After(10 * time.Second):
		m.kill()
	}
	if m.qmp != nil {
		m.qmp.Close()
	}
	os.Remove(m.cfg.qmpPath)
}

func (m *machine) kill() {
	_ = m.proc.Kill()
	err := <-m.exited
	m.exited <- err
}

// errTail formats QEMU's exit error, if any.
func exitText(err error) string {
	if err == nil {
		return "QEMU exited"
	}
	var te *tool.Error
	if errors.As(err, &te) {
		return te.Error()
	}
	return err.Error()
}
