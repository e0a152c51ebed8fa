package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
)

// DefaultBranch is the fake repository's default branch, the target
// of a release created without target_commitish.
const DefaultBranch = "main"

// gitModel is the fake GitHub's model of the repository's git data: which
// commits were pushed, where the branches and tags point, and the
// annotated tag objects. The fake's mutex guards it.
type gitModel struct {
	commits  map[string]bool
	branches map[string]string
	// tags maps a tag name to what refs/tags/<name> points at: a commit
	// (a lightweight tag) or a tag object (an annotated one).
	tags map[string]object
	// tagObjects maps an annotated tag object's SHA to it.
	tagObjects map[string]tagObject
}

// object is a git object by SHA and type ("commit", "tag").
type object struct {
	SHA, Type string
}

// tagObject is an annotated tag: its name and what it points at.
type tagObject struct {
	Name   string
	Target object
}

func newGitModel() gitModel {
	return gitModel{commits: map[string]bool{}, branches: map[string]string{}, tags: map[string]object{}, tagObjects: map[string]tagObject{}}
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// resolve turns a target_commitish (a branch name or a full commit SHA)
// into a commit GitHub has.
func (g *gitModel) resolve(commitish string) (string, bool) {
	if sha, ok := g.branches[commitish]; ok {
		return sha, true
	}
	if fullSHA.MatchString(commitish) && g.commits[commitish] {
		return commitish, true
	}
	return "", false
}

// tagOnce makes a lightweight tag at commit unless the tag exists: an
// existing tag is never moved.
func (g *gitModel) tagOnce(name, commit string) {
	if _, ok := g.tags[name]; !ok {
		g.tags[name] = object{SHA: commit, Type: "commit"}
	}
}

// tagTarget is where publishing rel creates its tag: ("", true) when the
// tag exists already (target_commitish is then ignored), the commit when
// GitHub has the target, ok=false when it does not.
func (f *Server) tagTarget(rel *Release) (string, bool) {
	if _, ok := f.git.tags[rel.Tag]; ok {
		return "", true
	}
	return f.git.resolve(rel.Commitish)
}

// Push stands for `git push origin <sha>:<branch>`: GitHub has the commit
// and the branch points at it.
func (f *Server) Push(branch, sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.git.commits[sha] = true
	f.git.branches[branch] = sha
}

// PushTag stands for pushing a lightweight tag (`git tag NAME SHA && git
// push origin NAME`), which pushes its commit too.
func (f *Server) PushTag(name, commit string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.git.commits[commit] = true
	f.git.tags[name] = object{SHA: commit, Type: "commit"}
}

// PushAnnotatedTag stands for pushing an annotated tag (`git tag -a`):
// refs/tags/NAME points at a tag object, which points at the commit. It
// returns the tag object's SHA.
func (f *Server) PushAnnotatedTag(name, commit string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := sha1.Sum([]byte("tag " + name + "\x00object " + commit))
	obj := hex.EncodeToString(sum[:])
	f.git.commits[commit] = true
	f.git.tagObjects[obj] = tagObject{Name: name, Target: object{SHA: commit, Type: "commit"}}
	f.git.tags[name] = object{SHA: obj, Type: "tag"}
	return obj
}

// TagCommit is the commit the tag leads to ("" when there is no tag).
func (f *Server) TagCommit(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.git.tags[name]
	if !ok {
		return ""
	}
	for obj.Type == "tag" {
		obj = f.git.tagObjects[obj.SHA].Target
	}
	return obj.SHA
}

const gitDocs = "https://docs.github.com/rest/git"

// routeGit serves the git data endpoints under /repos/{owner}/{repo}:
//
//	GET git/ref/tags/{tag}  200 {"ref","node_id","url","object":{"sha","type","url"}}, 404
//	GET git/tags/{sha}      200 {"sha","tag","message","tagger","object":{"sha","type","url"},...}, 404
//	GET commits/{ref}       200 {"sha","commit",...}, 422 "No commit found for SHA: ..."
func (f *Server) routeGit(w http.ResponseWriter, r *http.Request, seg []string) {
	if r.Method != http.MethodGet {
		notFound(w)
		return
	}
	switch {
	case len(seg) >= 4 && seg[0] == "git" && seg[1] == "ref" && seg[2] == "tags":
		f.serveTagRef(w, strings.Join(seg[3:], "/"))
	case len(seg) == 3 && seg[0] == "git" && seg[1] == "tags":
		f.serveTagObject(w, seg[2])
	case len(seg) == 2 && seg[0] == "commits":
		f.serveCommit(w, seg[1])
	default:
		notFound(w)
	}
}

func (f *Server) objectJSON(o object) map[string]any {
	kind := map[string]string{"commit": "commits", "tag": "tags"}[o.Type]
	return map[string]any{"sha": o.SHA, "type": o.Type, "url": f.APIURL() + "/repos/" + f.Repo + "/git/" + kind + "/" + o.SHA}
}

func (f *Server) serveTagRef(w http.ResponseWriter, name string) {
	obj, ok := f.git.tags[name]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", gitDocs+"/refs#get-a-reference")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ref": "refs/tags/" + name, "node_id": "REF_kw" + name,
		"url":    f.APIURL() + "/repos/" + f.Repo + "/git/refs/tags/" + name,
		"object": f.objectJSON(obj),
	})
}

func (f *Server) serveTagObject(w http.ResponseWriter, sha string) {
	t, ok := f.git.tagObjects[sha]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", gitDocs+"/tags#get-a-tag")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node_id": "TAG_kw" + sha[:8], "sha": sha, "tag": t.Name,
		"url":          f.APIURL() + "/repos/" + f.Repo + "/git/tags/" + sha,
		"message":      "Release " + t.Name + "\n",
		"tagger":       map[string]any{"name": "Test", "email": "test@example.com", "date": "2026-11-27T10:00:00Z"},
		"object":       f.objectJSON(t.Target),
		"verification": map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil},
	})
}

// serveCommit answers "get a commit" for a full SHA or a branch name;
// GitHub says 422 for a SHA it does not have.
func (f *Server) serveCommit(w http.ResponseWriter, ref string) {
	sha, ok := f.git.resolve(ref)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref, "https://docs.github.com/rest/commits/commits#get-a-commit")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sha": sha, "node_id": "C_kw" + sha[:8],
		"url":      f.APIURL() + "/repos/" + f.Repo + "/commits/" + sha,
		"html_url": "https://github.com/" + f.Repo + "/commit/" + sha,
		"commit": map[string]any{
			"message": "commit " + sha[:7],
			"url":     f.APIURL() + "/repos/" + f.Repo + "/git/commits/" + sha,
		},
		"parents": []any{}, "files": []any{},
	})
}
