package main

import (
	"strings"
	"testing"
)

// TestGuidedLayout checks the guided plans against the numbers subiquity
// 23.08.1 computes: the expected values were printed by running
// subiquity/common/filesystem/sizes.py (get_efi_size, get_bootfs_size,
// scaled_rootfs_size) with the alignment of subiquity/models/filesystem.py
// for each disk size and firmware.
func TestGuidedLayout(t *testing.T) {
	cases := []struct {
		gib                     int64
		uefi                    bool
		first, boot, pv, vg, lv int64 // lv is for sizing-policy scaled
	}{
		{4, false, 1048576, 1879048192, 2412773376, 2411724800, 2411724800},
		{4, true, 564133888, 1879048192, 1849688064, 1845493760, 1845493760},
		{12, false, 1048576, 1879048192, 11002707968, 11001659392, 10737418240},
		{12, true, 599785472, 1879048192, 10403971072, 10401873920, 10401873920},
		{25, false, 1048576, 2147483648, 24692916224, 24691867648, 12343836672},
		{25, true, 1127219200, 2147483648, 23566745600, 23563599872, 11781799936},
		{40, false, 1048576, 2147483648, 40799043584, 40797995008, 20396900352},
		{40, true, 1127219200, 2147483648, 39672872960, 39669727232, 19834863616},
		{300, false, 1048576, 2147483648, 319971917824, 319970869248, 107374182400},
		{300, true, 1127219200, 2147483648, 318845747200, 318842601472, 107374182400},
	}
	for _, c := range cases {
		disk := c.gib * gib
		scaled, err := guidedLayout(disk, c.uefi, "lvm", "scaled")
		if err != nil {
			t.Fatal(err)
		}
		all, err := guidedLayout(disk, c.uefi, "lvm", "all")
		if err != nil {
			t.Fatal(err)
		}
		def, err := guidedLayout(disk, c.uefi, "lvm", "")
		if err != nil {
			t.Fatal(err)
		}
		p := scaled.Parts
		if len(p) != 3 || p[0].Size != c.first || p[1].Size != c.boot || p[2].Size != c.pv || scaled.VGSize != c.vg || scaled.LVSize != c.lv {
			t.Errorf("%d GiB uefi=%v: plan %+v vg %d lv %d, want first %d boot %d pv %d vg %d lv %d",
				c.gib, c.uefi, p, scaled.VGSize, scaled.LVSize, c.first, c.boot, c.pv, c.vg, c.lv)
		}
		if def.LVSize != scaled.LVSize {
			t.Errorf("%d GiB: no sizing-policy gives %d, want scaled's %d (subiquity's default)", c.gib, def.LVSize, scaled.LVSize)
		}
		if all.LVSize != c.vg {
			t.Errorf("%d GiB: sizing-policy all gives ubuntu-lv %d, want the whole VG %d", c.gib, all.LVSize, c.vg)
		}
		wantFirst, wantType := "bios_grub", typeBIOSGrub
		if c.uefi {
			wantFirst, wantType = "esp", typeESP
		}
		if p[0].Use != wantFirst || p[0].Type != wantType || p[0].Start != mib || p[1].Use != "boot" || p[2].Use != "pv" {
			t.Errorf("%d GiB uefi=%v: partitions %+v", c.gib, c.uefi, p)
		}
		last := p[len(p)-1]
		if end := last.Start + last.Size; end != disk-mib {
			t.Errorf("%d GiB: the last partition ends at %d, want 1 MiB before the end (%d)", c.gib, end, disk-mib)
		}
		for i := 1; i < len(p); i++ {
			if p[i].Start != p[i-1].Start+p[i-1].Size || p[i].Start%mib != 0 {
				t.Errorf("%d GiB: partition %d starts at %d, not right after the one before on a MiB", c.gib, i+1, p[i].Start)
			}
		}
	}
}

// TestGuidedLayoutScaledShows: on the install proof's 40 GiB disk "scaled"
// leaves half the VG unused and "all" does not, the difference a user sees.
func TestGuidedLayoutScaledShows(t *testing.T) {
	s, _ := guidedLayout(40*gib, false, "lvm", "scaled")
	a, _ := guidedLayout(40*gib, false, "lvm", "all")
	if s.LVSize*2 > s.VGSize+lvmChunk || a.LVSize != a.VGSize {
		t.Errorf("scaled %d of %d, all %d of %d", s.LVSize, s.VGSize, a.LVSize, a.VGSize)
	}
}

func TestGuidedLayoutDirect(t *testing.T) {
	for _, uefi := range []bool{false, true} {
		l, err := guidedLayout(40*gib, uefi, "direct", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Parts) != 2 || l.Parts[1].Use != "root" || l.Parts[1].Start+l.Parts[1].Size != 40*gib-mib || l.VGSize != 0 {
			t.Errorf("uefi=%v: direct plan %+v", uefi, l)
		}
	}
}

func TestGuidedLayoutErrors(t *testing.T) {
	for _, c := range []struct {
		disk         int64
		name, policy string
		want         string
	}{
		{40 * gib, "zfs", "", `unknown storage layout "zfs"`},
		{40 * gib, "lvm", "most", `unknown sizing-policy "most"`},
		{1 * gib, "lvm", "", "too small for the lvm layout"},
	} {
		_, err := guidedLayout(c.disk, false, c.name, c.policy)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d %s %s: error %v, want %q", c.disk, c.name, c.policy, err, c.want)
		}
	}
}

func TestScaledRootfsSize(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{
		{9 * gib, 9 * gib}, {10*gib - 1, 10*gib - 1}, {10 * gib, 10 * gib}, {19 * gib, 10 * gib},
		{20 * gib, 10 * gib}, {100 * gib, 50 * gib}, {200*gib - 2, 100*gib - 1}, {200 * gib, 100 * gib}, {1000 * gib, 100 * gib},
	} {
		if got := scaledRootfsSize(c.in); got != c.want {
			t.Errorf("scaledRootfsSize(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
