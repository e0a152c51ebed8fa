// Package git is the project's one way of asking git about the checkout:
// the commit of HEAD and its time, whether the work tree is clean, and the
// origin remote. Each answer is one `git -C <root> …` command.
package git

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// run runs git in root and returns its standard output without the final
// newlines (leading blanks are kept: `git status --porcelain` starts lines
// with one).
func run(ctx context.Context, root string, args ...string) (string, error) {
	out, err := tool.Command("git", append([]string{"-C", root}, args...)...).Output(ctx)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// Head is the commit of HEAD in root, or an error outside a git checkout or
// before the first commit.
func Head(ctx context.Context, root string) (string, error) {
	return run(ctx, root, "rev-parse", "HEAD")
}

// HeadOrEmpty is Head, or "" when there is no commit (not a checkout, no
// git installed).
func HeadOrEmpty(ctx context.Context, root string) string {
	if !tool.Git.Present() {
		return ""
	}
	h, err := Head(ctx, root)
	if err != nil {
		return ""
	}
	return h
}

// CommitTime is the committer time of HEAD in root as Unix seconds, or 0
// when root is not a git checkout (or has no commit yet).
func CommitTime(root string) int64 {
	if !tool.Git.Present() {
		return 0
	}
	out, err := run(context.Background(), root, "log", "-1", "--format=%ct")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Changes lists the changed and untracked paths of root's work tree in
// `git status --porcelain` form; none means the work tree is clean.
func Changes(ctx context.Context, root string) ([]string, error) {
	out, err := run(ctx, root, "status", "--porcelain")
	if err != nil {
		return nil, fmt.Errorf("cannot read the git status of %s: %w", root, err)
	}
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\n"), nil
}

// OriginURL is the URL of root's origin remote. It may carry credentials:
// never print it.
func OriginURL(ctx context.Context, root string) (string, error) {
	return run(ctx, root, "remote", "get-url", "origin")
}

// TrackedFiles are the paths of the files git tracks in root's work tree
// (`git ls-files -z`), relative to root; an error outside a checkout or
// without git.
func TrackedFiles(ctx context.Context, root string) ([]string, error) {
	out, err := run(ctx, root, "ls-files", "-z")
	if err != nil {
		return nil, err
	}
	out = strings.TrimRight(out, "\x00")
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\x00"), nil
}
