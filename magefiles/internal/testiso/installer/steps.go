package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// systemPath is PATH for commands: the installer's busybox first, then the
// live layer's tools (through chroot only) are not in it.
const systemPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// exec runs a command with its output on the console.
func (in *installer) exec(name string, args []string, env ...string) error {
	c := exec.Command(name, args...)
	c.Env = append([]string{systemPath, "HOME=/root", "LANG=C.UTF-8"}, env...)
	c.Stdin = nil
	c.Stdout, c.Stderr = in.out, in.out
	c.Dir = "/"
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited with status %d", strings.Join(append([]string{name}, args...), " "), ee.ExitCode())
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// inLive runs a tool of the live layer (sfdisk, mkfs.ext4, blkid) with
// stdin as its standard input and returns its standard output; standard
// error goes to the console.
func (in *installer) inLive(stdin string, argv ...string) (string, error) {
	c, err := chrootCommand(live, argv)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	c.Stdin = strings.NewReader(stdin)
	c.Stdout, c.Stderr = &out, in.out
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return strings.TrimSpace(out.String()), nil
}

func (in *installer) mount(args ...string) error {
	return in.exec("mount", args)
}

// mountSource mounts every squashfs layer of the chosen install source under
// /run/layers, and the bottom one at /run/live with /dev, /proc and /sys, as
// the live system the installer's tools come from.
func (in *installer) mountSource() error {
	data, err := os.ReadFile(sourcesYAML)
	if err != nil {
		return err
	}
	src, err := pickSource(data, in.ai.Source.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(in.out, "installer: source %s (%s, %s)\n", src.ID, src.Path, src.Type)
	for i, layer := range layerStack(src.Path) {
		dir := filepath.Join(layersDir, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := in.mount("-t", "squashfs", "-o", "loop,ro", filepath.Join(cdrom, "casper", layer), dir); err != nil {
			return fmt.Errorf("mounting layer %s: %w", layer, err)
		}
	}
	if err := os.MkdirAll(live, 0o755); err != nil {
		return err
	}
	if err := in.mount("--bind", filepath.Join(layersDir, "0"), live); err != nil {
		return err
	}
	for _, m := range [][]string{
		{"-t", "devtmpfs", "devtmpfs", live + "/dev"},
		{"-t", "proc", "proc", live + "/proc"},
		{"-t", "sysfs", "sysfs", live + "/sys"},
	} {
		if err := in.mount(m...); err != nil {
			return err
		}
	}
	return nil
}

// storage partitions and formats the target disk and mounts its root at
// /target.
func (in *installer) storage() error {
	disk, err := pickDisk()
	if err != nil {
		return err
	}
	in.disk = "/dev/" + disk
	fmt.Fprintf(in.out, "installer: installing to %s\n", in.disk)
	espSectors, err := sectors(filepath.Join(bootFiles, "esp.img"))
	if err != nil {
		return err
	}
	// MS-DOS label: GRUB's core.img goes in the gap before the first
	// partition; partition 1 is the ESP, 2 the root.
	layout := fmt.Sprintf("label: dos\nunit: sectors\nstart=2048, size=%d, type=ef\nstart=%d, type=83\n", espSectors, 2048+espSectors)
	if _, err := in.inLive(layout, "sfdisk", "--quiet", "--wipe", "always", in.disk); err != nil {
		return err
	}
	esp, root := partition(in.disk, 1), partition(in.disk, 2)
	if err := waitFor(esp, root); err != nil {
		return err
	}
	if err := copyInto(filepath.Join(bootFiles, "esp.img"), esp, 0); err != nil {
		return fmt.Errorf("writing the ESP: %w", err)
	}
	if _, err := in.inLive("", "mkfs.ext4", "-F", "-q", "-L", "novasphere-root", root); err != nil {
		return err
	}
	uuid, err := in.inLive("", "blkid", "-s", "UUID", "-o", "value", root)
	if err != nil {
		return err
	}
	in.root, in.uuid = root, uuid
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	return in.mount("-t", "ext4", root, target)
}

// pickDisk is the largest writable disk that does not hold the ISO, as
// subiquity's guided storage picks the largest disk.
func pickDisk() (string, error) {
	mounts, _ := os.ReadFile("/proc/mounts")
	medium := ""
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == cdrom {
			medium = strings.TrimPrefix(f[0], "/dev/")
		}
	}
	entries, err := os.ReadDir("/sys/block")
	if err != nil {
		return "", err
	}
	type cand struct {
		name string
		size int64
	}
	var cands []cand
	var seen []string
	for _, e := range entries {
		name := e.Name()
		seen = append(seen, name)
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "sr") || name == medium {
			continue
		}
		if ro, _ := os.ReadFile("/sys/block/" + name + "/ro"); strings.TrimSpace(string(ro)) == "1" {
			continue
		}
		s, _ := os.ReadFile("/sys/block/" + name + "/size")
		size, _ := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 64)
		if size*512 < 1<<30 {
			continue
		}
		cands = append(cands, cand{name, size})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no disk of 1 GiB or more to install to besides the install medium %s (block devices: %s)", medium, strings.Join(seen, " "))
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].size > cands[j].size })
	return cands[0].name, nil
}

