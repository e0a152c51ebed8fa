package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"

	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// verifyNoBoot runs verify on iso against base without the QEMU boots.
func verifyNoBoot(t *testing.T, iso, base string) (Report, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := Run(t.Context(), Options{ISO: iso, BaseISO: base, Version: testVersion, Images: repoImages,
		DistDir: t.TempDir(), Boot: BootOff, Out: &out})
	t.Logf("verify output:\n%s", out.String())
	return rep, err
}

func checkNamed(t *testing.T, rep Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("report has no check %q: %+v", name, rep.Checks)
	return Check{}
}

// wantOutcome asserts which checks failed, each with the given detail
// fragments, and that every other static check passed.
func wantOutcome(t *testing.T, rep Report, err error, failing map[string][]string) {
	t.Helper()
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("want a *FailedError listing the failures, got %v", err)
	}
	for _, name := range []string{CheckChecksums, CheckBootRecords, CheckIdentity, CheckPayload, CheckMD5SumTxt, CheckAutoinstall} {
		c := checkNamed(t, rep, name)
		fragments, shouldFail := failing[name]
		if c.Passed == shouldFail {
			t.Errorf("check %s: passed=%t, want %t (detail: %s)", name, c.Passed, !shouldFail, c.Detail)
		}
		for _, f := range fragments {
			if !strings.Contains(c.Detail, f) {
				t.Errorf("check %s: detail %q does not mention %q", name, c.Detail, f)
			}
		}
		if shouldFail && !strings.Contains(err.Error(), name+": ") {
			t.Errorf("the error does not list failed check %s:\n%v", name, err)
		}
	}
	if rep.Passed {
		t.Error("report says passed")
	}
}

// TestHappyPathPassesEveryCheck verifies the remastered fixture: every check
// passes, including all four QEMU boots, and the outputs are what the
// contract says.
func TestHappyPathPassesEveryCheck(t *testing.T) {
	iso, base := happy(t)
	distDir := t.TempDir()
	var out bytes.Buffer
	rep, err := Run(t.Context(), Options{ISO: iso, BaseISO: base.ISO, Version: testVersion, Images: repoImages, DistDir: distDir,
		Boot: BootOn, BootTimeout: 3 * time.Minute, Out: &out})
	t.Logf("verify output:\n%s", out.String())
	if err != nil {
		t.Fatalf("verify failed on the remastered fixture: %v", err)
	}
	want := []string{CheckChecksums, CheckBootRecords, CheckIdentity, CheckPayload, CheckMD5SumTxt, CheckAutoinstall, CheckOfflinePackages, CheckImages,
		"boot-bios-cdrom", "boot-bios-disk", "boot-uefi-cdrom", "boot-uefi-disk"}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if !c.Passed || c.Skipped {
			t.Errorf("check %s did not pass: %s", c.Name, c.Detail)
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("checks %v, want %v", names, want)
	}
	if !strings.Contains(out.String(), "verify: PASSED, all 12 checks") {
		t.Errorf("the table does not end with the verdict")
	}
	// The report file is the returned report, with the ISO's real digest.
	var onDisk Report
	data, err := os.ReadFile(filepath.Join(distDir, dist.VerifyReportName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if !onDisk.Passed || onDisk.SHA256 != sha256File(t, iso) || onDisk.ISO != filepath.Base(iso) || onDisk.Version != testVersion {
		t.Errorf("verify-report.json = %+v; want passed, sha256 %s, iso %s", onDisk, sha256File(t, iso), filepath.Base(iso))
	}
	if _, err := time.Parse(time.RFC3339, onDisk.Time); err != nil {
		t.Errorf("report time %q: %v", onDisk.Time, err)
	}
	if onDisk.BootMarker != DefaultBootMarker.String() {
		t.Errorf("report boot_marker %q, want the default marker the boots used, %q", onDisk.BootMarker, DefaultBootMarker)
	}
	// The report's digests are the ISO's own (the pipeline writes
	// SHA256SUMS and MD5SUMS from them; its tests run coreutils on them).
	if onDisk.MD5 != md5File(t, iso) {
		t.Errorf("report md5 %s, the ISO has %s", onDisk.MD5, md5File(t, iso))
	}
	for _, b := range AllBootTargets {
		log, err := os.ReadFile(filepath.Join(distDir, dist.BootLogName(b.Name())))
		if err != nil || !DefaultBootMarker.Match(log) {
			t.Errorf("serial log of %s lacks the marker (%v)", b.Name(), err)
		}
	}
}

func TestFlippedPayloadByte(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	bad := filepath.Join(t.TempDir(), "flipped.iso")
	if err := flipByte(t.Context(), iso, "/novasphere/scripts/install.sh", bad); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	// md5sum.txt lists the payload files too, so "Check disc for defects"
	// would also catch it.
	wantOutcome(t, rep, err, map[string][]string{
		CheckPayload:   {"/novasphere/scripts/install.sh: digest"},
		CheckMD5SumTxt: {"/novasphere/scripts/install.sh"},
	})
}

func TestStaleMD5SumLine(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	good := readISOFile(t, iso, "/md5sum.txt")
	// The base's line for /.disk/info, which the remaster changed.
	baseLine := ""
	for _, l := range strings.Split(string(readISOFile(t, base.ISO, "/md5sum.txt")), "\n") {
		if strings.HasSuffix(l, "  ./.disk/info") {
			baseLine = l
		}
	}
	var stale []string
	for _, l := range strings.Split(string(good), "\n") {
		if strings.HasSuffix(l, "  ./.disk/info") {
			l = baseLine
		}
		stale = append(stale, l)
	}
	if baseLine == "" || strings.Join(stale, "\n") == string(good) {
		t.Fatal("could not make a stale md5sum.txt")
	}
	bad := filepath.Join(t.TempDir(), "stale.iso")
	if err := mutate(t.Context(), iso, bad, map[string][]byte{"/md5sum.txt": []byte(strings.Join(stale, "\n"))}, false); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckMD5SumTxt: {"/.disk/info: digest", "line 1:"}})
}

