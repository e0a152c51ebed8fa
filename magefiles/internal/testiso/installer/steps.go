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

// execLive runs a command chrooted into the live system with its output on
// the console.
func (in *installer) execLive(argv []string, env ...string) error {
	c, err := chrootCommand(live, argv)
	if err != nil {
		return err
	}
	c.Env = append(c.Env, env...)
	c.Stdout, c.Stderr = in.out, in.out
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited with status %d", strings.Join(argv, " "), ee.ExitCode())
		}
		return fmt.Errorf("%s: %w", argv[0], err)
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
// /run/layers, and makes the live system the installer's tools and command
// lists run in at /run/live: the bottom layer under a writable overlay (as
// casper's live root), with /dev, /proc, /sys, a /run and the ISO at /cdrom.
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
	for _, d := range []string{live, liveRW} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := in.mount("-t", "tmpfs", "tmpfs", liveRW); err != nil {
		return err
	}
	for _, d := range []string{liveRW + "/upper", liveRW + "/work"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", filepath.Join(layersDir, "0"), liveRW, liveRW)
	if err := in.mount("-t", "overlay", "-o", opts, "overlay", live); err != nil {
		return err
	}
	if err := os.MkdirAll(live+cdrom, 0o755); err != nil {
		return err
	}
	for _, m := range [][]string{
		{"-t", "devtmpfs", "devtmpfs", live + "/dev"},
		{"-t", "proc", "proc", live + "/proc"},
		{"-t", "sysfs", "sysfs", live + "/sys"},
		{"-t", "tmpfs", "tmpfs", live + "/run"},
		{"--bind", cdrom, live + cdrom},
	} {
		if err := in.mount(m...); err != nil {
			return err
		}
	}
	return os.MkdirAll(live+"/run/lock/lvm", 0o700)
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

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// unmount undoes every mount of the installer except /cdrom, the target's
// deepest first, and deactivates ubuntu-vg.
func (in *installer) unmount() error {
	var errs []error
	var paths []string
	for i := len(in.mounts) - 1; i >= 0; i-- {
		paths = append(paths, target+in.mounts[i].path)
	}
	for _, p := range paths {
		if err := in.exec("umount", []string{p}); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", p, err))
		}
	}
	if err := in.deactivate(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []string{live + cdrom, live + "/run", live + "/sys", live + "/proc", live + "/dev", live, liveRW} {
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
