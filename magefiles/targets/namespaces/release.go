package namespaces

import (
	"context"
	"fmt"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/release"
)

// Release groups release's variants.
type Release mg.Namespace

// Rollback turns a published release back into a draft and makes the previous release latest again.
//
// The version comes first, then the flags (a bare -dryrun means -dryrun=true):
// mage release:rollback v1.1.0 -dryrun.
//
// With -prerelease the release is marked a prerelease instead of a draft:
// its page and files stay reachable, flagged. The git tag, the release's
// files and any copy on RELEASE_SCP_TARGET are left alone; fix forward with
// a new version. Running it twice changes nothing more.
//
// Environment:
//
//	GH_TOKEN or GITHUB_TOKEN  GitHub token (never printed)
//	GITHUB_REPOSITORY         owner/name (default: the origin remote)
//	GITHUB_API_URL or GH_HOST GitHub API (default https://api.github.com)
func (Release) Rollback(ctx context.Context, version string, prerelease, dryrun *bool) error {
	root, err := config.FindRoot()
	if err != nil {
		return err
	}
	settings, err := config.ReleaseFromEnv(config.OSEnv())
	if err != nil {
		return fmt.Errorf("release:rollback: %w", err)
	}
	err = release.Rollback(ctx, release.RollbackOptions{
		Version:    version,
		Root:       root,
		Prerelease: prerelease != nil && *prerelease,
		DryRun:     dryrun != nil && *dryrun,
		Out:        os.Stdout,
		Settings:   settings,
	})
	if err != nil {
		return fmt.Errorf("release:rollback: %w", err)
	}
	return nil
}
