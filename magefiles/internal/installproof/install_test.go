package installproof_test

import (
	"context"
	"errors"
	"image/png"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/installproof"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

// Timeouts for the test ISO under TCG with two boots sharing two cores: its
// install takes about a minute, its installed system's first boot about 30 s.
var testTimeouts = installproof.Timeouts{Install: 6 * time.Minute, FirstBoot: 4 * time.Minute}

// proofOptions run the proof under TCG: on the project's machines /dev/kvm
// runs SeaBIOS and GRUB (so qemu.Accelerator picks KVM) but the Linux kernel
// then prints nothing, and TCG is the path the timeouts must hold for.
func proofOptions(t *testing.T, isoPath string, fw qemu.Firmware) installproof.Options {
	return installproof.Options{
		ISO: isoPath, Version: testVersion, Firmware: fw, DistDir: t.TempDir(), Accel: "tcg",
		Timeouts: testTimeouts, MemoryMiB: 1024, PrivateKey: testKey(t).signer,
		Progress: testWriter{t}, ProgressInterval: 15 * time.Second,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestInstallProof installs the test ISO built by pack, with the
// repository's user-data (and the test run's key through
// ADMIN_AUTHORIZED_KEYS), install.sh and first-boot unit and two offline
// packages, in BIOS and UEFI, on a 40 GiB sparse disk; proves NovaSphere on
// the installed system, logs in over SSH and checks it from inside, then
// boots the medium again and shows the installed disk survives.
func TestInstallProof(t *testing.T) {
	isoPath := remaster(t, newPayload(t, goodDebs...), "")
	for _, fw := range []qemu.Firmware{qemu.BIOS, qemu.UEFI} {
		t.Run(fw.String(), func(t *testing.T) {
			t.Parallel()
			o := proofOptions(t, isoPath, fw)
			o.DiskDir = t.TempDir()
			res, err := installproof.Run(context.Background(), o)
			for _, s := range res.Steps {
				t.Logf("step %s passed=%v skipped=%v in %.1fs: %s", s.Name, s.Passed, s.Skipped, s.Seconds, s.Detail)
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{installproof.StepInstall, installproof.StepFirstBoot, installproof.StepCheck, installproof.StepLogin, installproof.StepVersion,
				installproof.StepUserKeys, installproof.StepNetwork, installproof.StepRootSize, installproof.StepUnits, installproof.StepReinstall}
			var names []string
			for _, s := range res.Steps {
				names = append(names, s.Name)
				if !s.Passed || s.Skipped {
					t.Errorf("step %s: passed %v, skipped %v", s.Name, s.Passed, s.Skipped)
				}
			}
			if !res.Passed || strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("steps %v, want %v all passed", names, want)
			}
			r := res.Report
			if r == nil || r.Version != testVersion || r.Result != "OK" {
				t.Fatalf("first-boot report %+v", r)
			}
			for _, d := range goodDebs {
				if got := r.Packages[d.name]; got != d.version+" ok" {
					t.Errorf("package %s reported %q, want %q", d.name, got, d.version+" ok")
				}
			}
			installLog := readFile(t, res.Steps[0].Log)
			for _, want := range []string{"late-commands[2]: curtin in-target --target=/target -- sh /opt/novasphere/scripts/install.sh",
				"novasphere-install: installing 2 offline package(s)", "NOVASPHERE-INSTALL-DONE",
				"NOVASPHERE-REINSTALL-GUARD: no installed NovaSphere found: installing"} {
				if !strings.Contains(installLog, want) {
					t.Errorf("install log lacks %q", want)
				}
			}
			step := func(name string) installproof.Step {
				for _, s := range res.Steps {
					if s.Name == name {
						return s
					}
				}
				return installproof.Step{}
			}
			if d := step(installproof.StepNetwork).Detail; !strings.Contains(d, "by DHCP") {
				t.Errorf("network step: %q", d)
			}
			if d := step(installproof.StepReinstall).Detail; !strings.Contains(d, "NovaSphere "+testVersion) || !strings.Contains(d, "the disk is unchanged") {
				t.Errorf("reinstall step: %q", d)
			}
			checkScreens(t, res, 3)
			st, err := os.Stat(res.Disk)
			if err != nil || st.Size() != installproof.DefaultDiskBytes {
				t.Fatalf("kept disk %q: %v, %v", res.Disk, st, err)
			}
			if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > st.Size()/8 {
				t.Errorf("the kept disk uses %d bytes of %d: not sparse", used, st.Size())
			}
		})
	}
}

// checkScreens checks that the result lists n screen pictures, real PNGs.
func checkScreens(t *testing.T, res installproof.Result, n int) {
	t.Helper()
	if len(res.Screens) != n {
		t.Fatalf("screens %v, want %d", res.Screens, n)
	}
	for _, s := range res.Screens {
		f, err := os.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 640 || cfg.Height < 400 {
			t.Errorf("%s: %v, %dx%d: want a PNG of the VGA screen", s, err, cfg.Width, cfg.Height)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// failCase is a negative test: a real build that must fail the proof in a
// given step for a given reason.
type failCase struct {
	name     string
	iso      func(t *testing.T) string
	version  string
	timeouts installproof.Timeouts
	step     string
	timeout  bool     // the error wraps installproof.ErrTimeout
	want     []string // in the error
}

func TestInstallProofFails(t *testing.T) {
	cases := []failCase{
		{
			name: "late-command fails",
			iso: func(t *testing.T) string {
				return remaster(t, newPayload(t, goodDebs...), withLateCommand(t, "test -e /target/opt/novasphere/no-such-file"))
			},
			step: installproof.StepInstall,
			want: []string{"NOVASPHERE-INSTALL-FAILED", `late-commands[3] "test -e /target/opt/novasphere/no-such-file"`, "exited with status 1"},
		},
		{
			name: "install.sh exits non-zero",
			iso: func(t *testing.T) string {
				p := newPayload(t, goodDebs...)
				p.write(t, "scripts/install.sh", "#!/bin/sh\necho 'novasphere-install: refusing on purpose' >&2\nexit 3\n")
				return remaster(t, p, "")
			},
			step: installproof.StepInstall,
			want: []string{"refusing on purpose", "sh /opt/novasphere/scripts/install.sh exited with status 3", "late-commands[2]"},
		},
		{
			// A .deb whose dependency is missing is refused by pack before
			// any ISO exists (the packages stage; see iso's and verify's
			// tests). What only the real install finds: two offline
			// packages that ship the same file, which the offline-package
			// check does not look at; dpkg refuses and install.sh fails
			// with apt's message.
			name: "offline packages that clash on a file",
			iso: func(t *testing.T) string {
				return remaster(t, newPayload(t,
					deb{name: "novasphere-test-one", version: "1.0", file: "/usr/share/novasphere-clash/README"},
					deb{name: "novasphere-test-two", version: "1.0", file: "/usr/share/novasphere-clash/README"}), "")
			},
			step: installproof.StepInstall,
			want: []string{"trying to overwrite '/usr/share/novasphere-clash/README'", "install.sh exited with status 100"},
		},
		// "installed VERSION differs" is proven without an install: the
		// check step's comparison in TestParseAndCheckReport, the version
		// step's on the real installed system in TestInstallProof.
		{
			name: "installer hangs",
			iso: func(t *testing.T) string {
				return remaster(t, newPayload(t), withEarlyCommand(t, "sleep 100000"))
			},
			timeouts: installproof.Timeouts{Install: 75 * time.Second, FirstBoot: time.Minute},
			step:     installproof.StepInstall,
			timeout:  true,
			want:     []string{"did not power off or reboot within 1m15s", "early-commands[0]: sleep 100000"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := proofOptions(t, tc.iso(t), qemu.BIOS)
			if tc.version != "" {
				o.Version = tc.version
			}
			if tc.timeouts != (installproof.Timeouts{}) {
				o.Timeouts = tc.timeouts
			}
			res, err := installproof.Run(context.Background(), o)
			if err == nil {
				t.Fatalf("the proof passed: %+v", res)
			}
			t.Logf("error (as expected): %v", err)
			if !errors.Is(err, installproof.ErrFailed) && !tc.timeout {
				t.Errorf("error does not wrap installproof.ErrFailed")
			}
			if errors.Is(err, installproof.ErrTimeout) != tc.timeout {
				t.Errorf("errors.Is(err, ErrTimeout) = %v, want %v", !tc.timeout, tc.timeout)
			}
			if !strings.Contains(err.Error(), "step "+tc.step+":") {
				t.Errorf("error does not name the step %s", tc.step)
			}
			last := res.Steps[len(res.Steps)-1]
			if last.Name != tc.step || last.Passed || res.Passed {
				t.Errorf("last step %+v, want %s failed", last, tc.step)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if len(res.Screens) == 0 {
				t.Errorf("no screen picture saved on failure")
			}
		})
	}
}
