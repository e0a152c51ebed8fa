package customize

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// ubuntuGrubCfg has the shape of /boot/grub/grub.cfg on the Ubuntu 22.04.3
// live-server ISO: two casper entries (generic and HWE kernel) and memtest.
const ubuntuGrubCfg = `set timeout=30

loadfont unicode

set menu_color_normal=white/black
set menu_color_highlight=black/light-gray

menuentry "Try or Install Ubuntu Server" {
	set gfxpayload=keep
	linux	/casper/vmlinuz  ---
	initrd	/casper/initrd
}
menuentry "Ubuntu Server with the HWE kernel" {
	set gfxpayload=keep
	linux	/casper/hwe-vmlinuz  ---
	initrd	/casper/hwe-initrd
}
grub_platform
if [ "$grub_platform" = "efi" ]; then
menuentry 'Boot from next volume' {
	exit 1
}
menuentry 'UEFI Firmware Settings' {
	fwsetup
}
else
menuentry 'Test memory' {
	linux16 /boot/memtest86+.bin
}
fi
`

// ubuntuLoopbackCfg has the shape of /boot/grub/loopback.cfg.
const ubuntuLoopbackCfg = `menuentry "Try or Install Ubuntu Server" {
	set gfxpayload=keep
	linux	/casper/vmlinuz  iso-scan/filename=${iso_path} ---
	initrd	/casper/initrd
}
`

