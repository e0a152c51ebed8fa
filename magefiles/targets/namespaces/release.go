package namespaces

import (
	"context"
	"errors"

	"github.com/magefile/mage/mg"
)

// Release groups release's variants.
type Release mg.Namespace

// Rollback turns a published release back into a draft and makes the previous release latest again.
//
// Usage: mage release:rollback <version>
func (Release) Rollback(ctx context.Context, version string) error {
	return errors.New("release:rollback: not implemented yet")
}
