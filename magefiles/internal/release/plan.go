package release

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// plan is every write the release will make, decided before any is made.
type plan struct {
	// Unknown is set when GitHub could not be read (a dry run without a
	// token): the plan then lists everything.
	Unknown   bool
	Create    bool
	Unpublish bool
	Deletes   []assetCheck
	Uploads   []asset
	Keep      []assetCheck
	Extra     []string
	Copies    []asset
	Publish   bool
	// Newer is the published release with a higher version than this one:
	// it stays latest (nil: this release becomes latest when published).
	Newer *ghRelease
	Notes bool
	Body  string
}

func (r *runner) plan() *plan {
	p := &plan{Body: r.releaseBody()}
	if r.remote == nil {
		p.Unknown, p.Uploads, p.Publish = true, r.local.gitHubAssets(), !r.o.Draft
		r.planCopies(p)
		return p
	}
	rel := r.remote.Release
	if rel == nil {
		p.Create, p.Uploads = true, r.local.gitHubAssets()
	}
	ours := map[string]bool{}
	for _, c := range r.checks {
		ours[c.Local.Name] = true
		switch c.State {
		case stateMissing:
			p.Uploads = append(p.Uploads, c.Local)
		case stateSame, stateEquivalent:
			p.Keep = append(p.Keep, c)
		case stateIncomplete, stateDiffers:
			p.Deletes = append(p.Deletes, c)
			p.Uploads = append(p.Uploads, c.Local)
		}
	}
	for _, a := range r.remote.Assets {
		if rel != nil && !ours[a.Name] {
			p.Extra = append(p.Extra, a.Name)
		}
	}
	changes := len(p.Deletes)+len(p.Uploads) > 0
	p.Unpublish = rel != nil && !rel.Draft && changes
	p.Publish = !r.o.Draft && (rel == nil || rel.Draft || p.Unpublish)
	p.Notes = rel != nil && (normalize(rel.Body) != normalize(p.Body) || rel.Name != r.releaseName())
	_, p.Newer = makeLatest(r.o.Version, r.remote.Releases)
	r.planCopies(p)
	return p
}

func (r *runner) planCopies(p *plan) {
	if r.mirror != nil {
		p.Copies = r.mirror.pending(r.local.mirrorAssets())
	}
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// print lists the actions; in a dry run, as what would be done.
func (p *plan) print(out io.Writer, r *runner) {
	if r.o.DryRun {
		fmt.Fprintf(out, "dry run: these actions would run for %s on %s:\n", r.o.Version, r.ghs.Repo)
	} else {
		fmt.Fprintf(out, "actions for %s on %s:\n", r.o.Version, r.ghs.Repo)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "  "+format+"\n", args...) }
	switch {
	case p.Unknown:
		say("create or reuse the draft release %s (GitHub not read: no token)", r.o.Version)
	case p.Create:
		say("create draft release %s at commit %s", r.o.Version, short(r.head))
	case p.Unpublish:
		say("turn the published release %s back into a draft while its files change", r.o.Version)
	}
	for _, c := range p.Deletes {
		if c.State == stateIncomplete {
			say("delete %s: %s", c.Local.Name, c.Why)
		} else {
			say("delete %s (-force): %s", c.Local.Name, c.Why)
		}
	}
	for _, a := range p.Uploads {
		say("upload %s (%s)", a.Name, units.Bytes(a.Size))
	}
	for _, c := range p.Keep {
		if c.State == stateEquivalent {
			say("keep %s: %s", c.Local.Name, c.Why)
			continue
		}
		say("keep %s: already on GitHub with the same content", c.Local.Name)
	}
	for _, name := range p.Extra {
		say("leave %s: on GitHub but not part of this build", name)
	}
	if r.mirror != nil {
		for _, a := range p.Copies {
			say("copy %s (%s) to %s with %s", a.Name, units.Bytes(a.Size), r.mirror.Target, r.mirror.Tool)
		}
		if len(p.Copies) == 0 {
			say("copy nothing to %s: every file is already there", r.mirror.Target)
		}
	}
	switch {
	case p.Publish && r.prerelease():
		say("publish %s as a prerelease (not latest)", r.o.Version)
	case p.Publish && p.Unknown:
		say("publish %s; it becomes the latest release unless GitHub has a higher version", r.o.Version)
	case p.Publish && p.Newer != nil:
		say("publish %s; %s stays the latest release (a higher version)", r.o.Version, p.Newer.TagName)
	case p.Publish:
		say("publish %s and make it the latest release", r.o.Version)
	case r.o.Draft:
		say("leave %s as a draft (-draft)", r.o.Version)
	}
	if p.Notes && !p.Publish {
		say("update the release name and notes from %s", ChangelogName)
	}
}

