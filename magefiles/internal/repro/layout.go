package repro

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/novasphere/novasphere-iso/magefiles/internal/eltorito"
)

// Kind says what part of an ISO image a byte belongs to.
type Kind string

// The parts of an image, from the most specific.
const (
	KindFile             Kind = "file"
	KindBootCatalog      Kind = "El Torito boot catalog"
	KindDirectory        Kind = "directory records"
	KindJolietDirectory  Kind = "Joliet directory records"
	KindRockRidge        Kind = "Rock Ridge continuation area"
	KindPathTable        Kind = "path table"
	KindVolumeDescriptor Kind = "volume descriptor"
	KindSystemArea       Kind = "system area"
	KindBackupGPT        Kind = "backup GPT"
	KindPartition        Kind = "GPT partition"
	KindAfterVolume      Kind = "after the ISO 9660 volume"
	KindUnattributed     Kind = "not in any file or ISO 9660 structure"
	KindPastEnd          Kind = "past the end of the image"
)

// Location is where a byte offset lies in an image.
type Location struct {
	Kind Kind
	// Path is the ISO path of a file or directory ("/novasphere/VERSION").
	Path string
	// Offset is the byte's offset inside the file, for KindFile.
	Offset int64
	// Detail names the structure for the other kinds ("primary volume
	// descriptor", "GPT header", "partition 2 \"Appended2\"").
	Detail string
}

// String describes the location in a few words.
func (l Location) String() string {
	switch l.Kind {
	case KindFile:
		return fmt.Sprintf("file %s at offset %d", l.Path, l.Offset)
	case KindDirectory, KindJolietDirectory, KindRockRidge:
		if l.Detail != "" {
			return fmt.Sprintf("%s of %s (%s)", l.Kind, l.Path, l.Detail)
		}
		return fmt.Sprintf("%s of %s", l.Kind, l.Path)
	}
	if l.Detail != "" {
		return fmt.Sprintf("%s (%s)", l.Kind, l.Detail)
	}
	return string(l.Kind)
}

// region is a byte range [start, end) of the image with its meaning. For a
// file, fileOffset is the offset in the file of start.
type region struct {
	start, end int64
	loc        Location
}

// layout is the map of an image: its regions in order of preference (files
// first, partitions last), so the first region holding a byte names it.
type layout struct {
	size      int64
	volumeEnd int64
	regions   []region
}

// locate says where off lies.
func (l *layout) locate(off int64) Location {
	if off >= l.size {
		return Location{Kind: KindPastEnd, Detail: fmt.Sprintf("the image has %d bytes", l.size)}
	}
	for _, r := range l.regions {
		// A GPT partition names only bytes after the ISO 9660 volume
		// (xorriso's partition 1 spans the whole volume).
		if r.loc.Kind == KindPartition && off < l.volumeEnd {
			continue
		}
		if off >= r.start && off < r.end {
			loc := r.loc
			if loc.Kind == KindFile {
				loc.Offset += off - r.start
			}
			return loc
		}
	}
	if off >= l.volumeEnd {
		return Location{Kind: KindAfterVolume, Detail: "appended data or padding"}
	}
	return Location{Kind: KindUnattributed, Detail: "padding or checksum tags"}
}

const (
	sector     = eltorito.SectorSize
	firstVDLBA = 16
	maxVDs     = 64
	maxDepth   = 64
)

// errNotISO is wrapped by readLayout for images without ISO 9660 volume
// descriptors.
var errNotISO = errors.New("not an ISO 9660 image")

// readLayout maps the image r of size bytes: files and directories of the
// primary (Rock Ridge names) tree, the Joliet tree's directories, path
// tables, volume descriptors, the boot catalog, the system area and the GPT.
// An image made with xorriso -partition_offset (as Ubuntu's are) holds a
// second descriptor set and directory trees for mounting the partition; they
// are mapped too.
func readLayout(r io.ReaderAt, size int64) (*layout, error) {
	l := &layout{size: size}
	w := &walker{r: r, size: size}
	pvd, structures, err := volume(w, 0)
	if err != nil {
		return nil, err
	}
	l.volumeEnd = int64(binary.LittleEndian.Uint32(pvd[80:84])) * sector
	sys := systemArea(r, size)
	for _, off := range partitionOffsets(sys) {
		// A second set is optional: an offset without one is no error.
		if _, more, err := volume(w, off); err == nil {
			structures = append(structures, more...)
		}
	}
	if cat, err := eltorito.Read(r); err == nil {
		structures = append(structures, region{int64(cat.LBA) * sector, int64(cat.LBA+1) * sector, Location{Kind: KindBootCatalog}})
	}
	l.regions = append(l.regions, w.files...)
	l.regions = append(l.regions, structures...)
	l.regions = append(l.regions, w.dirs...)
	l.regions = append(l.regions, w.continuations...)
	l.regions = append(l.regions, sys...)
	return l, nil
}

