package targets

import (
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// The test command installs every tool the tests drive: what it listed by
// hand before the stages declared their tools, each once.
func TestTestInstallsEveryToolTheTestsDrive(t *testing.T) {
	got := map[string]bool{}
	for _, x := range testTools() {
		if got[x.Name()] {
			t.Errorf("%s is listed twice", x.Name())
		}
		got[x.Name()] = true
	}
	for _, want := range []tool.Tool{
		tool.Xorriso, tool.Mksquashfs, tool.Unsquashfs, tool.Mformat, tool.Mcopy,
		tool.GrubMkimage, tool.GrubPCModules, tool.GrubEFIModule,
		tool.Qemu, tool.OVMFCode, tool.OVMFVars,
		tool.Busybox, tool.Cpio, tool.Modinfo,
		tool.SSH, tool.SCP, tool.SSHKeygen, tool.SSHD, tool.Rsync, tool.Git,
		tool.GPG, tool.GPGAgent, tool.DpkgDeb, tool.AptGet,
		tool.Mmdebstrap, tool.Tar2sqfs, tool.DpkgQuery, tool.GrubPCBootImg,
	} {
		if !got[want.Name()] {
			t.Errorf("the test command does not install %s (%s)", want.Name(), want.Package)
		}
	}
}
