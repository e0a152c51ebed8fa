package testiso

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bitfield/script"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// requiredModules are what /init needs to find the ISO on an IDE/SATA CD-ROM
// or disk, what the test installer needs to mount the squashfs layer (loop,
// squashfs), make the live system writable (overlay), write ext4, make LVM
// volumes (dm_mod) and write the ESP (vfat with the code page and character
// sets of Debian's FAT defaults), and
// what the installed system needs to mount its root (on LVM) and its
// /boot/efi: in Debian's kernel all of them are modules (the installed
// system has no /lib/modules of its own). Their dependencies are added from
// modinfo.
var requiredModules = []string{"isofs", "cdrom", "sr_mod", "ata_piix", "ahci", "sd_mod", "loop", "squashfs", "ext4",
	"dm_mod", "overlay", "vfat", "nls_cp437", "nls_ascii", "nls_utf8"}

// optionalModules are loaded when the kernel has them as modules: the
// generic CRC implementations that crc-t10dif and crc64-rocksoft (sd_mod's
// t10-pi) ask for through soft dependencies, the crc32c that ext4 asks
// for by its alias crypto-crc32c (without it ext4 refuses to mount a file
// system with metadata checksums), and the NIC drivers of QEMU's pc machine
// (e1000, its default, and virtio-net) for the installed system's network.
var optionalModules = []string{"crct10dif_generic", "crc64_rocksoft_generic", "crc32c_generic", "e1000", "virtio_pci", "virtio_net"}

// kernelRef names a versioned Debian kernel package.
type kernelRef struct {
	Package string
	Version string
}

// kernel is an extracted kernel in the cache.
type kernel struct {
	Dir     string   `json:"-"`
	Release string   `json:"release"`
	Modules []string `json:"modules"` // file names under Dir/modules, in load order
}

func (k kernel) vmlinuz() string { return filepath.Join(k.Dir, "vmlinuz") }

func (k kernel) modulePath(name string) string { return filepath.Join(k.Dir, "modules", name) }

// aptListsDir holds apt's package lists; its entries change with every
// apt-get update.
const aptListsDir = "/var/lib/apt/lists"

// resolveKernel turns the kernel package option (usually the metapackage
// linux-image-amd64) into the versioned package apt would install. The
// answer is remembered in the cache until apt's package lists change
// (apt-cache takes seconds to load them).
func (b *builder) resolveKernel(ctx context.Context) (kernelRef, error) {
	memo := filepath.Join(b.opts.CacheDir, "testiso", "resolved-"+safeName(b.opts.KernelPackage)+".json")
	stamp := aptListsStamp()
	var saved struct {
		Stamp string
		Ref   kernelRef
	}
	if data, err := os.ReadFile(memo); err == nil && json.Unmarshal(data, &saved) == nil && stamp != "" && saved.Stamp == stamp {
		return saved.Ref, nil
	}
	ref, err := b.askApt(ctx)
	if err != nil {
		return ref, err
	}
	saved.Stamp, saved.Ref = aptListsStamp(), ref
	if data, err := json.Marshal(saved); err == nil && os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", memo, os.Getpid())
		if os.WriteFile(tmp, data, 0o644) == nil {
			if os.Rename(tmp, memo) != nil {
				os.Remove(tmp) // no memo: the next run resolves the kernel again
			}
		}
	}
	return ref, nil
}

