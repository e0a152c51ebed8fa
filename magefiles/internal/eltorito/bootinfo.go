package eltorito

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxBootImage bounds how much of a boot image the checksum reads, so a
// corrupt length cannot make us read gigabytes. GRUB's eltorito.img is
// about 150 KiB.
const maxBootImage = 64 << 20

// Where -boot-info-table writes the table in a boot image: bytes 8 to 63,
// four 32-bit fields and 40 reserved bytes that xorriso zeroes.
const (
	// BootInfoTableStart is the table's first byte.
	BootInfoTableStart = 8
	// BootInfoTableEnd is the first byte after the table.
	BootInfoTableEnd = 64
)

// GRUB2BootInfoOffset is where xorriso's --grub2-boot-info writes a 64-bit
// little-endian address into the boot image (xorrisofs(1): "bytes 2548 to
// 2555"). GRUB's eltorito.img is cdboot.img (2048 bytes: the 4 sectors the
// BIOS loads, with the boot info table at byte 8) followed by the core
// image, whose first 512-byte sector is diskboot.img. diskboot.img ends in
// a 12-byte block list whose first field, at its byte 500, is the 512-byte
// sector where the rest of the core image starts: 2048+500 = 2548. That
// rest starts 4+1 = 5 sectors after the image's first sector, so xorriso
// writes the image's 2048-byte block times 4, plus 5 (GRUB2BootInfo).
const GRUB2BootInfoOffset = 2548

// GRUB2BootInfo is the address --grub2-boot-info writes at
// GRUB2BootInfoOffset of e's image: e's 512-byte sector plus 5.
func GRUB2BootInfo(e Entry) uint64 { return uint64(e.LBA)*4 + 5 }

// HasGRUB2BootInfo reports whether img, the bytes of e's image from its
// start, holds at GRUB2BootInfoOffset the address --grub2-boot-info writes
// for e: whether xorriso patched it in for the image's current place.
func HasGRUB2BootInfo(img []byte, e Entry) bool {
	end := GRUB2BootInfoOffset + 8
	return len(img) >= end && binary.LittleEndian.Uint64(img[GRUB2BootInfoOffset:end]) == GRUB2BootInfo(e)
}

// BootInfoTable is the table that -boot-info-table writes at byte 8 of a
// no-emulation boot image: where the primary volume descriptor and the image
// are, the image's length in bytes, and the 32-bit sum of the image's
// little-endian words from byte 64 on. GRUB's eltorito.img finds the rest of
// itself through it.
type BootInfoTable struct {
	PVDLBA     uint32
	FileLBA    uint32
	FileLength uint32
	Checksum   uint32
}

// ReadBootInfoTable reads the boot info table bytes of e's image (whether
// or not the image has one; Verify tells).
func ReadBootInfoTable(r io.ReaderAt, e Entry) (BootInfoTable, error) {
	b := make([]byte, 16)
	if _, err := r.ReadAt(b, int64(e.LBA)*SectorSize+8); err != nil {
		return BootInfoTable{}, fmt.Errorf("boot image %d at block %d: reading boot info table: %w", e.Index, e.LBA, err)
	}
	return BootInfoTable{
		PVDLBA:     binary.LittleEndian.Uint32(b[0:4]),
		FileLBA:    binary.LittleEndian.Uint32(b[4:8]),
		FileLength: binary.LittleEndian.Uint32(b[8:12]),
		Checksum:   binary.LittleEndian.Uint32(b[12:16]),
	}, nil
}

// Verify returns nil when t is a boot info table that describes e's image:
// it points at a primary volume descriptor (block 16, or the session's own
// when xorriso wrote the image as a session after a superblock copy) and at
// e's block, and its checksum matches the image's bytes.
func (t BootInfoTable) Verify(r io.ReaderAt, e Entry) error {
	switch {
	case !isPrimaryDescriptor(r, t.PVDLBA):
		return fmt.Errorf("boot info table of image %d: block %d holds no primary volume descriptor", e.Index, t.PVDLBA)
	case t.FileLBA != e.LBA:
		return fmt.Errorf("boot info table of image %d: image block %d, but the catalog says %d", e.Index, t.FileLBA, e.LBA)
	case t.FileLength < 64 || t.FileLength > maxBootImage:
		return fmt.Errorf("boot info table of image %d: implausible image length %d bytes", e.Index, t.FileLength)
	}
	img := make([]byte, t.FileLength)
	if _, err := r.ReadAt(img, int64(e.LBA)*SectorSize); err != nil {
		return fmt.Errorf("boot image %d: reading %d bytes at block %d: %w", e.Index, t.FileLength, e.LBA, err)
	}
	if sum := BootInfoChecksum(img); sum != t.Checksum {
		return fmt.Errorf("boot info table of image %d: checksum 0x%08x, but the image sums to 0x%08x", e.Index, t.Checksum, sum)
	}
	return nil
}

// BootInfoChecksum is the checksum -boot-info-table stores for img (the
// whole boot image): the sum of its 32-bit little-endian words from byte
// 64, a short last word counting as zero-padded.
func BootInfoChecksum(img []byte) uint32 {
	var sum uint32
	var w [4]byte
	for i := 64; i < len(img); i += 4 {
		w = [4]byte{}
		copy(w[:], img[i:])
		sum += binary.LittleEndian.Uint32(w[:])
	}
	return sum
}

// isPrimaryDescriptor reports whether block lba holds a primary volume
// descriptor.
func isPrimaryDescriptor(r io.ReaderAt, lba uint32) bool {
	b := make([]byte, 7)
	if _, err := r.ReadAt(b, int64(lba)*SectorSize); err != nil {
		return false
	}
	return b[0] == 1 && string(b[1:6]) == "CD001" && b[6] == 1
}
