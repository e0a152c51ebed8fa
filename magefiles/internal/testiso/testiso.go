// Package testiso builds the project's test fixture: a small ISO with the boot
// layout of Ubuntu 22.04 live-server, made with the real tools from Debian
// packages (xorriso, grub-mkimage, mtools, squashfs-tools, cpio, busybox) and
// a real Debian kernel.
//
// The ISO boots in BIOS (El Torito and hybrid MBR) and UEFI (El Torito EFI
// image and GPT EFI System Partition) from CD-ROM or disk. Its initramfs /init
// writes to the first serial port
//
//	NOVASPHERE-CMDLINE: <contents of /proc/cmdline>
//	NOVASPHERE-VERSION: <contents of /novasphere/VERSION>   (only when present)
//	NOVASPHERE-BOOT-DONE
//
// and powers off, so a remastered copy can be booted under QEMU (package
// qemu) to prove that it still boots and carries the right payload.
//
// With Options.Installer the fixture is also an installer, as Ubuntu's ISO
// is: its squashfs layer is a real Debian 12 root file system built with
// mmdebstrap (listed in casper/install-sources.yaml, its packages in the
// layer's .manifest), and its initramfs holds the test installer (package
// installer below), which /init runs after the markers when the kernel
// command line says autoinstall. The installed disk boots with GRUB (BIOS
// and UEFI) into that Debian system, with the fixture's kernel and
// initramfs.
//
// Builds are cached on disk under CacheDir/testiso, keyed by a hash of every
// input, so the tests of several packages share one build. The static inputs
// (grub.cfg, loopback.cfg, /init, ...) live in testdata/testiso.
package testiso

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// VolumeID is the ISO volume id of the fixture, the one of the Ubuntu release
// it imitates.
const VolumeID = "Ubuntu-Server 22.04.3 LTS amd64"

// DefaultSourceDateEpoch fixes every timestamp of the fixture when
// Options.SourceDateEpoch is zero: 2023-08-10 00:00:00 UTC, the release date
// of Ubuntu 22.04.3.
const DefaultSourceDateEpoch int64 = 1691625600

// DefaultKernelPackage is the Debian package whose dependency names the
// kernel that is put on the fixture.
const DefaultKernelPackage = "linux-image-amd64"

// SquashfsPath is the ISO path of the fixture's squashfs, named as on the
// Ubuntu 22.04.3 live-server ISO.
const SquashfsPath = "/casper/ubuntu-server-minimal.squashfs"

// generatorVersion is part of the cache key: bump it when the generator's
// code changes the output.
const generatorVersion = "testiso-4"

