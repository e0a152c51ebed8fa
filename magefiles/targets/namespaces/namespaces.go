// Package namespaces holds the Mage namespaces whose names equal a target's
// (fetch:recheck beside fetch, release:rollback beside release). Go does not
// allow a type and a function of the same name in one package.
package namespaces

import (
	"context"
	"errors"

	"github.com/magefile/mage/mg"
)

// Fetch groups fetch's variants.
type Fetch mg.Namespace

// Recheck re-reads the cached base ISO and verifies its digest again.
func (Fetch) Recheck(ctx context.Context) error { return errors.New("not implemented yet") }

// Release groups release's variants.
type Release mg.Namespace

// Rollback turns a published release back into a draft and makes the previous release latest again.
//
// Usage: mage release:rollback <version>
func (Release) Rollback(ctx context.Context, version string) error {
	return errors.New("not implemented yet")
}
