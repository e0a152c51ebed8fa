package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// fetchBase returns the path of the verified base ISO in the cache.
func fetchBase(ctx context.Context, c config.Config) (string, error) { return "", errNotImplemented }
