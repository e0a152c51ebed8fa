package namespaces

import (
	"context"
	"errors"

	"github.com/magefile/mage/mg"
)

// Fetch groups fetch's variants.
type Fetch mg.Namespace

// Recheck re-reads the cached base ISO and verifies its digest again.
func (Fetch) Recheck(ctx context.Context) error {
	return errors.New("fetch:recheck: not implemented yet")
}