func kernelLines(cfg string) []string {
	var out []string
	for _, l := range strings.Split(cfg, "\n") {
		if _, ok := parseKernelLine(l); ok {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func TestPatchGrubAddsAutoinstallArgsBeforeSeparator(t *testing.T) {
	out, err := PatchGrub([]byte(ubuntuGrubCfg), "v1.2.0", "console=ttyS0,115200n8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"linux\t/casper/vmlinuz  autoinstall ds=nocloud\\;s=/cdrom/nocloud/ console=ttyS0,115200n8 ---",
		"linux\t/casper/vmlinuz  autoinstall ds=nocloud\\;s=/cdrom/nocloud/ console=ttyS0,115200n8 novasphere.reinstall=erase-disk ---",
		"linux\t/casper/hwe-vmlinuz  autoinstall ds=nocloud\\;s=/cdrom/nocloud/ console=ttyS0,115200n8 ---",
	}
	got := kernelLines(string(out))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kernel lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(string(out), "linux16 /boot/memtest86+.bin\n") {
		t.Error("memtest entry changed")
	}
	if !strings.Contains(string(out), "set timeout=30\n") {
		t.Error("PatchGrub must keep the base timeout")
	}
}

// The default entry is the guarded one; the erasing copy follows it, says
// so in its title, and alone carries EraseArg, before "---" (so the
// installed system does not get it).
func TestPatchGrubAddsAnErasingEntry(t *testing.T) {
	out, err := PatchGrub([]byte(ubuntuGrubCfg), "v1.2.0", "console=ttyS0")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	first := strings.Index(s, `menuentry "Install NovaSphere v1.2.0" {`)
	erase := strings.Index(s, `menuentry "Install NovaSphere v1.2.0 - reinstall, ERASES the disk" {`)
	hwe := strings.Index(s, `menuentry "Install NovaSphere v1.2.0 (/casper/hwe-vmlinuz)" {`)
	if first < 0 || erase < first || hwe < erase {
		t.Fatalf("want the default entry, then the erasing one, then the HWE one:\n%s", s)
	}
	if strings.Contains(s[:erase], EraseArg) || strings.Contains(s[hwe:], EraseArg) {
		t.Errorf("%s outside the erasing entry:\n%s", EraseArg, s)
	}
	if !strings.Contains(s[erase:hwe], "console=ttyS0 "+EraseArg+" ---") || !strings.Contains(s[erase:hwe], "initrd\t/casper/initrd") {
		t.Errorf("the erasing entry is not a copy of the default one with %s before ---:\n%s", EraseArg, s[erase:hwe])
	}
}

func TestPatchGrubTitlesShowVersion(t *testing.T) {
	out, err := PatchGrub([]byte(ubuntuGrubCfg), "20261127", "")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		`menuentry "Install NovaSphere 20261127" {`,
		`menuentry "Install NovaSphere 20261127 (/casper/hwe-vmlinuz)" {`,
		`menuentry 'Test memory' {`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

func TestPatchGrubIsIdempotent(t *testing.T) {
	for _, cfg := range []string{ubuntuGrubCfg, ubuntuLoopbackCfg} {
		o := GrubOptions{Version: "v1.0.0-rc.1", ExtraArgs: "console=ttyS0 quiet", Title: "NovaSphere {version} installer", Timeout: "5"}
		once, err := PatchGrubWith([]byte(cfg), o)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := PatchGrubWith(once, o)
		if err != nil {
			t.Fatal(err)
		}
		if string(once) != string(twice) {
			t.Errorf("second patch changed the config:\n--- once\n%s\n--- twice\n%s", once, twice)
		}
		// once per kernel line, and on the erasing copy of the first entry
		if n := strings.Count(string(twice), "autoinstall"); n != len(kernelLines(cfg))+1 {
			t.Errorf("autoinstall appears %d times, want once per kernel line and once on the erasing entry", n)
		}
		if n := strings.Count(string(twice), EraseArg); n != 1 {
			t.Errorf("%s appears %d times, want once", EraseArg, n)
		}
	}
}

func TestPatchGrubLoopbackKeepsIsoScan(t *testing.T) {
	out, err := PatchGrub([]byte(ubuntuLoopbackCfg), "v1.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "linux\t/casper/vmlinuz  iso-scan/filename=${iso_path} autoinstall ds=nocloud\\;s=/cdrom/nocloud/ ---"
	if got := kernelLines(string(out)); len(got) != 2 || got[0] != want || got[1] != strings.Replace(want, " ---", " "+EraseArg+" ---", 1) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPatchGrubTimeout(t *testing.T) {
	out, err := PatchGrubWith([]byte(ubuntuGrubCfg), GrubOptions{Version: "v1.0.0", Timeout: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "set timeout=3\n") || strings.Contains(string(out), "timeout=30") {
		t.Errorf("timeout not set:\n%s", out)
	}
	// A config without a timeout gets one before the first entry.
	out, err = PatchGrubWith([]byte(ubuntuLoopbackCfg), GrubOptions{Version: "v1.0.0", Timeout: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "set timeout=0\n\nmenuentry") {
		t.Errorf("timeout not added:\n%s", out)
	}
}

// Remastering an installer patches a grub.cfg that already carries the
// previous build's arguments: they are replaced by this build's, not kept.
func TestPatchGrubReplacesThePreviousBuildsArgs(t *testing.T) {
	for _, cfg := range []string{ubuntuGrubCfg, ubuntuLoopbackCfg, "menuentry \"x\" {\n\tlinux /casper/vmlinuz quiet\n}\n"} {
		previous, err := PatchGrub([]byte(cfg), "v1.0.0", "console=ttyS0 novasphere.debug=1")
		if err != nil {
			t.Fatal(err)
		}
		for _, extra := range []string{"", "console=ttyS1", "novasphere.debug=1"} {
			fresh, err := PatchGrub([]byte(cfg), "v1.0.1", extra)
			if err != nil {
				t.Fatal(err)
			}
			again, err := PatchGrub(previous, "v1.0.1", extra)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(fresh) {
				t.Errorf("KERNEL_ARGS %q over a build with other arguments:\n%s\nwant, as from the base:\n%s",
					extra, strings.Join(kernelLines(string(again)), "\n"), strings.Join(kernelLines(string(fresh)), "\n"))
			}
		}
	}
}

// Arguments the base had before ours are not ours to drop, even when
// KERNEL_ARGS repeats them.
func TestPatchGrubKeepsTheBasesOwnArgs(t *testing.T) {
	cfg := "menuentry \"x\" {\n\tlinux /casper/vmlinuz quiet console=tty0 ---\n}\n"
	once, err := PatchGrub([]byte(cfg), "v1.0.0", "console=tty0 splash")
	if err != nil {
		t.Fatal(err)
	}
	twice, err := PatchGrub(once, "v1.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	want := `linux /casper/vmlinuz quiet console=tty0 autoinstall ds=nocloud\;s=/cdrom/nocloud/ ---`
	if got := kernelLines(string(twice)); len(got) != 2 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPatchGrubEscapesSemicolonInExtraArgs(t *testing.T) {
	out, err := PatchGrub([]byte(ubuntuLoopbackCfg), "v1.0.0", `foo=a;b bar=c\;d`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `foo=a\;b bar=c\;d ---`) {
		t.Errorf("semicolons not escaped exactly once:\n%s", out)
	}
}

func TestPatchGrubRefusesBadInput(t *testing.T) {
	cases := []struct {
		name    string
		cfg     string
		extra   string
		wantErr error
	}{
		{"no casper entry", "menuentry \"Debian\" {\n\tlinux /boot/vmlinuz root=/dev/sda1\n}\n", "", ErrNoCasperEntry},
		{"empty config", "", "", ErrNoCasperEntry},
		{"comment in args", ubuntuGrubCfg, "#evil", ErrBadKernelArgs},
		{"brace in args", ubuntuGrubCfg, "a}b", ErrBadKernelArgs},
		{"unbalanced quote", ubuntuGrubCfg, `x="y`, ErrBadKernelArgs},
		// GRUB expands variables: the kernel would get v= (or the value
		// of GRUB's $root), not v=$root.
		{"variable", ubuntuGrubCfg, `v=$root`, ErrBadKernelArgs},
		{"braced variable", ubuntuGrubCfg, `v=${root}`, ErrBadKernelArgs},
		// GRUB removes quotes (and a backslash before anything but ';'):
		// the kernel would get q=a\;b, q=c\;d, p=ab.
		{"double quotes", ubuntuGrubCfg, `q="a;b"`, ErrBadKernelArgs},
		{"single quotes", ubuntuGrubCfg, `q='c;d'`, ErrBadKernelArgs},
		{"balanced quotes without ';'", ubuntuGrubCfg, `q="a"`, ErrBadKernelArgs},
		{"backslash", ubuntuGrubCfg, `p=a\b`, ErrBadKernelArgs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PatchGrub([]byte(c.cfg), "v1.0.0", c.extra)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if c.extra != "" && !strings.Contains(err.Error(), strconv.Quote(c.extra)) {
				t.Errorf("error does not name the argument %q: %v", c.extra, err)
			}
		})
	}
}

func TestPatchGrubKernelLineWithoutSeparator(t *testing.T) {
	cfg := "menuentry \"x\" {\n\tlinux /casper/vmlinuz quiet\n}\n"
	out, err := PatchGrub([]byte(cfg), "v1.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := kernelLines(string(out)); got[0] != `linux /casper/vmlinuz quiet autoinstall ds=nocloud\;s=/cdrom/nocloud/` {
		t.Errorf("got %q", got[0])
	}
}

func TestHasCasperEntry(t *testing.T) {
	if !HasCasperEntry([]byte(ubuntuGrubCfg)) {
		t.Error("Ubuntu grub.cfg not recognised")
	}
	if HasCasperEntry([]byte("linux /vmlinuz root=/dev/sda1\n")) {
		t.Error("non-casper kernel accepted")
	}
}
