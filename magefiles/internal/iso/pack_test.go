package iso_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	. "github.com/novasphere/novasphere-iso/magefiles/internal/iso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/qemu"
)

func TestPackKeepsBootEquipmentOfBase(t *testing.T) {
	p := sharedPack(t)
	ctx := context.Background()
	base, err := ReadReport(ctx, p.base.ISO)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ReadReport(ctx, p.res.ISO)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-b '/boot/grub/i386-pc/eltorito.img'", "-e '--interval:appended_partition_2", "--grub2-mbr", "-append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b"} {
		if !strings.Contains(out.ElTorito, want) {
			t.Errorf("output lacks %q:\n%s", want, out.ElTorito)
		}
	}
	if b, o := normaliseReport(base), normaliseReport(out); b != o {
		t.Errorf("boot equipment differs beyond addresses and sizes:\n--- base\n%s\n--- output\n%s", b, o)
	}
	if !strings.Contains(out.ElTorito, "-V 'NOVASPHERE "+testVersion+"'") {
		t.Errorf("volume id not set:\n%s", out.ElTorito)
	}
	if !hasJoliet(t, p.res.ISO) {
		t.Error("the output has no Joliet tree")
	}
}

func TestPackPutsPayloadAndIdentityOnISO(t *testing.T) {
	p := sharedPack(t)
	root := p.opts.Root
	tree, err := payload.Walk(root, payload.Dirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tree.Files() {
		want, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(p.tree, "novasphere", filepath.FromSlash(f.Rel)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("/novasphere/%s differs from %s (%v)", f.Rel, f.Path, err)
		}
	}
	expectFile(t, p.tree, "novasphere/VERSION", []byte(testVersion+"\n"))
	for _, name := range []string{"user-data", "meta-data"} {
		want, err := os.ReadFile(filepath.Join(root, "configs", "autoinstall", name))
		if err != nil {
			t.Fatal(err)
		}
		expectFile(t, p.tree, "nocloud/"+name, want)
	}
	info, err := os.ReadFile(filepath.Join(p.tree, ".disk", "info"))
	if err != nil || !strings.HasSuffix(string(info), "\nNovaSphere installer "+testVersion) {
		t.Errorf("/.disk/info = %q (%v)", info, err)
	}
	for _, cfg := range []string{"boot/grub/grub.cfg", "boot/grub/loopback.cfg"} {
		data, err := os.ReadFile(filepath.Join(p.tree, cfg))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), customize.AutoinstallArgs+" "+testKernelArgs+" ---") {
			t.Errorf("%s lacks the autoinstall arguments:\n%s", cfg, data)
		}
	}
}

func expectFile(t *testing.T, tree, rel string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(rel)))
	if err != nil {
		t.Errorf("/%s: %v", rel, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/%s = %q, want %q", rel, got, want)
	}
}

func TestPackManifestChecksEveryPayloadFile(t *testing.T) {
	p := sharedPack(t)
	dir := filepath.Join(p.tree, "novasphere")
	manifest, err := os.ReadFile(filepath.Join(dir, payload.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSuffix(string(manifest), "\n"), "\n") {
		listed = append(listed, line[66:])
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			if rel != payload.ManifestName {
				files = append(files, filepath.ToSlash(rel))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if strings.Join(listed, "\n") != strings.Join(files, "\n") {
		t.Errorf("MANIFEST.sha256 lists\n%s\nbut /novasphere holds\n%s", strings.Join(listed, "\n"), strings.Join(files, "\n"))
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", payload.ManifestName)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c MANIFEST.sha256: %v\n%s", err, out)
	}
	sum, _ := hexSHA256File(filepath.Join(dir, payload.ManifestName))
	if p.res.BuildRecord.PayloadManifestSHA256 != sum {
		t.Errorf("build record manifest digest %s, MANIFEST.sha256 is %s", p.res.BuildRecord.PayloadManifestSHA256, sum)
	}
}

func TestPackMD5SumMatchesEveryFile(t *testing.T) {
	p := sharedPack(t)
	s := checkMD5Sum(t, p.tree)
	for _, want := range []string{"  ./novasphere/VERSION\n", "  ./novasphere/MANIFEST.sha256\n", "  ./novasphere/scripts/install.sh\n", "  ./nocloud/user-data\n", "  ./boot/grub/grub.cfg\n", "  ./casper/vmlinuz\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("md5sum.txt lacks %q", want)
		}
	}
	for _, never := range []string{"./md5sum.txt", "./boot/grub/i386-pc/eltorito.img", "./boot.catalog"} {
		if strings.Contains(s, never+"\n") {
			t.Errorf("md5sum.txt lists %s, which Ubuntu leaves out", never)
		}
	}
	// Lines of unchanged base files are kept as they were.
	baseSum, err := os.ReadFile(p.extract.Path(MD5SumTxt))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(baseSum), "\n") {
		if strings.HasSuffix(line, "./casper/vmlinuz") && !strings.Contains(s, line+"\n") {
			t.Errorf("base line %q not kept", line)
		}
	}
}

