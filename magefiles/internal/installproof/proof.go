package installproof

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// proof is one run of Run.
type proof struct {
	o     Options
	accel string
	t     Timeouts
	fw    string // "bios" or "uefi"
	res   Result

	work string // the UEFI variables' copy, QMP socket
	disk string
	vars string
	pkgs []debPackage

	report  []string   // the first-boot unit's lines
	running *machine   // the installed system, while the SSH steps run
	sshAddr string     // 127.0.0.1:<port> forwarded to its port 22
	shell   *sshRunner // logged in as the user (with Options.PrivateKey)
}

// step is one named step of the proof.
type step struct {
	name string
	run  func(ctx context.Context, s *Step) error
}

func (p *proof) steps() []step {
	return []step{
		{StepInstall, p.install},
		{StepFirstBoot, func(ctx context.Context, s *Step) error {
			var err error
			p.report, err = p.firstBoot(ctx, s)
			return err
		}},
		{StepCheck, func(ctx context.Context, s *Step) error { return p.check(p.report) }},
		{StepLogin, p.login},
		{StepVersion, p.inside(func(ctx context.Context) (string, error) { return p.checkVersion(ctx) })},
		{StepUserKeys, p.inside(p.checkUserKeys)},
		{StepNetwork, p.inside(p.checkNetwork)},
		{StepRootSize, p.inside(p.checkRootSize)},
		{StepUnits, p.inside(p.checkUnits)},
		{StepReinstall, p.reinstall},
	}
}

