package release

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
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
	// Settings say which repository and as whom (token, repository, API;
	// the server-copy and split settings are not used).
	Settings config.ReleaseSettings
	// Transport carries the HTTP requests (default
	// github.UploadTransport()).
	Transport http.RoundTripper
	// Retry says how requests are retried.
	Retry github.Retry
}

// Rollback withdraws a bad release: it turns it back into a draft (or, with
// Prerelease, marks it a prerelease). When the bad release is the latest,
// the published release with the highest version left becomes latest
// first; when it is not, the latest stays as it is. Running it twice
// changes nothing more. The git tag, the release's files and the server
// copy are left alone.
func Rollback(ctx context.Context, o RollbackOptions) (err error) {
	if err := config.ValidateVersion(o.Version); err != nil {
		return err
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Root == "" {
		if o.Root, err = config.FindRoot(); err != nil {
			return err
		}
	}
	token := o.Settings.Token
	defer func() { err = redactError(err, token) }()
	out := &redactor{w: o.Out, secret: token}
	s, err := resolveGitHub(ctx, o.Settings, o.Root)
	if err != nil {
		return err
	}
	gh, err := newClient(s, o.Transport, o.Retry, out)
	if err != nil {
		return err
	}
	bad, err := gh.FindRelease(ctx, o.Version)
	if err != nil {
		return fmt.Errorf("github: reading the release %s of %s: %w", o.Version, s.Repo, err)
	}
	if bad == nil {
		return fmt.Errorf("%s has no release %s (draft or published): nothing to roll back", s.Repo, o.Version)
	}
	all, err := gh.ListReleases(ctx)
	if err != nil {
		return fmt.Errorf("github: listing the releases of %s: %w", s.Repo, err)
	}
	before, err := gh.LatestRelease(ctx)
	if err != nil {
		return fmt.Errorf("github: reading the latest release of %s: %w", s.Repo, err)
	}
	wasLatest := before != nil && before.ID == bad.ID
	var next *github.Release
	if wasLatest {
		next = nextLatest(all, bad)
	}
	printRollback(out, o, s.Repo, bad, before, next)
	if o.DryRun {
		fmt.Fprintln(out, "dry run: nothing was changed")
		return nil
	}
	// The next release becomes latest before the bad one is withdrawn: if
	// withdrawing fails, a second run sees that the bad release is no longer
	// latest and only withdraws it.
	if next != nil {
		if _, err := gh.UpdateRelease(ctx, next.ID, github.ReleasePatch{MakeLatest: "true"}); err != nil {
			return fmt.Errorf("github: making %s the latest release: %w (nothing was changed; run the rollback again)", next.TagName, err)
		}
	}
	if err := withdraw(ctx, gh, out, o, bad); err != nil {
		if next != nil {
			return fmt.Errorf("%w (%s is already the latest release; run the rollback again to withdraw %s)", err, next.TagName, o.Version)
		}
		return err
	}
	after, err := gh.LatestRelease(ctx)
	if err != nil {
		return fmt.Errorf("github: reading the latest release: %w", err)
	}
	switch {
	case after == nil:
		fmt.Fprintf(out, "rolled back %s; %s has no published release now\n", o.Version, s.Repo)
	case before != nil && after.ID == before.ID:
		fmt.Fprintf(out, "rolled back %s; latest is still %s: %s\n", o.Version, after.TagName, after.HTMLURL)
	default:
		fmt.Fprintf(out, "rolled back %s; latest is now %s: %s\n", o.Version, after.TagName, after.HTMLURL)
	}
	return nil
}

// withdraw turns the bad release into a draft or a prerelease, unless it
// already is one.
func withdraw(ctx context.Context, gh *github.Client, out io.Writer, o RollbackOptions, bad *github.Release) error {
	var patch github.ReleasePatch
	switch {
	case o.Prerelease && bad.Prerelease, !o.Prerelease && bad.Draft:
		fmt.Fprintf(out, "%s is already withdrawn\n", o.Version)
		return nil
	case o.Prerelease:
		patch = github.ReleasePatch{Prerelease: ptr(true), MakeLatest: "false"}
	default:
		patch = github.ReleasePatch{Draft: ptr(true)}
	}
	if _, err := gh.UpdateRelease(ctx, bad.ID, patch); err != nil {
		return fmt.Errorf("github: withdrawing %s: %w", o.Version, err)
	}
	return nil
}

// printRollback lists what the rollback changes; latest is GitHub's latest
// release before it, next the release that becomes latest (nil: latest
// does not change).
func printRollback(out io.Writer, o RollbackOptions, repo string, bad, latest, next *github.Release) {
	fmt.Fprintf(out, "rollback of %s on %s:\n", o.Version, repo)
	if o.Prerelease {
		fmt.Fprintf(out, "  mark %s a prerelease (its page and files stay, flagged)\n", o.Version)
	} else {
		fmt.Fprintf(out, "  turn %s back into a draft (hidden from everyone without push access)\n", o.Version)
	}
	switch {
	case next != nil:
		fmt.Fprintf(out, "  make %s the latest release again\n", next.TagName)
	case latest != nil && latest.ID == bad.ID:
		fmt.Fprintf(out, "  no other published release to make latest\n")
	case latest != nil:
		fmt.Fprintf(out, "  %s is not the latest release: %s stays latest\n", o.Version, latest.TagName)
	default:
		fmt.Fprintf(out, "  %s is not the latest release: %s has no latest release to change\n", o.Version, repo)
	}
	fmt.Fprintf(out, "  keep the git tag %s, the release's files and any server copy\n", bad.TagName)
}
