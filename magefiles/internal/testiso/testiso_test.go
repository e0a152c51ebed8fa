package testiso

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// xorrisoReport runs xorriso's boot reports on an ISO.
func xorrisoReport(t *testing.T, iso string) string {
	t.Helper()
	out, err := tool.Command("xorriso", "-indev", iso,
		"-report_el_torito", "plain", "-report_el_torito", "as_mkisofs", "-report_system_area", "plain").Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestFixtureBootLayout checks the boot records against Ubuntu 22.04.3
// live-server's: BIOS El Torito with boot-info-table and GRUB2 boot info,
// the ESP appended as GPT partition 2 (EFI System type) that is also the El
// Torito EFI image, GRUB's hybrid MBR, protective MBR, partition offset 16.
func TestFixtureBootLayout(t *testing.T) {
	fx := Shared(t)
	report := xorrisoReport(t, fx.ISO)
	for _, re := range []string{
		`(?m)^-V 'Ubuntu-Server 22\.04\.3 LTS amd64'$`,
		`(?m)^--grub2-mbr `,
		`(?m)^--protective-msdos-label$`,
		`(?m)^-partition_offset 16$`,
		`(?m)^-append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b `, // EFI System, as Ubuntu's
		`(?m)^-appended_part_as_gpt$`,
		`(?m)^-b '/boot/grub/i386-pc/eltorito\.img'$`,
		`(?m)^-boot-info-table$`,
		`(?m)^--grub2-boot-info$`,
		`(?m)^-e '--interval:appended_partition_2_start_\d+s_size_\d+d:all::'$`,
		`(?m)^El Torito boot img :\s+1\s+BIOS\s+y\s+none\s`,
		`(?m)^El Torito boot img :\s+2\s+UEFI\s+y\s+none\s`,
		`(?m)^El Torito img path :\s+1\s+/boot/grub/i386-pc/eltorito\.img$`,
		`(?m)^System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT$`,
		`(?m)^GPT type GUID\s+:\s+2\s+28732ac11ff8d211ba4b00a0c93ec93b$`,
		`(?m)^Partition offset\s+:\s+16$`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("xorriso report has no line matching %s", re)
		}
	}
	if t.Failed() {
		t.Logf("xorriso report:\n%s", report)
	}
}

// TestFixtureVolumeDescriptors reads the ISO's volume descriptors: the
// primary one carries the volume id, and a Joliet supplementary one exists.
func TestFixtureVolumeDescriptors(t *testing.T) {
	fx := Shared(t)
	f, err := os.Open(fx.ISO)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var volumeID string
	joliet := false
	for sector := int64(16); sector < 32; sector++ {
		d := make([]byte, 2048)
		if _, err := f.ReadAt(d, sector*2048); err != nil {
			t.Fatal(err)
		}
		if string(d[1:6]) != "CD001" {
			t.Fatalf("sector %d is not a volume descriptor", sector)
		}
		switch d[0] {
		case 1:
			volumeID = strings.TrimRight(string(d[40:72]), " ")
		case 2:
			esc := string(d[88:91])
			joliet = joliet || esc == "%/@" || esc == "%/C" || esc == "%/E"
		}
		if d[0] == 255 {
			break
		}
	}
	if volumeID != VolumeID || fx.VolumeID != VolumeID {
		t.Errorf("volume id %q (fixture says %q), want %q", volumeID, fx.VolumeID, VolumeID)
	}
	if !joliet {
		t.Error("no Joliet supplementary volume descriptor")
	}
}

var extracted struct {
	once sync.Once
	dir  string
}

// extractedFixture is the shared fixture unpacked once per test binary.
func extractedFixture(t *testing.T) string {
	fx := Shared(t)
	extracted.once.Do(func() {
		dir, err := os.MkdirTemp("", "testiso-extract-")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "iso")
		if err := tool.Command("xorriso", "-osirrox", "on", "-indev", fx.ISO, "-extract", "/", out).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		extracted.dir = out
	})
	if extracted.dir == "" {
		t.Fatal("extracting the fixture failed in another test")
	}
	return extracted.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if extracted.dir != "" {
		root := filepath.Dir(extracted.dir)
		// Best effort: make every directory writable so RemoveAll can
		// empty it.
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(root)
	}
	os.Exit(code)
}

