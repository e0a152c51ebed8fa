package release

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Environment variables read by the release. None of them is required for a
// dry run except what the run checks.
const (
	// EnvGHToken and EnvGitHubToken hold the GitHub token, GH_TOKEN first.
	// The token is sent only in the Authorization header of requests to the
	// GitHub API host; it is never printed, logged or written anywhere.
	EnvGHToken     = "GH_TOKEN"
	EnvGitHubToken = "GITHUB_TOKEN"
	// EnvRepository is owner/name (GitHub Actions sets it); default: the
	// repository of the origin remote.
	EnvRepository = "GITHUB_REPOSITORY"
	// EnvAPIURL is the REST API base, https://api.github.com or
	// https://HOST/api/v3 for GitHub Enterprise Server (GitHub Actions sets it).
	EnvAPIURL = "GITHUB_API_URL"
	// EnvHost is a GitHub host name (github.com, a GHES host or
	// NAME.ghe.com) used when GITHUB_API_URL is not set.
	EnvHost = "GH_HOST"
	// EnvSCPTarget is user@host:/path/ to copy the assets to as well.
	EnvSCPTarget = "RELEASE_SCP_TARGET"
	// EnvSSHArgs are extra ssh options for that copy, split on spaces, for
	// example "-i /keys/release -o Port=2222". Use -o Port= rather than -p:
	// the same options are given to ssh, scp and rsync's ssh.
	EnvSSHArgs = "RELEASE_SSH_ARGS"
	// EnvCopyTool forces the copy tool: rsync or scp. Default: rsync when it
	// is installed here and on the server (it resumes), else scp.
	EnvCopyTool = "RELEASE_COPY_TOOL"
	// EnvSplit set to 0 forbids splitting an ISO of 2 GiB or more into parts;
	// the release then stops before any upload. Default 1.
	EnvSplit = "RELEASE_SPLIT"
)

// gitHubSettings say where and as whom the release talks to GitHub.
type gitHubSettings struct {
	// APIBase is the REST API base URL without a trailing slash.
	APIBase string
	// Host is the GitHub host go-gh sends the token to: the API host, or
	// the host it is a subdomain of (github.com for api.github.com, so
	// uploads.github.com gets the token too).
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

var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// resolveGitHub reads the token, the repository and the API base from the
// environment and, for the repository, the origin remote of root.
func resolveGitHub(ctx context.Context, getenv func(string) string, root string) (gitHubSettings, error) {
	var s gitHubSettings
	for _, name := range []string{EnvGHToken, EnvGitHubToken} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			s.Token, s.TokenSource = v, name
			break
		}
	}
	originHost := ""
	if repo := strings.TrimSpace(getenv(EnvRepository)); repo != "" {
		if !repoNameRE.MatchString(repo) {
			return s, fmt.Errorf("%s=%q is not owner/name", EnvRepository, repo)
		}
		s.Repo, s.RepoSource = repo, EnvRepository
	} else {
		host, repo, err := originRepo(ctx, root)
		if err != nil {
			return s, err
		}
		s.Repo, s.RepoSource, originHost = repo, "origin remote", host
	}
	base, err := apiBase(getenv, originHost)
	if err != nil {
		return s, err
	}
	u, _ := url.Parse(base)
	s.APIBase = base
	s.Host = strings.TrimPrefix(u.Hostname(), "api.")
	return s, nil
}

// apiBase picks the REST API base: GITHUB_API_URL, else GH_HOST, else the
// origin remote's host, else api.github.com.
func apiBase(getenv func(string) string, originHost string) (string, error) {
	if v := strings.TrimSpace(getenv(EnvAPIURL)); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", fmt.Errorf("%s=%q is not an http(s) URL such as https://api.github.com or https://ghe.example.com/api/v3", EnvAPIURL, v)
		}
		return strings.TrimSuffix(v, "/"), nil
	}
	host := strings.TrimSpace(getenv(EnvHost))
	if host == "" {
		host = originHost
	}
	if strings.ContainsAny(host, "/:@ ") {
		return "", fmt.Errorf("%s=%q is not a host name (for example github.com or ghe.example.com)", EnvHost, host)
	}
	return apiBaseForHost(host), nil
}

// apiBaseForHost is the REST API of a GitHub host: api.github.com,
// api.NAME.ghe.com (GitHub Enterprise Cloud with data residency) or
// HOST/api/v3 (GitHub Enterprise Server).
func apiBaseForHost(host string) string {
	host = strings.ToLower(host)
	switch {
	case host == "" || host == "github.com" || host == "api.github.com":
		return "https://api.github.com"
	case strings.HasSuffix(host, ".ghe.com"):
		return "https://api." + strings.TrimPrefix(host, "api.")
	default:
		return "https://" + host + "/api/v3"
	}
}

// originRepo returns the host and owner/name of root's origin remote. The
// remote URL itself is never printed: it may carry credentials.
func originRepo(ctx context.Context, root string) (host, repo string, err error) {
	out, err := tool.Command("git", "-C", root, "remote", "get-url", "origin").Output(ctx)
	if err != nil {
		return "", "", fmt.Errorf("no %s and no origin remote to take the repository from: set %s=owner/name", EnvRepository, EnvRepository)
	}
	host, repo, ok := parseRemote(strings.TrimSpace(string(out)))
	if !ok {
		return "", "", fmt.Errorf("the origin remote is not a GitHub repository URL (owner/name): set %s=owner/name", EnvRepository)
	}
	return host, repo, nil
}

// parseRemote understands https://host/owner/name(.git),
// ssh://git@host[:port]/owner/name(.git) and git@host:owner/name(.git).
func parseRemote(remote string) (host, repo string, ok bool) {
	var path string
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil {
			return "", "", false
		}
		host, path = u.Hostname(), u.Path
	} else {
		at := strings.LastIndex(remote, "@")
		hostPath := remote[at+1:]
		h, p, found := strings.Cut(hostPath, ":")
		if !found {
			return "", "", false
		}
		host, path = h, p
	}
	repo = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if host == "" || !repoNameRE.MatchString(repo) {
		return "", "", false
	}
	return host, repo, true
}

// errNoToken is returned when neither token variable is set.
var errNoToken = errors.New("no GitHub token: set GH_TOKEN or GITHUB_TOKEN (in GitHub Actions: env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})")