func (p *proof) run(ctx context.Context) error {
	if err := os.MkdirAll(p.o.DistDir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(p.o.WorkDir, "novasphere-install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	defer p.stopRunning()
	p.work = work
	if p.pkgs, err = offlinePackages(ctx, p.o.ISO, work); err != nil {
		return err
	}
	login, err := isoLogin(ctx, p.o.ISO, work)
	if err != nil {
		return err
	}
	p.res.Login = &login
	if err := p.blankDisk(); err != nil {
		return err
	}
	defer p.dropDisk()
	for _, st := range p.steps() {
		s := Step{Name: st.name}
		start := time.Now()
		err := st.run(ctx, &s)
		s.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
		var sk skipped
		if errors.As(err, &sk) {
			s.Skipped, s.Passed, s.Detail, err = true, true, sk.why, nil
		}
		s.Passed = err == nil
		if err != nil {
			s.Error = err.Error()
		}
		p.res.Steps = append(p.res.Steps, s)
		verdict := map[bool]string{true: "passed", false: "FAILED"}[s.Passed]
		if s.Skipped {
			verdict = "skipped"
		}
		fmt.Fprintf(p.o.Progress, "install %s: step %s %s in %.1fs%s\n", p.fw, s.Name, verdict, s.Seconds, detailSuffix(s.Detail))
		if err != nil {
			return fmt.Errorf("step %s: %w", st.name, err)
		}
	}
	return p.keepDisk()
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

// skipped is the error of a step that cannot run in this proof (the inside
// checks without a private key); it counts as passed and says why.
type skipped struct{ why string }

func (s skipped) Error() string { return "skipped: " + s.why }

// blankDisk makes the sparse virtual disk (in DiskDir when the disk is
// kept, under a temporary name) and the machine's UEFI variables.
func (p *proof) blankDisk() error {
	dir := p.work
	if p.o.DiskDir != "" {
		if err := os.MkdirAll(p.o.DiskDir, 0o755); err != nil {
			return err
		}
		dir = p.o.DiskDir
	}
	f, err := os.CreateTemp(dir, ".disk-*.raw.tmp")
	if err != nil {
		return err
	}
	p.disk = f.Name()
	if err := f.Truncate(p.o.DiskBytes); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	p.vars = filepath.Join(p.work, "OVMF_VARS.fd")
	data, err := os.ReadFile(p.o.OVMFVars)
	if err != nil {
		if p.o.Firmware.String() == "UEFI" {
			return fmt.Errorf("copying the UEFI variables: %w", err)
		}
		return nil
	}
	return os.WriteFile(p.vars, data, 0o600)
}

// dropDisk removes the disk unless keepDisk renamed it into place.
func (p *proof) dropDisk() {
	if p.disk != "" {
		os.Remove(p.disk)
	}
}

// keepDisk renames the installed disk (and the UEFI variables) into
// DiskDir as disk.raw and OVMF_VARS.fd.
func (p *proof) keepDisk() error {
	if p.o.DiskDir == "" {
		return nil
	}
	disk := filepath.Join(p.o.DiskDir, DiskName)
	if err := os.Rename(p.disk, disk); err != nil {
		return fmt.Errorf("keeping the installed disk: %w", err)
	}
	p.disk = ""
	p.res.Disk = disk
	if data, err := os.ReadFile(p.vars); err == nil {
		vars := filepath.Join(p.o.DiskDir, VarsName)
		if err := os.WriteFile(vars+".tmp", data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(vars+".tmp", vars); err != nil {
			return err
		}
		p.res.UEFIVars = vars
	}
	return nil
}

// Names in Options.DiskDir.
const (
	DiskName = "disk.raw"
	VarsName = "OVMF_VARS.fd"
)

func (p *proof) config(what, iso, logName string) machineConfig {
	return machineConfig{
		what: what, firmware: p.o.Firmware, accel: p.accel, memoryMiB: p.o.MemoryMiB,
		binary: p.o.Binary, ovmfCode: p.o.OVMFCode, vars: p.vars,
		iso: iso, disk: p.disk,
		logPath: filepath.Join(p.o.DistDir, logName),
		qmpPath: filepath.Join(p.work, "qmp.sock"),
	}
}

// bootEnd is how a boot ended: the outcome of the wait, QEMU's exit error
// (or ctx's), its console, and the machine when it was kept running.
type bootEnd struct {
	out     outcome
	err     error
	console *consoleLog
	m       *machine
}

// boot runs one machine until match or the guest's end and saves the
// screen. With keep, a machine that matched is left running (bootEnd.m).
func (p *proof) boot(ctx context.Context, s *Step, cfg machineConfig, timeout time.Duration, match func(string) bool, screen string, keep bool) bootEnd {
	s.Log = cfg.logPath
	p.res.Logs = append(p.res.Logs, cfg.logPath)
	m, err := startMachine(ctx, cfg)
	if err != nil {
		return bootEnd{outExited, err, &consoleLog{path: cfg.logPath}, nil}
	}
	tick := func(elapsed time.Duration, last string) {
		if len(last) > 100 {
			last = last[:100] + "…"
		}
		fmt.Fprintf(p.o.Progress, "install %s: %s %s of at most %s; console: %s\n",
			p.fw, cfg.what, elapsed.Round(time.Second), timeout, last)
	}
	out, werr := m.waitFor(ctx, timeout, match, p.o.ProgressInterval, tick)
	png := filepath.Join(p.o.DistDir, screen)
	if out != outExited {
		if err := m.screendump(ctx, png); err == nil {
			s.Screen = png
			p.res.Screens = append(p.res.Screens, png)
		} else {
			fmt.Fprintf(p.o.Progress, "install %s: no picture of the screen: %v\n", p.fw, err)
		}
	}
	if keep && out == outMatched {
		return bootEnd{out, werr, m.console, m}
	}
	m.stop()
	return bootEnd{out, werr, m.console, nil}
}

// install boots the ISO with the blank disk until the installer powers off
// or reboots.
func (p *proof) install(ctx context.Context, s *Step) error {
	cfg := p.config("install", p.o.ISO, "install-"+p.fw+".log")
	var failure string
	match := func(line string) bool {
		if m := installFailed.FindString(line); m != "" {
			failure = m
			return true
		}
		return false
	}
	e := p.boot(ctx, s, cfg, p.t.Install, match, "install-"+p.fw+".png", false)
	werr, con := e.err, e.console
	switch e.out {
	case outShutdown:
		return nil
	case outMatched:
		return fmt.Errorf("%w: the installer failed: %s\n%s", ErrFailed, failure, con.describeTail())
	case outExited:
		if werr == nil {
			return nil // guest ended and QEMU with it
		}
		return fmt.Errorf("QEMU ended during the install: %s\n%s", exitText(werr), con.describeTail())
	case outTimeout:
		return fmt.Errorf("%w: the installer did not power off or reboot within %s (%s)\n%s", ErrTimeout, p.t.Install, p.accel, con.describeTail())
	}
	return fmt.Errorf("install: %w\n%s", werr, con.describeTail())
}

// notBootable is what SeaBIOS and OVMF print on the serial console when no
// disk boots (OVMF then starts its shell).
var notBootable = regexp.MustCompile(`No bootable device|No bootable option or device was found|Shell> `)

// firstBoot boots the installed disk, with a NIC on QEMU's user network
// (restricted to the guest; its SSH port forwarded from 127.0.0.1), until
// the first-boot unit reports its result, and returns the unit's lines.
// The machine stays running for the SSH steps.
func (p *proof) firstBoot(ctx context.Context, s *Step) ([]string, error) {
	cfg := p.config("first boot", "", "firstboot-"+p.fw+".log")
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	cfg.sshPort = port
	p.sshAddr = fmt.Sprintf("127.0.0.1:%d", port)
	var lines []string
	unbootable := ""
	match := func(line string) bool {
		if strings.Contains(line, FirstBootPrefix) {
			lines = append(lines, line)
		}
		if m := notBootable.FindString(line); m != "" {
			unbootable = m
			return true
		}
		return firstBootResult.MatchString(line)
	}
	e := p.boot(ctx, s, cfg, p.t.FirstBoot, match, "firstboot-"+p.fw+".png", true)
	p.running = e.m
	werr, con := e.err, e.console
	switch e.out {
	case outMatched:
		if unbootable != "" {
			return lines, fmt.Errorf("%w: the installed disk does not boot: the firmware says %q\n%s", ErrFailed, unbootable, con.describeTail())
		}
		return lines, nil
	case outShutdown, outExited:
		why := "the installed system powered off or rebooted"
		if werr != nil {
			why = "QEMU ended: " + exitText(werr)
		}
		return lines, fmt.Errorf("%w: %s before NovaSphere's first-boot unit reported a result\n%s", ErrFailed, why, con.describeTail())
	case outTimeout:
		return lines, fmt.Errorf("%w: NovaSphere's first-boot unit reported no result within %s (%s): is the disk bootable, and the unit installed and enabled?\n%s",
			ErrTimeout, p.t.FirstBoot, p.accel, con.describeTail())
	}
	return lines, fmt.Errorf("first boot: %w\n%s", werr, con.describeTail())
}

// stopRunning ends the installed system's QEMU, if it runs.
func (p *proof) stopRunning() {
	if p.shell != nil {
		p.shell.close()
		p.shell = nil
	}
	if p.running != nil {
		p.running.stop()
		p.running = nil
	}
}

// check compares the first-boot report with the build.
func (p *proof) check(lines []string) error {
	r := parseReport(lines)
	p.res.Report = &r
	problems := checkReport(r, p.o.Version, p.pkgs)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s\nthe installed system reported:\n  %s", ErrFailed, strings.Join(problems, "; "), strings.Join(lines, "\n  "))
}
