package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/eltorito"
)

// bootEquipment is what an image boots with, read without mounting it.
type bootEquipment struct {
	catalog eltorito.Catalog
	// images are the catalog entries' images, in catalog order.
	images []bootImage
	mbr    mbr
	gpt    gpt
	gptErr error
}

// bootImage is one catalog entry's boot image, whole: not only the sectors
// the firmware loads (for GRUB's eltorito.img, the 2 KiB of cdboot.img) but
// all that those sectors go on to load (the rest of GRUB's core image).
type bootImage struct {
	// where says what holds the image (a file, a GPT partition), without
	// addresses, so the base's and the remaster's compare.
	where string
	// bootInfoTable: the image carries a boot info table that describes it.
	bootInfoTable bool
	// grub2BootInfo: the image carries xorriso's --grub2-boot-info address
	// for where it is.
	grub2BootInfo bool
	// data is the whole image with the fields xorriso patches with
	// addresses zeroed (those it carries, see normalize).
	data []byte
	// err says why the image could not be read whole.
	err error
}

// maxBootImage bounds the bytes read per boot image. Ubuntu's are far
// smaller: GRUB's eltorito.img is about 150 KiB, the ESP about 5 MiB.
const maxBootImage = 64 << 20

// checkBootRecords compares the ISO's El Torito catalog, boot images, MBR and
// GPT with the base ISO's and checks the UEFI paths hang together.
func checkBootRecords(_ context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	got, err := readBootEquipment(im)
	if err != nil {
		return "", err
	}
	var problems []string
	problems = append(problems, got.selfProblems(im)...)
	base, err := in.base.get()
	if err != nil {
		problems = append(problems, err.Error())
	} else if want, err := readBootEquipment(base); err != nil {
		problems = append(problems, "base ISO: "+err.Error())
	} else {
		problems = append(problems, compareBootEquipment(got, want)...)
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return got.summary(), nil
}

func readBootEquipment(im *isoImage) (bootEquipment, error) {
	var be bootEquipment
	cat, err := eltorito.Read(im)
	if err != nil {
		return be, fmt.Errorf("El Torito: %w", err) //nolint:staticcheck // ST1005: "El Torito" is a name
	}
	be.catalog = cat
	if be.mbr, err = readMBR(im); err != nil {
		return be, err
	}
	be.gpt, be.gptErr = readGPT(im, 1)
	for _, e := range cat.Entries {
		be.images = append(be.images, be.readImage(im, e))
	}
	return be, nil
}

// readImage reads e's whole image: the file that starts at e's block, or
// the GPT partition that does, or as many bytes as its boot info table
// says, or else the sectors the firmware loads.
func (be bootEquipment) readImage(im *isoImage, e eltorito.Entry) bootImage {
	bi := bootImage{where: "an area that is no file"}
	size := int64(e.SectorCount) * 512
	bit, err := eltorito.ReadBootInfoTable(im, e)
	bi.bootInfoTable = err == nil && bit.Verify(im, e) == nil
	if name, ok := im.fileAt(e.LBA); ok {
		bi.where, size = "file "+name, fileSize(im.files[name])
	} else if p, ok := be.partitionAt(e.LBA); ok {
		bi.where, size = fmt.Sprintf("GPT partition %d %q", p.index, p.name), partitionSize(p)
	} else if bi.bootInfoTable {
		size = int64(bit.FileLength)
	}
	if size < 0 || size > maxBootImage {
		bi.err = fmt.Errorf("%d bytes: not between 0 and the %d verify compares", size, maxBootImage)
		return bi
	}
	bi.data = make([]byte, size)
	if _, err := im.ReadAt(bi.data, int64(e.LBA)*eltorito.SectorSize); err != nil {
		bi.err = fmt.Errorf("reading %d bytes at block %d: %w", size, e.LBA, err)
		return bi
	}
	bi.grub2BootInfo = bi.bootInfoTable && eltorito.HasGRUB2BootInfo(bi.data, e)
	bi.normalize()
	return bi
}

// normalize zeroes what xorriso writes into a boot image with the image's
// address, so that the same image compares equal wherever it lies: the
// boot info table (bytes 8-63) and the --grub2-boot-info address (bytes
// 2548-2555, the block list of GRUB's diskboot.img, see
// eltorito.GRUB2BootInfoOffset). Only an image that carries them is
// touched: bytes 8-63 of an ESP are its FAT boot sector, compared as they
// are.
func (bi *bootImage) normalize() {
	if bi.bootInfoTable {
		clear(bi.data[eltorito.BootInfoTableStart:eltorito.BootInfoTableEnd])
	}
	if bi.grub2BootInfo {
		clear(bi.data[eltorito.GRUB2BootInfoOffset : eltorito.GRUB2BootInfoOffset+8])
	}
}

// describe says where the image is and what xorriso patched into it.
func (bi bootImage) describe() string {
	switch {
	case bi.grub2BootInfo:
		return bi.where + " with boot info table and GRUB2 boot info"
	case bi.bootInfoTable:
		return bi.where + " with boot info table"
	}
	return bi.where
}

// difference says how got's bytes differ from want's, or "" when they do
// not.
func (bi bootImage) difference(want bootImage) string {
	switch {
	case bi.err != nil:
		return "cannot be compared: " + bi.err.Error()
	case want.err != nil:
		return "cannot be compared, the base's: " + want.err.Error()
	case bytes.Equal(bi.data, want.data):
		return ""
	}
	n := min(len(bi.data), len(want.data))
	at := n
	for i := range n {
		if bi.data[i] != want.data[i] {
			at = i
			break
		}
	}
	if len(bi.data) != len(want.data) {
		return fmt.Sprintf("is %d bytes, the base's %d; first difference at byte %d", len(bi.data), len(want.data), at)
	}
	return fmt.Sprintf("differs from the base's from byte %d (0x%x) of %d", at, at, n)
}

// partitionSize is p's size in bytes, or -1 when its last sector is
// before its first or the size overflows.
func partitionSize(p gptPartition) int64 {
	if p.last < p.first || p.last-p.first >= 1<<50 {
		return -1
	}
	return int64(p.last-p.first+1) * lbaSize
}

// fileSize is the size of a file's data.
func fileSize(exts []extent) int64 {
	var n int64
	for _, e := range exts {
		n += e.size
	}
	return n
}

// partitionAt finds the GPT partition that starts at 2048-byte block lba.
func (be bootEquipment) partitionAt(lba uint32) (gptPartition, bool) {
	for _, p := range be.gpt.partitions {
		if p.first == uint64(lba)*4 {
			return p, true
		}
	}
	return gptPartition{}, false
}

// selfProblems checks the ISO on its own: both firmwares have a bootable
// entry, the MBR is a hybrid one, both GPT headers are intact, and the GPT's
// EFI System Partition holds a FAT file system and is the El Torito EFI image.
func (be bootEquipment) selfProblems(im *isoImage) []string {
	var p []string
	bios, uefi := be.entry(eltorito.PlatformBIOS), be.entry(eltorito.PlatformUEFI)
	if bios == nil {
		p = append(p, "El Torito: no bootable BIOS entry")
	}
	if uefi == nil {
		p = append(p, "El Torito: no bootable UEFI entry")
	}
	if !be.mbr.signature {
		p = append(p, "MBR: no 55 aa boot signature: not a hybrid (USB-bootable) image")
	} else if !be.mbr.hasBootCode() {
		p = append(p, "MBR: no boot code: BIOS cannot boot the image as a disk")
	}
	if be.gptErr != nil {
		return append(p, "GPT: "+be.gptErr.Error())
	}
	if _, err := readGPT(im, be.gpt.backupLBA); err != nil {
		p = append(p, "backup GPT: "+err.Error())
	}
	esp, err := be.gpt.esp()
	if err != nil {
		return append(p, "GPT: "+err.Error())
	}
	if int64(esp.last+1)*lbaSize > im.size {
		return append(p, fmt.Sprintf("GPT: the EFI System Partition (sectors %d-%d) ends after the image's %d bytes", esp.first, esp.last, im.size))
	}
	boot := make([]byte, lbaSize)
	if _, err := im.ReadAt(boot, int64(esp.first)*lbaSize); err != nil || !isFATBootSector(boot) {
		p = append(p, fmt.Sprintf("GPT: the EFI System Partition at sector %d holds no FAT file system", esp.first))
	}
	if uefi != nil && uint64(uefi.LBA)*4 != esp.first {
		p = append(p, fmt.Sprintf("the El Torito UEFI image (block %d) is not the EFI System Partition (sector %d)", uefi.LBA, esp.first))
	}
	return p
}

// entry returns the first bootable entry for platform, or nil.
func (be bootEquipment) entry(platform byte) *eltorito.Entry {
	for i, e := range be.catalog.Entries {
		if e.Platform == platform && e.Bootable {
			return &be.catalog.Entries[i]
		}
	}
	return nil
}

// compareBootEquipment lists every difference between the ISO's boot
// equipment and the base's, ignoring addresses and sizes that move when
// files are added.
func compareBootEquipment(got, want bootEquipment) []string {
	var p []string
	if len(got.catalog.Entries) != len(want.catalog.Entries) {
		p = append(p, fmt.Sprintf("El Torito: the catalog has %d boot image(s), the base ISO's has %d", len(got.catalog.Entries), len(want.catalog.Entries)))
	}
	for i := range min(len(got.catalog.Entries), len(want.catalog.Entries)) {
		g, w := got.catalog.Entries[i], want.catalog.Entries[i]
		if g.String() != w.String() {
			p = append(p, fmt.Sprintf("El Torito image %d is %s, the base's is %s", i+1, g, w))
		}
		gi, wi := got.images[i], want.images[i]
		if gi.describe() != wi.describe() {
			p = append(p, fmt.Sprintf("El Torito image %d is %s, the base's is %s", i+1, gi.describe(), wi.describe()))
		}
		if d := gi.difference(wi); d != "" {
			p = append(p, fmt.Sprintf("El Torito image %d (%s, %s) %s", i+1, g.PlatformName(), gi.where, d))
		}
	}
	if want.mbr.hasBootCode() && !bytes.Equal(got.mbr.bootCode[:mbrBootCodeStable], want.mbr.bootCode[:mbrBootCodeStable]) {
		p = append(p, "MBR: the boot code differs from the base's")
	}
	if describeMBR(got.mbr) != describeMBR(want.mbr) {
		p = append(p, fmt.Sprintf("MBR partition table is %s, the base's is %s", describeMBR(got.mbr), describeMBR(want.mbr)))
	}
	if want.gptErr == nil && got.gptErr == nil && describeGPT(got.gpt) != describeGPT(want.gpt) {
		p = append(p, fmt.Sprintf("GPT partitions are %s, the base's are %s", describeGPT(got.gpt), describeGPT(want.gpt)))
	}
	return p
}

func describeMBR(m mbr) string {
	var parts []string
	for i, e := range m.partitions {
		if e.typ != 0 {
			parts = append(parts, fmt.Sprintf("#%d %s", i+1, e))
		}
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

// describeGPT lists the partitions that carry something. xorriso's "GapN"
// partitions only cover padding between and after the others; where they
// fall depends on the image's size, so they are left out.
func describeGPT(g gpt) string {
	var parts []string
	for _, e := range g.partitions {
		if !e.isGap() {
			parts = append(parts, e.String())
		}
	}
	return strings.Join(parts, ", ")
}

// summary is the evidence of a passing check.
func (be bootEquipment) summary() string {
	var parts []string
	for i, e := range be.catalog.Entries {
		parts = append(parts, fmt.Sprintf("%s %s: %d bytes equal", e.PlatformName(), be.images[i].describe(), len(be.images[i].data)))
	}
	esp, _ := be.gpt.esp()
	return fmt.Sprintf("El Torito as in the base ISO (%s); hybrid MBR with GRUB boot code; GPT with EFI System Partition #%d = El Torito UEFI image",
		strings.Join(parts, ", "), esp.index)
}
