package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readNewc lists a newc archive's entries (name -> data), stopping at the
// trailer; it fails the test on anything malformed.
func readNewc(t *testing.T, b []byte) (map[string][]byte, map[string]uint32) {
	t.Helper()
	data, modes := map[string][]byte{}, map[string]uint32{}
	off := 0
	field := func(i int) int {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("field %d at %d: %v", i, off, err)
		}
		return int(v)
	}
	for {
		if off%4 != 0 || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		mode, size, nameSize := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+nameSize-1])
		off = (off + 110 + nameSize + 3) &^ 3
		if name == "TRAILER!!!" {
			return data, modes
		}
		data[name], modes[name] = b[off:off+size], uint32(mode)
		off = (off + size + 3) &^ 3
	}
}

func TestCPIOArchive(t *testing.T) {
	root := t.TempDir()
	for _, err := range []error{
		os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755),
		os.MkdirAll(filepath.Join(root, "etc/lvm"), 0o755),
		os.WriteFile(filepath.Join(root, "usr/sbin/lvm"), []byte("#!binary"), 0o755),
		os.Symlink("usr/sbin", filepath.Join(root, "sbin")), // merged /usr
		os.WriteFile(filepath.Join(root, "etc/lvm/lvm.conf"), []byte("config {}\n"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	iso := []byte("gzip-bytes-of-the-iso-initrd")
	img, err := installedInitramfs(iso, root, []string{"/sbin/lvm", "/etc/lvm/lvm.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, iso) {
		t.Fatal("the ISO's initramfs is not first")
	}
	rest := img[len(iso):]
	pad := (512 - len(iso)%512) % 512
	if !bytes.Equal(rest[:pad], make([]byte, pad)) {
		t.Fatal("the padding is not zeros")
	}
	data, modes := readNewc(t, rest[pad:])
	if string(data["sbin/lvm"]) != "#!binary" || modes["sbin/lvm"] != 0o100755 {
		t.Errorf("sbin/lvm: %q mode %o (read through the /sbin link, at the path asked for)", data["sbin/lvm"], modes["sbin/lvm"])
	}
	if string(data["etc/lvm/lvm.conf"]) != "config {}\n" || modes["etc/lvm"] != 0o040755 || modes["sbin"] != 0o040755 {
		t.Errorf("entries %v", modes)
	}
}

// TestELFClosure finds the loader and libraries of a real executable of
// this machine, as the installer does for the target's lvm.
func TestELFClosure(t *testing.T) {
	libs, err := elfClosure("/", "/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range libs {
		names = append(names, filepath.Base(l))
		if _, err := os.Stat(l); err != nil {
			t.Error(err)
		}
	}
	for _, want := range []string{"ld-linux-x86-64.so.2", "libc.so.6"} {
		if !slices.Contains(names, want) {
			t.Errorf("closure of /bin/ls %v lacks %s", libs, want)
		}
	}
	if _, err := elfClosure(t.TempDir(), "/bin/ls"); err == nil {
		t.Error("no error for a root without the executable")
	}
}

func TestPatchBIOSGrub(t *testing.T) {
	boot, core := make([]byte, 512), make([]byte, 4096)
	binary.LittleEndian.PutUint64(boot[0x5c:], 1)
	binary.LittleEndian.PutUint64(core[0x1f4:], 2)
	if err := patchBIOSGrub(boot, core, 2048); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(boot[0x5c:]) != 2048 || binary.LittleEndian.Uint64(core[0x1f4:]) != 2049 {
		t.Errorf("boot.img points at %d, core.img's block list at %d", binary.LittleEndian.Uint64(boot[0x5c:]), binary.LittleEndian.Uint64(core[0x1f4:]))
	}
	if err := patchBIOSGrub(boot, core, 2048); err == nil || !strings.Contains(err.Error(), "not grub-mkimage's default") {
		t.Errorf("patching twice: %v", err)
	}
}

func TestFstabAndSfdisk(t *testing.T) {
	l, err := guidedLayout(40*gib, true, "lvm", "all")
	if err != nil {
		t.Fatal(err)
	}
	script := sfdiskScript(l)
	for _, want := range []string{"label: gpt\n", "start=2048, size=", "type=" + typeESP, "type=" + typeLinux} {
		if !strings.Contains(script, want) {
			t.Errorf("sfdisk script lacks %q:\n%s", want, script)
		}
	}
	ms := []mounted{
		{dev: "/dev/sda1", path: "/boot/efi", fstype: "vfat", spec: "/dev/disk/by-uuid/AB-CD"},
		{dev: "/dev/sda2", path: "/boot", fstype: "ext4", spec: "/dev/disk/by-uuid/u2"},
		{dev: lvDevice, path: "/", fstype: "ext4", spec: dmUUIDSpec("aaaa-bb", "cc-dd")},
	}
	sortMounts(ms)
	if ms[0].path != "/" || ms[1].path != "/boot" || ms[2].path != "/boot/efi" {
		t.Errorf("mount order %+v", ms)
	}
	fstab := fstabLines(ms)
	if !strings.Contains(fstab, "/dev/disk/by-id/dm-uuid-LVM-aaaabbccdd / ext4 defaults 0 1\n") ||
		!strings.Contains(fstab, "/dev/disk/by-uuid/AB-CD /boot/efi vfat defaults 0 1\n") {
		t.Errorf("fstab:\n%s", fstab)
	}
}
