package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cli/go-gh/v2/pkg/api"
)

// ghRelease is the part of GitHub's release object the release uses.
type ghRelease struct {
	ID          int64      `json:"id"`
	TagName     string     `json:"tag_name"`
	Name        string     `json:"name"`
	Body        string     `json:"body"`
	Draft       bool       `json:"draft"`
	Prerelease  bool       `json:"prerelease"`
	UploadURL   string     `json:"upload_url"`
	HTMLURL     string     `json:"html_url"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at"`
}

// ghAsset is GitHub's release asset object. Digest is "sha256:<hex>" on
// current GitHub and empty on older servers (GitHub Enterprise Server).
type ghAsset struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Label       string `json:"label"`
	State       string `json:"state"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Digest      string `json:"digest"`
	URL         string `json:"url"`
}

// releasePatch is the body of "update a release"; nil fields are left out.
type releasePatch struct {
	Name       *string `json:"name,omitempty"`
	Body       *string `json:"body,omitempty"`
	Draft      *bool   `json:"draft,omitempty"`
	Prerelease *bool   `json:"prerelease,omitempty"`
	MakeLatest string  `json:"make_latest,omitempty"`
	// TargetCommitish is where GitHub creates the tag when the release is
	// published and the tag does not exist yet (ignored when it does).
	TargetCommitish *string `json:"target_commitish,omitempty"`
}

// gitHub talks to one repository's releases through go-gh.
type gitHub struct {
	rest  *api.RESTClient
	http  *http.Client
	base  string
	repo  string
	retry Retry
	out   io.Writer
}

// newGitHub builds go-gh clients with the host, token and transport set
// explicitly, so go-gh never looks for a token of its own, never runs the gh
// CLI and never logs requests (GH_DEBUG is ignored).
func newGitHub(s gitHubSettings, transport http.RoundTripper, retry Retry, out io.Writer) (*gitHub, error) {
	if s.Token == "" {
		return nil, errNoToken
	}
	if transport == nil {
		transport = uploadTransport()
	}
	opts := api.ClientOptions{
		Host:         s.Host,
		AuthToken:    s.Token,
		Transport:    transport,
		LogIgnoreEnv: true,
		Headers:      map[string]string{"Accept": "application/vnd.github+json"},
	}
	rest, err := api.NewRESTClient(opts)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	hc, err := api.NewHTTPClient(opts)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	return &gitHub{rest: rest, http: hc, base: s.APIBase, repo: s.Repo, retry: retry, out: out}, nil
}

// uploadTransport is http.DefaultTransport with a large write buffer: the
// default 4 KiB one makes an upload of 2 GB cost half a million write
// system calls and runs at a fraction of curl's speed.
func uploadTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.WriteBufferSize = 256 << 10
	return t
}

func (g *gitHub) url(format string, args ...any) string {
	return g.base + "/repos/" + g.repo + fmt.Sprintf(format, args...)
}

// do sends one JSON request, retrying reads and idempotent writes on 5xx and
// dropped connections.
func (g *gitHub) do(ctx context.Context, method, u string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	what := method + " " + strings.TrimPrefix(u, g.base)
	return g.retry.do(ctx, g.out, what, func(int) error {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		return g.rest.DoWithContext(ctx, method, u, r, out)
	})
}

// isStatus reports whether err is a GitHub HTTP error with that status.
func isStatus(err error, status int) bool {
	var he *api.HTTPError
	return errors.As(err, &he) && he.StatusCode == status
}

// isAlreadyExists reports GitHub's 422 with code already_exists.
func isAlreadyExists(err error) bool {
	var he *api.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range he.Errors {
		if e.Code == "already_exists" {
			return true
		}
	}
	return false
}

// findRelease returns the release for tag, draft or not, or nil. Drafts
// are not served by GET /releases/tags/{tag} (they have no tag yet), so
// the list of releases is searched when that says 404.
func (g *gitHub) findRelease(ctx context.Context, tag string) (*ghRelease, error) {
	var rel ghRelease
	err := g.do(ctx, http.MethodGet, g.url("/releases/tags/%s", url.PathEscape(tag)), nil, &rel)
	if err == nil {
		return &rel, nil
	}
	if !isStatus(err, http.StatusNotFound) {
		return nil, err
	}
	all, err := g.listReleases(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].TagName == tag {
			return &all[i], nil
		}
	}
	return nil, nil
}

// listReleases returns every release, drafts included, newest first.
func (g *gitHub) listReleases(ctx context.Context) ([]ghRelease, error) {
	var all []ghRelease
	for page := 1; ; page++ {
		var batch []ghRelease
		if err := g.do(ctx, http.MethodGet, g.url("/releases?per_page=100&page=%d", page), nil, &batch); err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < 100 {
			return all, nil
		}
	}
}

// listAssets returns every asset of a release, failed uploads included.
func (g *gitHub) listAssets(ctx context.Context, releaseID int64) ([]ghAsset, error) {
	var all []ghAsset
	for page := 1; ; page++ {
		var batch []ghAsset
		if err := g.do(ctx, http.MethodGet, g.url("/releases/%d/assets?per_page=100&page=%d", releaseID, page), nil, &batch); err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < 100 {
			return all, nil
		}
	}
}

// createDraft creates a draft release. A dropped connection may have
// created it already, so a retry first looks for it.
func (g *gitHub) createDraft(ctx context.Context, tag, commit, name, body string, prerelease bool) (*ghRelease, error) {
	in := map[string]any{"tag_name": tag, "name": name, "body": body, "draft": true, "prerelease": prerelease}
	if commit != "" {
		in["target_commitish"] = commit
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var rel ghRelease
	err = g.retry.do(ctx, g.out, "create release "+tag, func(attempt int) error {
		if attempt > 1 {
			if found, ferr := g.findRelease(ctx, tag); ferr == nil && found != nil {
				rel = *found
				return nil
			}
		}
		return g.rest.DoWithContext(ctx, http.MethodPost, g.url("/releases"), bytes.NewReader(payload), &rel)
	})
	if err != nil {
		return nil, err
	}
	return &rel, nil
}

// updateRelease patches a release and returns its new state.
func (g *gitHub) updateRelease(ctx context.Context, id int64, p releasePatch) (*ghRelease, error) {
	var rel ghRelease
	if err := g.do(ctx, http.MethodPatch, g.url("/releases/%d", id), p, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

// deleteAsset deletes a release asset; one already gone counts as deleted.
func (g *gitHub) deleteAsset(ctx context.Context, id int64) error {
	err := g.do(ctx, http.MethodDelete, g.url("/releases/assets/%d", id), nil, nil)
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// latestRelease returns the release GitHub shows as latest, or nil.
func (g *gitHub) latestRelease(ctx context.Context) (*ghRelease, error) {
	var rel ghRelease
	err := g.do(ctx, http.MethodGet, g.url("/releases/latest"), nil, &rel)
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rel, nil
}

// downloadAsset reads an asset's content (GitHub answers with a redirect to
// its storage; the token is not sent to another host).
func (g *gitHub) downloadAsset(ctx context.Context, a ghAsset, max int64) ([]byte, error) {
	var data []byte
	err := g.retry.do(ctx, g.out, "download "+a.Name, func(int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/octet-stream")
		resp, err := g.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return api.HandleHTTPError(resp)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > max {
			return fmt.Errorf("download %s: more than %d bytes", a.Name, max)
		}
		return nil
	})
	return data, err
}

// uploadURL turns a release's upload_url template into the URL for name.
func uploadURL(template, name string) string {
	base, _, _ := strings.Cut(template, "{")
	return base + "?name=" + url.QueryEscape(name)
}

// uploadOnce posts an asset's bytes once: raw body, Content-Length and
// application/octet-stream, as GitHub's upload endpoint expects.
func (g *gitHub) uploadOnce(ctx context.Context, rel *ghRelease, a asset, progress func(int64)) (ghAsset, error) {
	body, err := a.open()
	if err != nil {
		return ghAsset{}, err
	}
	defer body.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uploadURL(rel.UploadURL, a.Name), &countingReader{r: body, onRead: progress})
	if err != nil {
		return ghAsset{}, err
	}
	req.ContentLength = a.Size
	if a.Size == 0 {
		req.Body = http.NoBody // else Go would send an unknown length, chunked
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := g.http.Do(req)
	if err != nil {
		return ghAsset{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return ghAsset{}, api.HandleHTTPError(resp)
	}
	var got ghAsset
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return ghAsset{}, fmt.Errorf("upload %s: reading GitHub's answer: %w", a.Name, err)
	}
	return got, nil
}

// countingReader reports how many bytes have been read so far.
type countingReader struct {
	r      io.Reader
	n      int64
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.onRead != nil && n > 0 {
		c.onRead(c.n)
	}
	return n, err
}
