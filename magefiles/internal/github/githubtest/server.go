// Package githubtest is a fake GitHub REST API for tests: releases, assets,
// tags, commits and the faults a real one shows (server errors, dropped
// connections), served on loopback.
package githubtest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
)

// Server is an in-memory GitHub serving the REST endpoints the project
// uses, with GitHub's status codes and error bodies: create release (201),
// get by tag (published only; drafts 404), list releases (drafts included),
// latest, update (200; make_latest), list assets (failed uploads show as
// state "starter"), upload (201; 422 already_exists on a duplicate name;
// 422 at the 2 GiB limit), download (302 to storage), delete asset (204) and
// 401 "Bad credentials" for a wrong token. Faults can be injected per asset
// upload: a status code, or a connection dropped after some bytes (which
// leaves a "starter" asset behind, as GitHub does).
//
// It also holds a small model of the repository's git data (git.go):
// the commits pushed, branch heads, tag refs and annotated tag objects,
// served by "get a reference" (git/ref/tags/{tag}), "get a tag"
// (git/tags/{sha}) and "get a commit" (commits/{sha}). As on GitHub, a
// release's tag is created at its target_commitish when the release is
// published and the tag does not exist yet (a target GitHub does not have
// is 422 invalid target_commitish, at creation and at publication), and an
// existing tag is left where it is whatever the target.
//
// Set its exported fields before the first request.
type Server struct {
	// Repo is the one repository it serves, owner/name.
	Repo string
	// Prefix is "" for github.com-style paths, "/api/v3" for GitHub
	// Enterprise Server.
	Prefix string
	// NoDigest leaves the asset "digest" field out (older GHES).
	NoDigest bool
	// Limit is the asset size limit (GitHub: 2 GiB).
	Limit int64
	// Public makes the URLs in answers github.com's own (api.github.com,
	// uploads.github.com, objects.githubusercontent.com), for a client
	// whose transport sends every host to this server.
	Public bool

	srv   *httptest.Server
	token string

	mu       sync.Mutex
	nextID   int64
	releases []*Release
	latestID int64
	faults   map[string][]Fault
	requests []Request
	leaks    []string
	uploads  []Upload
	git      gitModel
}

// Release is a release the fake holds.
type Release struct {
	// ID is GitHub's id; Tag the tag name; Commitish the target_commitish.
	ID             int64
	Tag, Commitish string
	// Name and Body are the title and the notes.
	Name, Body string
	// Draft and Prerelease are the release's flags.
	Draft, Prerelease bool
	// Assets are the attached files, failed uploads included.
	Assets         []*Asset
	created        time.Time
	published      *time.Time
	untaggedSuffix string
}

// Asset is a release asset the fake holds.
type Asset struct {
	// ID is GitHub's id; Name, Label, State ("uploaded" or "starter") and
	// ContentType are its fields.
	ID                              int64
	Name, Label, State, ContentType string
	// Size and Digest ("sha256:<hex>") are set once the upload completed.
	Size   int64
	Digest string
	// Content is the uploaded bytes, kept up to 64 MiB.
	Content []byte
	created time.Time
}

// Fault is what the next upload of an asset does instead of
// succeeding: answer status after reading the body, or drop the connection
// after dropAfter bytes (over HTTP/2: reset the stream, RST_STREAM with
// INTERNAL_ERROR, as a proxy or GitHub's front end may).
type Fault struct {
	// Status is the HTTP status to answer (0: none).
	Status int
	// DropAfter is how many bytes to read before dropping the connection.
	DropAfter int64
}

// Request is one request the fake served.
type Request struct {
	Method, Path string
	Status       int
}

// Upload records the headers of one upload request.
type Upload struct {
	Name          string
	ContentType   string
	ContentLength int64
	Proto         string
}

// keepContent is the size up to which uploaded bytes are kept (for
// downloads); larger assets keep only their size and digest.
const keepContent = 64 << 20

// New starts a fake GitHub over plain HTTP that accepts token; it stops
// when the test ends. Only tests import this package.
func New(t testing.TB, token string) *Server {
	f := newUnstarted(t, token)
	f.srv.Start()
	return f
}

// NewHTTP2 is the fake served over TLS with HTTP/2, as github.com serves
// its API and uploads. A client must trust its Certificate.
func NewHTTP2(t testing.TB, token string) *Server {
	f := newUnstarted(t, token)
	f.srv.EnableHTTP2 = true
	f.srv.Config.ErrorLog = log.New(testLogWriter{t}, "fake GitHub: ", 0) // TLS handshake errors
	f.srv.StartTLS()
	return f
}