func TestWrongVersion(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	bad := filepath.Join(t.TempDir(), "wrong-version.iso")
	// Consistent otherwise: MANIFEST.sha256 and md5sum.txt agree with the
	// wrong VERSION, as when a build is given the wrong version file.
	if err := mutate(t.Context(), iso, bad, map[string][]byte{"/novasphere/VERSION": []byte("v9.9.9\n")}, true); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckIdentity: {`/novasphere/VERSION holds "v9.9.9\n", want "v1.2.3\n"`}})
}

// A .deb whose dependency neither the base nor packages/ has fails the
// offline-packages check, naming the package and the dependency.
func TestShippedDebWithAMissingDependency(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	deb, err := testiso.BuildDeb(t.Context(), t.TempDir(), testiso.Deb{Package: "novasphere-agent", Version: "1.2.0", Depends: "libnope1 (>= 2.1)"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad-deb.iso")
	if err := mutate(t.Context(), iso, bad, map[string][]byte{"/novasphere/packages/" + filepath.Base(deb): data}, true); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckOfflinePackages: {"packages/novasphere-agent_1.2.0_amd64.deb", "libnope1 (>= 2.1)"}})
}

func TestISOWithoutEFIEntry(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	bad := filepath.Join(t.TempDir(), "no-efi.iso")
	if err := noEFIEntry(t.Context(), iso, bad); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckBootRecords: {"no bootable UEFI entry", "the catalog has 1 boot image(s), the base ISO's has 2"}})
}

func TestGrubWithoutAutoinstallArgs(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	orig, err := os.ReadFile(filepath.Join(base.Tree, "boot", "grub", "grub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "no-args.iso")
	if err := mutate(t.Context(), iso, bad, map[string][]byte{"/boot/grub/grub.cfg": orig}, true); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckAutoinstall: {"/boot/grub/grub.cfg line", "linux\t/casper/vmlinuz  ---"}})
	if c := checkNamed(t, rep, CheckAutoinstall); strings.Contains(c.Detail, "loopback.cfg") {
		t.Errorf("loopback.cfg was patched but is reported: %s", c.Detail)
	}
}

// TestSilentKernelTimesOut boots a remaster of a fixture whose /init prints
// nothing: the boot check fails at the timeout, every other check passes.
func TestSilentKernelTimesOut(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	silent, err := testiso.Build(ctx, testiso.Options{Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	iso, err := remaster(ctx, silent, filepath.Join(scratch(t), "silent"))
	if err != nil {
		t.Fatal(err)
	}
	distDir := t.TempDir()
	const timeout = 20 * time.Second
	var out bytes.Buffer
	rep, err := Run(ctx, Options{ISO: iso, BaseISO: silent.ISO, Version: testVersion, Images: repoImages, DistDir: distDir,
		Boot: BootOn, BootTargets: []BootTarget{AllBootTargets[0]}, BootTimeout: timeout, Out: &out})
	t.Logf("verify output:\n%s", out.String())
	wantOutcome(t, rep, err, nil)
	c := checkNamed(t, rep, "boot-bios-cdrom")
	if c.Passed || !strings.Contains(c.Detail, "timed out") || !strings.Contains(c.Detail, dist.BootLogName(AllBootTargets[0].Name())) {
		t.Errorf("boot check: want a timeout naming the log, got passed=%t %s", c.Passed, c.Detail)
	}
	if _, err := os.Stat(filepath.Join(distDir, "boot-bios-cdrom.log")); err != nil {
		t.Errorf("serial log not kept: %v", err)
	}
}

// TestNotAnISO: garbage in, a failed check for each property out, no panic.
func TestNotAnISO(t *testing.T) {
	t.Parallel()
	_, base := happy(t)
	bad := filepath.Join(t.TempDir(), "garbage.iso")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not an ISO "), 200000), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyNoBoot(t, bad, base.ISO)
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || len(rep.Checks) != 1 {
		t.Fatalf("want the volume check alone, failed, got %v", err)
	}
	if c := checkNamed(t, rep, CheckVolume); !strings.Contains(c.Detail, "is not an ISO 9660 image: no primary volume descriptor at byte 32768") {
		t.Errorf("volume check says %q", c.Detail)
	}
}

func TestMissingISO(t *testing.T) {
	t.Parallel()
	_, err := Run(t.Context(), Options{ISO: filepath.Join(t.TempDir(), "none.iso"), Version: testVersion, Boot: BootOff})
	var fe *FailedError
	if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), "run pack first") {
		t.Fatalf("want an error saying to run pack, got %v", err)
	}
}

