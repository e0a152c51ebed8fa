package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// object is the git object a ref or an annotated tag points at.
type object struct {
	SHA  string `json:"sha"`
	Type string `json:"type"`
}

// maxTagChain bounds how many annotated tags are followed to the commit (a
// tag of a tag is legal git, a loop of them is not possible, a long chain
// is a mistake).
const maxTagChain = 8

// TagCommit returns the commit GitHub's tag points at, following annotated
// tags ("" when the repository has no such tag). annotated is true when
// the tag ref points at a tag object.
func (c *Client) TagCommit(ctx context.Context, tag string) (commit string, annotated bool, err error) {
	var ref struct {
		Ref    string `json:"ref"`
		Object object `json:"object"`
	}
	err = c.do(ctx, http.MethodGet, c.url("/git/ref/tags/%s", url.PathEscape(tag)), nil, &ref)
	if IsStatus(err, http.StatusNotFound) {
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
			Object object `json:"object"`
		}
		if err := c.do(ctx, http.MethodGet, c.url("/git/tags/%s", url.PathEscape(obj.SHA)), nil, &t); err != nil {
			return "", true, fmt.Errorf("reading the annotated tag object %s of %s: %w", abbrev(obj.SHA), tag, err)
		}
		obj, annotated = t.Object, true
	}
	if obj.Type != "commit" || obj.SHA == "" {
		return "", annotated, fmt.Errorf("tag %s points at a %q object %s, not a commit", tag, obj.Type, abbrev(obj.SHA))
	}
	return obj.SHA, annotated, nil
}

// HasCommit reports whether GitHub has the commit. GitHub answers 422 "No
// commit found for SHA" (or 404) for one it does not have.
func (c *Client) HasCommit(ctx context.Context, sha string) (bool, error) {
	var got struct {
		SHA string `json:"sha"`
	}
	err := c.do(ctx, http.MethodGet, c.url("/commits/%s", url.PathEscape(sha)), nil, &got)
	switch {
	case IsStatus(err, http.StatusNotFound), IsStatus(err, http.StatusUnprocessableEntity):
		return false, nil
	case err != nil:
		return false, err
	}
	return strings.EqualFold(got.SHA, sha), nil
}

// abbrev shortens a SHA for messages.
func abbrev(sha string) string {
	switch {
	case sha == "":
		return "(unknown)"
	case len(sha) > 12:
		return sha[:12]
	}
	return sha
}
