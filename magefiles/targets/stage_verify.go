package targets

import (
	"context"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	isoverify "github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// verifyISO runs every check on the installer ISO for c.Version against the
// base ISO fetch verified: the table goes to the terminal; SHA256SUMS,
// MD5SUMS, verify-report.json and the boot logs go to DIST_DIR.
func verifyISO(ctx context.Context, c config.Config) error {
	o, err := isoverify.Options{
		ISO:     underRoot(c, c.OutputISO()),
		BaseISO: baseISO,
		Version: c.Version,
		DistDir: underRoot(c, c.DistDir),
		Out:     os.Stdout,
	}.WithEnv(os.Getenv)
	if err != nil {
		return err
	}
	tools := []tool.Tool{tool.Xorriso}
	if o.Boot == isoverify.BootOn || o.Boot == isoverify.BootAuto && tool.Qemu.Present() {
		tools = append(tools, tool.Qemu, tool.OVMFCode, tool.OVMFVars)
	}
	if err := installer(c).Ensure(ctx, "verify", tools...); err != nil {
		return err
	}
	_, err = isoverify.Run(ctx, o)
	return err
}

// underRoot resolves a relative path against the repository root.
func underRoot(c config.Config, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}
