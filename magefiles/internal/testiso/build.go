package testiso

import (
	"compress/gzip"
	"context"
	"crypto/md5"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// busyboxPath is the statically linked busybox of Debian's busybox-static.
const busyboxPath = "/bin/busybox"

// The boot images, as on Ubuntu's ISO.
const (
	biosBootImage = "/boot/grub/i386-pc/eltorito.img"
	efiBootFile   = "/EFI/boot/bootx64.efi"
	bootCatalog   = "/boot.catalog"
	grubMBR       = "/usr/lib/grub/i386-pc/boot_hybrid.img"
)

// Partition type GUIDs Ubuntu's ISO uses in its GPT: the ESP (appended
// partition 2) and Basic Data for the ISO 9660 partition.
const (
	espTypeGUID       = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	basicDataTypeGUID = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
)

// GRUB modules built into the boot images; the early config (-c) finds the
// ISO by /.disk/info and normal mode reads /boot/grub/grub.cfg.
var (
	grubCommonModules = []string{"iso9660", "part_msdos", "part_gpt", "fat", "search", "search_fs_file",
		"normal", "configfile", "linux", "echo", "test", "serial", "terminal", "sleep"}
	grubBIOSModules = append([]string{"biosdisk"}, grubCommonModules...)
	grubEFIModules  = append([]string{"efi_gop"}, grubCommonModules...)
)

// Tools are every tool the test ISO's builder runs (the testiso target's,
// and the test command installs them).
func Tools() []tool.Tool { return tool.Union(requiredTools, installerTools) }

// requiredTools are what Build runs.
var requiredTools = []tool.Tool{
	tool.Xorriso, tool.Mksquashfs, tool.Mformat, tool.Mcopy, tool.GrubMkimage,
	tool.GrubPCModules, tool.GrubEFIModule, tool.Busybox, tool.Cpio, tool.Modinfo,
}

type builder struct {
	opts   Options
	log    io.Writer
	rootfs *Rootfs // the installer fixture's root file system
}

func (b *builder) build(ctx context.Context) (Fixture, error) {
	noInstall, err := config.OSEnv().Bool(config.EnvNoInstall, false)
	if err != nil {
		return Fixture{}, err
	}
	tools := requiredTools
	if b.opts.Installer {
		tools = append(append([]tool.Tool(nil), tools...), installerTools...)
	}
	if err := tool.NewProvisioner(noInstall, b.log).Ensure(ctx, "testiso", tools...); err != nil {
		return Fixture{}, err
	}
	ref, err := b.resolveKernel(ctx)
	if err != nil {
		return Fixture{}, err
	}
	if b.opts.Installer {
		r, err := b.ensureRootfs(ctx)
		if err != nil {
			return Fixture{}, err
		}
		b.rootfs = &r
	}
	key, err := b.cacheKey(ctx, ref)
	if err != nil {
		return Fixture{}, err
	}
	dir := filepath.Join(b.opts.CacheDir, "testiso", "fixture-"+key)
	hit, err := cached(ctx, dir, func(tmp string) error {
		fmt.Fprintf(b.log, "testiso: building %s\n", dir)
		return b.buildInto(ctx, ref, key, tmp)
	})
	if err != nil {
		return Fixture{}, err
	}
	f, err := loadFixture(dir)
	if err != nil {
		return Fixture{}, fmt.Errorf("reading the cached fixture (remove %s to rebuild it): %w", dir, err)
	}
	f.Cached = hit
	return f, nil
}

// buildInto builds the fixture into the empty directory out.
func (b *builder) buildInto(ctx context.Context, ref kernelRef, key, out string) error {
	k, err := b.ensureKernel(ctx, ref)
	if err != nil {
		return err
	}
	work := filepath.Join(out, "work")
	tree := filepath.Join(out, treeName)
	for _, d := range []string{work, ".disk", "boot/grub/i386-pc", "EFI/boot", "casper"} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(tree, d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	steps := []struct {
		what string
		run  func() error
	}{
		{"static files", func() error { return b.copyStatic(tree) }},
		{"layout", func() error { return b.opts.Layout.apply(tree, b.opts.SourceDateEpoch) }},
		{"GRUB images", func() error { return b.grubImages(ctx, tree, work) }},
		{"ESP image", func() error { return b.espImage(ctx, tree, filepath.Join(out, espName)) }},
		{"kernel", func() error { return copyFile(k.vmlinuz(), filepath.Join(tree, "casper", "vmlinuz"), 0o644) }},
		{"initramfs", func() error { return b.initrd(ctx, k, work, filepath.Join(tree, "casper", "initrd")) }},
		{"HWE kernel", func() error { return b.opts.Layout.hweKernel(tree) }},
		{"squashfs", func() error { return b.squashfsLayer(ctx, work, tree) }},
		{"md5sum.txt", func() error { return b.md5sums(tree) }},
		{"timestamps", func() error { return setTimes(tree, b.opts.SourceDateEpoch) }},
		{"ISO", func() error { return b.xorriso(ctx, tree, filepath.Join(out, espName), filepath.Join(out, isoName)) }},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		fmt.Fprintf(b.log, "testiso: %s done in %s\n", s.what, time.Since(start).Round(time.Millisecond))
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	f := Fixture{
		VolumeID:             b.opts.Layout.volumeID(),
		KernelPackage:        ref.Package,
		KernelPackageVersion: ref.Version,
		KernelRelease:        k.Release,
		Modules:              k.Modules,
		Squashfs:             []string{SquashfsPath},
		Silent:               b.opts.Silent,
		Installer:            b.opts.Installer,
		Rootfs:               b.rootfs,
		SquashfsBytes:        b.opts.SquashfsBytes,
		SourceDateEpoch:      b.opts.SourceDateEpoch,
		Key:                  key,
	}
	if err := writeManifest(out, f); err != nil {
		return err
	}
	// Shared by every test: nobody may change it in place.
	return os.Chmod(filepath.Join(out, isoName), 0o444)
}

func (b *builder) static(name string) string { return filepath.Join(b.opts.TestdataDir, name) }

// copyStatic puts the static inputs where Ubuntu has them, and Ubuntu's
// "ubuntu -> ." symlink at the root.
func (b *builder) copyStatic(tree string) error {
	for src, dst := range map[string]string{
		"grub.cfg":     "boot/grub/grub.cfg",
		"loopback.cfg": "boot/grub/loopback.cfg",
		"disk-info":    ".disk/info",
		// Ubuntu's install sources and layer manifests (package lists
		// read off a real Debian 12 system), for the offline-package
		// check and the SBOM.
		"install-sources.yaml":                                   "casper/install-sources.yaml",
		"ubuntu-server-minimal.manifest":                         "casper/ubuntu-server-minimal.manifest",
		"ubuntu-server-minimal.ubuntu-server.manifest":           "casper/ubuntu-server-minimal.ubuntu-server.manifest",
		"ubuntu-server-minimal.ubuntu-server.installer.manifest": "casper/ubuntu-server-minimal.ubuntu-server.installer.manifest",
	} {
		if err := copyFile(b.static(src), filepath.Join(tree, dst), 0o644); err != nil {
			return err
		}
	}
	return os.Symlink(".", filepath.Join(tree, "ubuntu"))
}

// grubImages makes the BIOS El Torito image and the EFI boot file, both with
// the early config of testdata/testiso/grub-early.cfg built in.
func (b *builder) grubImages(ctx context.Context, tree, work string) error {
	early := b.static("grub-early.cfg")
	bios := append([]string{"-O", "i386-pc-eltorito", "-o", filepath.Join(tree, biosBootImage), "-p", "/boot/grub", "-c", early}, grubBIOSModules...)
	if err := tool.Command("grub-mkimage", bios...).Run(ctx); err != nil {
		return err
	}
	efi := append([]string{"-O", "x86_64-efi", "-o", filepath.Join(tree, efiBootFile), "-p", "/boot/grub", "-c", early}, grubEFIModules...)
	return tool.Command("grub-mkimage", efi...).Run(ctx)
}

// espImage makes the FAT EFI System Partition image holding
// EFI/boot/bootx64.efi, with mtools (no root, no mount).
func (b *builder) espImage(ctx context.Context, tree, img string) error {
	efi := filepath.Join(tree, efiBootFile)
	st, err := os.Stat(efi)
	if err != nil {
		return err
	}
	// mcopy -m copies these times into the FAT directory entries.
	if err := setTimes(filepath.Join(tree, "EFI"), b.opts.SourceDateEpoch); err != nil {
		return err
	}
	const mib = 1 << 20
	size := (st.Size() + mib/2 + mib - 1) / mib * mib
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(img, size); err != nil {
		return err
	}
	// mtools takes directory times from SOURCE_DATE_EPOCH; -N fixes the
	// otherwise random volume serial.
	epoch := "SOURCE_DATE_EPOCH=" + strconv.FormatInt(b.opts.SourceDateEpoch, 10)
	serial := fmt.Sprintf("%08x", uint32(b.opts.SourceDateEpoch))
	if err := tool.Command("mformat", "-i", img, "-N", serial, "-v", "ESP", "-h", "64", "-s", "32",
		"-T", strconv.FormatInt(size/512, 10), "::").Env(epoch).Run(ctx); err != nil {
		return err
	}
	return tool.Command("mcopy", "-s", "-m", "-i", img, filepath.Join(tree, "EFI"), "::/").Env(epoch).Run(ctx)
}

// initrd makes the gzip-compressed newc cpio initramfs: static busybox, /init
// and the kernel modules it loads.
func (b *builder) initrd(ctx context.Context, k kernel, work, out string) error {
	root := filepath.Join(work, "initrd")
	for _, d := range []string{"bin", "dev", "proc", "sys", "cdrom", "etc", "lib/modules"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := checkStatic(busyboxPath); err != nil {
		return err
	}
	if err := copyFile(busyboxPath, filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	if err := copyFile(b.static("init"), filepath.Join(root, "init"), 0o755); err != nil {
		return err
	}
	for _, m := range k.Modules {
		if err := copyFile(k.modulePath(m), filepath.Join(root, "lib", "modules", m), 0o644); err != nil {
			return err
		}
	}
	order := strings.Join(k.Modules, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "modules.order"), []byte(order), 0o644); err != nil {
		return err
	}
	if b.opts.Silent {
		if err := os.WriteFile(filepath.Join(root, "etc", "testiso-silent"), nil, 0o644); err != nil {
			return err
		}
	}
	if b.opts.Installer {
		if err := b.buildInstaller(ctx, filepath.Join(root, "bin", "novasphere-installer")); err != nil {
			return fmt.Errorf("building the test installer: %w", err)
		}
		if err := os.Symlink("novasphere-installer", filepath.Join(root, "bin", "curtin")); err != nil {
			return err
		}
		if err := b.installedBootImages(ctx, filepath.Join(root, filepath.FromSlash(installerBootDir))); err != nil {
			return fmt.Errorf("boot images of the installed disk: %w", err)
		}
	}
	if err := setTimes(root, b.opts.SourceDateEpoch); err != nil {
		return err
	}
	list, err := sortedPaths(root)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	err = tool.Command("cpio", "--create", "--format=newc", "--reproducible", "--owner=0:0", "--quiet").
		Dir(root).Stdin(strings.NewReader(strings.Join(list, "\n") + "\n")).Stdout(zw).Run(ctx)
	if err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// checkStatic makes sure path is a statically linked executable: the
// initramfs has no C library. Debian's busybox and busybox-static packages
// both install /bin/busybox; only the latter is static.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked and cannot run in the initramfs: install the package busybox-static (apt-get install busybox-static)", path)
		}
	}
	return nil
}

// squashfsLayer puts the squashfs layer on the ISO: the Debian root file
// system with its manifest and install-sources.yaml for an installer
// fixture, else the small stand-in.
func (b *builder) squashfsLayer(ctx context.Context, work, tree string) error {
	if b.rootfs == nil {
		return b.squashfs(ctx, work, filepath.Join(tree, SquashfsPath))
	}
	if err := copyFile(b.rootfs.Squashfs, filepath.Join(tree, SquashfsPath), 0o644); err != nil {
		return err
	}
	if err := copyFile(b.rootfs.Manifest, filepath.Join(tree, ManifestPath), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tree, SourcesPath), b.opts.Layout.sources(installSources(*b.rootfs)), 0o644)
}

// squashfs makes a small root filesystem image, plus the incompressible
// payload of Options.SquashfsBytes when asked.
func (b *builder) squashfs(ctx context.Context, work, out string) error {
	root := filepath.Join(work, "squashfs-root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		return err
	}
	osRelease := "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n" +
		"VERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n" +
		"UBUNTU_CODENAME=jammy\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte(osRelease), 0o644); err != nil {
		return err
	}
	args := []string{root, out, "-noappend", "-quiet", "-no-progress", "-no-xattrs", "-all-root", "-comp", "xz"}
	if b.opts.SquashfsBytes > 0 {
		if err := writePayload(filepath.Join(root, "payload.bin"), b.opts.SquashfsBytes); err != nil {
			return err
		}
		// Random data does not compress: do not spend minutes trying.
		args = append(args, "-noD", "-noF")
	}
	if err := setTimes(root, b.opts.SourceDateEpoch); err != nil {
		return err
	}
	epoch := strconv.FormatInt(b.opts.SourceDateEpoch, 10)
	return tool.Command("mksquashfs", args...).Env("SOURCE_DATE_EPOCH=" + epoch).Run(ctx)
}

