package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy"
)

// state is everything the checklist reads, gathered once and read-only
// before any line is evaluated: the lines only read it, so their order
// does not matter. Each part records what was found or why it could not
// be; a part that depends on another is gathered only when that one is
// usable (no GitHub, no tag lookup).
type state struct {
	Version string
	// Root is the repository root; paths in messages are relative to it.
	Root string
	// DryRun and Force are the run's flags.
	DryRun, Force bool
	Sizing        sizing
	Local         *localBuild
	Git           gitState
	Changelog     changelogState
	GitHub        gitHubState
	Tag           tagState
	Content       contentState
	// Server is nil when no server copy is configured.
	Server *serverState
	// ReleaseKey is the committed release public key; ReleaseKeyErr says
	// why it could not be read.
	ReleaseKey    []byte
	ReleaseKeyErr error
	// Login is the installed machine's login; nil when not known.
	Login *customize.Login
}

// gitState is the work tree and HEAD.
type gitState struct {
	// Changes are the changed and untracked paths (git status --porcelain);
	// StatusErr says why they could not be read.
	Changes   []string
	StatusErr error
	// Head is HEAD's commit, read when the work tree is clean.
	Head    string
	HeadErr error
}

// clean reports a clean work tree with a known HEAD.
func (g gitState) clean() bool {
	return g.StatusErr == nil && len(g.Changes) == 0 && g.HeadErr == nil && g.Head != ""
}

// changelogState is the version's section of CHANGELOG.md.
type changelogState struct {
	Notes releaseNotes
	// Err is errNoSection when there is no section for the version.
	Err error
	// HasUnreleased is set when the changelog has an [Unreleased] section.
	HasUnreleased bool
}

// gitHubState is the repository on GitHub and what it holds for the
// version. Without a token GitHub is not asked.
type gitHubState struct {
	Settings    gitHubSettings
	SettingsErr error
	Client      *github.Client
	ClientErr   error
	// RepoErr is the answer to reading the repository (401, 404, ...).
	RepoErr error
	Remote  *remoteState
	// RemoteErr says why the releases could not be read.
	RemoteErr error
}

// ok reports that GitHub was read: the lines that need it can check.
func (g gitHubState) ok() bool {
	return g.SettingsErr == nil && g.ClientErr == nil && g.RepoErr == nil && g.RemoteErr == nil && g.Remote != nil
}

// tagState is the version's tag on GitHub, read when GitHub was read and
// HEAD is known.
type tagState struct {
	Checked bool
	// Commit is where the tag points ("" when there is no tag), following
	// annotated tags; Err says why it could not be read.
	Commit    string
	Annotated bool
	Err       error
	// HeadOnGitHub says, when there is no tag, whether GitHub has HEAD to
	// create it at; HeadErr why that could not be asked.
	HeadOnGitHub bool
	HeadErr      error
}

// contentState compares the local files with the release on GitHub, when
// there is one and every local file could be read.
type contentState struct {
	Checked bool
	Checks  []assetCheck
	Err     error
}

// serverState is the server copy's target and what the server holds.
type serverState struct {
	// Label is the target as the user wrote it.
	Label string
	// Err is a bad target or tool setting; NoSSH means ssh is missing here.
	Err   error
	NoSSH bool
	// Copier is set once the settings are valid; Probed once it connected.
	Copier   *servercopy.Copier
	Probed   bool
	ProbeErr error
}

// show prints a path relative to the repository root when it is inside it.
func (st *state) show(path string) string {
	if p, err := filepath.Rel(st.Root, path); err == nil && !strings.HasPrefix(p, "..") {
		return p
	}
	return path
}

