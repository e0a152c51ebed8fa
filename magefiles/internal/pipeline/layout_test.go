package pipeline

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/debcheck"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

// committedBase is an entry of the committed configs/bases.yaml.
func committedBase(t *testing.T, id string) bases.Base {
	t.Helper()
	b, err := testiso.CommittedBase(id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckLayout: the form of install-sources.yaml must be the one the
// base's entry names; a 26.04 base on a 22.04-style ISO stops naming both.
func TestCheckLayout(t *testing.T) {
	list := []debcheck.File{
		{Path: "casper/install-sources.yaml", Data: []byte("- id: s\n  default: true\n  type: fsimage\n  path: s.squashfs\n")},
		{Path: "casper/s.manifest", Data: []byte("bash\t5.2-1\n")},
	}
	v2 := []debcheck.File{
		{Path: "casper/install-sources.yaml", Data: []byte("version: 2\nsources:\n- id: s\n  default: true\n  type: fsimage\n  path: s.squashfs\nkernel:\n  default: linux-generic\n")},
		{Path: "casper/s.manifest", Data: []byte("bash\t5.2-1\n")},
		{Path: "casper/s.installer.generic.manifest", Data: []byte("linux-generic\t6.17\n")},
	}
	var log bytes.Buffer
	if err := checkLayout(committedBase(t, "ubuntu-26.04.1"), v2, &log); err != nil {
		t.Fatalf("26.04 on its own layout: %v", err)
	}
	if !strings.Contains(log.String(), "kernel layers s.installer.generic") {
		t.Errorf("the kernel layer is not reported:\n%s", log.String())
	}
	err := checkLayout(committedBase(t, "ubuntu-26.04.1"), list, &log)
	if err == nil || !strings.Contains(err.Error(), "expects casper/install-sources.yaml as catalog-v2, but this ISO has it as list") ||
		!strings.Contains(err.Error(), "configs/bases.yaml:") {
		t.Fatalf("26.04 on a list: %v", err)
	}
	err = checkLayout(committedBase(t, "ubuntu-22.04.3"), v2, &log)
	if err == nil || !strings.Contains(err.Error(), "expects casper/install-sources.yaml as list, but this ISO has it as catalog-v2") {
		t.Fatalf("22.04 on a catalog: %v", err)
	}
	bad := []debcheck.File{{Path: "casper/install-sources.yaml", Data: []byte("version: 3\nsources: []\n")}}
	err = checkLayout(committedBase(t, "ubuntu-26.04.1"), bad, &log)
	if err == nil || !strings.Contains(err.Error(), "unknown layout: expected the list of sources") || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("unknown layout: %v", err)
	}
}

// TestReleaseRefusesAnotherBase: a release publishes the default base's
// ISO; asked for another base it stops before reading or publishing
// anything, rather than publish another base's files under the version.
func TestReleaseRefusesAnotherBase(t *testing.T) {
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(root, config.MapEnv(map[string]string{config.EnvBase: "ubuntu-24.04.4", config.EnvVersion: "v1.0.0",
		config.EnvDistDir: t.TempDir(), config.EnvBuildDir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	err = releaseStage{}.Run(t.Context(), New(c, io.Discard, io.Discard, false))
	if err == nil || !strings.Contains(err.Error(), "BASE=ubuntu-24.04.4: a release publishes the default base (ubuntu-22.04.3) only") {
		t.Fatalf("release of a 24.04 base: %v", err)
	}
}
