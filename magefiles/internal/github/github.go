// Package github is the project's GitHub REST client: one repository's
// releases and their assets (list, create, update, upload, download,
// delete), the release GitHub shows as latest, tags and commits. It takes
// plain values (API base, host, repository, token, transport, retry
// policy), never reads the environment, and goes through go-gh with the
// host, token and transport set explicitly, so go-gh never looks for a
// token of its own, never runs the gh CLI and never logs requests. The
// token is sent only in the Authorization header of requests to the API
// and upload hosts, never to the storage host downloads are redirected to.
// Reads and idempotent writes are retried on server errors and dropped
// connections (see Retry).
package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cli/go-gh/v2/pkg/api"
)

// AssetLimit is GitHub's limit: every release asset must be smaller than
// 2 GiB.
const AssetLimit int64 = 2 << 30

// Options say which repository the client talks to, where and as whom.
type Options struct {
	// APIBase is the REST API base URL without a trailing slash:
	// https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise
	// Server (see APIBaseForHost).
	APIBase string
	// Host is the GitHub host go-gh sends the token to: the API host, or
	// the host it is a subdomain of (github.com for api.github.com, so
	// uploads.github.com gets the token too); see TokenHost.
	Host string
	// Repo is owner/name.
	Repo string
	// Token authenticates; it must not be empty.
	Token string
	// Transport carries the requests (default UploadTransport()).
	Transport http.RoundTripper
	// Retry says how requests are retried.
	Retry Retry
	// Out receives a note for each retried request (default: discarded).
	Out io.Writer
}

// Client talks to one repository through go-gh.
type Client struct {
	rest  *api.RESTClient
	http  *http.Client
	base  string
	repo  string
	retry Retry
	out   io.Writer
}

// New builds a client. It fails without a token.
func New(o Options) (*Client, error) {
	if o.Token == "" {
		return nil, errors.New("github client: no token")
	}
	if o.Transport == nil {
		o.Transport = UploadTransport()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	opts := api.ClientOptions{
		Host:         o.Host,
		AuthToken:    o.Token,
		Transport:    o.Transport,
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
	return &Client{rest: rest, http: hc, base: o.APIBase, repo: o.Repo, retry: o.Retry.withDefaults(), out: o.Out}, nil
}

// UploadTransport is http.DefaultTransport with a large write buffer: the
// default 4 KiB one makes an upload of 2 GB cost half a million write
// system calls and runs at a fraction of curl's speed.
func UploadTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.WriteBufferSize = 256 << 10
	return t
}

// url is the API URL of a path under the repository.
func (c *Client) url(format string, args ...any) string {
	return c.base + "/repos/" + c.repo + fmt.Sprintf(format, args...)
}

// do sends one JSON request, retrying reads and idempotent writes on 5xx and
// dropped connections.
func (c *Client) do(ctx context.Context, method, u string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	what := method + " " + strings.TrimPrefix(u, c.base)
	return c.retry.Do(ctx, c.out, what, func(int) error {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		return c.rest.DoWithContext(ctx, method, u, r, out)
	})
}

// CheckRepository reads the repository: an error for which IsStatus
// reports 401 means GitHub refused the token, 404 that the repository does
// not exist or the token cannot see it.
func (c *Client) CheckRepository(ctx context.Context) error {
	var repo struct {
		FullName string `json:"full_name"`
	}
	return c.do(ctx, http.MethodGet, c.base+"/repos/"+c.repo, nil, &repo)
}

// IsStatus reports whether err is a GitHub HTTP error with that status.
func IsStatus(err error, status int) bool {
	var he *api.HTTPError
	return errors.As(err, &he) && he.StatusCode == status
}

// IsAlreadyExists reports GitHub's 422 with code already_exists (an asset
// of that name is already attached, complete or not).
func IsAlreadyExists(err error) bool {
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
