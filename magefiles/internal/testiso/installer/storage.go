package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// lvmConfig is given to every lvm command: the installer environment runs
// no udev, so device-mapper makes its own /dev nodes, and the live layer is
// read-only, so no metadata backups (curtin runs them in a writable live
// system; the backups stay there, not on the target).
const lvmConfig = "activation { udev_sync = 0 udev_rules = 0 } devices { obtain_device_list_from_udev = 0 } backup { backup = 0 archive = 0 }"

// Names of the guided LVM layout (subiquity/server/controllers/
// filesystem.py, guided_lvm).
const (
	vgName = "ubuntu-vg"
	lvName = "ubuntu-lv"
	// lvDevice is the root LV's device-mapper node (dashes doubled).
	lvDevice = "/dev/mapper/ubuntu--vg-ubuntu--lv"
)

// mounted is a file system of the target: its device, where it is mounted
// in the installed system, and how fstab names it.
type mounted struct {
	dev, path, fstype, spec string
	uuid                    string
}

// sfdiskScript is the GPT sfdisk input for a plan, in 512-byte sectors.
func sfdiskScript(l layout) string {
	var b strings.Builder
	b.WriteString("label: gpt\nunit: sectors\n")
	for _, p := range l.Parts {
		fmt.Fprintf(&b, "start=%d, size=%d, type=%s\n", p.Start/512, p.Size/512, p.Type)
	}
	return b.String()
}

// fstabLines are the entries curtin writes for the target's file systems
// (curtin/commands/block_meta.py, get_volume_spec and fstab_line_for_data:
// an LV by its dm-uuid link, a partition by its file system UUID, "defaults
// 0 1"), with the comment curtin puts above each.
func fstabLines(ms []mounted) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "# %s was on %s during curtin installation\n%s %s %s defaults 0 1\n", m.path, m.dev, m.spec, m.path, m.fstype)
	}
	return b.String()
}

// dmUUIDSpec is the /dev/disk/by-id name of an LV (udev's 13-dm-disk.rules:
// dm-uuid-LVM-<VG UUID><LV UUID>, dashes removed).
func dmUUIDSpec(vgUUID, lvUUID string) string {
	return "/dev/disk/by-id/dm-uuid-LVM-" + strings.ReplaceAll(vgUUID, "-", "") + strings.ReplaceAll(lvUUID, "-", "")
}

// isUEFI says whether the installer was booted by UEFI firmware, as curtin
// and subiquity tell (/sys/firmware/efi exists).
func isUEFI() bool {
	_, err := os.Stat("/sys/firmware/efi")
	return err == nil
}

// diskSize is a block device's size in bytes.
func diskSize(name string) (int64, error) {
	s, err := os.ReadFile("/sys/block/" + name + "/size")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/sys/block/%s/size: %w", name, err)
	}
	return n * 512, nil
}

