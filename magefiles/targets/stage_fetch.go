package targets

import (
	"context"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/fetch"
)

// verifiedBase is the base ISO fetch verified.
type verifiedBase struct {
	path   string
	sha256 string // lowercase hex
}

// fetchBase returns the verified base ISO in the cache, showing status and
// progress on stderr.
func fetchBase(ctx context.Context, c config.Config) (verifiedBase, error) {
	res, err := fetch.Fetch(ctx, fetch.FromConfig(c, os.Stderr))
	if err != nil {
		return verifiedBase{}, err
	}
	return verifiedBase{path: res.Path, sha256: res.Digest.Encoded()}, nil
}