// writePayload writes n deterministic pseudo-random bytes (ChaCha8 with a
// fixed seed): the same every time, and incompressible.
func writePayload(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var seed [32]byte
	copy(seed[:], "novasphere-iso testiso payload")
	src := rand.NewChaCha8(seed)
	if _, err := io.CopyN(f, src, n); err != nil {
		return err
	}
	return f.Close()
}

// md5sums writes /md5sum.txt as Ubuntu does: "<md5>  ./<path>" for every
// regular file, sorted byte-wise, leaving out the paths listed in
// testdata/testiso/md5sum.exclude.
func (b *builder) md5sums(tree string) error {
	exclude, err := readExcludes(b.static("md5sum.exclude"))
	if err != nil {
		return err
	}
	var lines []string
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(tree, p)
		if err != nil {
			return err
		}
		name := "./" + filepath.ToSlash(rel)
		if exclude[name] {
			return nil
		}
		sum, err := md5File(p)
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+name)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][34:] < lines[j][34:] })
	return os.WriteFile(filepath.Join(tree, "md5sum.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func readExcludes(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ex := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			ex[line] = true
		}
	}
	return ex, nil
}

func md5File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// xorriso writes the ISO with the boot setup of Ubuntu 22.04 live-server
// (compare `xorriso -indev ubuntu-22.04.3-live-server-amd64.iso
// -report_el_torito as_mkisofs`).
func (b *builder) xorriso(ctx context.Context, tree, esp, out string) error {
	args := []string{
		"-as", "mkisofs",
		"-quiet",
		"-r", "-J", "-joliet-long",
		"-V", b.opts.Layout.volumeID(),
		"--set_all_file_dates", "=" + strconv.FormatInt(b.opts.SourceDateEpoch, 10),
		"-o", out,
		"--grub2-mbr", grubMBR,
		"--protective-msdos-label",
		"-partition_cyl_align", "off",
		"-partition_offset", "16",
		"--mbr-force-bootable",
		"-append_partition", "2", espTypeGUID, esp,
		"-appended_part_as_gpt",
		"-iso_mbr_part_type", basicDataTypeGUID,
		"-c", bootCatalog,
		"-b", biosBootImage,
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "--grub2-boot-info",
		"-eltorito-alt-boot",
		"-e", "--interval:appended_partition_2:all::",
		"-no-emul-boot",
		tree,
	}
	epoch := strconv.FormatInt(b.opts.SourceDateEpoch, 10)
	// SOURCE_DATE_EPOCH fixes the volume dates and GPT GUIDs; every file date
	// (the symlink's too) is set explicitly above.
	return tool.Command("xorriso", args...).Env("SOURCE_DATE_EPOCH=" + epoch).Run(ctx)
}

// setTimes sets the modification time of every file and directory under root
// (not symlinks) to epoch.
func setTimes(root string, epoch int64) error {
	t := epochTime(epoch)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, t, t)
	})
}

func epochTime(epoch int64) time.Time { return time.Unix(epoch, 0).UTC() }

// sortedPaths lists everything under root as relative paths, sorted.
func sortedPaths(root string) ([]string, error) {
	var list []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		list = append(list, rel)
		return err
	})
	sort.Strings(list)
	return list, err
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
