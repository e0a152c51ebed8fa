package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// publish releases the verified ISO for c.Version.
func publish(ctx context.Context, c config.Config, o releaseOptions) error { return errNotImplemented }
