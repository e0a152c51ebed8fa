package release

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// RollbackOptions configure Rollback.
type RollbackOptions struct {
	// Version is the bad release's version (its tag).
	Version string
	// Root is the repository root, for the origin remote (default: found
	// from the working directory).
	Root string
	// Prerelease marks the bad release a prerelease instead of turning it
	// into a draft: its page and files stay reachable, flagged.
	Prerelease bool
	// DryRun prints what would change and changes nothing.
	DryRun bool
	// Out receives the report (default os.Stdout).
	Out io.Writer
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Transport carries the HTTP requests (default http.DefaultTransport).
	Transport http.RoundTripper
	// Retry says how requests are retried.
	Retry Retry
}

// Rollback withdraws a bad release: it turns it back into a draft (or, with
// Prerelease, marks it a prerelease) and makes the newest earlier published
// release "latest" again. Running it twice changes nothing more. The git
// tag, the release's files and the server copy are left alone.
func Rollback(ctx context.Context, o RollbackOptions) (err error) {
	if err := config.ValidateVersion(o.Version); err != nil {
		return err
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Root == "" {
		if o.Root, err = config.FindRoot(); err != nil {
			return err
		}
	}
	token := tokenFrom(o.Getenv)
	defer func() { err = redactError(err, token) }()
	out := &redactor{w: o.Out, secret: token}
	s, err := resolveGitHub(ctx, o.Getenv, o.Root)
	if err != nil {
		return err
	}
	gh, err := newGitHub(s, o.Transport, o.Retry.withDefaults(), out)
	if err != nil {
		return err
	}
	bad, err := gh.findRelease(ctx, o.Version)
	if err != nil {
		return fmt.Errorf("github: reading the release %s of %s: %w", o.Version, s.Repo, err)
	}
	if bad == nil {
		return fmt.Errorf("%s has no release %s (draft or published): nothing to roll back", s.Repo, o.Version)
	}
	all, err := gh.listReleases(ctx)
	if err != nil {
		return fmt.Errorf("github: listing the releases of %s: %w", s.Repo, err)
	}
	prev := previousRelease(all, bad)
	printRollback(out, o, s.Repo, bad, prev)
	if o.DryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	if err := withdraw(ctx, gh, out, o, bad); err != nil {
		return err
	}
	if prev != nil {
		if _, err := gh.updateRelease(ctx, prev.ID, releasePatch{MakeLatest: "true"}); err != nil {
			return fmt.Errorf("github: making %s the latest release: %w (%s is already withdrawn; run the rollback again)", prev.TagName, err, o.Version)
		}
	}
	latest, err := gh.latestRelease(ctx)
	if err != nil {
		return fmt.Errorf("github: reading the latest release: %w", err)
	}
	switch {
	case latest == nil:
		fmt.Fprintf(out, "rolled back %s; %s has no published release now\n", o.Version, s.Repo)
	case prev != nil && latest.ID != prev.ID:
		return fmt.Errorf("github: %s is withdrawn, but GitHub shows %s as latest instead of %s", o.Version, latest.TagName, prev.TagName)
	default:
		fmt.Fprintf(out, "rolled back %s; latest is now %s: %s\n", o.Version, latest.TagName, latest.HTMLURL)
	}
	return nil
}

// withdraw turns the bad release into a draft or a prerelease, unless it
// already is one.
func withdraw(ctx context.Context, gh *gitHub, out io.Writer, o RollbackOptions, bad *ghRelease) error {
	var patch releasePatch
	switch {
	case o.Prerelease && bad.Prerelease, !o.Prerelease && bad.Draft:
		fmt.Fprintf(out, "%s is already withdrawn\n", o.Version)
		return nil
	case o.Prerelease:
		patch = releasePatch{Prerelease: ptr(true), MakeLatest: "false"}
	default:
		patch = releasePatch{Draft: ptr(true)}
	}
	if _, err := gh.updateRelease(ctx, bad.ID, patch); err != nil {
		return fmt.Errorf("github: withdrawing %s: %w", o.Version, err)
	}
	return nil
}

// previousRelease is the newest published, non-prerelease release other
// than bad that was published before it (any, when bad never was).
func previousRelease(all []ghRelease, bad *ghRelease) *ghRelease {
	var best *ghRelease
	for i := range all {
		c := &all[i]
		if c.ID == bad.ID || c.Draft || c.Prerelease || c.PublishedAt == nil {
			continue
		}
		if bad.PublishedAt != nil && !c.PublishedAt.Before(*bad.PublishedAt) {
			continue
		}
		if best == nil || c.PublishedAt.After(*best.PublishedAt) {
			best = c
		}
	}
	return best
}

func printRollback(out io.Writer, o RollbackOptions, repo string, bad, prev *ghRelease) {
	fmt.Fprintf(out, "rollback of %s on %s:\n", o.Version, repo)
	if o.Prerelease {
		fmt.Fprintf(out, "  mark %s a prerelease (its page and files stay, flagged)\n", o.Version)
	} else {
		fmt.Fprintf(out, "  turn %s back into a draft (hidden from everyone without push access)\n", o.Version)
	}
	if prev != nil {
		fmt.Fprintf(out, "  make %s the latest release again\n", prev.TagName)
	} else {
		fmt.Fprintf(out, "  no earlier published release to make latest\n")
	}
	fmt.Fprintf(out, "  keep the git tag %s, the release's files and any server copy\n", bad.TagName)
}
