package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// execute makes the planned writes: draft, deletes, uploads, a final check
// of GitHub's copies, the server copy, and publishing last.
func (r *runner) execute(ctx context.Context, p *plan) error {
	rel := r.st.GitHub.Remote.Release
	var err error
	if p.Create {
		if rel, err = r.gh().CreateDraft(ctx, github.Draft{Tag: r.o.Version, Commit: r.st.Git.Head, Name: r.releaseName(), Body: p.Body, Prerelease: r.prerelease()}); err != nil {
			return fmt.Errorf("github: creating the draft release: %w", err)
		}
		fmt.Fprintf(r.out, "created draft release %s (id %d)\n", r.o.Version, rel.ID)
	}
	if p.Unpublish {
		if rel, err = r.gh().UpdateRelease(ctx, rel.ID, github.ReleasePatch{Draft: ptr(true)}); err != nil {
			return fmt.Errorf("github: turning %s back into a draft before changing its files: %w", r.o.Version, err)
		}
		fmt.Fprintf(r.out, "turned %s back into a draft while its files change\n", r.o.Version)
	}
	stays := fmt.Sprintf("release %s stays a draft; run the release again to finish it", r.o.Version)
	for _, c := range p.Deletes {
		if err := r.gh().DeleteAsset(ctx, c.Remote.ID); err != nil {
			return fmt.Errorf("github: deleting %s: %w; %s", c.Local.Name, err, stays)
		}
		fmt.Fprintf(r.out, "  deleted %s (%s)\n", c.Local.Name, c.Why)
	}
	for _, a := range p.Uploads {
		if err := r.upload(ctx, rel, a); err != nil {
			return fmt.Errorf("github: %w; %s", err, stays)
		}
	}
	if err := r.verifyUploaded(ctx, rel); err != nil {
		return fmt.Errorf("github: %w; %s", err, stays)
	}
	if c := r.st.copier(); c != nil {
		if err := c.CopyAll(ctx, r.o.Version, r.st.Local.serverFiles()); err != nil {
			if rel.Draft {
				return fmt.Errorf("%w; %s", err, stays)
			}
			return err
		}
	}
	return r.finish(ctx, rel, p)
}

// finish publishes the draft (or updates the notes) and says where it is.
func (r *runner) finish(ctx context.Context, rel *github.Release, p *plan) error {
	name, body := r.releaseName(), p.Body
	switch {
	case p.Publish:
		again := "every file is uploaded and the release stays a draft: run the release again to publish it"
		// Read again: another release may have been published during
		// the uploads.
		all, err := r.gh().ListReleases(ctx)
		if err != nil {
			return fmt.Errorf("github: listing the releases to decide whether %s becomes latest: %w; %s", r.o.Version, err, again)
		}
		latest, newer := makeLatest(r.o.Version, all)
		patch := github.ReleasePatch{Name: &name, Body: &body, Draft: ptr(false), Prerelease: ptr(r.prerelease()), MakeLatest: latest}
		if r.st.createsTag() {
			// A draft left by an earlier run may target another commit.
			patch.TargetCommitish = &r.st.Git.Head
		}
		published, err := r.gh().UpdateRelease(ctx, rel.ID, patch)
		if err != nil {
			return fmt.Errorf("github: publishing %s: %w; %s", r.o.Version, err, again)
		}
		if newer != nil {
			fmt.Fprintf(r.out, "published %s (%s stays the latest release): %s\n", r.o.Version, newer.TagName, published.HTMLURL)
			return nil
		}
		fmt.Fprintf(r.out, "published %s: %s\n", r.o.Version, published.HTMLURL)
		return nil
	case p.Notes:
		updated, err := r.gh().UpdateRelease(ctx, rel.ID, github.ReleasePatch{Name: &name, Body: &body})
		if err != nil {
			return fmt.Errorf("github: updating the notes of %s: %w", r.o.Version, err)
		}
		rel = updated
		fmt.Fprintf(r.out, "updated the name and notes of %s from %s\n", r.o.Version, ChangelogName)
	}
	switch {
	case rel.Draft:
		fmt.Fprintf(r.out, "release %s is a draft (-draft): %s\n  publish it with: go run magefile.go release %s\n", r.o.Version, rel.HTMLURL, r.o.Version)
	case len(p.Uploads) == 0 && len(p.Copies) == 0 && !p.Notes:
		fmt.Fprintf(r.out, "release %s is already published with the same files: nothing changed (%s)\n", r.o.Version, rel.HTMLURL)
	default:
		fmt.Fprintf(r.out, "release %s is published: %s\n", r.o.Version, rel.HTMLURL)
	}
	return nil
}

