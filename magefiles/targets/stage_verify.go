package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// verifyISO runs every check on the installer ISO for c.Version.
func verifyISO(ctx context.Context, c config.Config) error { return errNotImplemented }
