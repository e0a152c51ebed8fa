package github

import (
	"net/url"
	"regexp"
	"strings"
)

var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// ValidRepo reports whether s is owner/name.
func ValidRepo(s string) bool { return repoNameRE.MatchString(s) }

// APIBaseForHost is the REST API of a GitHub host: api.github.com,
// api.NAME.ghe.com (GitHub Enterprise Cloud with data residency) or
// HOST/api/v3 (GitHub Enterprise Server). An empty host is github.com.
func APIBaseForHost(host string) string {
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

// TokenHost is the host go-gh sends the token to for an API base: the API
// host without "api.", so that github.com's uploads host gets it too
// (Options.Host). apiBase must be a valid URL.
func TokenHost(apiBase string) string {
	u, _ := url.Parse(apiBase)
	return strings.TrimPrefix(u.Hostname(), "api.")
}

// ParseRemote reads the host and owner/name of a git remote URL:
// https://host/owner/name(.git), ssh://git@host[:port]/owner/name(.git)
// or git@host:owner/name(.git). The URL may carry credentials: never print
// it.
func ParseRemote(remote string) (host, repo string, ok bool) {
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
	if host == "" || !ValidRepo(repo) {
		return "", "", false
	}
	return host, repo, true
}