// testLogWriter writes a server's log lines to the test's log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newUnstarted(t testing.TB, token string) *Server {
	f := &Server{token: token, Repo: "novasphere/novasphere-iso", Limit: github.AssetLimit, nextID: 1000, faults: map[string][]Fault{}, git: newGitModel()}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the server's own base URL, http://127.0.0.1:PORT (https for
// NewHTTP2).
func (f *Server) URL() string { return f.srv.URL }

// Certificate is the TLS certificate of a NewHTTP2 server.
func (f *Server) Certificate() *x509.Certificate { return f.srv.Certificate() }

// APIURL is the REST API base a client should use (GITHUB_API_URL).
func (f *Server) APIURL() string {
	if f.Public {
		return "https://api.github.com"
	}
	return f.srv.URL + f.Prefix
}

// uploadsURL and storageURL are the hosts of uploads and downloads.
func (f *Server) uploadsURL() string {
	if f.Public {
		return "https://uploads.github.com"
	}
	return f.srv.URL
}

// storageURL is another host name for the same server, as GitHub's
// storage is another host than its API: a client must not send the token
// there.
func (f *Server) storageURL() string {
	if f.Public {
		return "https://objects.githubusercontent.com"
	}
	return strings.Replace(f.srv.URL, "127.0.0.1", "localhost", 1)
}

// FailUpload makes the next uploads of the asset name fail, one fault per
// upload, in order.
func (f *Server) FailUpload(name string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[name] = append(f.faults[name], faults...)
}

// Writes returns the requests that could change something.
func (f *Server) Writes() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w []Request
	for _, r := range f.requests {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w = append(w, r)
		}
	}
	return w
}

// RequestCount is how many requests the server answered.
func (f *Server) RequestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// TokenLeaks lists where the token was sent other than the Authorization
// header of an API or upload request (a URL, another header, a body, the
// storage host).
func (f *Server) TokenLeaks() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.leaks...)
}

// UploadLog lists the headers of every upload request, in order.
func (f *Server) UploadLog() []Upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Upload(nil), f.uploads...)
}

// Release returns a copy of the release for tag (draft or not), or nil.
func (f *Server) Release(tag string) *Release {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.releases {
		if r.Tag == tag {
			c := *r
			c.Assets = nil
			for _, a := range r.Assets {
				ac := *a
				c.Assets = append(c.Assets, &ac)
			}
			return &c
		}
	}
	return nil
}

// LatestTag is the tag of the release GitHub shows as latest ("" when
// none).
func (f *Server) LatestTag() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.latest(); r != nil {
		return r.Tag
	}
	return ""
}

// SetLatest marks the release with that id latest, as make_latest=true
// would.
func (f *Server) SetLatest(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latestID = id
}

// Seed adds a release directly, as if made earlier; assets map names to
// content. A published one gets its tag at the default branch's head (when
// something was pushed), as publishing it would have made.
func (f *Server) Seed(tag string, draft, prerelease bool, published time.Time, assets map[string][]byte) *Release {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &Release{ID: f.id(), Tag: tag, Commitish: DefaultBranch, Name: "seeded " + tag, Draft: draft, Prerelease: prerelease, created: published, untaggedSuffix: fmt.Sprintf("%x", published.UnixNano())}
	if !draft {
		p := published
		r.published = &p
		if commit, ok := f.git.resolve(r.Commitish); ok {
			f.git.tagOnce(tag, commit)
		}
	}
	names := make([]string, 0, len(assets))
	for n := range assets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum := sha256.Sum256(assets[n])
		r.Assets = append(r.Assets, &Asset{ID: f.id(), Name: n, State: "uploaded", ContentType: "application/octet-stream",
			Size: int64(len(assets[n])), Digest: "sha256:" + hex.EncodeToString(sum[:]), Content: assets[n], created: published})
	}
	f.releases = append(f.releases, r)
	return r
}

func (f *Server) id() int64 { f.nextID++; return f.nextID }

// --- HTTP ---