// TestInterruptedRunLeavesNoReport: Ctrl-C (a cancelled context) ends verify
// with an error and no verify-report.json, not even an older one.
func TestInterruptedRunLeavesNoReport(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	distDir := t.TempDir()
	old := filepath.Join(distDir, dist.VerifyReportName)
	if err := os.WriteFile(old, []byte(`{"passed":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, Options{ISO: iso, BaseISO: base.ISO, Version: testVersion, Images: repoImages, DistDir: distDir, Boot: BootOn})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("want an error wrapping context.Canceled, got %v", err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report is left in %s: %v", distDir, err)
	}
}

// TestReportRecordsTheBootMarker: verify-report.json names the marker the
// boots waited for under "boot_marker", the default one or the one
// VERIFY_BOOT_MARKER gave, so that release can refuse a report made with a
// weaker marker. A file that is not an ISO keeps the test quick: the report
// is written whatever the checks find.
func TestReportRecordsTheBootMarker(t *testing.T) {
	t.Parallel()
	iso := filepath.Join(t.TempDir(), "garbage.iso")
	if err := os.WriteFile(iso, bytes.Repeat([]byte("not an ISO "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		env    string
		marker string
	}{
		{"default", "", DefaultBootMarker.String()},
		{"VERIFY_BOOT_MARKER", ".", "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{ISO: iso, Version: testVersion, DistDir: t.TempDir(), Boot: BootOff}
			if tc.env != "" {
				o.BootMarker = regexp.MustCompile(tc.env) // as config reads VERIFY_BOOT_MARKER
			}
			rep, err := Run(t.Context(), o)
			var fe *FailedError
			if !errors.As(err, &fe) {
				t.Fatalf("verify of a file that is not an ISO: %v, want failed checks", err)
			}
			if rep.BootMarker != tc.marker {
				t.Errorf("returned report: boot marker %q, want %q", rep.BootMarker, tc.marker)
			}
			data, err := os.ReadFile(filepath.Join(o.DistDir, dist.VerifyReportName))
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(data, &fields); err != nil {
				t.Fatal(err)
			}
			if got, ok := fields["boot_marker"].(string); !ok || got != tc.marker {
				t.Errorf("%s: boot_marker = %#v, want %q\n%s", dist.VerifyReportName, fields["boot_marker"], tc.marker, data)
			}
		})
	}
}

// TestMediumThatReinstallsItself: user-data whose first early-command is
// not the reinstall guard fails the autoinstall check (the medium would
// erase the machine it installed when it boots again); the shipped
// user-data, with no key and no password, passes with a warning that
// names what to set.
func TestMediumThatReinstallsItself(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	rep, _ := verifyNoBoot(t, iso, base.ISO)
	if c := checkNamed(t, rep, CheckAutoinstall); !c.Passed || !strings.HasPrefix(c.Detail, "WARNING: nobody can log in to the installed machine: set ADMIN_AUTHORIZED_KEYS") {
		t.Errorf("autoinstall check on the shipped user-data: passed %v, detail %q: want a pass with the login warning first", c.Passed, c.Detail)
	}
	ud, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	unguarded := strings.Replace(string(ud), "    - sh /cdrom/novasphere/scripts/reinstall-guard.sh\n", "    - echo no guard\n", 1)
	if unguarded == string(ud) {
		t.Fatal("the shipped user-data does not run the reinstall guard")
	}
	bad := filepath.Join(t.TempDir(), "unguarded.iso")
	if err := mutate(t.Context(), iso, bad, map[string][]byte{"/nocloud/user-data": []byte(unguarded)}, true); err != nil {
		t.Fatal(err)
	}
	rep, err = verifyNoBoot(t, bad, base.ISO)
	wantOutcome(t, rep, err, map[string][]string{CheckAutoinstall: {`the first early-command is "echo no guard"`, "booting the medium again would erase the installed machine"}})
}
