package pipeline

import (
	"slices"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// verify installs QEMU and OVMF only when a boot must run (VERIFY_BOOT=1
// or the install proof), dpkg-deb only for the install proof, and the
// union for the test command holds all of them.
func TestVerifyDeclaresTheToolsItsSettingsNeed(t *testing.T) {
	t.Parallel()
	names := func(ts []tool.Tool) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.Name())
		}
		return out
	}
	for _, tc := range []struct {
		name string
		v    config.VerifySettings
		want []tool.Tool
	}{
		{"boots off", config.VerifySettings{Boot: config.Off}, []tool.Tool{tool.Xorriso}},
		{"boots on", config.VerifySettings{Boot: config.On}, []tool.Tool{tool.Xorriso, tool.Qemu, tool.OVMFCode, tool.OVMFVars}},
		{"install proof", config.VerifySettings{Boot: config.Off, Install: true}, []tool.Tool{tool.Xorriso, tool.Qemu, tool.OVMFCode, tool.OVMFVars, tool.DpkgDeb}},
	} {
		b := &Build{Config: config.Config{Verify: tc.v}}
		if got := names(verifyStage{}.Tools(b)); !slices.Equal(got, names(tc.want)) {
			t.Errorf("%s: verify's tools %v, want %v", tc.name, got, names(tc.want))
		}
	}
	all := names(Tools())
	for _, want := range []tool.Tool{tool.Xorriso, tool.Qemu, tool.OVMFCode, tool.OVMFVars, tool.DpkgDeb} {
		if !slices.Contains(all, want.Name()) {
			t.Errorf("pipeline.Tools() %v lacks %s", all, want.Name())
		}
	}
	if len(all) != len(slices.Compact(slices.Sorted(slices.Values(all)))) {
		t.Errorf("pipeline.Tools() repeats a tool: %v", all)
	}
}