func partition(disk string, n int) string {
	if last := disk[len(disk)-1]; last >= '0' && last <= '9' {
		return fmt.Sprintf("%sp%d", disk, n)
	}
	return fmt.Sprintf("%s%d", disk, n)
}

func waitFor(paths ...string) error {
	for i := 0; i < 100; i++ {
		ok := true
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				ok = false
			}
		}
		if ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear after partitioning", strings.Join(paths, ", "))
}

func sectors(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.Size()%512 != 0 {
		return 0, fmt.Errorf("%s is %d bytes, not whole sectors", path, st.Size())
	}
	return st.Size() / 512, nil
}

// copyInto writes the file src into the device dst at byte offset off.
func copyInto(src, dst string, off int64) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copySource copies each layer, bottom first, to /target as curtin's
// extract does (it uses rsync -aXHAS; busybox cp -a keeps owners, modes,
// times, links and device files).
func (in *installer) copySource() error {
	layers, err := filepath.Glob(filepath.Join(layersDir, "*"))
	if err != nil {
		return err
	}
	sort.Strings(layers)
	for _, l := range layers {
		if err := in.exec("cp", []string{"-a", l + "/.", target + "/"}); err != nil {
			return fmt.Errorf("copying %s: %w", l, err)
		}
	}
	return nil
}

// curthooks configures the copied system as curtin's curthooks do, in
// outline: fstab, hostname, kernel, boot loader.
func (in *installer) curthooks() error {
	fstab := fmt.Sprintf("# written by the NovaSphere test installer\nUUID=%s / ext4 errors=remount-ro 0 1\n", in.uuid)
	if err := os.WriteFile(target+"/etc/fstab", []byte(fstab), 0o644); err != nil {
		return err
	}
	if h := in.ai.Identity.Hostname; h != "" {
		if err := os.WriteFile(target+"/etc/hostname", []byte(h+"\n"), 0o644); err != nil {
			return err
		}
		hosts := fmt.Sprintf("127.0.0.1 localhost\n127.0.1.1 %s\n", h)
		if err := os.WriteFile(target+"/etc/hosts", []byte(hosts), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(target+"/boot/grub", 0o755); err != nil {
		return err
	}
	for src, dst := range map[string]string{
		cdrom + "/casper/vmlinuz": target + "/boot/vmlinuz",
		cdrom + "/casper/initrd":  target + "/boot/initrd.img",
	} {
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	args := append([]string{"root=UUID=" + in.uuid, "ro"}, in.args.Persist...)
	grubCfg := fmt.Sprintf(`# written by the NovaSphere test installer
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=1
menuentry "Debian GNU/Linux (NovaSphere test install)" {
	search --no-floppy --fs-uuid --set=root %s
	linux /boot/vmlinuz %s
	initrd /boot/initrd.img
}
`, in.uuid, strings.Join(args, " "))
	if err := os.WriteFile(target+"/boot/grub/grub.cfg", []byte(grubCfg), 0o644); err != nil {
		return err
	}
	return in.installGrub()
}

// installGrub writes GRUB for BIOS: boot.img's code into the MBR (the
// partition table is kept) and core.img from sector 1, where boot.img and
// core.img's own block list look for it by default. The UEFI GRUB is on the
// ESP image written by storage.
func (in *installer) installGrub() error {
	boot, err := os.ReadFile(filepath.Join(bootFiles, "boot.img"))
	if err != nil {
		return err
	}
	if len(boot) != 512 {
		return fmt.Errorf("boot.img is %d bytes, want 512", len(boot))
	}
	core, err := os.ReadFile(filepath.Join(bootFiles, "core.img"))
	if err != nil {
		return err
	}
	if len(core) > (2048-1)*512 {
		return fmt.Errorf("core.img is %d bytes: it does not fit before the first partition", len(core))
	}
	f, err := os.OpenFile(in.disk, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(boot[:440], 0); err != nil { // up to the disk signature
		return err
	}
	if _, err := f.WriteAt(core, 512); err != nil {
		return err
	}
	return f.Sync()
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// unmount undoes every mount of the installer except /cdrom.
func (in *installer) unmount() error {
	var errs []error
	for _, p := range []string{target, live + "/sys", live + "/proc", live + "/dev", live} {
		if err := in.exec("umount", []string{p}); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", p, err))
		}
	}
	layers, _ := filepath.Glob(filepath.Join(layersDir, "*"))
	for _, l := range layers {
		if err := in.exec("umount", []string{l}); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", l, err))
		}
	}
	return errors.Join(errs...)
}
