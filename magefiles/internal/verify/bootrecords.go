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
	// images describe each catalog entry's image: where it is (a file, a
	// GPT partition), its boot info table, without addresses.
	images []string
	// loaded are the bytes the firmware loads for each entry, with the boot
	// info table (patched with addresses) zeroed.
	loaded [][]byte
	mbr    mbr
	gpt    gpt
	gptErr error
}

// maxLoadedImage bounds the bytes compared per boot image (an ESP is a few
// MB; the sector count field cannot exceed 32 MiB anyway).
const maxLoadedImage = 64 << 20

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
		return be, fmt.Errorf("El Torito: %w", err)
	}
	be.catalog = cat
	if be.mbr, err = readMBR(im); err != nil {
		return be, err
	}
	be.gpt, be.gptErr = readGPT(im, 1)
	for _, e := range cat.Entries {
		be.images = append(be.images, be.describeImage(im, e))
		be.loaded = append(be.loaded, loadedBytes(im, e))
	}
	return be, nil
}

// describeImage says where e's image is and whether it has a valid boot
// info table, without addresses, so the base and the remaster compare.
func (be bootEquipment) describeImage(im *isoImage, e eltorito.Entry) string {
	where := "an area that is no file"
	if name, ok := im.fileAt(e.LBA); ok {
		where = "file " + name
	} else if p, ok := be.partitionAt(e.LBA); ok {
		where = fmt.Sprintf("GPT partition %d %q", p.index, p.name)
	}
	bit, err := eltorito.ReadBootInfoTable(im, e)
	if err == nil && bit.Verify(im, e) == nil {
		return where + " with boot info table"
	}
	return where
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

// loadedBytes returns what the firmware loads for e with the boot info
// table area zeroed (xorriso rewrites it with the image's new address).
func loadedBytes(im *isoImage, e eltorito.Entry) []byte {
	n := min(int64(e.SectorCount)*512, maxLoadedImage)
	b := make([]byte, n)
	k, _ := im.ReadAt(b, int64(e.LBA)*eltorito.SectorSize)
	b = b[:k]
	if len(b) >= 64 {
		clear(b[8:64])
	}
	return b
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
		if got.images[i] != want.images[i] {
			p = append(p, fmt.Sprintf("El Torito image %d is %s, the base's is %s", i+1, got.images[i], want.images[i]))
		}
		if !bytes.Equal(got.loaded[i], want.loaded[i]) {
			p = append(p, fmt.Sprintf("El Torito image %d (%s): its bytes differ from the base's", i+1, g.PlatformName()))
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
		parts = append(parts, fmt.Sprintf("%s %s", e.PlatformName(), be.images[i]))
	}
	esp, _ := be.gpt.esp()
	return fmt.Sprintf("El Torito as in the base ISO (%s); hybrid MBR with GRUB boot code; GPT with EFI System Partition #%d = El Torito UEFI image",
		strings.Join(parts, ", "), esp.index)
}
