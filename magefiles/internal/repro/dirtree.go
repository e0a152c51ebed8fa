package repro

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// walker reads ISO 9660 directory trees and collects the regions of
// directory extents and (in the primary tree) file extents.
type walker struct {
	r    io.ReaderAt
	size int64
	// base is the block all LBAs of the tree count from (a partition
	// offset, or 0); copyOf labels the directories of such a copy.
	base   int64
	copyOf string
	seen   map[int64]bool
	dirs   []region
	files  []region
	// continuations are Rock Ridge continuation areas (CE entries).
	continuations []region
}

// maxDirSize bounds one directory's extent (a corrupt length cannot make us
// read gigabytes).
const maxDirSize = 64 << 20

// walk reads the directory whose record is rec (the root record of a volume
// descriptor, or an entry), named name. Files are collected from the primary
// tree only when files is set (the Joliet tree and a partition-offset copy
// point at the same data); a Joliet kind selects UCS-2 names instead of Rock
// Ridge ones.
func (w *walker) walk(rec []byte, name string, kind Kind, files bool, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: directories nested deeper than %d", name, maxDepth)
	}
	lba := w.base + int64(binary.LittleEndian.Uint32(rec[2:6]))
	size := int64(binary.LittleEndian.Uint32(rec[10:14]))
	start := lba * sector
	if size > maxDirSize || start+size > w.size {
		return fmt.Errorf("%s: directory extent at block %d (%d bytes) lies outside the %d-byte image", name, lba, size, w.size)
	}
	if w.seen[lba] {
		return nil
	}
	w.seen[lba] = true
	w.dirs = append(w.dirs, region{start, start + roundUp(size), Location{Kind: kind, Path: name, Detail: w.copyOf}})
	data := make([]byte, size)
	if _, err := w.r.ReadAt(data, start); err != nil {
		return fmt.Errorf("%s: reading the directory: %w", name, err)
	}
	// Multi-extent files have several records with the same name, in order.
	var fileOffset int64
	var prevMulti string
	for off := 0; off < len(data); {
		n := int(data[off])
		if n == 0 {
			// Records never cross a block: go on at the next one.
			off = (off/sector + 1) * sector
			continue
		}
		if n < 34 || off+n > len(data) {
			return fmt.Errorf("%s: damaged directory record at byte %d", name, off)
		}
		r := data[off : off+n]
		off += n
		idLen := int(r[32])
		if 33+idLen > len(r) {
			return fmt.Errorf("%s: damaged directory record (identifier length %d)", name, idLen)
		}
		id := r[33 : 33+idLen]
		if idLen == 1 && id[0] == 0 {
			// ".": its System Use area may continue elsewhere (the root's
			// Rock Ridge ER entry does).
			if su := systemUse(r, idLen); kind == KindDirectory && su != nil {
				w.rockRidgeName(su, name, 0)
			}
			continue
		}
		if idLen == 1 && id[0] == 1 {
			continue // ".."
		}
		child := w.name(r, id, kind == KindJolietDirectory, name)
		full := strings.TrimSuffix(name, "/") + "/" + child
		flags := r[25]
		if flags&0x02 != 0 {
			if err := w.walk(r, full, kind, files, depth+1); err != nil {
				return err
			}
			continue
		}
		if !files {
			continue
		}
		if prevMulti != full {
			fileOffset = 0
		}
		flba := w.base + int64(binary.LittleEndian.Uint32(r[2:6]))
		fsize := int64(binary.LittleEndian.Uint32(r[10:14]))
		if fsize > 0 {
			w.files = append(w.files, region{flba * sector, flba*sector + fsize, Location{Kind: KindFile, Path: full, Offset: fileOffset}})
		}
		fileOffset += fsize
		prevMulti = ""
		if flags&0x80 != 0 {
			prevMulti = full
		}
	}
	return nil
}

func roundUp(n int64) int64 { return (n + sector - 1) / sector * sector }

// name is a record's file name: Joliet UCS-2, else the Rock Ridge NM name,
// else the ISO 9660 identifier without its ";1" version and trailing dot.
func (w *walker) name(rec, id []byte, joliet bool, path string) string {
	if joliet {
		u := make([]uint16, len(id)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(id[2*i:])
		}
		return trimVersion(string(utf16.Decode(u)))
	}
	if su := systemUse(rec, len(id)); su != nil {
		if nm, ok := w.rockRidgeName(su, path, 0); ok {
			return nm
		}
	}
	return strings.TrimSuffix(trimVersion(string(id)), ".")
}

// systemUse returns a directory record's System Use area, or nil.
func systemUse(rec []byte, idLen int) []byte {
	su := 33 + idLen
	if idLen%2 == 0 {
		su++ // padding byte
	}
	if su >= len(rec) {
		return nil
	}
	return rec[su:]
}

func trimVersion(s string) string {
	if i := strings.LastIndexByte(s, ';'); i >= 0 {
		return s[:i]
	}
	return s
}

// rockRidgeName collects the NM entries of a System Use area, following a
// CE continuation area (at most a few hops), whose region it records as
// belonging to the directory dir.
func (w *walker) rockRidgeName(su []byte, dir string, hops int) (string, bool) {
	var b strings.Builder
	found := false
	for len(su) >= 4 {
		sig, n := string(su[:2]), int(su[2])
		if n < 4 || n > len(su) {
			break
		}
		e := su[:n]
		su = su[n:]
		switch sig {
		case "NM":
			if n >= 5 && e[4]&0x06 == 0 { // not "." or ".."
				b.Write(e[5:])
				found = true
			}
		case "CE":
			if n < 28 || hops > 4 {
				continue
			}
			lba := w.base + int64(binary.LittleEndian.Uint32(e[4:8]))
			off := int64(binary.LittleEndian.Uint32(e[12:16]))
			length := int64(binary.LittleEndian.Uint32(e[20:24]))
			if length <= 0 || length > sector || lba*sector+off+length > w.size {
				continue
			}
			cont := make([]byte, length)
			if _, err := w.r.ReadAt(cont, lba*sector+off); err != nil {
				continue
			}
			w.continuations = append(w.continuations, region{lba*sector + off, lba*sector + off + length,
				Location{Kind: KindRockRidge, Path: dir, Detail: w.copyOf}})
			if more, ok := w.rockRidgeName(cont, dir, hops+1); ok {
				b.WriteString(more)
				found = true
			}
		case "ST":
			return b.String(), found
		}
	}
	return b.String(), found
}
