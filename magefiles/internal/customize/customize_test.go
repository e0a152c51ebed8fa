package customize

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// baseTree writes an Ubuntu-like extracted base (grub.cfg, loopback.cfg,
// .disk/info) and the seed files, and returns Options using them.
func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"base/boot/grub/grub.cfg":     ubuntuGrubCfg,
		"base/boot/grub/loopback.cfg": ubuntuLoopbackCfg,
		"base/.disk/info":             `Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230807.2)`,
		"seed/user-data":              validUserData,
		"seed/meta-data":              "instance-id: test\n",
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Options{Version: "v2.0.0", KernelArgs: "console=ttyS0", UserData: filepath.Join(dir, "seed/user-data"),
		MetaData: filepath.Join(dir, "seed/meta-data"), BaseTree: filepath.Join(dir, "base"), OutDir: filepath.Join(dir, "out")}
}

func TestCustomizeWritesTheISOFiles(t *testing.T) {
	o := testOptions(t)
	r, err := Customize(o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{DiskInfoPath, GrubCfgPath, LoopbackCfgPath, MetaDataPath, UserDataPath, VersionPath}
	if strings.Join(r.Files, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", r.Files, want)
	}
	read := func(p string) string {
		data, err := os.ReadFile(r.Path(p))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if read(VersionPath) != "v2.0.0\n" || read(UserDataPath) != validUserData || read(MetaDataPath) != "instance-id: test\n" {
		t.Error("VERSION or the seed files are wrong")
	}
	if !strings.Contains(read(GrubCfgPath), AutoinstallArgs+" console=ttyS0 ---") || !strings.Contains(read(LoopbackCfgPath), AutoinstallArgs+" console=ttyS0 ---") {
		t.Error("grub configs not patched")
	}
	if !strings.HasSuffix(read(DiskInfoPath), "\nNovaSphere installer v2.0.0") {
		t.Errorf(".disk/info = %q", read(DiskInfoPath))
	}
	loaded, err := Load(o.OutDir)
	if err != nil || loaded.VolumeID != "NOVASPHERE v2.0.0" || loaded.Version != "v2.0.0" {
		t.Errorf("Load = %+v, %v", loaded, err)
	}
}

func TestCustomizeRewritesOnlyWhatChanged(t *testing.T) {
	o := testOptions(t)
	r, err := Customize(o)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range r.Files {
		if err := os.Chtimes(r.Path(p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	o.KernelArgs = "console=ttyS1"
	if _, err := Customize(o); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Files {
		fi, err := os.Stat(r.Path(p))
		if err != nil {
			t.Fatal(err)
		}
		changed := fi.ModTime().After(old)
		if wantChanged := p == GrubCfgPath || p == LoopbackCfgPath; changed != wantChanged {
			t.Errorf("%s rewritten = %v, want %v", p, changed, wantChanged)
		}
	}
}

func TestCustomizeChecksBeforeWriting(t *testing.T) {
	cases := []struct {
		name    string
		change  func(t *testing.T, o *Options)
		wantErr error
	}{
		{"invalid user-data", func(t *testing.T, o *Options) {
			if err := os.WriteFile(o.UserData, []byte("autoinstall:\n  version: 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrInvalidUserData},
		{"base without casper entry", func(t *testing.T, o *Options) {
			if err := os.WriteFile(filepath.Join(o.BaseTree, "boot/grub/grub.cfg"), []byte("linux /vmlinuz\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrNoCasperEntry},
		{"bad kernel arguments", func(t *testing.T, o *Options) { o.KernelArgs = "a{b" }, ErrBadKernelArgs},
		{"GRUB variable in kernel arguments", func(t *testing.T, o *Options) { o.KernelArgs = "console=ttyS0 v=$root" }, ErrBadKernelArgs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t)
			c.change(t, &o)
			if _, err := Customize(o); !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if _, err := os.Stat(o.OutDir); !os.IsNotExist(err) {
				t.Errorf("%s was written although a check failed", o.OutDir)
			}
		})
	}
}

// GRUB_TIMEOUT and GRUB_TITLE, as config reads them, reach the menu.
func TestGrubSettingsReachTheMenu(t *testing.T) {
	o := Options{Version: "v1.0.0", GrubTimeout: "7", GrubTitle: "Install {version} now"}
	out, err := PatchGrubWith([]byte(ubuntuGrubCfg), o.GrubOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "set timeout=7\n") || !strings.Contains(string(out), `menuentry "Install v1.0.0 now" {`) {
		t.Errorf("settings not applied:\n%s", out)
	}
}