type httpErrorBody struct {
	Message          string           `json:"message"`
	Errors           []map[string]any `json:"errors,omitempty"`
	DocumentationURL string           `json:"documentation_url"`
	Status           string           `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg, doc string, errs ...map[string]any) {
	writeJSON(w, status, httpErrorBody{Message: msg, Errors: errs, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

const docs = "https://docs.github.com/rest/releases"

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "Not Found", docs+"/releases")
}

func validation(w http.ResponseWriter, doc string, errs ...map[string]any) {
	writeError(w, http.StatusUnprocessableEntity, "Validation Failed", doc, errs...)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	f.checkLeaks(r)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		f.mu.Lock()
		f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status})
		f.mu.Unlock()
	}()
	if strings.HasPrefix(r.URL.Path, "/storage/") {
		f.serveStorage(rec, r)
		return
	}
	if !f.authorized(r) {
		writeError(rec, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
		return
	}
	if p, ok := strings.CutPrefix(r.URL.Path, f.uploadPrefix()); ok {
		f.serveUpload(w, rec, r, p)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, f.Prefix+"/repos/"+f.Repo)
	if !ok {
		notFound(rec)
		return
	}
	f.route(rec, r, strings.Split(strings.Trim(path, "/"), "/"))
}

func (f *Server) uploadPrefix() string {
	if f.Prefix != "" {
		return "/api/uploads/repos/" + f.Repo + "/releases/"
	}
	return "/uploads/repos/" + f.Repo + "/releases/"
}

func (f *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return h == "token "+f.token || h == "Bearer "+f.token
}

// checkLeaks records the token anywhere but the Authorization header.
func (f *Server) checkLeaks(r *http.Request) {
	if f.token == "" {
		return
	}
	var where []string
	if strings.Contains(r.URL.String(), f.token) {
		where = append(where, "URL "+r.URL.Path)
	}
	for k, vs := range r.Header {
		if k == "Authorization" {
			continue
		}
		for _, v := range vs {
			if strings.Contains(v, f.token) {
				where = append(where, "header "+k)
			}
		}
	}
	if r.Header.Get("Content-Type") != "application/octet-stream" && r.Body != nil && r.ContentLength < 1<<20 {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), f.token) {
			where = append(where, "body of "+r.Method+" "+r.URL.Path)
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	if strings.HasPrefix(r.URL.Path, "/storage/") && r.Header.Get("Authorization") != "" {
		where = append(where, "Authorization sent to the storage host")
	}
	if len(where) > 0 {
		f.mu.Lock()
		f.leaks = append(f.leaks, where...)
		f.mu.Unlock()
	}
}

func (f *Server) route(w http.ResponseWriter, r *http.Request, seg []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seg[0] == "git" || seg[0] == "commits" {
		f.routeGit(w, r, seg)
		return
	}
	switch {
	case len(seg) == 1 && seg[0] == "" && r.Method == http.MethodGet:
		name := f.Repo[strings.Index(f.Repo, "/")+1:]
		writeJSON(w, 200, map[string]any{"id": 1, "name": name, "full_name": f.Repo, "private": false, "default_branch": "main"})
	case len(seg) == 1 && seg[0] == "releases" && r.Method == http.MethodGet:
		f.listReleases(w, r)
	case len(seg) == 1 && seg[0] == "releases" && r.Method == http.MethodPost:
		f.createRelease(w, r)
	case len(seg) == 2 && seg[1] == "latest" && r.Method == http.MethodGet:
		if rel := f.latest(); rel != nil {
			writeJSON(w, 200, f.releaseJSON(rel))
			return
		}
		notFound(w)
	case len(seg) == 3 && seg[1] == "tags" && r.Method == http.MethodGet:
		for _, rel := range f.releases {
			if rel.Tag == seg[2] && !rel.Draft {
				writeJSON(w, 200, f.releaseJSON(rel))
				return
			}
		}
		writeError(w, 404, "Not Found", docs+"/releases#get-a-release-by-tag-name")
	case len(seg) == 3 && seg[1] == "assets":
		f.assetByID(w, r, seg[2])
	case len(seg) == 2:
		rel := f.byID(seg[1])
		switch {
		case rel == nil:
			notFound(w)
		case r.Method == http.MethodGet:
			writeJSON(w, 200, f.releaseJSON(rel))
		case r.Method == http.MethodPatch:
			f.updateRelease(w, r, rel)
		default:
			writeError(w, 404, "Not Found", docs)
		}
	case len(seg) == 3 && seg[2] == "assets" && r.Method == http.MethodGet:
		rel := f.byID(seg[1])
		if rel == nil {
			notFound(w)
			return
		}
		list := []map[string]any{}
		for _, a := range rel.Assets {
			list = append(list, f.assetJSON(rel, a))
		}
		writeJSON(w, 200, paginate(list, r))
	default:
		notFound(w)
	}
}

func paginate[T any](list []T, r *http.Request) []T {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if per <= 0 {
		per = 30
	}
	if page <= 0 {
		page = 1
	}
	start := min((page-1)*per, len(list))
	return list[start:min(start+per, len(list))]
}

func (f *Server) byID(s string) *Release {
	id, _ := strconv.ParseInt(s, 10, 64)
	for _, r := range f.releases {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// latest is the release marked latest, else the newest published
// non-prerelease.
func (f *Server) latest() *Release {
	var best *Release
	for _, r := range f.releases {
		if r.Draft || r.Prerelease {
			continue
		}
		if r.ID == f.latestID {
			return r
		}
		if best == nil || r.created.After(best.created) {
			best = r
		}
	}
	return best
}

func (f *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	sorted := append([]*Release(nil), f.releases...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].created.After(sorted[j].created) })
	list := []map[string]any{}
	for _, rel := range sorted {
		list = append(list, f.releaseJSON(rel))
	}
	writeJSON(w, 200, paginate(list, r))
}

type releaseInput struct {
	TagName         *string `json:"tag_name"`
	TargetCommitish *string `json:"target_commitish"`
	Name            *string `json:"name"`
	Body            *string `json:"body"`
	Draft           *bool   `json:"draft"`
	Prerelease      *bool   `json:"prerelease"`
	MakeLatest      *string `json:"make_latest"`
}

func (f *Server) createRelease(w http.ResponseWriter, r *http.Request) {
	const doc = docs + "/releases#create-a-release"
	var in releaseInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "Problems parsing JSON", doc)
		return
	}
	if in.TagName == nil || *in.TagName == "" {
		validation(w, doc, map[string]any{"resource": "Release", "code": "missing_field", "field": "tag_name"})
		return
	}
	for _, rel := range f.releases {
		if rel.Tag == *in.TagName && !rel.Draft {
			validation(w, doc, map[string]any{"resource": "Release", "code": "already_exists", "field": "tag_name"})
			return
		}
	}
	now := time.Now().UTC()
	rel := &Release{ID: f.id(), Tag: *in.TagName, created: now, Commitish: DefaultBranch, untaggedSuffix: fmt.Sprintf("%x", now.UnixNano())}
	f.apply(rel, in)
	commit, ok := f.tagTarget(rel)
	if !ok {
		validation(w, doc, map[string]any{"resource": "Release", "code": "invalid", "field": "target_commitish"})
		return
	}
	if ok := f.applyLatest(w, rel, in.MakeLatest, doc); !ok {
		return
	}
	if !rel.Draft && commit != "" {
		f.git.tagOnce(rel.Tag, commit)
	}
	f.releases = append(f.releases, rel)
	w.Header().Set("Location", f.APIURL()+"/repos/"+f.Repo+"/releases/"+strconv.FormatInt(rel.ID, 10))
	writeJSON(w, http.StatusCreated, f.releaseJSON(rel))
}

func (f *Server) apply(rel *Release, in releaseInput) {
	if in.TargetCommitish != nil {
		rel.Commitish = *in.TargetCommitish
	}
	if in.Name != nil {
		rel.Name = *in.Name
	}
	if in.Body != nil {
		rel.Body = *in.Body
	}
	if in.Prerelease != nil {
		rel.Prerelease = *in.Prerelease
	}
	if in.Draft != nil {
		rel.Draft = *in.Draft
	}
	switch {
	case rel.Draft:
		rel.published = nil
	case rel.published == nil:
		now := time.Now().UTC()
		rel.published = &now
	}
}

// applyLatest handles make_latest: "true", "false" or "legacy"; drafts and
// prereleases cannot be latest. A release published without it becomes
// latest ("true" is the default).
func (f *Server) applyLatest(w http.ResponseWriter, rel *Release, v *string, doc string) bool {
	mode := ""
	if v != nil {
		mode = *v
	}
	switch mode {
	case "", "true", "false", "legacy":
	default:
		validation(w, doc, map[string]any{"resource": "Release", "code": "invalid", "field": "make_latest"})
		return false
	}
	if mode == "true" && (rel.Draft || rel.Prerelease) {
		writeError(w, 422, "Drafts and prereleases cannot be set as latest.", doc)
		return false
	}
	switch {
	case mode == "true", mode == "" && !rel.Draft && !rel.Prerelease && rel.published != nil:
		f.latestID = rel.ID
	case mode == "legacy":
		f.latestID = 0
	}
	return true
}

func (f *Server) updateRelease(w http.ResponseWriter, r *http.Request, rel *Release) {
	const doc = docs + "/releases#update-a-release"
	var in releaseInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "Problems parsing JSON", doc)
		return
	}
	wasDraft := rel.Draft
	next := *rel
	f.apply(&next, in)
	commit, ok := f.tagTarget(&next)
	if !ok && (in.TargetCommitish != nil || (wasDraft && !next.Draft)) {
		validation(w, doc, map[string]any{"resource": "Release", "code": "invalid", "field": "target_commitish"})
		return
	}
	if in.MakeLatest != nil || (wasDraft && !next.Draft) {
		if ok := f.applyLatest(w, &next, in.MakeLatest, doc); !ok {
			return
		}
	}
	if !next.Draft && commit != "" {
		f.git.tagOnce(next.Tag, commit)
	}
	*rel = next
	writeJSON(w, 200, f.releaseJSON(rel))
}

func (f *Server) assetByID(w http.ResponseWriter, r *http.Request, idText string) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	for _, rel := range f.releases {
		for i, a := range rel.Assets {
			if a.ID != id {
				continue
			}
			switch r.Method {
			case http.MethodGet:
				if r.Header.Get("Accept") == "application/octet-stream" {
					http.Redirect(w, r, f.storageURL()+"/storage/"+idText, http.StatusFound)
					return
				}
				writeJSON(w, 200, f.assetJSON(rel, a))
			case http.MethodDelete:
				rel.Assets = append(rel.Assets[:i], rel.Assets[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
			default:
				notFound(w)
			}
			return
		}
	}
	notFound(w)
}

// serveStorage stands for GitHub's asset storage host, where downloads are
// redirected (no token needed or wanted).
func (f *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/storage/"), 10, 64)
	for _, rel := range f.releases {
		for _, a := range rel.Assets {
			if a.ID == id && a.State == "uploaded" && int64(len(a.Content)) == a.Size {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
				_, _ = w.Write(a.Content)
				return
			}
		}
	}
	http.Error(w, "no such object", http.StatusNotFound)
}

// serveUpload is POST {upload_url}?name=NAME: the raw body is the asset.
func (f *Server) serveUpload(raw http.ResponseWriter, w http.ResponseWriter, r *http.Request, rest string) {
	const doc = docs + "/assets#upload-a-release-asset"
	idText, ok := strings.CutSuffix(rest, "/assets")
	if !ok || r.Method != http.MethodPost {
		notFound(w)
		return
	}
	name := r.URL.Query().Get("name")
	f.mu.Lock()
	f.uploads = append(f.uploads, Upload{Name: name, ContentType: r.Header.Get("Content-Type"), ContentLength: r.ContentLength, Proto: r.Proto})
	rel := f.byID(idText)
	var problem func()
	switch {
	case rel == nil:
		problem = func() { notFound(w) }
	case name == "":
		problem = func() {
			validation(w, doc, map[string]any{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"})
		}
	case r.Header.Get("Content-Type") == "":
		problem = func() {
			validation(w, doc, map[string]any{"resource": "ReleaseAsset", "code": "missing_field", "field": "content_type"})
		}
	case r.ContentLength < 0:
		problem = func() { writeError(w, http.StatusLengthRequired, "Content-Length required", doc) }
	case r.ContentLength >= f.Limit:
		problem = func() {
			validation(w, doc, map[string]any{"resource": "ReleaseAsset", "code": "custom", "field": "size",
				"message": fmt.Sprintf("size must be less than %d bytes", f.Limit)})
		}
	}
	if problem == nil {
		for _, a := range rel.Assets {
			if a.Name == name {
				problem = func() {
					validation(w, doc, map[string]any{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"})
				}
			}
		}
	}
	if problem != nil {
		f.mu.Unlock()
		problem()
		return
	}
	var fault *Fault
	if q := f.faults[name]; len(q) > 0 {
		fault, f.faults[name] = &q[0], q[1:]
	}
	a := &Asset{ID: f.id(), Name: name, Label: r.URL.Query().Get("label"), State: "starter", ContentType: r.Header.Get("Content-Type"), created: time.Now().UTC()}
	rel.Assets = append(rel.Assets, a)
	f.mu.Unlock()

	if fault != nil && fault.Status != 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		f.removeAsset(rel, a) // a clean server error leaves nothing behind
		writeError(w, fault.Status, http.StatusText(fault.Status), doc)
		return
	}
	if fault != nil {
		_, _ = io.CopyN(io.Discard, r.Body, fault.DropAfter)
		if r.ProtoMajor >= 2 {
			panic(http.ErrAbortHandler) // the server resets the stream; the asset stays "starter"
		}
		conn, _, err := raw.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the asset stays behind in state "starter"
		}
		return
	}
	h := sha256.New()
	var keep []byte
	n, err := io.Copy(io.MultiWriter(h, &limitedBuffer{buf: &keep, max: keepContent}), r.Body)
	if err != nil || n != r.ContentLength {
		writeError(w, http.StatusBadRequest, "Body does not match Content-Length", doc)
		return // stays "starter"
	}
	f.mu.Lock()
	a.Size, a.Digest, a.State = n, "sha256:"+hex.EncodeToString(h.Sum(nil)), "uploaded"
	if n <= keepContent {
		a.Content = keep
	}
	body := f.assetJSON(rel, a)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, body)
}

func (f *Server) removeAsset(rel *Release, a *Asset) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range rel.Assets {
		if x == a {
			rel.Assets = append(rel.Assets[:i], rel.Assets[i+1:]...)
			return
		}
	}
}

type limitedBuffer struct {
	buf *[]byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(*l.buf)+len(p) <= l.max {
		*l.buf = append(*l.buf, p...)
	}
	return len(p), nil
}

func (f *Server) releaseJSON(rel *Release) map[string]any {
	base := f.APIURL() + "/repos/" + f.Repo + "/releases/" + strconv.FormatInt(rel.ID, 10)
	tag := rel.Tag
	if rel.Draft {
		tag = "untagged-" + rel.untaggedSuffix
	}
	assets := []map[string]any{}
	for _, a := range rel.Assets {
		assets = append(assets, f.assetJSON(rel, a))
	}
	upload := f.uploadsURL() + strings.TrimSuffix(f.uploadPrefix(), "/") + "/" + strconv.FormatInt(rel.ID, 10) + "/assets{?name,label}"
	var published any
	if rel.published != nil {
		published = rel.published.Format(time.RFC3339)
	}
	return map[string]any{
		"url": base, "assets_url": base + "/assets", "upload_url": upload,
		"html_url": "https://github.com/" + f.Repo + "/releases/tag/" + tag,
		"id":       rel.ID, "node_id": fmt.Sprintf("RE_kw%d", rel.ID),
		"tag_name": rel.Tag, "target_commitish": rel.Commitish, "name": rel.Name, "body": rel.Body,
		"draft": rel.Draft, "prerelease": rel.Prerelease, "immutable": false,
		"created_at": rel.created.Format(time.RFC3339), "published_at": published,
		"author":      map[string]any{"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
		"assets":      assets,
		"tarball_url": f.APIURL() + "/repos/" + f.Repo + "/tarball/" + rel.Tag,
		"zipball_url": f.APIURL() + "/repos/" + f.Repo + "/zipball/" + rel.Tag,
	}
}

func (f *Server) assetJSON(rel *Release, a *Asset) map[string]any {
	m := map[string]any{
		"url":                  f.APIURL() + "/repos/" + f.Repo + "/releases/assets/" + strconv.FormatInt(a.ID, 10),
		"browser_download_url": "https://github.com/" + f.Repo + "/releases/download/" + rel.Tag + "/" + a.Name,
		"id":                   a.ID, "node_id": fmt.Sprintf("RA_kw%d", a.ID),
		"name": a.Name, "label": a.Label, "state": a.State, "content_type": a.ContentType,
		"size": a.Size, "download_count": 0,
		"created_at": a.created.Format(time.RFC3339), "updated_at": a.created.Format(time.RFC3339),
		"uploader": map[string]any{"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
	}
	if !f.NoDigest {
		if a.Digest != "" {
			m["digest"] = a.Digest
		} else {
			m["digest"] = nil
		}
	}
	return m
}
