package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

// The hybrid disk label xorriso writes for Ubuntu's layout: an MBR with GRUB's
// boot code (grub2-mbr) and a protective partition, a GPT whose partition 2
// is the EFI System Partition appended after the ISO 9660 tree.

const (
	lbaSize = 512
	// mbrBootCodeStable is the part of GRUB's MBR boot code that xorriso
	// does not patch: it writes the boot image's address at bytes 432-439.
	mbrBootCodeStable = 432
	mbrBootCodeLen    = 440
	mbrTableOffset    = 446
	maxGPTEntries     = 1024
)

// espTypeGUID is the EFI System Partition type C12A7328-F81F-11D2-BA4B-00A0C93EC93B
// as stored on disk (mixed endian).
var espTypeGUID = [16]byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}

// mbr is the master boot record of a hybrid ISO.
type mbr struct {
	bootCode   [mbrBootCodeLen]byte
	partitions [4]mbrPartition
	signature  bool // 0x55 0xaa at 510
}

type mbrPartition struct {
	status, typ byte
	start, size uint32
}

func (p mbrPartition) String() string {
	return fmt.Sprintf("status 0x%02x type 0x%02x", p.status, p.typ)
}

func readMBR(r io.ReaderAt) (mbr, error) {
	b := make([]byte, lbaSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return mbr{}, fmt.Errorf("reading the MBR: %w", err)
	}
	var m mbr
	copy(m.bootCode[:], b)
	for i := range m.partitions {
		e := b[mbrTableOffset+16*i:]
		m.partitions[i] = mbrPartition{status: e[0], typ: e[4],
			start: binary.LittleEndian.Uint32(e[8:12]), size: binary.LittleEndian.Uint32(e[12:16])}
	}
	m.signature = b[510] == 0x55 && b[511] == 0xaa
	return m, nil
}

// hasBootCode reports whether the MBR carries boot code at all (a plain ISO
// has zeros there).
func (m mbr) hasBootCode() bool {
	return !bytes.Equal(m.bootCode[:mbrBootCodeStable], make([]byte, mbrBootCodeStable))
}

// gpt is the primary GUID partition table.
type gpt struct {
	currentLBA, backupLBA uint64
	partitions            []gptPartition
}

// gptPartition is a used GPT entry.
type gptPartition struct {
	index          int // from 1
	typ            [16]byte
	first, last    uint64 // 512-byte LBAs, inclusive
	name           string
	efiSystemPart  bool
	describeForCmp string
}

func (p gptPartition) String() string { return p.describeForCmp }

// readGPT reads and checks the GPT header at lba (1 for the primary, the
// header's backup LBA for the backup) and its partition entries.
func readGPT(r io.ReaderAt, lba uint64) (gpt, error) {
	h := make([]byte, lbaSize)
	if _, err := r.ReadAt(h, int64(lba)*lbaSize); err != nil {
		return gpt{}, fmt.Errorf("reading the GPT header at sector %d: %w", lba, err)
	}
	if string(h[:8]) != "EFI PART" {
		return gpt{}, fmt.Errorf("no GPT header at sector %d (no \"EFI PART\" signature)", lba)
	}
	hsize := binary.LittleEndian.Uint32(h[12:16])
	if hsize < 92 || hsize > lbaSize {
		return gpt{}, fmt.Errorf("GPT header at sector %d: header size %d out of range", lba, hsize)
	}
	want := binary.LittleEndian.Uint32(h[16:20])
	hc := bytes.Clone(h[:hsize])
	clear(hc[16:20])
	if got := crc32.ChecksumIEEE(hc); got != want {
		return gpt{}, fmt.Errorf("GPT header at sector %d: CRC32 0x%08x, computed 0x%08x", lba, want, got)
	}
	g := gpt{currentLBA: binary.LittleEndian.Uint64(h[24:32]), backupLBA: binary.LittleEndian.Uint64(h[32:40])}
	if g.currentLBA != lba {
		return gpt{}, fmt.Errorf("GPT header at sector %d says it is at sector %d", lba, g.currentLBA)
	}
	entries, err := readGPTEntries(r, h)
	if err != nil {
		return gpt{}, fmt.Errorf("GPT header at sector %d: %w", lba, err)
	}
	g.partitions = entries
	return g, nil
}

func readGPTEntries(r io.ReaderAt, h []byte) ([]gptPartition, error) {
	start := binary.LittleEndian.Uint64(h[72:80])
	n := binary.LittleEndian.Uint32(h[80:84])
	size := binary.LittleEndian.Uint32(h[84:88])
	want := binary.LittleEndian.Uint32(h[88:92])
	if n == 0 || n > maxGPTEntries || size < 128 || size > 4096 || size%8 != 0 {
		return nil, fmt.Errorf("implausible partition entry array (%d entries of %d bytes)", n, size)
	}
	arr := make([]byte, int(n)*int(size))
	if _, err := r.ReadAt(arr, int64(start)*lbaSize); err != nil {
		return nil, fmt.Errorf("reading the partition entries at sector %d: %w", start, err)
	}
	if got := crc32.ChecksumIEEE(arr); got != want {
		return nil, fmt.Errorf("partition entry array CRC32 0x%08x, computed 0x%08x", want, got)
	}
	var parts []gptPartition
	for i := 0; i < int(n); i++ {
		e := arr[i*int(size) : (i+1)*int(size)]
		var typ [16]byte
		copy(typ[:], e[:16])
		if typ == ([16]byte{}) {
			continue
		}
		p := gptPartition{index: i + 1, typ: typ,
			first: binary.LittleEndian.Uint64(e[32:40]), last: binary.LittleEndian.Uint64(e[40:48]),
			name: utf16Name(e[56:128]), efiSystemPart: typ == espTypeGUID}
		p.describeForCmp = fmt.Sprintf("#%d type %s %q", p.index, guidString(typ), p.name)
		parts = append(parts, p)
	}
	return parts, nil
}

// basicDataGUID is the "Microsoft basic data" type xorriso gives the ISO
// 9660 partition and its gap fillers.
var basicDataGUID = [16]byte{0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7}

// isGap reports whether p is a filler xorriso adds over padding ("Gap1").
func (p gptPartition) isGap() bool {
	return p.typ == basicDataGUID && strings.HasPrefix(p.name, "Gap")
}

// esp returns the EFI System Partition.
func (g gpt) esp() (gptPartition, error) {
	for _, p := range g.partitions {
		if p.efiSystemPart {
			return p, nil
		}
	}
	return gptPartition{}, errors.New("the GPT has no EFI System Partition")
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// guidString formats an on-disk (mixed-endian) GUID in its usual form.
func guidString(g [16]byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]), binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

// isFATBootSector reports whether the 512 bytes look like a FAT file
// system's boot sector (signature and a FAT type string).
func isFATBootSector(b []byte) bool {
	if len(b) < lbaSize || b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	return bytes.HasPrefix(b[54:], []byte("FAT")) || bytes.HasPrefix(b[82:], []byte("FAT"))
}