// TestFixtureMD5Sums checks /md5sum.txt as "Check disc for defects" reads
// it: Ubuntu's "<md5>  ./path" lines, sorted byte-wise, one per file on the
// ISO except md5sum.txt itself, the boot catalog and the El Torito image
// that xorriso patched, each matching the file's content.
func TestFixtureMD5Sums(t *testing.T) {
	dir := extractedFixture(t)
	data, err := os.ReadFile(filepath.Join(dir, "md5sum.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lineRE := regexp.MustCompile(`^([0-9a-f]{32})  (\./\S+)$`)
	var listed []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := lineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("md5sum.txt line %q is not in Ubuntu's format", line)
		}
		listed = append(listed, m[2])
		got := md5Of(t, filepath.Join(dir, m[2]))
		if got != m[1] {
			t.Errorf("md5sum.txt says %s for %s, the file on the ISO has %s", m[1], m[2], got)
		}
	}
	if !slices.IsSorted(listed) {
		t.Errorf("md5sum.txt is not sorted byte-wise: %v", listed)
	}
	var onISO []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			onISO = append(onISO, "./"+filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(onISO)
	skipped := []string{"./boot.catalog", "./boot/grub/i386-pc/eltorito.img", "./md5sum.txt"}
	want := slices.DeleteFunc(slices.Clone(onISO), func(p string) bool { return slices.Contains(skipped, p) })
	if !slices.Equal(listed, want) {
		t.Errorf("md5sum.txt lists\n%v\nwant every file on the ISO except %v:\n%v", listed, skipped, want)
	}
	// The reason eltorito.img is left out: the ISO's copy is patched.
	fx := Shared(t)
	if md5Of(t, filepath.Join(dir, "boot/grub/i386-pc/eltorito.img")) == md5Of(t, filepath.Join(fx.Tree, "boot/grub/i386-pc/eltorito.img")) {
		t.Error("eltorito.img on the ISO equals the unpatched one: no boot-info-table was written")
	}
}

func md5Of(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", md5.Sum(data))
}

// TestFixtureFiles checks the files of Ubuntu's layout that the pipeline
// reads or patches, as they come off the ISO.
func TestFixtureFiles(t *testing.T) {
	dir := extractedFixture(t)
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	grub := read("boot/grub/grub.cfg")
	for _, want := range []string{
		`menuentry "Try or Install Ubuntu Server" {`,
		"\tlinux\t/casper/vmlinuz  ---\n",
		"\tinitrd\t/casper/initrd\n",
		"serial --unit=0 --speed=115200\n",
		"terminal_output console serial\n",
		"set timeout=1\n",
	} {
		if !strings.Contains(grub, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, grub)
		}
	}
	if loop := read("boot/grub/loopback.cfg"); !strings.Contains(loop, "linux\t/casper/vmlinuz  iso-scan/filename=${iso_path} ---") {
		t.Errorf("loopback.cfg is not Ubuntu's shape:\n%s", loop)
	}
	if info := read(".disk/info"); !strings.HasPrefix(info, "Ubuntu-Server 22.04.3 LTS") {
		t.Errorf(".disk/info = %q", info)
	}
	if target, err := os.Readlink(filepath.Join(dir, "ubuntu")); err != nil || target != "." {
		t.Errorf("/ubuntu should be a Rock Ridge symlink to \".\": %q, %v", target, err)
	}
	if !bytes.Equal([]byte(read("casper/vmlinuz")), readFile(t, Shared(t).KernelPath)) {
		t.Error("/casper/vmlinuz differs from the fixture's kernel")
	}
	if magic := read("casper/vmlinuz")[0x202:0x206]; magic != "HdrS" {
		t.Errorf("/casper/vmlinuz is not a bzImage (setup header magic %q)", magic)
	}
	out, err := tool.Command("unsquashfs", "-lc", filepath.Join(dir, SquashfsPath)).Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "squashfs-root/etc/os-release") {
		t.Errorf("%s lists:\n%s", SquashfsPath, out)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// cpioNames lists the members of a gzip-compressed newc cpio archive.
func cpioNames(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s is not gzip: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	members := map[string][]byte{}
	for off := 0; off+110 <= len(data); {
		h := data[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad cpio header at %d", off)
		}
		var size, nameSize uint32
		if _, err := fmt.Sscanf(string(h[54:62]), "%x", &size); err != nil {
			t.Fatalf("cpio header at %d: file size: %v", off, err)
		}
		if _, err := fmt.Sscanf(string(h[94:102]), "%x", &nameSize); err != nil {
			t.Fatalf("cpio header at %d: name size: %v", off, err)
		}
		name := string(data[off+110 : off+110+int(nameSize)-1])
		off = align4(off + 110 + int(nameSize))
		if name == "TRAILER!!!" {
			break
		}
		members[name] = data[off : off+int(size)]
		off = align4(off + int(size))
	}
	return members
}

func align4(n int) int { return (n + 3) &^ 3 }

// TestInitramfs checks the initramfs: static busybox, /init, and the CD and
// disk modules listed in an order where every module follows what it needs.
func TestInitramfs(t *testing.T) {
	fx := Shared(t)
	members := cpioNames(t, fx.InitrdPath)
	for _, name := range []string{"init", "bin/busybox", "etc/modules.order", "dev", "proc", "sys", "cdrom"} {
		if _, ok := members[name]; !ok {
			t.Errorf("initramfs has no %s", name)
		}
	}
	if _, ok := members["etc/testiso-silent"]; ok {
		t.Error("the standard fixture is marked silent")
	}
	if elf := members["bin/busybox"]; len(elf) < 4 || string(elf[1:4]) != "ELF" {
		t.Error("bin/busybox is not an ELF binary")
	}
	order := strings.Fields(string(members["etc/modules.order"]))
	if !slices.Equal(order, fx.Modules) {
		t.Errorf("modules.order %v, fixture says %v", order, fx.Modules)
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
		if _, ok := members["lib/modules/"+m]; !ok {
			t.Errorf("module %s is listed but not in the initramfs", m)
		}
	}
	for _, pair := range [][2]string{
		{"cdrom.ko", "isofs.ko"}, {"cdrom.ko", "sr_mod.ko"}, {"scsi_mod.ko", "sr_mod.ko"},
		{"libata.ko", "ata_piix.ko"}, {"libahci.ko", "ahci.ko"}, {"t10-pi.ko", "sd_mod.ko"},
		{"crc-t10dif.ko", "t10-pi.ko"}, {"crct10dif_generic.ko", "crc-t10dif.ko"},
	} {
		before, okB := pos[pair[0]]
		after, okA := pos[pair[1]]
		if !okB || !okA || before > after {
			t.Errorf("%s must be loaded before %s: order %v", pair[0], pair[1], order)
		}
	}
	init := string(members["init"])
	for _, want := range []string{`NOVASPHERE-CMDLINE: $(cat /proc/cmdline)`, `NOVASPHERE-VERSION: `, `NOVASPHERE-BOOT-DONE`, "poweroff -f"} {
		if !strings.Contains(init, want) {
			t.Errorf("/init lacks %q", want)
		}
	}
}

// linkedKernelCache makes a fresh cache directory that shares the shared
// fixture's kernel download, so a test can build other fixtures without
// downloading the kernel again.
func linkedKernelCache(t testing.TB) string {
	t.Helper()
	Shared(t)
	cache := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cache, "testiso"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(defaultCacheDir(), "testiso", "kernel"), filepath.Join(cache, "testiso", "kernel")); err != nil {
		t.Fatal(err)
	}
	return cache
}