// execute makes the planned writes: draft, deletes, uploads, a final check
// of GitHub's copies, the server copy, and publishing last.
func (r *runner) execute(ctx context.Context, p *plan) error {
	rel := r.remote.Release
	var err error
	if p.Create {
		if rel, err = r.gh.createDraft(ctx, r.o.Version, r.head, r.releaseName(), p.Body, r.prerelease()); err != nil {
			return fmt.Errorf("github: creating the draft release: %w", err)
		}
		fmt.Fprintf(r.out, "created draft release %s (id %d)\n", r.o.Version, rel.ID)
	}
	if p.Unpublish {
		if rel, err = r.gh.updateRelease(ctx, rel.ID, releasePatch{Draft: ptr(true)}); err != nil {
			return fmt.Errorf("github: turning %s back into a draft before changing its files: %w", r.o.Version, err)
		}
		fmt.Fprintf(r.out, "turned %s back into a draft while its files change\n", r.o.Version)
	}
	stays := fmt.Sprintf("release %s stays a draft; run the release again to finish it", r.o.Version)
	for _, c := range p.Deletes {
		if err := r.gh.deleteAsset(ctx, c.Remote.ID); err != nil {
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
	if r.mirror != nil {
		if err := r.mirror.copyAll(ctx, r.o.Version, r.local.mirrorAssets()); err != nil {
			if rel.Draft {
				return fmt.Errorf("%w; %s", err, stays)
			}
			return err
		}
	}
	return r.finish(ctx, rel, p)
}

// finish publishes the draft (or updates the notes) and says where it is.
func (r *runner) finish(ctx context.Context, rel *ghRelease, p *plan) error {
	name, body := r.releaseName(), p.Body
	switch {
	case p.Publish:
		again := "every file is uploaded and the release stays a draft: run the release again to publish it"
		// Read again: another release may have been published during
		// the uploads.
		all, err := r.gh.listReleases(ctx)
		if err != nil {
			return fmt.Errorf("github: listing the releases to decide whether %s becomes latest: %w; %s", r.o.Version, err, again)
		}
		latest, newer := makeLatest(r.o.Version, all)
		patch := releasePatch{Name: &name, Body: &body, Draft: ptr(false), Prerelease: ptr(r.prerelease()), MakeLatest: latest}
		if r.createsTag {
			// A draft left by an earlier run may target another commit.
			patch.TargetCommitish = &r.head
		}
		published, err := r.gh.updateRelease(ctx, rel.ID, patch)
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
		updated, err := r.gh.updateRelease(ctx, rel.ID, releasePatch{Name: &name, Body: &body})
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
func (r *runner) upload(ctx context.Context, rel *ghRelease, a asset) error {
	if a.Size >= 1<<20 {
		fmt.Fprintf(r.out, "  upload %s (%s)\n", a.Name, units.Bytes(a.Size))
	}
	var final *ghAsset
	err := r.o.Retry.do(ctx, r.out, "upload "+a.Name, func(attempt int) error {
		if attempt > 1 {
			done, err := r.reconcile(ctx, rel, a)
			if err != nil || done != nil {
				final = done
				return err
			}
		}
		prog := newProgress(r.out, a.Name, a.Size)
		got, err := r.gh.uploadOnce(ctx, rel, a, prog.update)
		if err == nil {
			final = &got
			prog.done()
			return nil
		}
		if isAlreadyExists(err) {
			done, rerr := r.reconcile(ctx, rel, a)
			if rerr != nil || done != nil {
				final = done
				return rerr
			}
			return fmt.Errorf("%w: GitHub said %s already exists (%v)", errRetry, a.Name, err)
		}
		return err
	})
	if err != nil {
		return err
	}
	return sameContent(a, *final)
}

// reconcile looks at GitHub's asset of a's name after a failed attempt. An
// incomplete one is deleted (nil, nil: try again); a complete one with a's
// size and digest means an earlier attempt succeeded after all.
func (r *runner) reconcile(ctx context.Context, rel *ghRelease, a asset) (*ghAsset, error) {
	assets, err := r.gh.listAssets(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	for _, ra := range assets {
		if ra.Name != a.Name {
			continue
		}
		if ra.State != "uploaded" {
			if err := r.gh.deleteAsset(ctx, ra.ID); err != nil {
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
func sameContent(a asset, ra ghAsset) error {
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
func (r *runner) verifyUploaded(ctx context.Context, rel *ghRelease) error {
	assets, err := r.gh.listAssets(ctx, rel.ID)
	if err != nil {
		return fmt.Errorf("reading back the assets: %w", err)
	}
	byName := map[string]ghAsset{}
	for _, a := range assets {
		byName[a.Name] = a
	}
	kept := map[string]bool{}
	for _, c := range r.checks {
		kept[c.Local.Name] = c.State == stateEquivalent
	}
	for _, a := range r.local.gitHubAssets() {
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

// releaseBody is the release notes: the CHANGELOG.md section, then the
// files and, for a split ISO, how to put it back together.
func (r *runner) releaseBody() string {
	l := r.local
	var b strings.Builder
	b.WriteString(r.notes.Body)
	b.WriteString("\n\n### Files\n\n")
	if l.Split {
		fmt.Fprintf(&b, "The ISO (%s) is larger than GitHub allows for one file, so it is attached in %d parts. "+
			"Download every `%s.part*` file, `%s` and `%s` into one directory, then run:\n\n"+
			"```sh\nsha256sum -c %s\ncat %s.part* > %s && sha256sum -c --ignore-missing %s\n```\n\n",
			units.Bytes(l.ISO.Size), len(l.Parts), l.ISO.Name, l.PartsSums.Name, SHA256SumsName,
			l.PartsSums.Name, l.ISO.Name, l.ISO.Name, SHA256SumsName)
	}
	fmt.Fprintf(&b, "- `%s` (%s): SHA-256 `%s`\n", l.ISO.Name, units.Bytes(l.ISO.Size), l.ISO.SHA256)
	fmt.Fprintf(&b, "- `%s`, `%s`: checksums of the ISO (`sha256sum -c --ignore-missing %s`)\n", SHA256SumsName, MD5SumsName, SHA256SumsName)
	fmt.Fprintf(&b, "- `%s`: every check verify ran on this exact ISO\n", VerifyReportName)
	fmt.Fprintf(&b, "- `%s`: build record (base ISO digest, payload manifest digest, git commit, xorriso version, SOURCE_DATE_EPOCH)\n", BuildRecordName(r.o.Version))
	return b.String()
}

func ptr[T any](v T) *T { return &v }
