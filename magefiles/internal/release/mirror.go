package release

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// mirror copies the release files to a server over ssh: with rsync when
// both ends have it (an interrupted copy resumes), else with scp. Each file
// goes to a temporary name, its SHA-256 is checked on the server, and only
// then is it renamed, so the server never shows a partial or corrupt file.
type mirror struct {
	// Target is RELEASE_SCP_TARGET as given.
	Target string
	// Host is [user@]host; Dir the remote directory (relative paths are
	// relative to the remote home).
	Host, Dir string
	// SSHArgs are RELEASE_SSH_ARGS, given to ssh, scp and rsync's ssh.
	SSHArgs []string
	// Tool is "rsync" or "scp".
	Tool string
	// Existing maps a file name to its SHA-256 on the server.
	Existing map[string]string
	out      io.Writer
}

var (
	targetHostRE = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9._-]*$`)
	targetDirRE  = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
)

// newMirror parses RELEASE_SCP_TARGET (user@host:/path/) and the options.
func newMirror(target, sshArgs, forcedTool string, out io.Writer) (*mirror, error) {
	host, dir, ok := strings.Cut(target, ":")
	if !ok || !targetHostRE.MatchString(host) || dir == "" {
		return nil, fmt.Errorf("%s=%q is not user@host:/path/ (for example deploy@files.example.com:/srv/releases/)", EnvSCPTarget, target)
	}
	if !targetDirRE.MatchString(dir) {
		return nil, fmt.Errorf("%s: the remote path %q may only hold letters, digits and . _ / + - (no spaces, quotes or ~; a relative path is relative to the remote home)", EnvSCPTarget, dir)
	}
	if dir != "/" {
		dir = strings.TrimRight(dir, "/")
	}
	m := &mirror{Target: target, Host: host, Dir: dir, SSHArgs: strings.Fields(sshArgs), out: out}
	switch forcedTool {
	case "", "rsync", "scp":
		m.Tool = forcedTool
	default:
		return nil, fmt.Errorf("%s=%q: use rsync or scp", EnvCopyTool, forcedTool)
	}
	return m, nil
}

// sshOptions are the options every ssh, scp and rsync call gets: never
// prompt, then the user's.
func (m *mirror) sshOptions() []string {
	return append([]string{"-o", "BatchMode=yes"}, m.SSHArgs...)
}

// command runs a local tool with the GitHub token removed from its
// environment: ssh has no business seeing it.
func command(name string, args ...string) *tool.Cmd {
	return tool.Command(name, args...).Env(EnvGHToken+"=", EnvGitHubToken+"=")
}

func (m *mirror) ssh(remote string) *tool.Cmd {
	args := append(m.sshOptions(), m.Host, remote)
	return command("ssh", args...)
}

func (m *mirror) path(name string) string { return m.Dir + "/" + name }

func (m *mirror) tmpPath(name string) string { return m.Dir + "/." + name + ".tmp" }

// probe connects once, read-only: which files are already there (and their
// SHA-256) and whether the server has rsync. It chooses the copy tool.
func (m *mirror) probe(ctx context.Context, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = shellQuote(n)
	}
	remote := fmt.Sprintf("cd %s 2>/dev/null && sha256sum -- %s 2>/dev/null; if command -v rsync >/dev/null 2>&1; then echo rsync=yes; else echo rsync=no; fi",
		shellQuote(m.Dir), strings.Join(quoted, " "))
	out, err := m.ssh(remote).Output(ctx)
	if err != nil {
		return err
	}
	m.Existing = map[string]string{}
	remoteRsync := false
	for _, l := range strings.Split(string(out), "\n") {
		if l == "rsync=yes" {
			remoteRsync = true
			continue
		}
		if digest, name, ok := strings.Cut(l, "  "); ok && len(digest) == 64 {
			m.Existing[name] = digest
		}
	}
	if m.Tool == "" {
		m.Tool = "scp"
		if _, err := exec.LookPath("rsync"); err == nil && remoteRsync {
			m.Tool = "rsync"
		}
	}
	return nil
}

// pending returns the assets the server does not already have.
func (m *mirror) pending(assets []asset) []asset {
	var list []asset
	for _, a := range assets {
		if m.Existing[a.Name] != a.SHA256 {
			list = append(list, a)
		}
	}
	return list
}

// copyAll copies every asset the server lacks, in order.
func (m *mirror) copyAll(ctx context.Context, assets []asset) error {
	for _, a := range assets {
		if m.Existing[a.Name] == a.SHA256 {
			fmt.Fprintf(m.out, "  keep %s on %s (same sha256)\n", a.Name, m.Host)
			continue
		}
		if err := m.copyOne(ctx, a); err != nil {
			return fmt.Errorf("server copy to %s: %w", m.Target, err)
		}
	}
	return nil
}

// copyOne copies a to a temporary name, checks its SHA-256 on the server and
// renames it; on a mismatch the temporary file is removed.
func (m *mirror) copyOne(ctx context.Context, a asset) error {
	start := time.Now()
	fmt.Fprintf(m.out, "  copy %s (%s) to %s with %s\n", a.Name, humanBytes(a.Size), m.Target, m.Tool)
	dest := m.Host + ":" + m.tmpPath(a.Name)
	var c *tool.Cmd
	if m.Tool == "rsync" {
		c = command("rsync", "--partial", "--inplace", "--info=progress2", "-e", "ssh "+strings.Join(m.sshOptions(), " "), a.Path, dest)
	} else {
		c = command("scp", append(m.sshOptions(), a.Path, dest)...)
	}
	if err := c.Stream(m.out).Run(ctx); err != nil {
		return err
	}
	tmp, final := shellQuote(m.tmpPath(a.Name)), shellQuote(m.path(a.Name))
	check := fmt.Sprintf(`got=$(sha256sum -- %s | cut -d' ' -f1); if [ "$got" = %s ]; then mv -f -- %s %s && echo OK; else rm -f -- %s; echo "MISMATCH $got"; fi`,
		tmp, a.SHA256, tmp, final, tmp)
	out, err := m.ssh(check).Output(ctx)
	if err != nil {
		return err
	}
	answer := strings.TrimSpace(string(out))
	if answer != "OK" {
		got := strings.TrimSpace(strings.TrimPrefix(answer, "MISMATCH"))
		return fmt.Errorf("remote checksum mismatch for %s on %s: expected sha256 %s, the server has %q; the temporary copy was removed and nothing was renamed: check the server's disk and network, then run the release again",
			a.Name, m.Host, a.SHA256, got)
	}
	fmt.Fprintf(m.out, "  copied %s in %s, sha256 checked on the server\n", a.Name, time.Since(start).Round(time.Millisecond))
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
