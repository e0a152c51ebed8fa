// Package repro compares two builds of the installer ISO byte for byte and,
// when they differ, says where: the first differing byte ranges and, for
// each, the file inside the ISO it belongs to (with the offset in that
// file), or the ISO 9660 structure (system area, GPT, volume descriptors,
// path tables, directory records, El Torito boot catalog) when the byte is
// not file data.
//
// The image's layout is read from its own ISO 9660 directory records (Rock
// Ridge names, Joliet directories) without mounting it or calling any tool.
package repro

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxRanges is how many differing ranges a Diff keeps (all are counted).
const MaxRanges = 16

// mergeGap joins two differing runs separated by fewer equal bytes than
// this into one range (a timestamp whose middle digits happen to match is
// one change, not three).
const mergeGap = 16

// chunk is how much of each file is compared at a time.
const chunk = 4 << 20

// Diff is the result of Compare.
type Diff struct {
	// A and B are the compared files.
	A, B string
	// SizeA and SizeB are their sizes in bytes.
	SizeA, SizeB int64
	// Ranges are the first MaxRanges differing byte ranges, in order. When
	// the sizes differ, the bytes only the longer file has form the last
	// range.
	Ranges []Range
	// RangeCount counts every differing range.
	RangeCount int64
	// DifferentBytes counts the differing bytes in the common length.
	DifferentBytes int64
}

// Range is a run of differing bytes [Start, End) and where it lies in each
// image.
type Range struct {
	Start, End int64
	InA, InB   Location
}

// Identical reports whether the two files have the same bytes.
func (d Diff) Identical() bool { return d.SizeA == d.SizeB && d.RangeCount == 0 }

// First returns the first differing range; ok is false for identical files.
func (d Diff) First() (r Range, ok bool) {
	if len(d.Ranges) == 0 {
		return Range{}, false
	}
	return d.Ranges[0], true
}

// String is the report: "identical", or the ranges and their locations.
func (d Diff) String() string {
	if d.Identical() {
		return fmt.Sprintf("%s and %s are identical (%d bytes)", d.A, d.B, d.SizeA)
	}
	var b strings.Builder
	size := fmt.Sprintf("both %d bytes", d.SizeA)
	if d.SizeA != d.SizeB {
		size = fmt.Sprintf("%d and %d bytes", d.SizeA, d.SizeB)
	}
	fmt.Fprintf(&b, "%s and %s differ: %d differing byte range(s), %d byte(s) differ (%s)", d.A, d.B, d.RangeCount, d.DifferentBytes, size)
	for _, r := range d.Ranges {
		fmt.Fprintf(&b, "\n  bytes %d-%d (%d): ", r.Start, r.End-1, r.End-r.Start)
		if r.InA == r.InB {
			b.WriteString(r.InA.String())
		} else {
			fmt.Fprintf(&b, "in %s: %s; in %s: %s", d.A, r.InA, d.B, r.InB)
		}
	}
	if d.RangeCount > int64(len(d.Ranges)) {
		fmt.Fprintf(&b, "\n  … and %d more range(s)", d.RangeCount-int64(len(d.Ranges)))
	}
	return b.String()
}

// Compare compares the ISO images a and b byte for byte. Both must be ISO
// 9660 images; an error means they could not be read, never that they
// differ.
func Compare(a, b string) (Diff, error) {
	fa, sa, err := openISO(a)
	if err != nil {
		return Diff{}, err
	}
	defer fa.Close()
	fb, sb, err := openISO(b)
	if err != nil {
		return Diff{}, err
	}
	defer fb.Close()
	d := Diff{A: a, B: b, SizeA: sa, SizeB: sb}
	if err := compareBytes(fa, fb, min(sa, sb), &d); err != nil {
		return Diff{}, fmt.Errorf("repro: comparing %s and %s: %w", a, b, err)
	}
	if sa != sb {
		d.RangeCount++
		if len(d.Ranges) < MaxRanges {
			d.Ranges = append(d.Ranges, Range{Start: min(sa, sb), End: max(sa, sb)})
		}
	}
	if len(d.Ranges) == 0 {
		return d, nil
	}
	la, err := readLayout(fa, sa)
	if err != nil {
		return Diff{}, fmt.Errorf("repro: %s: %w", a, err)
	}
	lb, err := readLayout(fb, sb)
	if err != nil {
		return Diff{}, fmt.Errorf("repro: %s: %w", b, err)
	}
	for i := range d.Ranges {
		d.Ranges[i].InA = la.locate(d.Ranges[i].Start)
		d.Ranges[i].InB = lb.locate(d.Ranges[i].Start)
	}
	return d, nil
}

// openISO opens path and checks that it holds ISO 9660 volume descriptors.
func openISO(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("repro: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("repro: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("repro: %s is not a regular file", path)
	}
	if _, err := volumeDescriptors(f); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("repro: %s: %w", path, err)
	}
	return f, st.Size(), nil
}

// compareBytes reads n bytes of both files in step and records the
// differing runs in d.
func compareBytes(a, b io.Reader, n int64, d *Diff) error {
	bufA := make([]byte, chunk)
	bufB := make([]byte, chunk)
	var open *Range   // the run being extended
	var lastEnd int64 // end of the last differing byte seen
	flush := func() {
		if open == nil {
			return
		}
		d.RangeCount++
		if len(d.Ranges) < MaxRanges {
			d.Ranges = append(d.Ranges, *open)
		}
		open = nil
	}
	for pos := int64(0); pos < n; {
		m := int(min(int64(chunk), n-pos))
		if _, err := io.ReadFull(a, bufA[:m]); err != nil {
			return err
		}
		if _, err := io.ReadFull(b, bufB[:m]); err != nil {
			return err
		}
		if open != nil && pos-lastEnd >= mergeGap {
			flush()
		}
		if !bytes.Equal(bufA[:m], bufB[:m]) {
			diffRuns(bufA[:m], bufB[:m], pos, func(off int64) {
				d.DifferentBytes++
				if open != nil && off-lastEnd < mergeGap {
					open.End = off + 1
				} else {
					flush()
					open = &Range{Start: off, End: off + 1}
				}
				lastEnd = off + 1
			})
		}
		pos += int64(m)
	}
	flush()
	return nil
}

// diffRuns calls differ for each offset (base + i) where a and b differ,
// skipping equal 256-byte blocks quickly.
func diffRuns(a, b []byte, base int64, differ func(off int64)) {
	const block = 256
	for i := 0; i < len(a); i += block {
		j := min(i+block, len(a))
		if bytes.Equal(a[i:j], b[i:j]) {
			continue
		}
		for k := i; k < j; k++ {
			if a[k] != b[k] {
				differ(base + int64(k))
			}
		}
	}
}

// IsNotISO reports whether err says a file is not an ISO 9660 image.
func IsNotISO(err error) bool { return errors.Is(err, errNotISO) }
