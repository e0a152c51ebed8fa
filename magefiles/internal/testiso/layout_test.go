package testiso

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
)

// committedBase is an entry of the committed configs/bases.yaml.
func committedBase(t *testing.T, id string) bases.Base {
	t.Helper()
	b, err := CommittedBase(id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLayouts: a fixture in each base's layout has that release's
// /.disk/info and volume id, install-sources.yaml in its form, the kernel
// layers' manifests where the release has them, and HWE menu entries only
// where it has an HWE kernel.
func TestLayouts(t *testing.T) {
	cache := linkedKernelCache(t)
	for _, c := range []struct {
		id                   string
		catalog, layers, hwe bool
		info, volume         string
	}{
		{"ubuntu-24.04.4", false, true, true, `Ubuntu-Server 24.04.4 LTS "Noble" - Release amd64`, "Ubuntu-Server 24.04.4 LTS amd64"},
		{"ubuntu-26.04.1", true, true, false, `Ubuntu-Server 26.04.1 LTS "Resolute" - Release amd64`, "Ubuntu-Server 26.04.1 LTS amd64"},
	} {
		t.Run(c.id, func(t *testing.T) {
			fx, err := Build(context.Background(), Options{CacheDir: cache, Layout: LayoutOf(committedBase(t, c.id))})
			if err != nil {
				t.Fatal(err)
			}
			read := func(p string) string {
				data, err := os.ReadFile(filepath.Join(fx.Tree, p))
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			if info := read(".disk/info"); !strings.HasPrefix(info, c.info) {
				t.Errorf(".disk/info = %q, want %q...", info, c.info)
			}
			if fx.VolumeID != c.volume || !strings.Contains(xorrisoReport(t, fx.ISO), c.volume) {
				t.Errorf("volume id %q, want %q", fx.VolumeID, c.volume)
			}
			var doc any
			if err := yaml.Unmarshal([]byte(read("casper/install-sources.yaml")), &doc); err != nil {
				t.Fatal(err)
			}
			m, isMap := doc.(map[string]any)
			if isMap != c.catalog || isMap && (m["version"] != 2 || m["kernel"] == nil || len(m["sources"].([]any)) != 2) {
				t.Errorf("install-sources.yaml = %v, want the catalog form: %v", doc, c.catalog)
			}
			_, err = os.Stat(filepath.Join(fx.Tree, kernelLayerPrefix+".generic.manifest"))
			if (err == nil) != c.layers {
				t.Errorf("kernel layer manifest present: %v, want %v", err == nil, c.layers)
			}
			grub := read("boot/grub/grub.cfg")
			if strings.Contains(grub, "linux\t/casper/hwe-vmlinuz  ---") != c.hwe || strings.Contains(read("boot/grub/loopback.cfg"), "/casper/hwe-vmlinuz  iso-scan") != c.hwe {
				t.Errorf("HWE entries: want %v:\n%s", c.hwe, grub)
			}
			if _, err := os.Stat(filepath.Join(fx.Tree, "casper", "hwe-vmlinuz")); (err == nil) != c.hwe {
				t.Errorf("hwe-vmlinuz present: %v, want %v", err == nil, c.hwe)
			}
		})
	}
}
