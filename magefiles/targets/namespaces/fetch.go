package namespaces

import (
	"context"
	"fmt"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/fetch"
)

// Fetch groups fetch's variants.
type Fetch mg.Namespace

// Recheck re-reads the cached base ISO and verifies its digest again.
//
// fetch trusts a cached file without reading it (the cache only ever
// receives verified files). Recheck reads the whole file and compares its
// SHA-256 with the pin; a file that no longer matches is deleted so that the
// next fetch downloads it again. Without a pin (BASE_ISO_URL with only
// BASE_ISO_SUMS_URL), every file in the cache is checked.
//
// Environment: CACHE_DIR, BASE_ISO_SHA256, and fetch's BASE_ISO_URL,
// BASE_ISO_SUMS_URL, BASE_ISO_KEYRING.
func (Fetch) Recheck(ctx context.Context) error {
	root, err := config.FindRoot()
	if err != nil {
		return fmt.Errorf("fetch:recheck: %w", err)
	}
	c, err := config.Load(root, config.OSEnv())
	if err != nil {
		return fmt.Errorf("fetch:recheck: %w", err)
	}
	if err := fetch.Recheck(ctx, fetch.FromConfig(c, os.Stderr)); err != nil {
		return fmt.Errorf("fetch:recheck: %w", err)
	}
	return nil
}