// volume maps the descriptor set and directory trees of the volume that
// starts at block base (0 for the image itself, a partition offset for
// xorriso's second set), returning its primary volume descriptor. Files are
// collected from the primary tree of base 0 only: every other tree points at
// the same data.
func volume(w *walker, base int64) ([]byte, []region, error) {
	vds, err := volumeDescriptors(io.NewSectionReader(w.r, base*sector, w.size-base*sector))
	if err != nil {
		return nil, nil, err
	}
	copyOf := ""
	if base != 0 {
		copyOf = fmt.Sprintf("copy for partition offset %d", base)
	}
	var structures []region
	var pvd, joliet []byte
	for i, d := range vds {
		lba := base + int64(firstVDLBA+i)
		structures = append(structures, region{lba * sector, (lba + 1) * sector, Location{Kind: KindVolumeDescriptor, Detail: joinDetail(vdName(d), copyOf)}})
		switch {
		case d[0] == 1 && pvd == nil:
			pvd = d
		case d[0] == 2 && isJoliet(d) && joliet == nil:
			joliet = d
		}
	}
	if pvd == nil {
		return nil, nil, fmt.Errorf("%w: no primary volume descriptor", errNotISO)
	}
	structures = append(structures, pathTables(pvd, base, joinDetail("ISO 9660", copyOf))...)
	w.base, w.copyOf, w.seen = base, copyOf, map[int64]bool{}
	if err := w.walk(pvd[156:190], "/", KindDirectory, base == 0, 0); err != nil {
		return nil, nil, fmt.Errorf("reading the ISO 9660 directory tree: %w", err)
	}
	if joliet != nil {
		structures = append(structures, pathTables(joliet, base, joinDetail("Joliet", copyOf))...)
		w.seen = map[int64]bool{}
		if err := w.walk(joliet[156:190], "/", KindJolietDirectory, false, 0); err != nil {
			return nil, nil, fmt.Errorf("reading the Joliet directory tree: %w", err)
		}
	}
	return pvd, structures, nil
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + ", " + b
}

// partitionOffsets are the 2048-byte block offsets of partitions inside the
// ISO 9660 volume (from the GPT), where xorriso -partition_offset puts a
// second descriptor set; 16, Ubuntu's, is always tried.
func partitionOffsets(sys []region) []int64 {
	offs := []int64{16}
	for _, r := range sys {
		if r.loc.Kind != KindPartition || r.start%sector != 0 {
			continue
		}
		o := r.start / sector
		if o > 0 && o != 16 {
			offs = append(offs, o)
		}
	}
	return offs
}

// volumeDescriptors returns the descriptors from block 16 up to the set
// terminator (excluded).
func volumeDescriptors(r io.ReaderAt) ([][]byte, error) {
	var vds [][]byte
	for i := int64(0); i < maxVDs; i++ {
		d := make([]byte, sector)
		if _, err := r.ReadAt(d, (firstVDLBA+i)*sector); err != nil {
			return nil, fmt.Errorf("%w: reading volume descriptor %d: %v", errNotISO, i, err)
		}
		if string(d[1:6]) != "CD001" {
			return nil, fmt.Errorf("%w: block %d holds no volume descriptor (no CD001 signature)", errNotISO, firstVDLBA+i)
		}
		vds = append(vds, d)
		if d[0] == 255 {
			return vds, nil
		}
	}
	return nil, fmt.Errorf("%w: no volume descriptor set terminator in %d blocks", errNotISO, maxVDs)
}

func vdName(d []byte) string {
	switch d[0] {
	case 0:
		if strings.HasPrefix(string(d[7:39]), "EL TORITO SPECIFICATION") {
			return "El Torito boot record"
		}
		return "boot record"
	case 1:
		return "primary volume descriptor"
	case 2:
		if isJoliet(d) {
			return "Joliet supplementary volume descriptor"
		}
		return "supplementary volume descriptor"
	case 3:
		return "volume partition descriptor"
	case 255:
		return "volume descriptor set terminator"
	}
	return fmt.Sprintf("volume descriptor of type %d", d[0])
}