// TestBuildIsReproducibleAndCached builds the same fixture (with a squashfs
// payload) in two empty caches: the ISOs must be identical byte for byte, a
// second Build must come from the cache, and the payload must be there.
func TestBuildIsReproducibleAndCached(t *testing.T) {
	const payload = 3 << 20
	ctx := context.Background()
	var digests []string
	var first Fixture
	for i := range 2 {
		opts := Options{CacheDir: linkedKernelCache(t), SquashfsBytes: payload}
		fx, err := Build(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if fx.Cached {
			t.Errorf("build %d in an empty cache says it came from the cache", i)
		}
		digests = append(digests, fmt.Sprintf("%x", sha256.Sum256(readFile(t, fx.ISO))))
		again, err := Build(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Cached || again.ISO != fx.ISO {
			t.Errorf("second Build: cached=%v ISO %s, want the cached %s", again.Cached, again.ISO, fx.ISO)
		}
		first = fx
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds from the same inputs differ: %s vs %s", digests[0], digests[1])
	}
	if first.Key == Shared(t).Key {
		t.Error("a payload fixture has the standard fixture's cache key")
	}
	out, err := tool.Command("unsquashfs", "-lls", filepath.Join(first.Tree, SquashfsPath)).Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)\s%d\s.*squashfs-root/payload\.bin$`, payload)).Match(out) {
		t.Errorf("squashfs has no %d-byte payload.bin:\n%s", payload, out)
	}
	if st, err := os.Stat(filepath.Join(first.Tree, SquashfsPath)); err != nil || st.Size() < payload {
		t.Errorf("squashfs is smaller than its incompressible payload: %v %v", st, err)
	}
}

// TestSilentFixture: the silent variant's initramfs carries the flag its
// /init checks, and gets its own cache entry.
func TestSilentFixture(t *testing.T) {
	fx, err := Build(context.Background(), Options{CacheDir: linkedKernelCache(t), Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	if !fx.Silent {
		t.Error("fixture does not say it is silent")
	}
	if _, ok := cpioNames(t, fx.InitrdPath)["etc/testiso-silent"]; !ok {
		t.Error("silent fixture's initramfs lacks etc/testiso-silent")
	}
}

// TestCachedBuildsOnce runs concurrent builders of one cache entry: exactly
// one builds, the others get its result, and no temporary directory stays.
func TestCachedBuildsOnce(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "entry")
	var builds atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cached(context.Background(), dir, func(tmp string) error {
				builds.Add(1)
				time.Sleep(100 * time.Millisecond)
				return os.WriteFile(filepath.Join(tmp, "done"), []byte("ok"), 0o644)
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times, want once", n)
	}
	if got := string(readFile(t, filepath.Join(dir, "done"))); got != "ok" {
		t.Errorf("entry holds %q", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(parent, ".tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

// TestCachedFailureLeavesNothing: a failed build leaves no entry, so the
// next call builds again.
func TestCachedFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "entry")
	_, err := cached(context.Background(), dir, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return fmt.Errorf("tool failed")
	})
	if err == nil || err.Error() != "tool failed" {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s", dir)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(parent, ".tmp-*")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestParseKernelStanza(t *testing.T) {
	for _, tc := range []struct {
		name, pkg, stanza string
		want              kernelRef
		err               string
	}{
		{"metapackage", "linux-image-amd64",
			"Package: linux-image-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)\n",
			kernelRef{"linux-image-6.1.0-56-amd64", "6.1.192-2"}, ""},
		{"versioned package", "linux-image-6.1.0-56-amd64",
			"Package: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\nDepends: kmod, linux-base (>= 4.3~)\n",
			kernelRef{"linux-image-6.1.0-56-amd64", "6.1.192-2"}, ""},
		{"not a kernel", "busybox", "Package: busybox\nVersion: 1:1.35.0-4\nDepends: libc6 (>= 2.34)\n",
			kernelRef{}, "neither a linux-image package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKernelStanza(tc.pkg, tc.stanza)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic(busyboxPath); err != nil {
		t.Errorf("busybox-static's busybox: %v", err)
	}
	if err := checkStatic("/usr/bin/xorriso"); err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("a dynamically linked program: err = %v, want advice to install busybox-static", err)
	}
}