// upload uploads one asset, retrying on 5xx and dropped connections. A
// failed attempt may leave an incomplete asset ("starter") that makes the
// next attempt fail with 422 already_exists: it is deleted first.
func (r *runner) upload(ctx context.Context, rel *github.Release, a asset) error {
	if a.Size >= 1<<20 {
		fmt.Fprintf(r.out, "  upload %s (%s)\n", a.Name, units.Bytes(a.Size))
	}
	var final *github.Asset
	err := r.o.Retry.Do(ctx, r.out, "upload "+a.Name, func(attempt int) error {
		if attempt > 1 {
			done, err := r.reconcile(ctx, rel, a)
			if err != nil || done != nil {
				final = done
				return err
			}
		}
		prog := newProgress(r.out, a.Name, a.Size)
		got, err := r.uploadOnce(ctx, rel, a, prog.update)
		if err == nil {
			final = &got
			prog.done()
			return nil
		}
		if github.IsAlreadyExists(err) {
			done, rerr := r.reconcile(ctx, rel, a)
			if rerr != nil || done != nil {
				final = done
				return rerr
			}
			return fmt.Errorf("%w: GitHub said %s already exists (%v)", github.ErrRetry, a.Name, err)
		}
		return err
	})
	if err != nil {
		return err
	}
	return sameContent(a, *final)
}

// uploadOnce sends a's bytes once.
func (r *runner) uploadOnce(ctx context.Context, rel *github.Release, a asset, progress func(int64)) (github.Asset, error) {
	body, err := a.open()
	if err != nil {
		return github.Asset{}, err
	}
	defer body.Close()
	return r.gh().UploadOnce(ctx, rel, a.Name, body, a.Size, progress)
}

// reconcile looks at GitHub's asset of a's name after a failed attempt. An
// incomplete one is deleted (nil, nil: try again); a complete one with a's
// size and digest means an earlier attempt succeeded after all.
func (r *runner) reconcile(ctx context.Context, rel *github.Release, a asset) (*github.Asset, error) {
	assets, err := r.gh().ListAssets(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	for _, ra := range assets {
		if ra.Name != a.Name {
			continue
		}
		if ra.State != "uploaded" {
			if err := r.gh().DeleteAsset(ctx, ra.ID); err != nil {
				return nil, err
			}
			fmt.Fprintf(r.out, "  removed an incomplete upload of %s (state %q) left by a failed attempt\n", a.Name, ra.State)
			return nil, nil
		}
		if err := sameContent(a, ra); err != nil {
			return nil, fmt.Errorf("%w; run again with -force to replace it", err)
		}
		return &ra, nil
	}
	return nil, nil
}

// sameContent checks GitHub's asset against the local file.
func sameContent(a asset, ra github.Asset) error {
	if ra.Size != a.Size {
		return fmt.Errorf("GitHub's %s has %d bytes, this build's %d", a.Name, ra.Size, a.Size)
	}
	if d, ok := strings.CutPrefix(ra.Digest, "sha256:"); ok && !strings.EqualFold(d, a.SHA256) {
		return fmt.Errorf("GitHub's %s has sha256 %s, this build's %s", a.Name, d, a.SHA256)
	}
	return nil
}

// verifyUploaded reads the release's assets back before it is published:
// every file of this build must be there, complete, with its size and digest.
func (r *runner) verifyUploaded(ctx context.Context, rel *github.Release) error {
	assets, err := r.gh().ListAssets(ctx, rel.ID)
	if err != nil {
		return fmt.Errorf("reading back the assets: %w", err)
	}
	byName := map[string]github.Asset{}
	for _, a := range assets {
		byName[a.Name] = a
	}
	kept := map[string]bool{}
	for _, c := range r.st.Content.Checks {
		kept[c.Local.Name] = c.State == stateEquivalent
	}
	for _, a := range r.st.Local.gitHubAssets() {
		ra, ok := byName[a.Name]
		switch {
		case !ok:
			return fmt.Errorf("%s is missing from the release after upload", a.Name)
		case ra.State != "uploaded":
			return fmt.Errorf("%s is in state %q on GitHub after upload", a.Name, ra.State)
		case kept[a.Name]:
			continue
		}
		if err := sameContent(a, ra); err != nil {
			return err
		}
	}
	return nil
}