// checkMD5Sum checks every line of the extracted ISO tree's md5sum.txt
// against the file it names, and their order, and returns the file.
func checkMD5Sum(t *testing.T, tree string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tree, "md5sum.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	paths := make([]string, len(lines))
	for i, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || !strings.HasPrefix(name, "./") {
			t.Fatalf("md5sum.txt line %d: %q", i+1, line)
		}
		paths[i] = name
		content, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := md5.Sum(content); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: md5sum.txt says %s, the file is %x", name, sum, got)
		}
	}
	if !sort.StringsAreSorted(paths) {
		t.Error("md5sum.txt is not sorted by path bytes")
	}
	return string(data)
}

func TestPackNormalisesOwnersModesAndDates(t *testing.T) {
	p := sharedPack(t)
	out, err := exec.Command("xorriso", "-indev", p.res.ISO, "-find", "/novasphere", "-exec", "lsdl", "--",
		"-find", "/nocloud", "-exec", "lsdl", "--", "-lsdl", "/boot/grub/grub.cfg", "/md5sum.txt", "/.disk/info").Output()
	if err != nil {
		t.Fatal(err)
	}
	date := time.Unix(testEpoch, 0).UTC().Format("Jan _2  2006")
	want := map[string]string{
		"'/novasphere'":                    "drwxr-xr-x",
		"'/novasphere/VERSION'":            "-rw-r--r--",
		"'/novasphere/scripts/install.sh'": "-rwxr-xr-x",
		"'/novasphere/configs'":            "drwxr-xr-x",
		"'/nocloud'":                       "dr-xr-xr-x",
		"'/nocloud/user-data'":             "-r--r--r--",
		"'/boot/grub/grub.cfg'":            "-r--r--r--",
		"'/md5sum.txt'":                    "-r--r--r--",
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		name := f[len(f)-1]
		if f[2] != "0" || f[3] != "0" {
			t.Errorf("%s owned by %s:%s, want 0:0", name, f[2], f[3])
		}
		if !strings.Contains(line, date) {
			t.Errorf("%s is not dated %s: %s", name, date, line)
		}
		if mode, ok := want[name]; ok {
			seen++
			if f[0] != mode {
				t.Errorf("%s has mode %s, want %s", name, f[0], mode)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("checked %d of %d paths in:\n%s", seen, len(want), out)
	}
}

func TestPackWritesBuildRecord(t *testing.T) {
	p := sharedPack(t)
	data, err := os.ReadFile(p.res.Record)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "base_iso_sha256", "payload_manifest_sha256", "git_commit", "xorriso_version", "source_date_epoch"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("build record lacks %q: %s", k, data)
		}
	}
	rec := p.res.BuildRecord
	baseSum, _ := hexSHA256File(p.base.ISO)
	if rec.Version != testVersion || rec.BaseISOSHA256 != baseSum || rec.SourceDateEpoch != testEpoch ||
		rec.GitCommit != git.HeadOrEmpty(context.Background(), p.opts.Root) || len(rec.GitCommit) != 40 || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(rec.XorrisoVersion) {
		t.Errorf("build record %+v", rec)
	}
	if filepath.Base(p.res.ISO) != "novasphere-installer-"+testVersion+".iso" {
		t.Errorf("ISO named %s", p.res.ISO)
	}
	if names := distEntries(t, p.opts.DistDir); len(names) != 2 {
		t.Errorf("dist holds %v, want the ISO and its record only", names)
	}
	if !strings.Contains(p.buildLog, "pack: wrote "+p.res.ISO) {
		t.Errorf("the log does not say what was written:\n%s", p.buildLog)
	}
	if strings.Contains(p.buildLog, "UPDATE") || strings.Contains(p.buildLog, "Writing:") {
		t.Errorf("xorriso's progress went to the log:\n%s", p.buildLog)
	}
	// xorriso reports loading the base and each -map on every run ("nodes
	// read", "files added"); on this small ISO it may write before its first
	// "Writing:" report. Only writing progress may reach Progress.
	for _, line := range strings.Split(strings.TrimSuffix(p.progress, "\n"), "\n") {
		if line != "" && !strings.HasPrefix(line, "pack: Writing:") && !strings.HasPrefix(line, "pack: Thank you for being patient.") {
			t.Errorf("progress line %q is not about writing; all progress:\n%s", line, p.progress)
		}
	}
}

