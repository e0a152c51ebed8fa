package targets

import (
	"context"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	isoverify "github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// verifyISO runs every check on the installer ISO for c.Version against the
// base ISO fetch verified: the table goes to the terminal; SHA256SUMS,
// MD5SUMS, verify-report.json and the boot logs go to DIST_DIR.
func verifyISO(ctx context.Context, c config.Config) error {
	o, err := isoverify.Options{
		ISO:     c.Path(c.OutputISO()),
		BaseISO: baseISO,
		Version: c.Version,
		DistDir: c.Path(c.DistDir),
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