// Options configure Build. The zero value builds the standard fixture.
type Options struct {
	// Silent builds an ISO whose /init prints none of the markers and never
	// powers off, for tests of a boot that times out.
	Silent bool
	// Installer makes the fixture an installer: a Debian root file system as
	// its squashfs layer and the test installer in its initramfs.
	Installer bool
	// SquashfsBytes adds a file of this many incompressible, deterministic
	// pseudo-random bytes to the squashfs (stored uncompressed), for large
	// ISOs in benchmarks. Zero keeps the fixture small.
	SquashfsBytes int64
	// CacheDir holds the kernel download and the built fixtures (default
	// $CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/novasphere-iso). Fixtures
	// go in its testiso subdirectory.
	CacheDir string
	// TestdataDir holds the static inputs (default testdata/testiso under the
	// repository root).
	TestdataDir string
	// RepoRoot is the repository root, where the test installer's Go package
	// is built from (default: found from the working directory).
	RepoRoot string
	// KernelPackage is the Debian package to take the kernel from (default
	// DefaultKernelPackage; a metapackage is resolved to the versioned
	// linux-image package it depends on).
	KernelPackage string
	// SourceDateEpoch fixes every timestamp in the ISO (default
	// DefaultSourceDateEpoch).
	SourceDateEpoch int64
	// Layout is the Ubuntu release the fixture imitates (LayoutOf a base
	// of configs/bases.yaml); the zero value is the seed's 22.04.3.
	Layout Layout
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Fixture is a built test ISO. Its files are shared by every user of the cache:
// treat them as read-only and copy the ISO before changing it.
type Fixture struct {
	// ISO is the path of the ISO image (mode 0444).
	ISO string `json:"-"`
	// VolumeID is the ISO's volume id.
	VolumeID string `json:"volume_id"`
	// Dir is the fixture's directory: the ISO, its file tree and the ESP.
	Dir string `json:"-"`
	// Tree is the directory the ISO was made from, file for file (except
	// /boot.catalog, which xorriso adds, and eltorito.img, which xorriso
	// patches with the boot-info-table).
	Tree string `json:"-"`
	// KernelPath is the kernel, the same file as /casper/vmlinuz.
	KernelPath string `json:"-"`
	// InitrdPath is the initramfs, the same file as /casper/initrd.
	InitrdPath string `json:"-"`
	// ESPImage is the FAT image appended as GPT partition 2 and used as the
	// El Torito EFI boot image.
	ESPImage string `json:"-"`
	// KernelPackage and KernelPackageVersion name the Debian package the
	// kernel came from; KernelRelease is its `uname -r`.
	KernelPackage        string `json:"kernel_package"`
	KernelPackageVersion string `json:"kernel_package_version"`
	KernelRelease        string `json:"kernel_release"`
	// Modules are the kernel modules the initramfs loads, in load order.
	Modules []string `json:"modules"`
	// Squashfs are the ISO paths of the squashfs images.
	Squashfs []string `json:"squashfs"`
	// Silent, Installer and SquashfsBytes are the options the fixture was
	// built with.
	Silent        bool  `json:"silent"`
	Installer     bool  `json:"installer"`
	SquashfsBytes int64 `json:"squashfs_bytes"`
	// Rootfs describes the Debian root file system of an installer fixture.
	Rootfs *Rootfs `json:"rootfs,omitempty"`
	// SourceDateEpoch is the time of every timestamp in the ISO.
	SourceDateEpoch int64 `json:"source_date_epoch"`
	// Key is the hash of the inputs that names the cache entry.
	Key string `json:"key"`
	// Cached reports whether this call found the fixture already built.
	Cached bool `json:"-"`
	// BuildTime is how long this call took (building or finding it).
	BuildTime time.Duration `json:"-"`
}

// Names of the files in a fixture directory.
const (
	isoName      = "fixture.iso"
	treeName     = "tree"
	espName      = "esp.img"
	manifestName = "fixture.json"
)

// Build returns the fixture for opts, building it unless the cache already
// holds one made from the same inputs. Concurrent builds of the same inputs,
// in this or other processes, wait for each other and share the result.
func Build(ctx context.Context, opts Options) (Fixture, error) {
	start := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return Fixture{}, fmt.Errorf("testiso: %w", err)
	}
	b := &builder{opts: opts, log: opts.Log}
	f, err := b.build(ctx)
	if err != nil {
		return Fixture{}, fmt.Errorf("testiso: %w", err)
	}
	f.BuildTime = time.Since(start)
	return f, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.SquashfsBytes < 0 {
		return o, fmt.Errorf("SquashfsBytes is %d; it must be zero or positive", o.SquashfsBytes)
	}
	if o.CacheDir == "" {
		o.CacheDir = defaultCacheDir()
	}
	if o.RepoRoot == "" && (o.TestdataDir == "" || o.Installer) {
		root, err := config.FindRoot()
		if err != nil {
			return o, err
		}
		o.RepoRoot = root
	}
	if o.TestdataDir == "" {
		o.TestdataDir = filepath.Join(o.RepoRoot, "testdata", "testiso")
	}
	if o.Installer && o.SquashfsBytes > 0 {
		return o, fmt.Errorf("SquashfsBytes and Installer cannot be combined: the installer fixture's squashfs is the Debian root file system")
	}
	if _, err := os.Stat(filepath.Join(o.TestdataDir, "init")); err != nil {
		return o, fmt.Errorf("the static inputs (grub.cfg, init, ...) are not in %s: run from inside the checkout or set Options.TestdataDir: %w", o.TestdataDir, err)
	}
	if o.KernelPackage == "" {
		o.KernelPackage = DefaultKernelPackage
	}
	if o.SourceDateEpoch == 0 {
		o.SourceDateEpoch = DefaultSourceDateEpoch
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	abs, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return o, err
	}
	o.CacheDir = abs
	return o, nil
}

// defaultCacheDir is the pipeline's CACHE_DIR (the settings table's
// default unless the environment sets it).
func defaultCacheDir() string { return config.CacheDirOf(config.OSEnv()) }

// loadFixture reads a finished fixture directory.
func loadFixture(dir string) (Fixture, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return Fixture{}, err
	}
	var f Fixture
	if err := json.Unmarshal(data, &f); err != nil {
		return Fixture{}, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	f.fillPaths(dir)
	if _, err := os.Stat(f.ISO); err != nil {
		return Fixture{}, err
	}
	return f, nil
}

func (f *Fixture) fillPaths(dir string) {
	f.Dir = dir
	f.ISO = filepath.Join(dir, isoName)
	f.Tree = filepath.Join(dir, treeName)
	f.KernelPath = filepath.Join(f.Tree, "casper", "vmlinuz")
	f.InitrdPath = filepath.Join(f.Tree, "casper", "initrd")
	f.ESPImage = filepath.Join(dir, espName)
}

func writeManifest(dir string, f Fixture) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestName), append(data, '\n'), 0o644)
}
