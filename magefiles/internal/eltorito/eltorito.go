// Package eltorito reads the El Torito boot catalog of an ISO 9660 image:
// the boot record volume descriptor among the volume descriptors that start
// at logical block 16, and the catalog's 32-byte entries (validation entry,
// default entry, section headers and section entries). It also reads the
// boot info table that mkisofs/xorriso -boot-info-table patch into a boot
// image, and the primary volume descriptor's volume id.
//
// It reads through an io.ReaderAt and never mounts anything.
// `xorriso -indev x.iso -report_el_torito plain` reports the same entries.
package eltorito

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SectorSize is the ISO 9660 logical block size in bytes. Catalog LBAs
// count in these blocks; SectorCount in an Entry counts 512-byte sectors.
const SectorSize = 2048

// Platform ids of the validation entry and section headers.
const (
	PlatformBIOS byte = 0x00
	PlatformPPC  byte = 0x01
	PlatformMac  byte = 0x02
	PlatformUEFI byte = 0xef
)

// Emulation types (low nibble of the boot media type byte).
const (
	EmulationNone    byte = 0
	EmulationFloppy1 byte = 1 // 1.2 MB floppy
	EmulationFloppy2 byte = 2 // 1.44 MB floppy
	EmulationFloppy3 byte = 3 // 2.88 MB floppy
	EmulationHardDsk byte = 4
)

const (
	firstDescriptorLBA = 16
	// maxDescriptors bounds the walk over the volume descriptor set, so a
	// corrupt image without a terminator cannot keep us reading.
	maxDescriptors = 64
	// maxCatalogSectors bounds the catalog; real ones fill part of one block.
	maxCatalogSectors = 16
	entrySize         = 32
	elToritoID        = "EL TORITO SPECIFICATION"
)

// ErrNoBootRecord means the image has no El Torito boot record volume
// descriptor: it is not bootable as a CD.
var ErrNoBootRecord = errors.New("no El Torito boot record volume descriptor")

// Entry is one boot image of the catalog.
type Entry struct {
	// Index is the entry's position among the boot images, from 1, in
	// catalog order (xorriso numbers them the same way).
	Index int
	// Platform is the platform id of the validation entry (for the default
	// entry) or of the entry's section header.
	Platform byte
	// Bootable is the boot indicator (0x88).
	Bootable bool
	// Emulation is the boot media type's emulation (EmulationNone, ...).
	Emulation byte
	// LoadSegment is the real-mode segment the image is loaded at (0 means
	// the BIOS default 0x7c0).
	LoadSegment uint16
	// SystemType is the partition type byte (for hard disk emulation).
	SystemType byte
	// SectorCount is how many 512-byte sectors the firmware loads.
	SectorCount uint16
	// LBA is the first 2048-byte block of the boot image.
	LBA uint32
}

// PlatformName is "BIOS", "UEFI", "PPC", "Mac" or the id in hex, as xorriso
// prints it.
func (e Entry) PlatformName() string {
	switch e.Platform {
	case PlatformBIOS:
		return "BIOS"
	case PlatformUEFI:
		return "UEFI"
	case PlatformPPC:
		return "PPC"
	case PlatformMac:
		return "Mac"
	}
	return fmt.Sprintf("0x%02x", e.Platform)
}

// EmulationName is "none", "fd1.2", "fd1.44", "fd2.88", "hd" or the value
// in hex.
func (e Entry) EmulationName() string {
	switch e.Emulation {
	case EmulationNone:
		return "none"
	case EmulationFloppy1:
		return "fd1.2"
	case EmulationFloppy2:
		return "fd1.44"
	case EmulationFloppy3:
		return "fd2.88"
	case EmulationHardDsk:
		return "hd"
	}
	return fmt.Sprintf("0x%x", e.Emulation)
}

// String describes the entry without its address, so entries of two images
// with the same boot equipment compare equal.
func (e Entry) String() string {
	return fmt.Sprintf("%s bootable=%t emulation=%s load_segment=0x%04x system_type=0x%02x sectors=%d",
		e.PlatformName(), e.Bootable, e.EmulationName(), e.LoadSegment, e.SystemType, e.SectorCount)
}

// Catalog is an image's El Torito boot catalog.
type Catalog struct {
	// LBA is the catalog's 2048-byte block.
	LBA uint32
	// ID is the validation entry's manufacturer/developer id string.
	ID string
	// Entries are the boot images in catalog order: the default entry first.
	Entries []Entry
}

// Read finds the boot record volume descriptor and parses the boot catalog
// it points to. ErrNoBootRecord (wrapped) means there is none.
func Read(r io.ReaderAt) (Catalog, error) {
	lba, err := catalogLBA(r)
	if err != nil {
		return Catalog{}, err
	}
	cat, err := parseCatalog(r, lba)
	if err != nil {
		return Catalog{}, fmt.Errorf("boot catalog at block %d: %w", lba, err)
	}
	return cat, nil
}

// VolumeID reads the volume id of the primary volume descriptor, with the
// padding spaces removed.
func VolumeID(r io.ReaderAt) (string, error) {
	var found string
	err := walkDescriptors(r, func(lba int64, d []byte) bool {
		if d[0] == 1 {
			found = strings.TrimRight(string(d[40:72]), " \x00")
			return true
		}
		return false
	})
	if err != nil {
		return "", err
	}
	return found, nil
}