// aptListsStamp summarises the names, sizes and times of apt's package
// lists; empty when they cannot be read.
func aptListsStamp() string {
	entries, err := os.ReadDir(aptListsDir)
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		fmt.Fprintf(h, "%s %d %d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// askApt resolves the kernel package with apt-cache. Missing package lists
// are fetched with apt-get update when running as root.
func (b *builder) askApt(ctx context.Context) (kernelRef, error) {
	stanza, err := aptShow(ctx, b.opts.KernelPackage)
	if err != nil {
		if os.Geteuid() != 0 {
			return kernelRef{}, fmt.Errorf("%w\napt cannot tell which kernel %s is; its package lists may be missing: run `sudo apt-get update` and try again", err, b.opts.KernelPackage)
		}
		fmt.Fprintf(b.log, "testiso: apt-cache does not know %s; running apt-get update\n", b.opts.KernelPackage)
		if uerr := tool.Command("apt-get", "update", "-q").Env("DEBIAN_FRONTEND=noninteractive").Run(ctx); uerr != nil {
			return kernelRef{}, fmt.Errorf("finding the kernel package %s: %w; apt-get update failed too: %w", b.opts.KernelPackage, err, uerr)
		}
		if stanza, err = aptShow(ctx, b.opts.KernelPackage); err != nil {
			return kernelRef{}, fmt.Errorf("finding the kernel package %s after apt-get update: %w", b.opts.KernelPackage, err)
		}
	}
	return parseKernelStanza(b.opts.KernelPackage, stanza)
}

func aptShow(ctx context.Context, pkg string) (string, error) {
	out, err := tool.Command("apt-cache", "show", "--no-all-versions", pkg).Output(ctx)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(out)) == "" {
		return "", fmt.Errorf("apt-cache show %s printed nothing", pkg)
	}
	return string(out), nil
}

// versionedImage matches a dependency on a versioned kernel image package:
// "linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
var versionedImage = regexp.MustCompile(`^(linux-image-[0-9][^ ]*)\s*\(=\s*([^)\s]+)\)`)

// parseKernelStanza reads `apt-cache show` output. A metapackage resolves to
// the versioned linux-image package it depends on; a versioned package is
// taken as it is.
func parseKernelStanza(pkg, stanza string) (kernelRef, error) {
	depends, err := script.Echo(stanza).MatchRegexp(regexp.MustCompile(`^Depends:`)).First(1).String()
	if err != nil {
		return kernelRef{}, err
	}
	for _, alt := range strings.FieldsFunc(strings.TrimPrefix(strings.TrimSpace(depends), "Depends:"), func(r rune) bool { return r == ',' || r == '|' }) {
		if m := versionedImage.FindStringSubmatch(strings.TrimSpace(alt)); m != nil {
			return kernelRef{Package: m[1], Version: m[2]}, nil
		}
	}
	version, err := script.Echo(stanza).MatchRegexp(regexp.MustCompile(`^Version:`)).First(1).String()
	if err != nil {
		return kernelRef{}, err
	}
	version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(version), "Version:"))
	if !strings.HasPrefix(pkg, "linux-image-") || version == "" {
		return kernelRef{}, fmt.Errorf("%s is neither a linux-image package nor depends on one (apt-cache show %s)", pkg, pkg)
	}
	return kernelRef{Package: pkg, Version: version}, nil
}

