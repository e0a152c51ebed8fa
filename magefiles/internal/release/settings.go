package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
)

// gitHubSettings say where and as whom the release talks to GitHub.
type gitHubSettings struct {
	// APIBase is the REST API base URL without a trailing slash.
	APIBase string
	// Host is the GitHub host go-gh sends the token to (github.TokenHost).
	Host string
	// Repo is owner/name.
	Repo string
	// RepoSource says where Repo came from, for messages.
	RepoSource string
	// Token authenticates; empty when no variable holds one.
	Token string
	// TokenSource names the variable the token came from.
	TokenSource string
}

// resolveGitHub takes the token, the repository and the API base from the
// settings and, when they name no repository, from the origin remote of
// root.
func resolveGitHub(ctx context.Context, rs config.ReleaseSettings, root string) (gitHubSettings, error) {
	s := gitHubSettings{Token: rs.Token, TokenSource: rs.TokenSource}
	originHost := ""
	if repo := rs.Repository; repo != "" {
		if !github.ValidRepo(repo) {
			return s, fmt.Errorf("%s=%q is not owner/name", config.EnvRepository, repo)
		}
		s.Repo, s.RepoSource = repo, config.EnvRepository
	} else {
		host, repo, err := originRepo(ctx, root)
		if err != nil {
			return s, err
		}
		s.Repo, s.RepoSource, originHost = repo, "origin remote", host
	}
	base, err := apiBase(rs, originHost)
	if err != nil {
		return s, err
	}
	s.APIBase, s.Host = base, github.TokenHost(base)
	return s, nil
}

// apiBase picks the REST API base: GITHUB_API_URL, else GH_HOST, else the
// origin remote's host, else api.github.com.
func apiBase(rs config.ReleaseSettings, originHost string) (string, error) {
	if v := rs.APIURL; v != "" {
		if err := config.CheckAPIURL(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(v, "/"), nil
	}
	host := rs.Host
	if host == "" {
		host = originHost
	}
	if err := config.CheckGHHost(host); err != nil {
		return "", err
	}
	return github.APIBaseForHost(host), nil
}

// originRepo returns the host and owner/name of root's origin remote. The
// remote URL itself is never printed: it may carry credentials.
func originRepo(ctx context.Context, root string) (host, repo string, err error) {
	remote, err := git.OriginURL(ctx, root)
	if err != nil {
		return "", "", fmt.Errorf("no %s and no origin remote to take the repository from: set %s=owner/name", config.EnvRepository, config.EnvRepository)
	}
	host, repo, ok := github.ParseRemote(remote)
	if !ok {
		return "", "", fmt.Errorf("the origin remote is not a GitHub repository URL (owner/name): set %s=owner/name", config.EnvRepository)
	}
	return host, repo, nil
}

// newClient is the GitHub client of the resolved settings; it fails
// without a token.
func newClient(s gitHubSettings, transport http.RoundTripper, retry github.Retry, out io.Writer) (*github.Client, error) {
	if s.Token == "" {
		return nil, errNoToken
	}
	return github.New(github.Options{APIBase: s.APIBase, Host: s.Host, Repo: s.Repo, Token: s.Token, Transport: transport, Retry: retry, Out: out})
}

// errNoToken is returned when neither token variable is set.
var errNoToken = errors.New("no GitHub token: set GH_TOKEN or GITHUB_TOKEN (in GitHub Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})")
