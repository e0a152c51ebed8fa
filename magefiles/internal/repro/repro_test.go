package repro

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tiny ISOs built with real xorriso, the way pack builds ours: Rock Ridge
// and Joliet, every date from SOURCE_DATE_EPOCH (volume dates and GPT GUIDs
// through the environment, file dates through --set_all_file_dates, since
// the trees are written at different times).

const epoch = "1700000000"

// payload writes a small tree like the installer's /novasphere into dir.
func payload(t testing.TB, dir string) {
	t.Helper()
	r := rand.NewChaCha8([32]byte{7})
	data := make([]byte, 9000)
	_, _ = r.Read(data) // ChaCha8.Read never fails
	files := map[string][]byte{
		"novasphere/VERSION":                      []byte("v1.2.3\n"),
		"novasphere/charts/novasphere/Chart.yaml": []byte("apiVersion: v2\nname: novasphere\nversion: 0.1.0\n"),
		"novasphere/packages/data.bin":            data,
		"novasphere/scripts/install.sh":           []byte("#!/bin/sh\necho install\n"),
		"novasphere/a file name that is rather long, with spaces and 'quotes', more than sixty-four characters.txt": []byte("long\n"),
		"boot/grub/grub.cfg": []byte("menuentry x {}\n"),
		".disk/info":         []byte("NovaSphere test\n"),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mkiso builds an ISO of dir with xorriso; extra arguments go before the
// tree.
func mkiso(t testing.TB, dir, out string, extra ...string) {
	t.Helper()
	args := append([]string{"-as", "mkisofs", "-R", "-J", "-joliet-long", "-V", "NOVASPHERE TEST",
		"--set_all_file_dates", "=" + epoch, "-o", out}, extra...)
	args = append(args, dir)
	cmd := exec.Command("xorriso", args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// build makes a payload tree, lets edit change it, and builds the ISO.
func build(t testing.TB, name string, edit func(dir string), extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	payload(t, dir)
	if edit != nil {
		edit(dir)
	}
	out := filepath.Join(t.TempDir(), name)
	mkiso(t, dir, out, extra...)
	return out
}

func compare(t *testing.T, a, b string) Diff {
	t.Helper()
	d, err := Compare(a, b)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	t.Logf("%s", d)
	return d
}

func TestIdenticalInputsGiveIdenticalISOs(t *testing.T) {
	t.Parallel()
	a := build(t, "a.iso", nil)
	// The second tree is the same content written at another time.
	b := build(t, "b.iso", func(dir string) {
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chtimes(p, old, old)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	d := compare(t, a, b)
	if !d.Identical() || d.RangeCount != 0 || len(d.Ranges) != 0 {
		t.Fatalf("two builds of the same inputs differ:\n%s", d)
	}
	if _, ok := d.First(); ok {
		t.Error("First() found a range in identical files")
	}
	if !strings.Contains(d.String(), "identical") {
		t.Errorf("report %q does not say identical", d)
	}
}

// One changed byte in a payload file is reported with that file's ISO path
// and the offset inside it, and nothing else differs.
func TestChangedPayloadByteNamesTheFile(t *testing.T) {
	t.Parallel()
	a := build(t, "a.iso", nil)
	b := build(t, "b.iso", func(dir string) {
		p := filepath.Join(dir, "novasphere/packages/data.bin")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[4321] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	d := compare(t, a, b)
	if d.Identical() {
		t.Fatal("Compare found no difference")
	}
	r, _ := d.First()
	want := Location{Kind: KindFile, Path: "/novasphere/packages/data.bin", Offset: 4321}
	if r.InA != want || r.InB != want {
		t.Errorf("first range %d-%d in %v / %v, want %v", r.Start, r.End, r.InA, r.InB, want)
	}
	if r.End-r.Start != 1 || d.RangeCount != 1 || d.DifferentBytes != 1 || d.SizeA != d.SizeB {
		t.Errorf("want exactly one differing byte, got %d range(s), %d byte(s), first %d-%d", d.RangeCount, d.DifferentBytes, r.Start, r.End)
	}
	if !strings.Contains(d.String(), "file /novasphere/packages/data.bin at offset 4321") {
		t.Errorf("report does not name the file:\n%s", d)
	}
}

// A file that grows changes its directory record (the data length) in both
// trees, and its data.
func TestGrownFileNamesItsDirectoryRecords(t *testing.T) {
	t.Parallel()
	a := build(t, "a.iso", nil)
	b := build(t, "b.iso", func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "novasphere/VERSION"), []byte("v1.2.3-rc.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	d := compare(t, a, b)
	seen := map[string]bool{}
	for _, r := range d.Ranges {
		seen[r.InA.String()] = true
	}
	for _, want := range []string{
		"directory records of /novasphere",
		"Joliet directory records of /novasphere",
		"file /novasphere/VERSION at offset 6",
	} {
		if !seen[want] {
			t.Errorf("no range in %q; ranges:\n%s", want, d)
		}
	}
}

func TestChangedVolumeIDNamesTheDescriptor(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tree")
	payload(t, dir)
	a := filepath.Join(t.TempDir(), "a.iso")
	b := filepath.Join(t.TempDir(), "b.iso")
	mkiso(t, dir, a)
	mkiso(t, dir, b, "-V", "NOVASPHERE OTHER")
	d := compare(t, a, b)
	r, ok := d.First()
	if !ok || r.InA.Kind != KindVolumeDescriptor || r.InA.Detail != "primary volume descriptor" {
		t.Errorf("first range %+v, want the primary volume descriptor", r)
	}
}

// Bytes outside the ISO 9660 volume: the system area's MBR, a partition
// appended as GPT partition 2 (how Ubuntu appends its EFI System
// Partition), and bytes only the longer image has.
func TestStructuresOutsideFiles(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	efi := filepath.Join(work, "efi.img")
	if err := os.WriteFile(efi, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "tree")
	payload(t, dir)
	a := filepath.Join(work, "a.iso")
	mkiso(t, dir, a, "-append_partition", "2", "0xef", efi, "-appended_part_as_gpt")
	orig, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	la, err := readLayout(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	volumeEnd := la.volumeEnd
	variants := []struct {
		name string
		edit func([]byte) []byte
		want func(Location) bool
		desc string
	}{
		{"MBR byte", func(b []byte) []byte { b[100] ^= 1; return b },
			func(l Location) bool { return l.Kind == KindSystemArea && strings.Contains(l.Detail, "MBR") }, "system area (MBR…)"},
		{"byte in the appended partition", func(b []byte) []byte { b[volumeEnd+3*512+7] ^= 1; return b },
			func(l Location) bool {
				return l.Kind == KindPartition && strings.Contains(l.Detail, `partition 2 "Appended2"`)
			}, "GPT partition 2"},
		{"longer image", func(b []byte) []byte { return append(b, make([]byte, 4096)...) },
			func(l Location) bool { return l.Kind == KindPastEnd }, "past the end"},
	}
	for _, v := range variants {
		b := filepath.Join(work, "b.iso")
		if err := os.WriteFile(b, v.edit(bytes.Clone(orig)), 0o644); err != nil {
			t.Fatal(err)
		}
		d := compare(t, a, b)
		r, ok := d.First()
		if !ok || !v.want(r.InA) {
			t.Errorf("%s: first range %+v, want %s", v.name, r, v.desc)
		}
	}
}

func TestRefusesWhatIsNotAnISO(t *testing.T) {
	t.Parallel()
	a := build(t, "a.iso", nil)
	junk := filepath.Join(t.TempDir(), "junk.iso")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not an iso "), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Compare(a, junk)
	if !IsNotISO(err) || !strings.Contains(err.Error(), junk) {
		t.Errorf("Compare with a non-ISO: %v, want a not-an-ISO error naming %s", err, junk)
	}
	if _, err := Compare(a, filepath.Join(t.TempDir(), "missing.iso")); err == nil || !strings.Contains(err.Error(), "missing.iso") {
		t.Errorf("Compare with a missing file: %v", err)
	}
}

// The layout read from the directory records agrees with xorriso's own
// report of every file's data (report_lba), names included.
func TestLayoutAgreesWithXorriso(t *testing.T) {
	t.Parallel()
	iso := build(t, "a.iso", nil)
	out, err := exec.Command("xorriso", "-indev", iso, "-find", "/", "-type", "f", "-exec", "report_lba", "--").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso report_lba: %v\n%s", err, out)
	}
	want := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "File data lba:")
		if !ok {
			continue
		}
		f := strings.SplitN(rest, ",", 5)
		lba, _ := strconv.Atoi(strings.TrimSpace(f[1]))
		size, _ := strconv.Atoi(strings.TrimSpace(f[3]))
		name := strings.Trim(strings.TrimSpace(f[4]), "'")
		name = strings.ReplaceAll(name, `'"'"'`, "'")
		want[name] = fmt.Sprintf("%d+%d", lba*sector, size)
	}
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	l, err := readLayout(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range l.regions {
		if r.loc.Kind == KindFile {
			got[r.loc.Path] = fmt.Sprintf("%d+%d", r.start, r.end-r.start)
		}
	}
	if len(want) < 7 {
		t.Fatalf("xorriso reported only %d files:\n%s", len(want), out)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: layout %q, xorriso %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("layout has %d files, xorriso %d: %v", len(got), len(want), got)
	}
}

// Ubuntu's ISOs (and ours) are made with -partition_offset 16: xorriso
// writes a second descriptor set and second directory trees for mounting
// partition 1; their records are named as that copy.
func TestPartitionOffsetCopyIsNamed(t *testing.T) {
	t.Parallel()
	a := build(t, "a.iso", nil, "-partition_offset", "16")
	b := build(t, "b.iso", func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "novasphere/VERSION"), []byte("v1.2.3-rc.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, "-partition_offset", "16")
	d := compare(t, a, b)
	seen := map[string]bool{}
	for _, r := range d.Ranges {
		seen[r.InA.String()] = true
	}
	for _, want := range []string{
		"directory records of /novasphere",
		"directory records of /novasphere (copy for partition offset 16)",
		"Joliet directory records of /novasphere (copy for partition offset 16)",
		"file /novasphere/VERSION at offset 6",
	} {
		if !seen[want] {
			t.Errorf("no range in %q; ranges:\n%s", want, d)
		}
	}
}

// compareBytes merges runs closer than mergeGap, keeps the first MaxRanges
// ranges, counts all of them, and follows a run across a chunk boundary.
func TestCompareBytesRanges(t *testing.T) {
	t.Parallel()
	n := chunk + chunk/2
	a := make([]byte, n)
	b := make([]byte, n)
	flip := func(offs ...int) {
		for _, o := range offs {
			b[o] ^= 0x55
		}
	}
	flip(10, 20)                     // one range 10-20 (gap 9 < mergeGap)
	flip(100)                        // separate
	flip(chunk-2, chunk-1, chunk)    // one range across the chunk boundary
	for i := 0; i < MaxRanges; i++ { // enough to overflow Ranges
		flip(200000 + i*1000)
	}
	var d Diff
	if err := compareBytes(bytes.NewReader(a), bytes.NewReader(b), int64(n), &d); err != nil {
		t.Fatal(err)
	}
	if d.RangeCount != int64(3+MaxRanges) || len(d.Ranges) != MaxRanges || d.DifferentBytes != int64(6+MaxRanges) {
		t.Fatalf("RangeCount %d (want %d), kept %d (want %d), bytes %d (want %d)", d.RangeCount, 3+MaxRanges, len(d.Ranges), MaxRanges, d.DifferentBytes, 6+MaxRanges)
	}
	want := [][2]int64{{10, 21}, {100, 101}}
	for i, w := range want {
		if d.Ranges[i].Start != w[0] || d.Ranges[i].End != w[1] {
			t.Errorf("range %d = %d-%d, want %d-%d", i, d.Ranges[i].Start, d.Ranges[i].End, w[0], w[1])
		}
	}
	// A run across the chunk boundary is one range.
	c := make([]byte, n)
	c[chunk-2] ^= 1
	c[chunk+1] ^= 1
	var e Diff
	if err := compareBytes(bytes.NewReader(a), bytes.NewReader(c), int64(n), &e); err != nil {
		t.Fatal(err)
	}
	if e.RangeCount != 1 || e.Ranges[0].Start != int64(chunk-2) || e.Ranges[0].End != int64(chunk+2) {
		t.Errorf("run across the chunk boundary: %d range(s) %+v, want one %d-%d", e.RangeCount, e.Ranges, chunk-2, chunk+2)
	}
}
