package verify

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/eltorito"
)

// biosImagePath is where Ubuntu (and the test fixture) keep GRUB's El
// Torito BIOS image.
const biosImagePath = "/boot/grub/i386-pc/eltorito.img"

// editBootImage writes out: a copy of src in which edit changed, in place,
// the bytes of the boot image of platform's catalog entry: for BIOS the
// whole file eltorito.img, for UEFI the whole EFI System Partition. Nothing
// else changes, so every other check still sees the remaster it passed.
func editBootImage(t *testing.T, src, out string, platform byte, edit func(img []byte, e eltorito.Entry)) {
	t.Helper()
	im, err := openISO(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	cat, err := eltorito.Read(im)
	if err != nil {
		t.Fatal(err)
	}
	var e *eltorito.Entry
	for i := range cat.Entries {
		if cat.Entries[i].Platform == platform {
			e = &cat.Entries[i]
		}
	}
	if e == nil {
		t.Fatalf("%s has no boot image for platform 0x%02x", src, platform)
	}
	start, size := imageExtent(t, im, *e)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	edit(data[start:start+size], *e)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageExtent finds where e's image lies in im, in bytes, the way a reader
// of the ISO would: the BIOS image is the file eltorito.img, the UEFI
// image the GPT's EFI System Partition.
func imageExtent(t *testing.T, im *isoImage, e eltorito.Entry) (start, size int64) {
	t.Helper()
	if e.Platform == eltorito.PlatformBIOS {
		exts := im.files[biosImagePath]
		if len(exts) != 1 || exts[0].lba != int64(e.LBA) {
			t.Fatalf("%s: want one extent at block %d, got %+v", biosImagePath, e.LBA, exts)
		}
		return exts[0].lba * eltorito.SectorSize, exts[0].size
	}
	g, err := readGPT(im, 1)
	if err != nil {
		t.Fatal(err)
	}
	esp, err := g.esp()
	if err != nil || esp.first != uint64(e.LBA)*4 {
		t.Fatalf("the EFI System Partition %+v (%v) is not the UEFI image at block %d", esp, err, e.LBA)
	}
	return int64(esp.first) * lbaSize, int64(esp.last-esp.first+1) * lbaSize
}

// fixBootInfoChecksum writes the boot info table checksum that xorriso
// would write for img's content, so the table stays consistent.
func fixBootInfoChecksum(img []byte) {
	binary.LittleEndian.PutUint32(img[20:24], eltorito.BootInfoChecksum(img))
}

// TestChangedBootImageFailsBootRecords changes the bytes of a boot image
// where only a comparison of the whole image with the base's can see it:
// GRUB's core image past the 2 KiB the BIOS loads (md5sum.txt leaves
// eltorito.img out, and the boot info table is made consistent again), and
// the EFI System Partition, which is no file of the ISO. Each must fail
// boot-records, naming the image and the first changed byte, and nothing
// else.
func TestChangedBootImageFailsBootRecords(t *testing.T) {
	t.Parallel()
	iso, base := happy(t)
	const (
		biosWhere = "(BIOS, file " + biosImagePath + ")"
		uefiWhere = `(UEFI, GPT partition 2 "`
	)
	for _, c := range []struct {
		name     string
		platform byte
		edit     func(t *testing.T, img []byte, e eltorito.Entry)
		want     []string
		problems int // how many problems boot-records lists
	}{{
		name:     "GRUB core image past 2 KiB",
		platform: eltorito.PlatformBIOS,
		edit: func(t *testing.T, img []byte, _ eltorito.Entry) {
			if len(img) <= 100000 {
				t.Fatalf("eltorito.img is %d bytes, want more than 100000", len(img))
			}
			img[100000] ^= 0xff
			fixBootInfoChecksum(img)
		},
		want:     []string{"El Torito image 1 " + biosWhere + " differs from the base's from byte 100000 (0x186a0) of "},
		problems: 1,
	}, {
		// The address at 2548 is where GRUB reads the rest of its core
		// from: one left at another image's place is not masked.
		name:     "GRUB2 boot info left at another address",
		platform: eltorito.PlatformBIOS,
		edit: func(t *testing.T, img []byte, e eltorito.Entry) {
			off := eltorito.GRUB2BootInfoOffset
			binary.LittleEndian.PutUint64(img[off:off+8], eltorito.GRUB2BootInfo(e)+4)
			fixBootInfoChecksum(img)
		},
		want: []string{
			"El Torito image 1 is file " + biosImagePath + " with boot info table, the base's is file " + biosImagePath + " with boot info table and GRUB2 boot info",
			"El Torito image 1 " + biosWhere + " differs from the base's from byte 2548 (0x9f4)",
		},
		problems: 2,
	}, {
		// Bytes 8-63 are a boot info table only in an image that carries
		// one; in the ESP they are the FAT boot sector (here the volume
		// label of a FAT12/16 one) and are compared.
		name:     "ESP boot sector byte 43",
		platform: eltorito.PlatformUEFI,
		edit:     func(_ *testing.T, img []byte, _ eltorito.Entry) { img[43] ^= 0x20 },
		want:     []string{"El Torito image 2 " + uefiWhere, `differs from the base's from byte 43 (0x2b) of `},
		problems: 1,
	}, {
		name:     "ESP past 2 KiB",
		platform: eltorito.PlatformUEFI,
		edit:     func(_ *testing.T, img []byte, _ eltorito.Entry) { img[len(img)/2] ^= 0xff },
		want:     []string{"El Torito image 2 " + uefiWhere, "differs from the base's from byte 1048576 (0x100000) of 2097152"},
		problems: 1,
	}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bad := filepath.Join(t.TempDir(), "bad.iso")
			editBootImage(t, iso, bad, c.platform, func(img []byte, e eltorito.Entry) { c.edit(t, img, e) })
			if c.platform == eltorito.PlatformBIOS {
				wantConsistentBootInfoTable(t, bad)
			}
			rep, err := verifyNoBoot(t, bad, base.ISO)
			wantOutcome(t, rep, err, map[string][]string{CheckBootRecords: c.want})
			if d := checkNamed(t, rep, CheckBootRecords).Detail; len(strings.Split(d, "; ")) != c.problems {
				t.Errorf("boot-records lists other problems than the changed image's %d: %s", c.problems, d)
			}
		})
	}
}

// wantConsistentBootInfoTable fails unless the BIOS image's boot info table
// in iso still describes the image: the corruption is one xorriso could
// have written, not one the table's checksum gives away.
func wantConsistentBootInfoTable(t *testing.T, iso string) {
	t.Helper()
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := eltorito.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	bit, err := eltorito.ReadBootInfoTable(f, cat.Entries[0])
	if err == nil {
		err = bit.Verify(f, cat.Entries[0])
	}
	if err != nil {
		t.Fatalf("the edited image's boot info table is inconsistent: %v", fmt.Errorf("test setup: %w", err))
	}
}
