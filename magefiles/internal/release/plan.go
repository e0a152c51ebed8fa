package release

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy"
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
	Copies    []servercopy.File
	Publish   bool
	// Newer is the published release with a higher version than this one:
	// it stays latest (nil: this release becomes latest when published).
	Newer *github.Release
	Notes bool
	Body  string
}

func (r *runner) plan() *plan {
	p := &plan{Body: r.releaseBody()}
	if r.st.GitHub.Remote == nil {
		p.Unknown, p.Uploads, p.Publish = true, r.st.Local.gitHubAssets(), !r.o.Draft
		r.planCopies(p)
		return p
	}
	rel := r.st.GitHub.Remote.Release
	if rel == nil {
		p.Create, p.Uploads = true, r.st.Local.gitHubAssets()
	}
	ours := map[string]bool{}
	for _, c := range r.st.Content.Checks {
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
	for _, a := range r.st.GitHub.Remote.Assets {
		if rel != nil && !ours[a.Name] {
			p.Extra = append(p.Extra, a.Name)
		}
	}
	changes := len(p.Deletes)+len(p.Uploads) > 0
	p.Unpublish = rel != nil && !rel.Draft && changes
	p.Publish = !r.o.Draft && (rel == nil || rel.Draft || p.Unpublish)
	p.Notes = rel != nil && (normalize(rel.Body) != normalize(p.Body) || rel.Name != r.releaseName())
	_, p.Newer = makeLatest(r.o.Version, r.st.GitHub.Remote.Releases)
	r.planCopies(p)
	return p
}

// gh is the GitHub client (the checklist held, so GitHub was read).
func (r *runner) gh() *github.Client { return r.st.GitHub.Client }

func (r *runner) planCopies(p *plan) {
	if c := r.st.copier(); c != nil {
		p.Copies = c.Pending(r.st.Local.serverFiles())
	}
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// print lists the actions; in a dry run, as what would be done.
func (p *plan) print(out io.Writer, r *runner) {
	if r.o.DryRun {
		fmt.Fprintf(out, "dry run: these actions would run for %s on %s:\n", r.o.Version, r.st.GitHub.Settings.Repo)
	} else {
		fmt.Fprintf(out, "actions for %s on %s:\n", r.o.Version, r.st.GitHub.Settings.Repo)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "  "+format+"\n", args...) }
	switch {
	case p.Unknown:
		say("create or reuse the draft release %s (GitHub not read: no token)", r.o.Version)
	case p.Create:
		say("create draft release %s at commit %s", r.o.Version, short(r.st.Git.Head))
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
	if c := r.st.copier(); c != nil {
		for _, f := range p.Copies {
			say("copy %s (%s) to %s with %s", f.Name, units.Bytes(f.Size), c.Target, c.Tool)
		}
		if len(p.Copies) == 0 {
			say("copy nothing to %s: every file is already there", c.Target)
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

// releaseBody is the release notes: the CHANGELOG.md section, then the
// files and, for a split ISO, how to put it back together.
func (r *runner) releaseBody() string {
	l := r.st.Local
	var b strings.Builder
	b.WriteString(r.st.Changelog.Notes.Body)
	b.WriteString("\n\n### Files\n\n")
	if l.Split {
		fmt.Fprintf(&b, "The ISO (%s) is larger than GitHub allows for one file, so it is attached in %d parts. "+
			"Download every `%s.part*` file, `%s` and `%s` into one directory, then run:\n\n"+
			"```sh\nsha256sum -c %s\ncat %s.part* > %s && sha256sum -c --ignore-missing %s\n```\n\n",
			units.Bytes(l.ISO.Size), len(l.Parts), l.ISO.Name, l.PartsSums.Name, dist.SHA256SumsName,
			l.PartsSums.Name, l.ISO.Name, l.ISO.Name, dist.SHA256SumsName)
	}
	fmt.Fprintf(&b, "- `%s` (%s): SHA-256 `%s`\n", l.ISO.Name, units.Bytes(l.ISO.Size), l.ISO.SHA256)
	writeFileNotes(&b, l)
	if _, ok := l.Files[dist.SignatureName]; ok {
		fmt.Fprintf(&b, "\nCheck them offline:\n\n```sh\ngpg --import novasphere-release.asc\ngpg --verify %s %s\nsha256sum -c --ignore-missing %s\n```\n", dist.SignatureName, dist.SHA256SumsName, dist.SHA256SumsName)
	}
	return b.String()
}

// writeFileNotes writes one line per kind of small file, in upload order,
// each with the kind's note: "- `SHA256SUMS`, `MD5SUMS`: checksums of the
// ISO and the SBOM (...)".
func writeFileNotes(b *strings.Builder, l *localBuild) {
	titles := []string{dist.KindISO.Title()}
	for _, k := range l.orderKinds {
		if k.Summed() && !slices.Contains(titles, k.Title()) {
			titles = append(titles, k.Title())
		}
	}
	for i := 0; i < len(l.order); {
		k := l.orderKinds[i]
		var names []string
		for ; i < len(l.order) && l.orderKinds[i] == k; i++ {
			names = append(names, "`"+l.order[i]+"`")
		}
		note := k.Note()
		if note == "" {
			continue
		}
		if k == dist.KindChecksums {
			note = fmt.Sprintf(note, strings.Join(titles, " and "))
		}
		fmt.Fprintf(b, "- %s: %s\n", strings.Join(names, ", "), note)
	}
}

func ptr[T any](v T) *T { return &v }