// TestPackOutputBoots boots the output four ways (the BIOS and EFI El Torito
// entries from CD, the hybrid MBR and the GPT EFI partition from disk) and
// checks the kernel command line and the version the guest reports.
func TestPackOutputBoots(t *testing.T) {
	p := sharedPack(t)
	cmdlineRE := regexp.MustCompile(`(?m)^NOVASPHERE-CMDLINE: (.*)$`)
	for _, fw := range []qemu.Firmware{qemu.BIOS, qemu.UEFI} {
		for _, media := range []qemu.Media{qemu.CDROM, qemu.Disk} {
			t.Run(fw.String()+"-"+media.String(), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				res, err := qemu.Boot(ctx, qemu.Options{ISO: p.res.ISO, Firmware: fw, Media: media,
					LogPath: filepath.Join(t.TempDir(), "serial.log"), Timeout: 4 * time.Minute})
				if err != nil {
					t.Fatalf("boot: %v", err)
				}
				log, err := os.ReadFile(res.LogPath)
				if err != nil {
					t.Fatal(err)
				}
				m := cmdlineRE.FindSubmatch(log)
				if m == nil {
					t.Fatalf("no NOVASPHERE-CMDLINE line in the serial log:\n%s", log)
				}
				cmdline := " " + string(bytes.TrimSpace(m[1])) + " "
				for _, want := range []string{" autoinstall ", " ds=nocloud;s=/cdrom/nocloud/ ", " console=ttyS0,115200n8 ", " novasphere.test=1 "} {
					if !strings.Contains(cmdline, want) {
						t.Errorf("kernel command line %q lacks %q", cmdline, want)
					}
				}
				if !bytes.Contains(log, []byte("NOVASPHERE-VERSION: "+testVersion+"\n")) && !bytes.Contains(log, []byte("NOVASPHERE-VERSION: "+testVersion+"\r\n")) {
					t.Errorf("serial log lacks NOVASPHERE-VERSION: %s", testVersion)
				}
			})
		}
	}
}