// catalogLBA walks the volume descriptor set for the boot record.
func catalogLBA(r io.ReaderAt) (uint32, error) {
	var lba uint32
	var found bool
	err := walkDescriptors(r, func(_ int64, d []byte) bool {
		if d[0] != 0 || !bytes.Equal(bytes.TrimRight(d[7:39], "\x00"), []byte(elToritoID)) {
			return false
		}
		lba, found = binary.LittleEndian.Uint32(d[71:75]), true
		return true
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, ErrNoBootRecord
	}
	return lba, nil
}

// walkDescriptors calls visit for each volume descriptor from block 16 until
// the set terminator or until visit returns true.
func walkDescriptors(r io.ReaderAt, visit func(lba int64, d []byte) bool) error {
	d := make([]byte, SectorSize)
	for i := int64(0); i < maxDescriptors; i++ {
		lba := firstDescriptorLBA + i
		if _, err := r.ReadAt(d, lba*SectorSize); err != nil {
			return fmt.Errorf("reading volume descriptor at block %d: %w (not an ISO 9660 image?)", lba, err)
		}
		if string(d[1:6]) != "CD001" {
			return fmt.Errorf("block %d holds no volume descriptor (no CD001 signature): not an ISO 9660 image", lba)
		}
		if d[0] == 255 {
			return nil
		}
		if visit(lba, d) {
			return nil
		}
	}
	return fmt.Errorf("no volume descriptor set terminator in the first %d descriptors", maxDescriptors)
}

// parseCatalog reads the catalog's entries.
func parseCatalog(r io.ReaderAt, lba uint32) (Catalog, error) {
	raw, err := readCatalog(r, lba)
	if err != nil {
		return Catalog{}, err
	}
	platform, id, err := validationEntry(raw[:entrySize])
	if err != nil {
		return Catalog{}, err
	}
	cat := Catalog{LBA: lba, ID: id}
	def := raw[entrySize : 2*entrySize]
	if def[0] != 0x88 && def[0] != 0x00 {
		return Catalog{}, fmt.Errorf("default entry: boot indicator 0x%02x is neither 0x88 nor 0x00", def[0])
	}
	cat.Entries = append(cat.Entries, parseEntry(def, platform, 1))
	return parseSections(raw, cat)
}

// parseSections appends the entries of the section headers that follow the
// default entry.
func parseSections(raw []byte, cat Catalog) (Catalog, error) {
	off := 2 * entrySize
	for off+entrySize <= len(raw) {
		h := raw[off : off+entrySize]
		if h[0] != 0x90 && h[0] != 0x91 {
			// 0x00 (or anything else) ends the catalog when no final header
			// was seen; mkisofs writes no section header for one image.
			return cat, nil
		}
		final := h[0] == 0x91
		platform := h[1]
		n := int(binary.LittleEndian.Uint16(h[2:4]))
		off += entrySize
		for k := 0; k < n; k++ {
			if off+entrySize > len(raw) {
				return Catalog{}, fmt.Errorf("section header at byte %d announces %d entries but the catalog ends after %d", off, n, k)
			}
			e := raw[off : off+entrySize]
			if e[0] != 0x88 && e[0] != 0x00 {
				return Catalog{}, fmt.Errorf("section entry at byte %d: boot indicator 0x%02x is neither 0x88 nor 0x00", off, e[0])
			}
			cat.Entries = append(cat.Entries, parseEntry(e, platform, len(cat.Entries)+1))
			off += entrySize
			off = skipExtensions(raw, off, e[1])
		}
		if final {
			return cat, nil
		}
	}
	return cat, nil
}

// skipExtensions steps over section entry extensions (0x44) that follow an
// entry whose media type has bit 5 set.
func skipExtensions(raw []byte, off int, mediaType byte) int {
	if mediaType&0x20 == 0 {
		return off
	}
	for off+entrySize <= len(raw) && raw[off] == 0x44 {
		more := raw[off+1]&0x20 != 0
		off += entrySize
		if !more {
			break
		}
	}
	return off
}

func readCatalog(r io.ReaderAt, lba uint32) ([]byte, error) {
	raw := make([]byte, maxCatalogSectors*SectorSize)
	n, err := r.ReadAt(raw, int64(lba)*SectorSize)
	if n < SectorSize {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading: %w", err)
	}
	return raw[:n-n%entrySize], nil
}

// validationEntry checks the first catalog entry and returns its platform
// id and id string.
func validationEntry(v []byte) (byte, string, error) {
	if v[0] != 0x01 {
		return 0, "", fmt.Errorf("validation entry: header id 0x%02x, want 0x01", v[0])
	}
	if v[30] != 0x55 || v[31] != 0xaa {
		return 0, "", fmt.Errorf("validation entry: key bytes %02x %02x, want 55 aa", v[30], v[31])
	}
	var sum uint16
	for i := 0; i < entrySize; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	if sum != 0 {
		return 0, "", fmt.Errorf("validation entry: checksum does not sum to zero (0x%04x)", sum)
	}
	return v[1], strings.TrimRight(string(v[4:28]), " \x00"), nil
}

func parseEntry(e []byte, platform byte, index int) Entry {
	return Entry{
		Index:       index,
		Platform:    platform,
		Bootable:    e[0] == 0x88,
		Emulation:   e[1] & 0x0f,
		LoadSegment: binary.LittleEndian.Uint16(e[2:4]),
		SystemType:  e[4],
		SectorCount: binary.LittleEndian.Uint16(e[6:8]),
		LBA:         binary.LittleEndian.Uint32(e[8:12]),
	}
}
