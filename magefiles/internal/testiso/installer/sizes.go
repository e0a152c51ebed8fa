package main

import (
	"fmt"
)

// Sizes, as subiquity 23.08.1 (Ubuntu 22.04.3) computes them.
const (
	mib = int64(1) << 20
	gib = int64(1) << 30

	// biosGrubSize is the bios_grub partition (subiquity/common/filesystem/
	// sizes.py, BIOS_GRUB_SIZE_BYTES).
	biosGrubSize = 1 * mib
	// gptMargin is kept free at each end of a GPT disk: the first partition
	// starts at 1 MiB and the last ends 1 MiB before the end
	// (subiquity/models/filesystem.py, GPT_OVERHEAD//2 as min_start_offset
	// and min_end_offset of the 'gpt' PartitionAlignmentData).
	gptMargin = 1 * mib
	// lvmOverhead and lvmChunk: a PV gives its size less 1 MiB of metadata,
	// rounded down to 4 MiB extents (subiquity/models/filesystem.py,
	// LVM_OVERHEAD, LVM_CHUNK_SIZE, get_lvm_size).
	lvmOverhead = 1 * mib
	lvmChunk    = 4 * mib
)

// scaleFactor is subiquity's PartitionScaleFactors; maximum -1 means "the
// rest" (subiquity/common/filesystem/sizes.py).
type scaleFactor struct{ minimum, priority, maximum int64 }

var (
	uefiScale   = scaleFactor{538 * mib, 538, 1075 * mib}
	bootfsScale = scaleFactor{1792 * mib, 1024, 2048 * mib}
	rootfsScale = scaleFactor{900 * mib, 10000, -1}
)

// scalePartitions shares available among the factors by priority, each
// clamped to its minimum and maximum, the one with maximum -1 taking what is
// left (sizes.py, scale_partitions: Python's float division, truncated).
func scalePartitions(factors []scaleFactor, available int64) []int64 {
	var sum int64
	for _, f := range factors {
		sum += f.priority
	}
	ret := make([]int64, len(factors))
	rest := -1
	for i, f := range factors {
		scaled := int64(float64(available) / float64(sum) * float64(f.priority))
		switch {
		case scaled < f.minimum:
			ret[i] = f.minimum
		case f.maximum == -1:
			ret[i], rest = -1, i
		case scaled > f.maximum:
			ret[i] = f.maximum
		default:
			ret[i] = scaled
		}
	}
	if rest >= 0 {
		used := int64(0)
		for i, v := range ret {
			if i != rest {
				used += v
			}
		}
		ret[rest] = available - used
	}
	return ret
}

// efiSize is the ESP for a disk of diskSize bytes (sizes.py get_efi_size,
// called with the whole disk's size by boot.py get_boot_device_plan_uefi).
func efiSize(diskSize int64) int64 {
	return scalePartitions([]scaleFactor{uefiScale, bootfsScale, rootfsScale}, diskSize)[0]
}

// bootfsSize is /boot for a gap of gapSize bytes (sizes.py get_bootfs_size,
// called with the gap left after the boot partition by guided_lvm).
func bootfsSize(gapSize int64) int64 {
	return scalePartitions([]scaleFactor{uefiScale, bootfsScale, rootfsScale}, gapSize)[1]
}

// scaledRootfsSize is the root LV of sizing-policy "scaled" for a VG of
// available bytes (sizes.py scaled_rootfs_size): all of a VG under 10 GiB,
// 10 GiB under 20 GiB, half under 200 GiB, else 100 GiB.
func scaledRootfsSize(available int64) int64 {
	switch {
	case available < 10*gib:
		return available
	case available < 20*gib:
		return 10 * gib
	case available < 200*gib:
		return available / 2
	}
	return 100 * gib
}

func alignUp(v, a int64) int64   { return (v + a - 1) / a * a }
func alignDown(v, a int64) int64 { return v / a * a }

// GPT partition type GUIDs curtin gives by flag (curtin/storage_config.py,
// GPT_GUID_TO_CURTIN_MAP; no flag is sfdisk's default, Linux filesystem).
const (
	typeBIOSGrub = "21686148-6449-6E6F-744E-656564454649"
	typeESP      = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	typeLinux    = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// part is one partition of the plan; Start and Size are in bytes.
type part struct {
	Start, Size int64
	Type        string
	// Use is what goes on it: "bios_grub", "esp" (vfat, /boot/efi),
	// "boot" (ext4, /boot), "root" (ext4, /) or "pv" (LVM).
	Use string
}

// layout is the guided storage plan for one disk.
type layout struct {
	Parts []part
	// VGSize and LVSize are set for the lvm layout: the size ubuntu-vg
	// offers and the size of ubuntu-lv.
	VGSize, LVSize int64
}

// guidedLayout plans subiquity's guided storage on a blank disk of diskSize
// bytes (subiquity/server/controllers/filesystem.py guided, guided_lvm,
// guided_direct; subiquity/common/filesystem/boot.py for the boot
// partition; gaps.py find_disk_gaps_v2 for the usable gap):
//   - GPT; the gap runs from 1 MiB to 1 MiB before the end, MiB-aligned;
//   - BIOS: a 1 MiB bios_grub partition first; UEFI: an ESP of
//     efiSize(disk), rounded up to a MiB, first (flag boot, /boot/efi);
//   - direct: one ext4 / in the rest;
//   - lvm: /boot ext4 of bootfsSize(rest), rounded up to a MiB, then one PV
//     partition in the rest; ubuntu-vg is the PV less 1 MiB rounded down to
//     4 MiB; ubuntu-lv is scaledRootfsSize(vg) rounded down to 4 MiB
//     ("scaled", the default) or the whole VG ("all").
func guidedLayout(diskSize int64, uefi bool, name, policy string) (layout, error) {
	var l layout
	start := gptMargin
	end := alignDown(diskSize-gptMargin, mib)
	take := func(size int64, typ, use string) error {
		if size <= 0 || start+size > end {
			return fmt.Errorf("a disk of %d MiB is too small for the %s layout (no room for its %s partition)", diskSize/mib, name, use)
		}
		l.Parts = append(l.Parts, part{Start: start, Size: size, Type: typ, Use: use})
		start += size
		return nil
	}
	if uefi {
		if err := take(alignUp(efiSize(diskSize), mib), typeESP, "esp"); err != nil {
			return l, err
		}
	} else if err := take(biosGrubSize, typeBIOSGrub, "bios_grub"); err != nil {
		return l, err
	}
	switch name {
	case "direct":
		if err := take(end-start, typeLinux, "root"); err != nil {
			return l, err
		}
	case "lvm":
		if err := take(alignUp(bootfsSize(end-start), mib), typeLinux, "boot"); err != nil {
			return l, err
		}
		if err := take(end-start, typeLinux, "pv"); err != nil {
			return l, err
		}
		pv := l.Parts[len(l.Parts)-1].Size
		l.VGSize = alignDown(pv-lvmOverhead, lvmChunk)
		switch policy {
		case "", "scaled":
			l.LVSize = alignDown(scaledRootfsSize(l.VGSize), lvmChunk)
		case "all":
			l.LVSize = l.VGSize
		default:
			return l, fmt.Errorf("unknown sizing-policy %q: use scaled or all", policy)
		}
		if l.LVSize <= 0 {
			return l, fmt.Errorf("a disk of %d MiB is too small for the lvm layout (no room for ubuntu-lv)", diskSize/mib)
		}
	default:
		return l, fmt.Errorf("unknown storage layout %q: the test installer follows subiquity's guided layouts lvm and direct", name)
	}
	return l, nil
}