// TestPackIsReproducibleAndIncremental builds twice from copies of the
// payload with different modification times, permissions and build
// directories: the ISOs must be byte-identical. A second pack with nothing
// changed does nothing; touching an input makes it pack again.
func TestPackIsReproducibleAndIncremental(t *testing.T) {
	base := sharedPack(t).base
	rootA, rootB := copyPayload(t), copyPayload(t)
	later := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(rootB, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if err := os.Chmod(p, 0o664|mustMode(t, p)&0o111); err != nil {
				return err
			}
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a, optsA, err := remasterIn(t, base.ISO, rootA, dirA, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := remasterIn(t, base.ISO, rootB, dirB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFile(t, a.ISO, b.ISO) {
		t.Fatal("two builds from the same inputs differ")
	}
	if !sameFile(t, a.Record, b.Record) {
		t.Error("two builds from the same inputs have different build records")
	}

	before := mustStat(t, a.ISO)
	var log strings.Builder
	again, _, err := remasterIn(t, base.ISO, rootA, dirA, func(o *RemasterOptions) { o.Log = &log })
	if err != nil {
		t.Fatal(err)
	}
	after := mustStat(t, a.ISO)
	if !again.UpToDate || !after.ModTime().Equal(before.ModTime()) || !strings.Contains(log.String(), "up to date") {
		t.Fatalf("second pack with no change was not a no-op: up to date %v, mtime %v -> %v, log:\n%s", again.UpToDate, before.ModTime(), after.ModTime(), log.String())
	}

	// Touching a payload file (same content) makes pack run again, with
	// the same result.
	time.Sleep(10 * time.Millisecond)
	now := time.Now()
	if err := os.Chtimes(filepath.Join(optsA.Root, "scripts", "install.sh"), now, now); err != nil {
		t.Fatal(err)
	}
	third, _, err := remasterIn(t, base.ISO, rootA, dirA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if third.UpToDate {
		t.Fatal("pack said up to date after an input changed")
	}
	if !sameFile(t, third.ISO, b.ISO) {
		t.Error("rebuilding after touching an input changed the ISO")
	}

	// An in-place edit of the same size with the modification time set
	// back (cp -p, rsync, tar, CI caches) makes pack run again too.
	script := filepath.Join(optsA.Root, "scripts", "install.sh")
	edited := editInPlace(t, script, []byte("install.sh: runs"))
	fourth, _, err := remasterIn(t, base.ISO, rootA, dirA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.UpToDate {
		t.Fatal("pack said up to date after a payload file was edited in place with its time set back")
	}
	onISO := filepath.Join(t.TempDir(), "install.sh")
	if err := ExtractFiles(context.Background(), fourth.ISO, map[string]string{"/novasphere/scripts/install.sh": onISO}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(onISO); err != nil || !bytes.Contains(got, edited) {
		t.Errorf("the ISO does not hold the edited install.sh (%v)", err)
	}
}

func mustMode(t *testing.T, p string) os.FileMode { return mustStat(t, p).Mode() }

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := hexSHA256File(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := hexSHA256File(b)
	if err != nil {
		t.Fatal(err)
	}
	return sa == sb
}

func hexSHA256File(p string) (string, error) {
	sum := pinOf(p)
	if sum == strings.Repeat("0", 64) {
		return "", fmt.Errorf("cannot read %s", p)
	}
	return sum, nil
}

// TestPackBadInputs: each bad input gives its own error and leaves no ISO
// (and no temporary file) in dist.
func TestPackBadInputs(t *testing.T) {
	base := sharedPack(t).base
	realRoot, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		change  func(t *testing.T, o *RemasterOptions)
		wantErr []error
		inMsg   string
	}{
		{"bad version", func(t *testing.T, o *RemasterOptions) { o.Version = "1.0" }, []error{config.ErrBadVersion}, "YYYYMMDD"},
		{"version too long for the volume id", func(t *testing.T, o *RemasterOptions) { o.Version = "v123456789.123456789.1-rc.1" }, []error{config.ErrBadVersion}, "32"},
		{"symlink escaping the payload", func(t *testing.T, o *RemasterOptions) {
			o.Root = copyPayload(t)
			if err := os.Symlink("../../../etc/shadow", filepath.Join(o.Root, "charts", "novasphere", "secrets")); err != nil {
				t.Fatal(err)
			}
		}, []error{payload.ErrEscapingSymlink}, "charts/novasphere/secrets"},
		{"invalid user-data", func(t *testing.T, o *RemasterOptions) {
			o.Root = copyPayload(t)
			data := "#cloud-config\nautoinstall:\n  version: 1\n  identity: {username: u, hostname: h, password: '!'}\n  shutdown: halt\n"
			if err := os.WriteFile(filepath.Join(o.Root, "configs", "autoinstall", "user-data"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []error{customize.ErrInvalidUserData}, "user-data:5: key autoinstall.shutdown"},
		{"a .deb whose dependency is missing", func(t *testing.T, o *RemasterOptions) {
			o.Root = copyPayload(t)
			_, err := testiso.BuildDeb(context.Background(), filepath.Join(o.Root, "packages"),
				testiso.Deb{Package: "novasphere-agent", Version: "1.2.0", Depends: "libnope1 (>= 2.1)"})
			if err != nil {
				t.Fatal(err)
			}
		}, nil, "packages/novasphere-agent_1.2.0_amd64.deb: Depends libnope1 (>= 2.1)"},
		{"missing base ISO", func(t *testing.T, o *RemasterOptions) { o.Base = filepath.Join(t.TempDir(), "nope.iso") }, nil, "nope.iso"},
		{"base without casper entry", func(t *testing.T, o *RemasterOptions) {
			o.Base = makeISO(t, map[string]string{
				"boot/grub/grub.cfg": "menuentry \"Debian\" {\n\tlinux /boot/vmlinuz root=/dev/sda1\n}\n",
				".disk/info":         "Debian",
			})
		}, []error{ErrNotLiveServer, customize.ErrNoCasperEntry}, "/boot/grub/grub.cfg"},
		{"base without grub.cfg", func(t *testing.T, o *RemasterOptions) {
			o.Base = makeISO(t, map[string]string{"README": "not an installer"})
		}, []error{ErrNotLiveServer}, "/boot/grub/grub.cfg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, o, err := remasterIn(t, base.ISO, realRoot, dir, func(o *RemasterOptions) { c.change(t, o) })
			for _, want := range c.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want %v", err, want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), c.inMsg) {
				t.Errorf("error does not mention %q: %v", c.inMsg, err)
			}
			if names := distEntries(t, o.DistDir); len(names) > 0 {
				t.Errorf("dist holds %v after a failure", names)
			}
		})
	}
}

// TestPackCancelledLeavesNothing stops pack as soon as its temporary ISO
// appears in dist, that is while xorriso starts or writes: no ISO, no record
// and no temporary file remain.
func TestPackCancelledLeavesNothing(t *testing.T) {
	base := sharedPack(t).base
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := RemasterOptions{Base: base.ISO, Root: root, BuildDir: filepath.Join(dir, "build"), DistDir: filepath.Join(dir, "dist"),
		Version: testVersion, SourceDateEpoch: testEpoch}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Remaster(ctx, o)
		done <- err
	}()
	tmpPattern := filepath.Join(o.DistDir, ".novasphere-installer-"+testVersion+".iso.*.tmp")
	for {
		if m, _ := filepath.Glob(tmpPattern); len(m) > 0 {
			cancel()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("pack ended before its temporary file was seen: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	err = <-done
	if err == nil {
		t.Fatal("cancelled pack succeeded")
	}
	// Said as what happened, with nothing that reads like a bad base.
	if msg := err.Error(); !strings.Contains(msg, "interrupted") || strings.Contains(msg, "MISHAP") || strings.Contains(msg, "Read error") {
		t.Errorf("a cancelled pack says %q; want \"interrupted\" and no xorriso read errors", msg)
	}
	if names := distEntries(t, o.DistDir); len(names) > 0 {
		t.Errorf("dist holds %v after a cancelled pack", names)
	}
}

// TestPackRemasteringAnInstallerReplacesItsPayload uses an installer ISO as
// the base: the old /novasphere and /nocloud go away entirely, and
// md5sum.txt lists only what is there now.
func TestPackRemasteringAnInstallerReplacesItsPayload(t *testing.T) {
	first := sharedPack(t)
	root := copyPayload(t)
	if err := os.Remove(filepath.Join(root, "packages", "README.md")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, _, err := remasterIn(t, first.res.ISO, root, dir, func(o *RemasterOptions) {
		o.Version, o.KernelArgs = "v1.2.4", "novasphere.test=2"
	})
	if err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	if err := ExtractTree(context.Background(), res.ISO, tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tree, "novasphere", "packages", "README.md")); !os.IsNotExist(err) {
		t.Errorf("a file removed from the payload is still on the ISO (%v)", err)
	}
	expectFile(t, tree, "novasphere/VERSION", []byte("v1.2.4\n"))
	md5s := checkMD5Sum(t, tree)
	if strings.Contains(md5s, "./novasphere/packages/README.md") {
		t.Error("md5sum.txt still lists the removed payload file")
	}
	// The new seed replaces the base's /nocloud: its files are listed.
	for _, want := range []string{"  ./nocloud/user-data\n", "  ./nocloud/meta-data\n", "  ./novasphere/VERSION\n"} {
		if !strings.Contains(md5s, want) {
			t.Errorf("md5sum.txt lacks %q:\n%s", want, md5s)
		}
	}
	grub, err := os.ReadFile(filepath.Join(tree, "boot", "grub", "grub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	// One entry and its erasing copy (the reinstall entry), each with the
	// arguments once: remastering an installer does not add them again.
	if n, e := strings.Count(string(grub), "autoinstall"), strings.Count(string(grub), customize.EraseArg); n != 2 || e != 1 {
		t.Errorf("grub.cfg carries the autoinstall arguments %d times (want 2) and the erase argument %d times (want 1):\n%s", n, e, grub)
	}
	// This build's KERNEL_ARGS replace the base installer's.
	if !strings.Contains(string(grub), customize.AutoinstallArgs+" novasphere.test=2 ---") || strings.Contains(string(grub), "console=ttyS0") {
		t.Errorf("kernel line does not carry exactly this build's KERNEL_ARGS:\n%s", grub)
	}
	if !strings.Contains(string(grub), `menuentry "Install NovaSphere v1.2.4" {`) {
		t.Errorf("menu title not updated:\n%s", grub)
	}
	info, _ := os.ReadFile(filepath.Join(tree, ".disk", "info"))
	if strings.Count(string(info), "NovaSphere installer") != 1 || !strings.HasSuffix(string(info), "v1.2.4") {
		t.Errorf("/.disk/info = %q", info)
	}
}
