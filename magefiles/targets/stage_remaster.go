package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// extractBase reads what the remaster changes out of the base ISO.
func extractBase(ctx context.Context, c config.Config, base string) error { return errNotImplemented }

// customizeISO writes autoinstall, grub and identity files for c.Version.
func customizeISO(ctx context.Context, c config.Config) error { return errNotImplemented }

// packISO writes the installer ISO for c.Version.
func packISO(ctx context.Context, c config.Config, base string) error { return errNotImplemented }

// validVersion checks a version argument.
func validVersion(v string) error { return config.ValidateVersion(v) }
