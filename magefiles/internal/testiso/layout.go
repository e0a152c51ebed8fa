package testiso

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// Layout is the Ubuntu release whose ISO layout the fixture imitates. The
// zero value is the seed's: Ubuntu 22.04.3, install-sources.yaml as a list,
// no kernel layers, no HWE menu entries.
type Layout struct {
	// Base is the base's id in configs/bases.yaml ("" for the seed).
	Base string
	// Release and Codename name the release in /.disk/info and the volume
	// id ("24.04.4", "noble"); "" means 22.04.3.
	Release, Codename string
	// CatalogV2 writes casper/install-sources.yaml as the mapping
	// {version: 2, sources: [...], kernel: {default: ...}} (livecd-rootfs
	// 25.04 and later) instead of the list.
	CatalogV2 bool
	// KernelLayers adds the manifests of the installer's kernel layers
	// (<server>.installer.generic, and .installer.generic-hwe with HWE).
	KernelLayers bool
	// HWE adds the GRUB entry "Try or Install Ubuntu Server (HWE kernel)"
	// booting /casper/hwe-vmlinuz and /casper/hwe-initrd.
	HWE bool
}

// LayoutOf is the layout of base b, from its quirks in configs/bases.yaml.
func LayoutOf(b bases.Base) Layout {
	return Layout{
		Base: b.ID, Release: b.Version, Codename: b.Codename,
		CatalogV2:    b.Quirk(bases.QuirkInstallSources) == bases.SourcesCatalogV2,
		KernelLayers: b.Quirk(bases.QuirkKernelLayers) == "installer",
		HWE:          b.Quirk(bases.QuirkHWEMenu) == "yes",
	}
}

// seed reports whether l is the seed's layout.
func (l Layout) seed() bool { return l == Layout{} }

// volumeID is the ISO volume id of the release, as Ubuntu writes it.
func (l Layout) volumeID() string {
	if l.Release == "" {
		return VolumeID
	}
	return "Ubuntu-Server " + l.Release + " LTS amd64"
}

// diskInfo is /.disk/info of the release.
func (l Layout) diskInfo(epoch int64) []byte {
	name := l.Codename
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return fmt.Appendf(nil, "Ubuntu-Server %s LTS %q - Release amd64 (%s)", l.Release, name, time.Unix(epoch, 0).UTC().Format("20060102"))
}

// sources is install-sources.yaml in the layout's form: list is the list
// form, as the 22.04 fixture has it.
func (l Layout) sources(list []byte) []byte {
	if !l.CatalogV2 {
		return list
	}
	var b bytes.Buffer
	b.WriteString("version: 2\nsources:\n")
	for _, line := range strings.SplitAfter(string(list), "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	b.WriteString("kernel:\n  default: linux-generic\n")
	return b.Bytes()
}

// kernelLayerPrefix is the server layer the kernel layers sit on.
const kernelLayerPrefix = "casper/ubuntu-server-minimal.ubuntu-server.installer"

// apply rewrites the static files of tree for the layout.
func (l Layout) apply(tree string, epoch int64) error {
	if l.seed() {
		return nil
	}
	if err := os.WriteFile(filepath.Join(tree, ".disk", "info"), l.diskInfo(epoch), 0o644); err != nil {
		return err
	}
	src := filepath.Join(tree, "casper", "install-sources.yaml")
	list, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(src, l.sources(list), 0o644); err != nil {
		return err
	}
	if l.KernelLayers {
		layers := map[string]string{".generic": "linux-generic\t6.8.0-31.31\n"}
		if l.HWE {
			layers[".generic-hwe"] = "linux-generic-hwe-" + strings.Join(strings.Split(l.Release, ".")[:2], ".") + "\t6.11.0-17.17\n"
		}
		for suffix, content := range layers {
			if err := os.WriteFile(filepath.Join(tree, kernelLayerPrefix+suffix+".manifest"), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	if l.HWE {
		for _, cfg := range []string{"boot/grub/grub.cfg", "boot/grub/loopback.cfg"} {
			if err := insertHWE(filepath.Join(tree, cfg)); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertHWE adds, after the first menu entry of a GRUB config, the same
// entry for the HWE kernel (/casper/hwe-vmlinuz, /casper/hwe-initrd).
func insertHWE(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	i := strings.Index(s, "menuentry ")
	j := strings.Index(s[max(i, 0):], "\n}\n")
	if i < 0 || j < 0 {
		return fmt.Errorf("%s has no menu entry to put the HWE entry after", path)
	}
	end := i + j + len("\n}\n")
	hwe := strings.NewReplacer(`" {`, ` (HWE kernel)" {`, "/casper/vmlinuz", "/casper/hwe-vmlinuz", "/casper/initrd", "/casper/hwe-initrd").Replace(s[i:end])
	return os.WriteFile(path, []byte(s[:end]+hwe+s[end:]), 0o644)
}

// hweKernel copies the kernel and the initramfs to the HWE names.
func (l Layout) hweKernel(tree string) error {
	if !l.HWE {
		return nil
	}
	for _, f := range []string{"vmlinuz", "initrd"} {
		if err := copyFile(filepath.Join(tree, "casper", f), filepath.Join(tree, "casper", "hwe-"+f), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// CommittedBase is the entry id of the checkout's configs/bases.yaml, for
// tests that build or check a fixture in that base's layout.
func CommittedBase(id string) (bases.Base, error) {
	root, err := config.FindRoot()
	if err != nil {
		return bases.Base{}, err
	}
	set, err := bases.LoadIn(root)
	if err != nil {
		return bases.Base{}, err
	}
	return set.Get(id)
}