// isJoliet reports whether a supplementary descriptor carries a Joliet
// UCS-2 escape sequence.
func isJoliet(d []byte) bool {
	esc := d[88:91]
	return esc[0] == '%' && esc[1] == '/' && (esc[2] == '@' || esc[2] == 'C' || esc[2] == 'E')
}

// pathTables returns the regions of a descriptor's L and M path tables
// (mandatory and optional).
func pathTables(d []byte, base int64, tree string) []region {
	size := int64(binary.LittleEndian.Uint32(d[132:136]))
	if size == 0 {
		return nil
	}
	blocks := (size + sector - 1) / sector
	var out []region
	for _, t := range []struct {
		lba  uint32
		name string
	}{
		{binary.LittleEndian.Uint32(d[140:144]), "type L"},
		{binary.LittleEndian.Uint32(d[144:148]), "optional type L"},
		{binary.BigEndian.Uint32(d[148:152]), "type M"},
		{binary.BigEndian.Uint32(d[152:156]), "optional type M"},
	} {
		if t.lba == 0 {
			continue
		}
		start := (base + int64(t.lba)) * sector
		out = append(out, region{start, start + blocks*sector, Location{Kind: KindPathTable, Detail: t.name + ", " + tree}})
	}
	return out
}

// systemArea maps the first 32 KiB (MBR, GPT header and entries), the GPT
// partitions and the backup GPT at the end of the image.
func systemArea(r io.ReaderAt, size int64) []region {
	out := []region{
		{0, 512, Location{Kind: KindSystemArea, Detail: "MBR: boot code and partition table"}},
	}
	hdr := make([]byte, 512)
	gpt := false
	if _, err := r.ReadAt(hdr, 512); err == nil && string(hdr[:8]) == "EFI PART" {
		gpt = true
		out = append(out, region{512, 1024, Location{Kind: KindSystemArea, Detail: "GPT header"}})
		entriesLBA := int64(binary.LittleEndian.Uint64(hdr[72:80]))
		n := int64(binary.LittleEndian.Uint32(hdr[80:84]))
		esize := int64(binary.LittleEndian.Uint32(hdr[84:88]))
		if entriesLBA > 0 && n > 0 && n <= 1024 && esize >= 128 && esize <= 4096 {
			start := entriesLBA * 512
			out = append(out, region{start, start + n*esize, Location{Kind: KindSystemArea, Detail: "GPT partition entries"}})
			out = append(out, gptPartitions(r, start, n, esize)...)
		}
	}
	out = append(out, region{1024, firstVDLBA * sector, Location{Kind: KindSystemArea, Detail: "boot code or unused"}})
	if gpt && size >= 33*512 {
		tail := make([]byte, 8)
		if _, err := r.ReadAt(tail, size-512); err == nil && string(tail) == "EFI PART" {
			out = append(out, region{size - 33*512, size, Location{Kind: KindBackupGPT, Detail: "partition entries and header at the end of the image"}})
		}
	}
	// Partitions come last: a byte inside the ISO 9660 volume is named by
	// the file or structure it belongs to first.
	var parts, rest []region
	for _, reg := range out {
		if reg.loc.Kind == KindPartition {
			parts = append(parts, reg)
		} else {
			rest = append(rest, reg)
		}
	}
	return append(rest, parts...)
}

// gptPartitions reads the partition entries at start.
func gptPartitions(r io.ReaderAt, start, n, esize int64) []region {
	raw := make([]byte, n*esize)
	if _, err := r.ReadAt(raw, start); err != nil {
		return nil
	}
	var out []region
	for i := int64(0); i < n; i++ {
		e := raw[i*esize : (i+1)*esize]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:40]))
		last := int64(binary.LittleEndian.Uint64(e[40:48]))
		if last < first {
			continue
		}
		u := make([]uint16, 36)
		for j := range u {
			u[j] = binary.LittleEndian.Uint16(e[56+2*j:])
		}
		name := strings.TrimRight(string(utf16.Decode(u)), "\x00")
		out = append(out, region{first * 512, (last + 1) * 512, Location{Kind: KindPartition, Detail: fmt.Sprintf("partition %d %q", i+1, name)}})
	}
	return out
}
