package installproof

import (
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
)

// guardScript is the repository's scripts/reinstall-guard.sh.
func guardScript(t *testing.T) string {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "scripts", "reinstall-guard.sh")
}

// ext4Dir is a directory tree holding files.
func ext4Dir(t *testing.T, files map[string]string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	for name, content := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// ext4Image makes a small real ext4 file system image holding files
// (mkfs.ext4 -d, no root needed), standing in for a partition.
func ext4Image(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for name, content := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "part.img")
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", tree, img, "8M").CombinedOutput()
	if err != nil {
		t.Fatalf("mkfs.ext4 (e2fsprogs; `go run magefile.go test` installs it): %v\n%s", err, out)
	}
	return img
}

func fileDigest(t *testing.T, p string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// TestReinstallGuard runs scripts/reinstall-guard.sh, the first
// early-command of the shipped user-data, against real ext4 images standing
// in for the disks of a machine: it stops (exit 1, a console message, the
// images unchanged) when one holds an installed NovaSphere's marker, lets a
// blank or foreign machine be installed, and lets the erasing menu entry's
// kernel argument through.
func TestReinstallGuard(t *testing.T) {
	script := guardScript(t)
	marker := "NovaSphere v1.2.3\n"
	separateBoot := ext4Image(t, map[string]string{"novasphere-installed": marker, "vmlinuz": "k"})
	rootWithBoot := ext4Image(t, map[string]string{"boot/novasphere-installed": marker, "etc/hostname": "novasphere\n"})
	foreign := ext4Image(t, map[string]string{"etc/os-release": "ID=debian\n"})
	// The live system's squashfs loop devices: debugfs says on standard
	// output that they hold squashfs, which is not a marker.
	squashfs := filepath.Join(t.TempDir(), "live.squashfs")
	if out, err := exec.Command("mksquashfs", ext4Dir(t, map[string]string{"novasphere-installed": marker}), squashfs, "-quiet", "-noappend").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, out)
	}
	// A file system that holds the marker path with something else in it.
	otherMarker := ext4Image(t, map[string]string{"boot/novasphere-installed": "not ours\n"})
	blank := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(blank, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := "BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ console=ttyS0 ---"
	erase := "BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ " + customize.EraseArg + " ---"
	cases := []struct {
		name    string
		devices []string
		cmdline string
		debugfs string // NOVASPHERE_GUARD_DEBUGFS; empty: debugfs
		stops   bool
		want    []string
	}{
		{name: "installed, lvm layout (marker on the separate /boot)", devices: []string{blank, foreign, separateBoot}, cmdline: plain, stops: true,
			want: []string{"NOVASPHERE-REINSTALL-GUARD: this machine already has NovaSphere installed: NovaSphere v1.2.3 (marker /novasphere-installed on " + separateBoot + ")",
				"nothing was changed", `reinstall, ERASES the disk`}},
		{name: "installed, direct layout (marker in the root's /boot)", devices: []string{rootWithBoot}, cmdline: plain, stops: true,
			want: []string{"NovaSphere v1.2.3 (marker /boot/novasphere-installed on " + rootWithBoot + ")"}},
		{name: "blank and foreign disks, the live squashfs", devices: []string{blank, foreign, squashfs, otherMarker}, cmdline: plain,
			want: []string{"no installed NovaSphere found: installing"}},
		{name: "installed, erasing menu entry", devices: []string{separateBoot}, cmdline: erase,
			want: []string{customize.EraseArg + " is on the kernel command line: an installed NovaSphere will be ERASED"}},
		{name: "debugfs missing", devices: []string{foreign}, cmdline: plain, debugfs: "debugfs-not-installed", stops: true,
			want: []string{"cannot look for an installed NovaSphere: debugfs (e2fsprogs) is missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string][32]byte{}
			for _, d := range tc.devices {
				before[d] = fileDigest(t, d)
			}
			cmdline := filepath.Join(t.TempDir(), "cmdline")
			if err := os.WriteFile(cmdline, []byte(tc.cmdline+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", script)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NOVASPHERE_GUARD_DEBUGFS=" + tc.debugfs, "NOVASPHERE_GUARD_CMDLINE=" + cmdline,
				"NOVASPHERE_GUARD_DEVICES=" + strings.Join(tc.devices, " "), "NOVASPHERE_GUARD_KMSG="}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if stopped := err != nil; stopped != tc.stops {
				t.Errorf("guard stopped the install: %v, want %v\n%s", stopped, tc.stops, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, d := range tc.devices {
				if fileDigest(t, d) != before[d] {
					t.Errorf("the guard changed %s", d)
				}
			}
		})
	}
}
