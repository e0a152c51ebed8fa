package installproof

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAndCheckReport(t *testing.T) {
	lines := []string{
		"[   12.3] systemd[1]: Starting novasphere-firstboot.service",
		"NOVASPHERE-FIRSTBOOT version v1.2.3",
		"NOVASPHERE-FIRSTBOOT version v1.2.3", // console and serial port are one device
		"NOVASPHERE-FIRSTBOOT check version ok /opt/novasphere/VERSION",
		"NOVASPHERE-FIRSTBOOT check manifest ok /opt/novasphere/MANIFEST.sha256",
		"NOVASPHERE-FIRSTBOOT check config ok /etc/novasphere/novasphere.yaml",
		"NOVASPHERE-FIRSTBOOT package app 2.1-3 ok",
		"NOVASPHERE-FIRSTBOOT package base 1.0-1 FAILED installed: not installed",
		"NOVASPHERE-FIRSTBOOT result FAILED",
	}
	r := parseReport(lines)
	if r.Version != "v1.2.3" || r.Result != "FAILED" || r.Packages["app"] != "2.1-3 ok" || len(r.Checks) != 3 {
		t.Fatalf("report %+v", r)
	}
	pkgs := []debPackage{{File: "app_2.1-3_all.deb", Name: "app", Version: "2.1-3"},
		{File: "base_1.0-1_all.deb", Name: "base", Version: "1.0-1"},
		{File: "extra_1_all.deb", Name: "extra", Version: "1"}}
	got := strings.Join(checkReport(r, "v1.2.4", pkgs), "\n")
	for _, want := range []string{
		"/opt/novasphere/VERSION on the installed system is v1.2.3, want v1.2.4",
		`offline package base 1.0-1: the installed system reports "1.0-1 FAILED installed: not installed"`,
		"offline package extra (extra_1_all.deb) is not reported installed",
		`result is "FAILED"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "package app") {
		t.Errorf("a package reported ok is a problem:\n%s", got)
	}
	if p := checkReport(parseReport(nil), "v1", nil); len(p) != 5 {
		t.Errorf("an empty report gives %d problems, want 5 (version, three checks, result): %q", len(p), p)
	}
}

func TestPPMToPNG(t *testing.T) {
	dir := t.TempDir()
	ppm := filepath.Join(dir, "s.ppm")
	// 2x1: a red and a blue pixel, with a comment in the header
	data := append([]byte("P6\n# QEMU\n2 1\n255\n"), 255, 0, 0, 0, 0, 255)
	if err := os.WriteFile(ppm, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s.png")
	if err := ppmToPNG(ppm, out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r, _, b, _ := img.At(0, 0).RGBA()
	r2, _, b2, _ := img.At(1, 0).RGBA()
	if img.Bounds().Dx() != 2 || r>>8 != 255 || b != 0 || r2 != 0 || b2>>8 != 255 {
		t.Errorf("decoded %v: pixels %v %v", img.Bounds(), img.At(0, 0), img.At(1, 0))
	}
	for name, bad := range map[string][]byte{
		"ascii PPM":  []byte("P3\n1 1\n255\n0 0 0\n"),
		"short data": append([]byte("P6\n2 2\n255\n"), 1, 2, 3),
		"16-bit PPM": []byte("P6\n1 1\n65535\n\x00\x00\x00\x00\x00\x00"),
		"empty file": nil,
		"bad header": []byte("P6\nx 1\n255\n"),
	} {
		if _, err := readPPM(bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestConsoleLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "serial.log")
	c := &consoleLog{path: p}
	if got := c.poll(false); got != nil {
		t.Fatalf("missing log gave %q", got)
	}
	if err := os.WriteFile(p, []byte("\x1b[1;1HGRUB\r\nNOVASPHERE-FIRSTBOOT ver"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := c.poll(false); len(got) != 1 || got[0] != "GRUB" {
		t.Fatalf("poll = %q", got)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("sion v1\r\n\r\nlast"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := c.poll(false); len(got) != 2 || got[0] != "NOVASPHERE-FIRSTBOOT version v1" {
		t.Fatalf("poll = %q", got)
	}
	if got := c.poll(true); len(got) != 1 || got[0] != "last" {
		t.Fatalf("final poll = %q", got)
	}
	if c.last() != "last" || !strings.Contains(c.describeTail(), "  GRUB\n  NOVASPHERE-FIRSTBOOT version v1\n  last") {
		t.Errorf("tail %q", c.describeTail())
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "some.iso")
	if err := os.WriteFile(iso, []byte("not an ISO"), 0o644); err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"no ISO":          {Options{Version: "v1", DistDir: dist}, "no ISO given"},
		"missing ISO":     {Options{ISO: iso + ".missing", Version: "v1", DistDir: dist}, "some.iso.missing"},
		"no version":      {Options{ISO: iso, DistDir: dist}, "no version given"},
		"no dist":         {Options{ISO: iso, Version: "v1"}, "no output directory"},
		"bad firmware":    {Options{ISO: iso, Version: "v1", DistDir: dist, Firmware: 7}, "unknown firmware"},
		"bad accelerator": {Options{ISO: iso, Version: "v1", DistDir: dist, Accel: "hvf"}, `unknown accelerator "hvf"`},
		"tiny disk":       {Options{ISO: iso, Version: "v1", DistDir: dist, DiskBytes: 1 << 20}, "too small"},
		"missing QEMU":    {Options{ISO: iso, Version: "v1", DistDir: dist, Binary: "qemu-system-nonexistent"}, "qemu-system-nonexistent is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if res.Passed || len(res.Steps) != 0 {
				t.Errorf("result %+v for bad input", res)
			}
		})
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 0 {
		t.Errorf("bad inputs left files in the output directory: %v", entries)
	}
}
