package release

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ghObject is the git object a ref or an annotated tag points at.
type ghObject struct {
	SHA  string `json:"sha"`
	Type string `json:"type"`
}

// maxTagChain bounds how many annotated tags are followed to the commit (a
// tag of a tag is legal git, a loop of them is not possible, a long chain
// is a mistake).
const maxTagChain = 8

// tagCommit returns the commit GitHub's tag points at, following annotated
// tags ("" when the repository has no such tag). annotated is true when
// the tag ref points at a tag object.
func (g *gitHub) tagCommit(ctx context.Context, tag string) (commit string, annotated bool, err error) {
	var ref struct {
		Ref    string   `json:"ref"`
		Object ghObject `json:"object"`
	}
	err = g.do(ctx, http.MethodGet, g.url("/git/ref/tags/%s", url.PathEscape(tag)), nil, &ref)
	if isStatus(err, http.StatusNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if want := "refs/tags/" + tag; ref.Ref != want {
		return "", false, fmt.Errorf("GitHub answered with ref %q for %s", ref.Ref, want)
	}
	obj := ref.Object
	for hops := 0; obj.Type == "tag"; hops++ {
		if hops == maxTagChain {
			return "", true, fmt.Errorf("tag %s: more than %d annotated tags before a commit", tag, maxTagChain)
		}
		var t struct {
			Object ghObject `json:"object"`
		}
		if err := g.do(ctx, http.MethodGet, g.url("/git/tags/%s", url.PathEscape(obj.SHA)), nil, &t); err != nil {
			return "", true, fmt.Errorf("reading the annotated tag object %s of %s: %w", short(obj.SHA), tag, err)
		}
		obj, annotated = t.Object, true
	}
	if obj.Type != "commit" || obj.SHA == "" {
		return "", annotated, fmt.Errorf("tag %s points at a %q object %s, not a commit", tag, obj.Type, short(obj.SHA))
	}
	return obj.SHA, annotated, nil
}

// hasCommit reports whether GitHub has the commit. GitHub answers 422 "No
// commit found for SHA" (or 404) for one it does not have.
func (g *gitHub) hasCommit(ctx context.Context, sha string) (bool, error) {
	var c struct {
		SHA string `json:"sha"`
	}
	err := g.do(ctx, http.MethodGet, g.url("/commits/%s", url.PathEscape(sha)), nil, &c)
	switch {
	case isStatus(err, http.StatusNotFound), isStatus(err, http.StatusUnprocessableEntity):
		return false, nil
	case err != nil:
		return false, err
	}
	return strings.EqualFold(c.SHA, sha), nil
}

// lineTag checks that the release's git tag is, or will be, at HEAD.
// GitHub ignores a release's target_commitish when its tag already exists,
// so a tag at another commit would label files built from HEAD; and a tag
// that does not exist yet is created at HEAD, which GitHub must have. A
// re-run after a release finds the tag it made, at HEAD.
func (r *runner) lineTag(ctx context.Context) line {
	tag := r.o.Version
	title := fmt.Sprintf("tag %s is at HEAD", tag)
	switch {
	case r.gh == nil:
		return skip(title, "not checked: no access to GitHub")
	case r.head == "":
		return skip(title, "not checked: HEAD is not known (see the git line)")
	}
	commit, annotated, err := r.gh.tagCommit(ctx, tag)
	if err != nil {
		return fail(title, fmt.Sprintf("reading tag %s on GitHub: %v", tag, err))
	}
	if commit == "" {
		return r.lineNoTag(ctx, title)
	}
	kind := "tag"
	if annotated {
		kind = "annotated tag"
	}
	if !strings.EqualFold(commit, r.head) {
		return fail(title,
			fmt.Sprintf("tag %s points at %s, HEAD is %s: check out the tag (git checkout %s) and release from there, or use a new version", tag, short(commit), short(r.head), tag),
			fmt.Sprintf("GitHub ignores the release's target commit when the tag exists: the files built from HEAD would be published under a tag for commit %s", short(commit)))
	}
	return pass(title, fmt.Sprintf("%s %s on GitHub points at HEAD %s", kind, tag, short(r.head)))
}

// lineNoTag decides the tag line when GitHub has no tag for the version:
// publishing creates it at HEAD, so GitHub must have HEAD.
func (r *runner) lineNoTag(ctx context.Context, title string) line {
	tag := r.o.Version
	ok, err := r.gh.hasCommit(ctx, r.head)
	if err != nil {
		return fail(title, fmt.Sprintf("asking GitHub for HEAD %s: %v", short(r.head), err))
	}
	if !ok {
		return fail(title,
			fmt.Sprintf("HEAD %s is not on GitHub: push it first (git push origin HEAD)", short(r.head)),
			fmt.Sprintf("there is no tag %s on GitHub yet, and GitHub cannot create it at a commit it does not have: the release would fail after its checks", tag))
	}
	r.createsTag = true
	return pass(title, fmt.Sprintf("no tag %s on GitHub yet: publishing creates it at HEAD %s, which GitHub has", tag, short(r.head)))
}
