package targets

import (
	"context"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/fetch"
)

// fetchBase returns the path of the verified base ISO in the cache, showing
// status and progress on stderr.
func fetchBase(ctx context.Context, c config.Config) (string, error) {
	res, err := fetch.Fetch(ctx, fetch.FromConfig(c, os.Stderr))
	if err != nil {
		return "", err
	}
	return res.Path, nil
}