// storage partitions and formats the target disk as subiquity's guided
// layout does (guidedLayout) and mounts the file systems at /target.
func (in *installer) storage() error {
	disk, err := pickDisk()
	if err != nil {
		return err
	}
	in.disk = "/dev/" + disk
	size, err := diskSize(disk)
	if err != nil {
		return err
	}
	in.uefi = isUEFI()
	name, policy := in.ai.layoutName(), ""
	if in.ai.Storage.Layout != nil {
		policy = in.ai.Storage.Layout.SizingPolicy
	}
	l, err := guidedLayout(size, in.uefi, name, policy)
	if err != nil {
		return err
	}
	in.layout = l
	fw := map[bool]string{false: "BIOS", true: "UEFI"}[in.uefi]
	fmt.Fprintf(in.out, "installer: installing to %s (%d MiB, %s): guided %s layout, GPT\n", in.disk, size/mib, fw, name)
	// --wipe and --wipe-partitions: a disk installed before loses its old
	// signatures (a PV label at the same offset would otherwise survive),
	// as subiquity's reformat with wipe: superblock-recursive.
	if _, err := in.inLive(sfdiskScript(l), "sfdisk", "--quiet", "--wipe", "always", "--wipe-partitions", "always", in.disk); err != nil {
		return err
	}
	devs := make([]string, len(l.Parts))
	for i := range l.Parts {
		devs[i] = partition(in.disk, i+1)
	}
	if err := waitFor(devs...); err != nil {
		return err
	}
	var ms []mounted // root first, then in mount order
	for i, p := range l.Parts {
		dev := devs[i]
		desc := fmt.Sprintf("partition %d: %s, %d MiB", i+1, p.Use, p.Size/mib)
		switch p.Use {
		case "bios_grub":
			in.biosGrub = p
		case "esp":
			if _, err := in.inLive("", "mkfs.vfat", "-F", "32", dev); err != nil {
				return err
			}
			m, err := in.withUUID(mounted{dev: dev, path: "/boot/efi", fstype: "vfat"})
			if err != nil {
				return err
			}
			ms = append(ms, m)
		case "boot", "root":
			if _, err := in.inLive("", "mkfs.ext4", "-F", "-q", dev); err != nil {
				return err
			}
			path := map[string]string{"boot": "/boot", "root": "/"}[p.Use]
			m, err := in.withUUID(mounted{dev: dev, path: path, fstype: "ext4"})
			if err != nil {
				return err
			}
			ms = append(ms, m)
		case "pv":
			m, err := in.lvm(dev, l)
			if err != nil {
				return err
			}
			ms = append(ms, m)
			desc += fmt.Sprintf(", %s %d MiB, %s %d MiB", vgName, l.VGSize/mib, lvName, l.LVSize/mib)
		}
		fmt.Fprintf(in.out, "installer: %s\n", desc)
	}
	sortMounts(ms)
	in.mounts = ms
	for _, m := range ms {
		dir := target + m.path
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := in.mount("-t", m.fstype, m.dev, dir); err != nil {
			return err
		}
	}
	return nil
}

// sortMounts puts / first and every mount point after its parent.
func sortMounts(ms []mounted) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && len(ms[j].path) < len(ms[j-1].path); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// withUUID reads a new file system's UUID and names it by-uuid in fstab.
func (in *installer) withUUID(m mounted) (mounted, error) {
	uuid, err := in.inLive("", "blkid", "-s", "UUID", "-o", "value", m.dev)
	if err != nil {
		return m, err
	}
	if uuid == "" {
		return m, fmt.Errorf("blkid finds no UUID on %s", m.dev)
	}
	m.uuid, m.spec = uuid, "/dev/disk/by-uuid/"+uuid
	return m, nil
}

// lvm makes the PV partition into ubuntu-vg with ubuntu-lv and formats it,
// with the commands curtin runs (curtin/commands/block_meta.py,
// lvm_volgroup_handler and lvm_partition_handler), from the live layer's
// lvm2.
func (in *installer) lvm(pv string, l layout) (mounted, error) {
	cfg := "--config=" + lvmConfig
	if _, err := in.inLive("", "vgcreate", cfg, "--force", "--zero=y", "--yes", vgName, pv); err != nil {
		return mounted{}, err
	}
	if _, err := in.inLive("", "lvcreate", cfg, vgName, "--name", lvName, "--zero=y", "--wipesignatures=y", "--yes",
		"--size", strconv.FormatInt(l.LVSize, 10)+"B"); err != nil {
		return mounted{}, err
	}
	if err := waitFor(lvDevice); err != nil {
		return mounted{}, err
	}
	if _, err := in.inLive("", "mkfs.ext4", "-F", "-q", lvDevice); err != nil {
		return mounted{}, err
	}
	out, err := in.inLive("", "lvs", cfg, "--noheadings", "-o", "vg_uuid,lv_uuid", vgName+"/"+lvName)
	if err != nil {
		return mounted{}, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return mounted{}, fmt.Errorf("lvs printed %q, want the VG and LV UUIDs", out)
	}
	return mounted{dev: lvDevice, path: "/", fstype: "ext4", spec: dmUUIDSpec(f[0], f[1])}, nil
}

// deactivate stops ubuntu-vg before power off, as curtin's unmount does.
func (in *installer) deactivate() error {
	if in.layout.VGSize == 0 {
		return nil
	}
	_, err := in.inLive("", "vgchange", "--config="+lvmConfig, "-an", vgName)
	return err
}