// ensureKernel downloads and extracts the kernel package into the cache
// (apt-get download + dpkg -x: nothing is installed) and keeps only vmlinuz
// and the modules /init loads.
func (b *builder) ensureKernel(ctx context.Context, ref kernelRef) (kernel, error) {
	dir := filepath.Join(b.opts.CacheDir, "testiso", "kernel", kernelCacheName(ref))
	_, err := cached(ctx, dir, func(tmp string) error {
		fmt.Fprintf(b.log, "testiso: downloading %s %s\n", ref.Package, ref.Version)
		return extractKernel(ctx, ref, tmp)
	})
	if err != nil {
		return kernel{}, fmt.Errorf("getting the kernel %s %s: %w", ref.Package, ref.Version, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return kernel{}, err
	}
	k := kernel{Dir: dir}
	if err := json.Unmarshal(data, &k); err != nil {
		return kernel{}, fmt.Errorf("%s: %w", filepath.Join(dir, "kernel.json"), err)
	}
	return k, nil
}

func extractKernel(ctx context.Context, ref kernelRef, out string) error {
	download := filepath.Join(out, "download")
	root := filepath.Join(out, "root")
	// apt's download sandbox user (_apt) must be able to write here.
	if err := os.Mkdir(download, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(download, 0o777); err != nil {
		return err
	}
	if err := tool.Command("apt-get", "download", "-q", ref.Package+"="+ref.Version).Dir(download).Run(ctx); err != nil {
		return err
	}
	debs, err := filepath.Glob(filepath.Join(download, "*.deb"))
	if err != nil || len(debs) != 1 {
		return fmt.Errorf("apt-get download %s=%s left %d .deb files in %s, want 1", ref.Package, ref.Version, len(debs), download)
	}
	if err := tool.Command("dpkg", "-x", debs[0], root).Run(ctx); err != nil {
		return err
	}
	k, err := keepKernelFiles(ctx, root, out)
	if err != nil {
		return fmt.Errorf("%s: %w", debs[0], err)
	}
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "kernel.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(download); err != nil {
		return err
	}
	return os.RemoveAll(root)
}

// keepKernelFiles copies vmlinuz and the needed modules (in load order) from
// the extracted package root into out.
func keepKernelFiles(ctx context.Context, root, out string) (kernel, error) {
	releases, err := filepath.Glob(filepath.Join(root, "lib", "modules", "*"))
	if err != nil || len(releases) != 1 {
		return kernel{}, fmt.Errorf("want exactly one lib/modules/<release> directory, found %d", len(releases))
	}
	modDir := releases[0]
	k := kernel{Release: filepath.Base(modDir)}
	if err := copyFile(filepath.Join(root, "boot", "vmlinuz-"+k.Release), filepath.Join(out, "vmlinuz"), 0o644); err != nil {
		return kernel{}, err
	}
	idx, err := indexModules(modDir)
	if err != nil {
		return kernel{}, err
	}
	order, err := idx.loadOrder(ctx, requiredModules, optionalModules)
	if err != nil {
		return kernel{}, err
	}
	if err := os.Mkdir(filepath.Join(out, "modules"), 0o755); err != nil {
		return kernel{}, err
	}
	for _, name := range order {
		file, err := uncompressedModule(ctx, idx.files[name], filepath.Join(out, "modules"))
		if err != nil {
			return kernel{}, err
		}
		k.Modules = append(k.Modules, file)
	}
	return k, nil
}

// moduleIndex maps normalised module names (dashes as underscores) to .ko
// files, and knows which modules are built into the kernel.
type moduleIndex struct {
	files   map[string]string
	builtin map[string]bool
}

func modName(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

func indexModules(modDir string) (moduleIndex, error) {
	idx := moduleIndex{files: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.Contains(d.Name(), ".ko") {
			idx.files[modName(d.Name())] = p
		}
		return nil
	})
	if err != nil {
		return idx, err
	}
	f, err := os.Open(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return idx, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		idx.builtin[modName(s.Text())] = true
	}
	return idx, s.Err()
}

// loadOrder lists the modules to load, each after its dependencies (hard
// ones from `modinfo -F depends`, "pre:" soft ones from `modinfo -F softdep`).
func (idx moduleIndex) loadOrder(ctx context.Context, required, optional []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		path, ok := idx.files[name]
		if !ok {
			return fmt.Errorf("module %s (needed by %s) is not in the kernel package", name, strings.Join(chain, " -> "))
		}
		state[name] = 1
		deps, err := idx.dependencies(ctx, path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if idx.builtin[d] {
				continue
			}
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, m := range required {
		m = modName(m)
		if idx.builtin[m] {
			continue
		}
		if err := visit(m, nil); err != nil {
			return nil, err
		}
	}
	for _, m := range optional {
		if _, ok := idx.files[m]; ok {
			if err := visit(m, nil); err != nil {
				return nil, err
			}
		}
	}
	return order, nil
}

// dependencies are a module's soft "pre:" dependencies that name a module
// of this kernel (directly or as <name>_generic), then its hard ones.
func (idx moduleIndex) dependencies(ctx context.Context, path string) ([]string, error) {
	var deps []string
	soft, err := tool.Command("modinfo", "-F", "softdep", path).Output(ctx)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(soft), "\n") {
		pre, _, _ := strings.Cut(line, "post:")
		_, pre, ok := strings.Cut(pre, "pre:")
		if !ok {
			continue
		}
		for _, name := range strings.Fields(pre) {
			name = modName(name)
			if _, ok := idx.files[name]; ok {
				deps = append(deps, name)
			} else if _, ok := idx.files[name+"_generic"]; ok {
				deps = append(deps, name+"_generic")
			}
		}
	}
	hard, err := tool.Command("modinfo", "-F", "depends", path).Output(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Split(strings.TrimSpace(string(hard)), ",") {
		if name = strings.TrimSpace(name); name != "" {
			deps = append(deps, modName(name))
		}
	}
	return deps, nil
}

// uncompressedModule copies a module into dir as a plain .ko, which busybox
// insmod can load whatever the kernel's decompression support. It returns
// the new file's name.
func uncompressedModule(ctx context.Context, src, dir string) (string, error) {
	base := filepath.Base(src)
	name := base[:strings.Index(base, ".ko")] + ".ko"
	dst := filepath.Join(dir, name)
	switch {
	case strings.HasSuffix(base, ".ko"):
		return name, copyFile(src, dst, 0o644)
	case strings.HasSuffix(base, ".ko.xz"):
		return name, decompress(ctx, dst, "xz", "-dc", src)
	case strings.HasSuffix(base, ".ko.zst"):
		return name, decompress(ctx, dst, "zstd", "-dcq", src)
	case strings.HasSuffix(base, ".ko.gz"):
		return name, decompress(ctx, dst, "gzip", "-dc", src)
	}
	return "", fmt.Errorf("module %s: unknown compression", src)
}

func decompress(ctx context.Context, dst string, name string, args ...string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := tool.Command(name, args...).Stdout(f).Run(ctx); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// kernelCacheName names a kernel's cache entry after the package and the
// module lists, so a change of either extracts again.
func kernelCacheName(ref kernelRef) string {
	h := sha256.Sum256([]byte(strings.Join(requiredModules, ",") + ";" + strings.Join(optionalModules, ",")))
	return safeName(ref.Package+"_"+ref.Version) + "-" + hex.EncodeToString(h[:])[:8]
}
