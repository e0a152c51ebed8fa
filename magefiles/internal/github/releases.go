package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cli/go-gh/v2/pkg/api"
)

// Release is the part of GitHub's release object the project uses.
type Release struct {
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

// Asset is GitHub's release asset object. State is "uploaded" for a
// complete asset ("starter" for what a failed upload left behind). Digest
// is "sha256:<hex>" on current GitHub and empty on older servers (GitHub
// Enterprise Server).
type Asset struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Label       string `json:"label"`
	State       string `json:"state"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Digest      string `json:"digest"`
	URL         string `json:"url"`
}

// ReleasePatch is the body of "update a release"; nil fields are left out.
type ReleasePatch struct {
	Name       *string `json:"name,omitempty"`
	Body       *string `json:"body,omitempty"`
	Draft      *bool   `json:"draft,omitempty"`
	Prerelease *bool   `json:"prerelease,omitempty"`
	// MakeLatest is "true", "false" or "legacy" ("": unchanged).
	MakeLatest string `json:"make_latest,omitempty"`
	// TargetCommitish is where GitHub creates the tag when the release is
	// published and the tag does not exist yet (ignored when it does).
	TargetCommitish *string `json:"target_commitish,omitempty"`
}

// FindRelease returns the release for tag, draft or not, or nil. Drafts
// are not served by GET /releases/tags/{tag} (they have no tag yet), so
// the list of releases is searched when that says 404.
func (c *Client) FindRelease(ctx context.Context, tag string) (*Release, error) {
	var rel Release
	err := c.do(ctx, http.MethodGet, c.url("/releases/tags/%s", url.PathEscape(tag)), nil, &rel)
	if err == nil {
		return &rel, nil
	}
	if !IsStatus(err, http.StatusNotFound) {
		return nil, err
	}
	all, err := c.ListReleases(ctx)
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

// ListReleases returns every release, drafts included, newest first.
func (c *Client) ListReleases(ctx context.Context) ([]Release, error) {
	var all []Release
	for page := 1; ; page++ {
		var batch []Release
		if err := c.do(ctx, http.MethodGet, c.url("/releases?per_page=100&page=%d", page), nil, &batch); err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < 100 {
			return all, nil
		}
	}
}

// ListAssets returns every asset of a release, failed uploads included.
func (c *Client) ListAssets(ctx context.Context, releaseID int64) ([]Asset, error) {
	var all []Asset
	for page := 1; ; page++ {
		var batch []Asset
		if err := c.do(ctx, http.MethodGet, c.url("/releases/%d/assets?per_page=100&page=%d", releaseID, page), nil, &batch); err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < 100 {
			return all, nil
		}
	}
}

// Draft is a draft release to create.
type Draft struct {
	// Tag is the release's git tag; GitHub creates it when the release is
	// published, at Commit, unless it exists.
	Tag string
	// Commit is the target commit ("": the default branch).
	Commit string
	// Name and Body are the release's title and notes.
	Name, Body string
	// Prerelease marks it a prerelease.
	Prerelease bool
}

// CreateDraft creates a draft release. A dropped connection may have
// created it already, so a retry first looks for it.
func (c *Client) CreateDraft(ctx context.Context, d Draft) (*Release, error) {
	tag := d.Tag
	in := map[string]any{"tag_name": tag, "name": d.Name, "body": d.Body, "draft": true, "prerelease": d.Prerelease}
	if d.Commit != "" {
		in["target_commitish"] = d.Commit
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var rel Release
	err = c.retry.Do(ctx, c.out, "create release "+tag, func(attempt int) error {
		if attempt > 1 {
			if found, ferr := c.FindRelease(ctx, tag); ferr == nil && found != nil {
				rel = *found
				return nil
			}
		}
		return c.rest.DoWithContext(ctx, http.MethodPost, c.url("/releases"), bytes.NewReader(payload), &rel)
	})
	if err != nil {
		return nil, err
	}
	return &rel, nil
}

// UpdateRelease patches a release and returns its new state.
func (c *Client) UpdateRelease(ctx context.Context, id int64, p ReleasePatch) (*Release, error) {
	var rel Release
	if err := c.do(ctx, http.MethodPatch, c.url("/releases/%d", id), p, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

// DeleteAsset deletes a release asset; one already gone counts as deleted.
func (c *Client) DeleteAsset(ctx context.Context, id int64) error {
	err := c.do(ctx, http.MethodDelete, c.url("/releases/assets/%d", id), nil, nil)
	if IsStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// LatestRelease returns the release GitHub shows as latest, or nil.
func (c *Client) LatestRelease(ctx context.Context) (*Release, error) {
	var rel Release
	err := c.do(ctx, http.MethodGet, c.url("/releases/latest"), nil, &rel)
	if IsStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rel, nil
}

// DownloadAsset reads an asset's content (GitHub answers with a redirect to
// its storage; the token is not sent to another host).
func (c *Client) DownloadAsset(ctx context.Context, a Asset, limit int64) ([]byte, error) {
	var data []byte
	err := c.retry.Do(ctx, c.out, "download "+a.Name, func(int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/octet-stream")
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return api.HandleHTTPError(resp)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > limit {
			return fmt.Errorf("download %s: more than %d bytes", a.Name, limit)
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

// UploadOnce posts an asset's bytes once, without retrying (a failed
// attempt may leave an incomplete asset that the caller must delete
// before trying again): body is read to the end as the raw request body
// of size bytes, with Content-Length and application/octet-stream, as
// GitHub's upload endpoint expects; progress, when not nil, gets the
// number of bytes read so far.
func (c *Client) UploadOnce(ctx context.Context, rel *Release, name string, body io.Reader, size int64, progress func(int64)) (Asset, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uploadURL(rel.UploadURL, name), &countingReader{r: body, onRead: progress})
	if err != nil {
		return Asset{}, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody // else Go would send an unknown length, chunked
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return Asset{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return Asset{}, api.HandleHTTPError(resp)
	}
	var got Asset
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return Asset{}, fmt.Errorf("upload %s: reading GitHub's answer: %w", name, err)
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