// gather reads everything the checklist needs, read-only, writing only
// progress (hashing, retries) to out.
func gather(ctx context.Context, o Options, out io.Writer) *state {
	st := &state{Version: o.Version, Root: o.Root, DryRun: o.DryRun, Force: o.Force,
		Sizing: sizing{Limit: o.AssetLimit, PartSize: o.PartSize, Split: o.Settings.Split}, Login: o.Login}
	st.Local = readLocal(ctx, dist.New(o.DistDir, o.Version), o.Artifacts, st.Sizing, st.show, out)
	st.Git = gatherGit(ctx, o.Root)
	st.ReleaseKey, st.ReleaseKeyErr = os.ReadFile(filepath.Join(o.Root, config.ReleaseKeyPath))
	st.Changelog = gatherChangelog(filepath.Join(o.Root, ChangelogName), o.Version)
	st.GitHub = gatherGitHub(ctx, o, out)
	if st.GitHub.ok() && st.Git.clean() {
		st.Tag = gatherTag(ctx, st.GitHub.Client, o.Version, st.Git.Head)
	}
	if st.GitHub.ok() && st.Local.complete() && st.GitHub.Remote.Release != nil {
		checks, err := compare(ctx, st.GitHub.Client, st.GitHub.Remote, st.Local, st.ReleaseKey)
		st.Content = contentState{Checked: true, Checks: checks, Err: err}
	}
	if o.Settings.SCPTarget != "" {
		st.Server = gatherServer(ctx, o.Settings, st.Local, out)
	}
	return st
}

func gatherGit(ctx context.Context, root string) gitState {
	var g gitState
	g.Changes, g.StatusErr = git.Changes(ctx, root)
	if g.StatusErr != nil || len(g.Changes) > 0 {
		return g
	}
	g.Head, g.HeadErr = git.Head(ctx, root)
	return g
}

func gatherChangelog(path, version string) changelogState {
	notes, err := readChangelog(path, version)
	c := changelogState{Notes: notes, Err: err}
	if errors.Is(err, errNoSection) {
		c.HasUnreleased = hasUnreleased(path)
	}
	return c
}

func gatherGitHub(ctx context.Context, o Options, out io.Writer) gitHubState {
	var g gitHubState
	g.Settings, g.SettingsErr = resolveGitHub(ctx, o.Settings, o.Root)
	if g.SettingsErr != nil || g.Settings.Token == "" {
		return g
	}
	g.Client, g.ClientErr = newClient(g.Settings, o.Transport, o.Retry, out)
	if g.ClientErr != nil {
		return g
	}
	if g.RepoErr = g.Client.CheckRepository(ctx); g.RepoErr != nil {
		return g
	}
	g.Remote, g.RemoteErr = readRemote(ctx, g.Client, o.Version)
	return g
}

func gatherTag(ctx context.Context, gh *github.Client, tag, head string) tagState {
	t := tagState{Checked: true}
	t.Commit, t.Annotated, t.Err = gh.TagCommit(ctx, tag)
	if t.Err == nil && t.Commit == "" {
		t.HeadOnGitHub, t.HeadErr = gh.HasCommit(ctx, head)
	}
	return t
}

func gatherServer(ctx context.Context, rs config.ReleaseSettings, local *localBuild, out io.Writer) *serverState {
	s := &serverState{Label: rs.SCPTarget}
	target, err := servercopy.ParseTarget(rs.SCPTarget)
	if err != nil {
		s.Err = fmt.Errorf("%s: %w", config.EnvSCPTarget, err)
		return s
	}
	tool, err := servercopy.ParseTool(rs.CopyTool)
	if err != nil {
		s.Err = fmt.Errorf("%s=%w", config.EnvCopyTool, err)
		return s
	}
	s.Copier, err = servercopy.New(servercopy.Options{Target: target, Label: rs.SCPTarget, SSHArgs: strings.Fields(rs.SSHArgs), Tool: tool,
		HideEnv: []string{config.EnvGHToken, config.EnvGitHubToken}, Out: out})
	if err != nil {
		s.Err = err
		return s
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		s.NoSSH = true
		return s
	}
	if local.ISOErr != nil {
		return s
	}
	var names []string
	for _, f := range local.serverFiles() {
		names = append(names, f.Name)
	}
	s.Probed, s.ProbeErr = true, s.Copier.Probe(ctx, names)
	return s
}

// copier is the server copy once the server was reached, else nil.
func (st *state) copier() *servercopy.Copier {
	if st.Server == nil || !st.Server.Probed || st.Server.ProbeErr != nil {
		return nil
	}
	return st.Server.Copier
}
