package targets

import (
	"context"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/release"
)

// publish releases the verified ISO for c.Version.
func publish(ctx context.Context, c config.Config, o releaseOptions) error {
	return release.Run(ctx, release.Options{
		Version: c.Version,
		Root:    c.Root,
		DistDir: c.DistDir,
		Draft:   o.Draft,
		DryRun:  o.DryRun,
		Force:   o.Force,
		Out:     os.Stdout,
		Getenv:  os.Getenv,
	})
}
