package release

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"

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
	latest, err := gh.latestRelease(ctx)
	if err != nil {
		return fmt.Errorf("github: reading the latest release: %w", err)
	}
	if prev != nil && (latest == nil || latest.ID != prev.ID) {
		if latest, err = gh.updateRelease(ctx, prev.ID, releasePatch{MakeLatest: "true"}); err != nil {
			return fmt.Errorf("github: making %s the latest release: %w (%s is already withdrawn; run the rollback again)", prev.TagName, err, o.Version)
		}
	}
	switch {
	case latest == nil:
		fmt.Fprintf(out, "rolled back %s; %s has no published release now\n", o.Version, s.Repo)
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

// previousRelease is the release that should be latest once bad is
// withdrawn: among the published, non-prerelease others, the highest version
// below bad's (so a later backport such as v0.9.1 does not win over v1.0.0),
// or, when versions cannot be compared, the newest published before bad.
func previousRelease(all []ghRelease, bad *ghRelease) *ghRelease {
	var best *ghRelease
	for i := range all {
		c := &all[i]
		if c.ID == bad.ID || c.Draft || c.Prerelease || c.PublishedAt == nil {
			continue
		}
		if before, ok := versionLess(c.TagName, bad.TagName); ok {
			if !before {
				continue
			}
			if b, ok := versionLess(best.tag(), c.TagName); best == nil || (ok && b) {
				best = c
			}
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

func (r *ghRelease) tag() string {
	if r == nil {
		return ""
	}
	return r.TagName
}

var semverRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?$`)

// versionLess orders two versions of the same kind: vX.Y.Z[-rc.N] (a
// release candidate before its release) or YYYYMMDD. ok is false when they
// cannot be compared.
func versionLess(a, b string) (less, ok bool) {
	ka, oka := versionKey(a)
	kb, okb := versionKey(b)
	if !oka || !okb || len(ka) != len(kb) {
		return false, false
	}
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i], true
		}
	}
	return false, true
}

func versionKey(v string) ([]int, bool) {
	if m := semverRE.FindStringSubmatch(v); m != nil {
		key := make([]int, 4)
		for i := 0; i < 3; i++ {
			key[i], _ = strconv.Atoi(m[i+1])
		}
		key[3] = math.MaxInt // a release sorts after its candidates
		if m[4] != "" {
			key[3], _ = strconv.Atoi(m[4])
		}
		return key, true
	}
	if config.ValidateVersion(v) == nil {
		n, _ := strconv.Atoi(v)
		return []int{n}, true
	}
	return nil, false
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
