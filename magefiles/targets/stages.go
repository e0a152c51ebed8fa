package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// The glue between targets and stage packages. Each function is replaced by
// a call into its stage package as the stage lands.

func fetchBase(ctx context.Context, c config.Config) (string, error) { return "", errNotImplemented }

func extractBase(ctx context.Context, c config.Config, base string) error { return errNotImplemented }

func customizeISO(ctx context.Context, c config.Config) error { return errNotImplemented }

func packISO(ctx context.Context, c config.Config, base string) error { return errNotImplemented }

func verifyISO(ctx context.Context, c config.Config) error { return errNotImplemented }

func publish(ctx context.Context, c config.Config, o releaseOptions) error { return errNotImplemented }

func validVersion(v string) error { return config.ValidateVersion(v) }
