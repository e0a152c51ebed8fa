package eltorito

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bitfield/script"

	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Images built once per test binary with the real xorriso: "hybrid" has
// Ubuntu 22.04's boot layout (BIOS no-emulation image with boot info table,
// EFI image = appended GPT partition 2); "plain" has no El Torito at all.
var (
	buildOnce sync.Once
	images    map[string]string
	buildErr  error
	imagesDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imagesDir != "" {
		os.RemoveAll(imagesDir)
	}
	os.Exit(code)
}

func testImage(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() { images, buildErr = buildImages(t.Context()) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return images[name]
}

func buildImages(ctx context.Context) (map[string]string, error) {
	dir, err := os.MkdirTemp("", "eltorito-test-")
	if err != nil {
		return nil, err
	}
	imagesDir = dir
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "boot"), 0o755); err != nil {
		return nil, err
	}
	bios := make([]byte, 7048)
	_, _ = rand.Read(bios)
	if err := os.WriteFile(filepath.Join(tree, "boot", "bios.img"), bios, 0o644); err != nil {
		return nil, err
	}
	efi := filepath.Join(dir, "efi.img")
	if err := tool.Command("mformat", "-C", "-f", "1440", "-i", efi, "::").Run(ctx); err != nil {
		return nil, err
	}
	out := map[string]string{"hybrid": filepath.Join(dir, "hybrid.iso"), "plain": filepath.Join(dir, "plain.iso")}
	hybrid := []string{"-as", "mkisofs", "-R", "-J", "-V", "ELTORITO TEST",
		"-partition_offset", "16", "--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img",
		"-append_partition", "2", "28732ac11ff8d211ba4b00a0c93ec93b", efi, "-appended_part_as_gpt",
		"-b", "boot/bios.img", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "--grub2-boot-info",
		"-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot",
		"-o", out["hybrid"], tree}
	plain := []string{"-as", "mkisofs", "-R", "-V", "PLAIN TEST", "-o", out["plain"], tree}
	for _, args := range [][]string{hybrid, plain} {
		if err := tool.Command("xorriso", args...).Run(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// xorrisoEntries parses `xorriso -report_el_torito plain` into the fields
// Entry has, the reference our parser must agree with.
func xorrisoEntries(t *testing.T, iso string) []string {
	t.Helper()
	out, err := tool.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").Output(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := script.Echo(string(out)).Match("El Torito boot img :").Slice()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		f := strings.Fields(strings.SplitN(l, ":", 2)[1])
		// N Pltf B Emul Ld_seg Hdpt Ldsiz LBA
		got = append(got, strings.Join(f, " "))
	}
	return got
}

func describeLikeXorriso(e Entry) string {
	b := "n"
	if e.Bootable {
		b = "y"
	}
	return fmt.Sprintf("%d %s %s %s 0x%04x 0x%02x %d %d", e.Index, e.PlatformName(), b, e.EmulationName(), e.LoadSegment, e.SystemType, e.SectorCount, e.LBA)
}

func TestReadAgreesWithXorriso(t *testing.T) {
	t.Run("hybrid", func(t *testing.T) { readAgreesWithXorriso(t, testImage(t, "hybrid")) })
	// The project's Ubuntu-layout test ISO, made with GRUB's real images.
	t.Run("testiso", func(t *testing.T) { readAgreesWithXorriso(t, testiso.Shared(t).ISO) })
}

func readAgreesWithXorriso(t *testing.T, iso string) {
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	want := xorrisoEntries(t, iso)
	var got []string
	for _, e := range cat.Entries {
		got = append(got, describeLikeXorriso(e))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries differ from xorriso's report\nours:\n%s\nxorriso:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(cat.Entries) != 2 || cat.Entries[0].Platform != PlatformBIOS || cat.Entries[1].Platform != PlatformUEFI {
		t.Fatalf("want a BIOS and a UEFI entry, got %v", cat.Entries)
	}
}

func TestBootInfoTable(t *testing.T) {
	data, err := os.ReadFile(testImage(t, "hybrid"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	bios := cat.Entries[0]
	bit, err := ReadBootInfoTable(bytes.NewReader(data), bios)
	if err != nil {
		t.Fatal(err)
	}
	if err := bit.Verify(bytes.NewReader(data), bios); err != nil {
		t.Fatalf("xorriso's boot info table does not verify: %v", err)
	}
	if bit.FileLength != 7048 {
		t.Errorf("boot info table length %d, want the image's 7048 bytes", bit.FileLength)
	}
	// A byte of the image changed after the table was written.
	data[int64(bios.LBA)*SectorSize+5000] ^= 0xff
	if err := bit.Verify(bytes.NewReader(data), bios); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("changed image byte: want a checksum error, got %v", err)
	}
	// The EFI image has no boot info table.
	efi := cat.Entries[1]
	bit, err = ReadBootInfoTable(bytes.NewReader(data), efi)
	if err != nil {
		t.Fatal(err)
	}
	if err := bit.Verify(bytes.NewReader(data), efi); err == nil {
		t.Fatal("the FAT image of the EFI entry verified as having a boot info table")
	}
}

func TestVolumeID(t *testing.T) {
	for name, want := range map[string]string{"hybrid": "ELTORITO TEST", "plain": "PLAIN TEST"} {
		f, err := os.Open(testImage(t, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := VolumeID(f)
		f.Close()
		if err != nil || got != want {
			t.Errorf("%s: VolumeID = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestNoBootRecord(t *testing.T) {
	f, err := os.Open(testImage(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Read(f); !errors.Is(err, ErrNoBootRecord) {
		t.Fatalf("image without El Torito: want ErrNoBootRecord, got %v", err)
	}
}

func TestNotAnISO(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"short":   make([]byte, 100),
		"zeros":   make([]byte, 40*SectorSize),
		"garbage": bytes.Repeat([]byte("not an iso "), 10000),
	} {
		if _, err := Read(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: Read succeeded", name)
		}
		if _, err := VolumeID(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: VolumeID succeeded", name)
		}
	}
}

func TestBrokenValidationEntry(t *testing.T) {
	data, err := os.ReadFile(testImage(t, "hybrid"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	data[int64(cat.LBA)*SectorSize+4] ^= 0x01 // inside the id string: checksum no longer zero
	_, err = Read(bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), strconv.Itoa(int(cat.LBA))) {
		t.Fatalf("want a checksum error naming block %d, got %v", cat.LBA, err)
	}
}

// TestCorruptCatalogNeverPanics flips random bytes in the descriptors and
// the catalog: Read must return (an error or a result), never panic.
func TestCorruptCatalogNeverPanics(t *testing.T) {
	orig, err := os.ReadFile(testImage(t, "hybrid"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := Read(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	regions := [][2]int64{{16 * SectorSize, 20 * SectorSize}, {int64(cat.LBA) * SectorSize, int64(cat.LBA+1) * SectorSize}}
	data := make([]byte, len(orig))
	for i := 0; i < 2000; i++ {
		copy(data, orig)
		for k := 0; k < 1+rng.IntN(8); k++ {
			r := regions[rng.IntN(len(regions))]
			data[r[0]+rng.Int64N(r[1]-r[0])] = byte(rng.IntN(256))
		}
		c, err := Read(bytes.NewReader(data))
		if err == nil {
			for _, e := range c.Entries {
				if bit, err := ReadBootInfoTable(bytes.NewReader(data), e); err == nil {
					_ = bit.Verify(bytes.NewReader(data), e)
				}
			}
		}
		_, _ = VolumeID(bytes.NewReader(data))
	}
}

// TestXorrisoPatchesOnlyBootInfo compares GRUB's real eltorito.img as the
// Ubuntu-layout test ISO holds it with the file xorriso was given: the only
// bytes that differ are the boot info table and the --grub2-boot-info
// address, and that address is the image's 512-byte sector plus 5.
func TestXorrisoPatchesOnlyBootInfo(t *testing.T) {
	fx := testiso.Shared(t)
	orig, err := os.ReadFile(filepath.Join(fx.Tree, "boot", "grub", "i386-pc", "eltorito.img"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fx.ISO)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	bios := cat.Entries[0]
	start := int64(bios.LBA) * SectorSize
	img := data[start : start+int64(len(orig))]
	var patched []int
	for i := range img {
		if img[i] != orig[i] {
			patched = append(patched, i)
		}
	}
	for _, i := range patched {
		inTable := i >= BootInfoTableStart && i < BootInfoTableEnd
		inGRUB2 := i >= GRUB2BootInfoOffset && i < GRUB2BootInfoOffset+8
		if !inTable && !inGRUB2 {
			t.Errorf("xorriso changed byte %d of eltorito.img, outside the boot info table and the GRUB2 boot info", i)
		}
	}
	if len(patched) == 0 {
		t.Fatal("the ISO's eltorito.img equals the file given to xorriso: nothing was patched")
	}
	if !HasGRUB2BootInfo(img, bios) {
		t.Errorf("bytes %d-%d hold %x, want the address %d (block %d * 4 + 5)", GRUB2BootInfoOffset, GRUB2BootInfoOffset+7,
			img[GRUB2BootInfoOffset:GRUB2BootInfoOffset+8], GRUB2BootInfo(bios), bios.LBA)
	}
	if HasGRUB2BootInfo(orig, bios) {
		t.Error("the unpatched eltorito.img already holds the address")
	}
	if got := BootInfoChecksum(img); got != binary.LittleEndian.Uint32(img[20:24]) {
		t.Errorf("BootInfoChecksum = 0x%08x, the table says 0x%08x", got, binary.LittleEndian.Uint32(img[20:24]))
	}
	// The EFI image (a FAT file system) carries no GRUB2 boot info.
	efi := cat.Entries[1]
	if HasGRUB2BootInfo(data[int64(efi.LBA)*SectorSize:], efi) {
		t.Error("the EFI image reads as having GRUB2 boot info")
	}
}
