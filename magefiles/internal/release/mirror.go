package release

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// mirror copies the release files to a server over ssh: with rsync when
// both ends have it (an interrupted copy resumes), else with scp. The files
// go to a temporary staging directory beside the target, their SHA-256 is
// checked on the server, and only then are they renamed into place, so the
// server never shows a partial or corrupt file.
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
	targetHostRE = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9._-]*@)?[A-Za-z0-9][A-Za-z0-9._-]*$`)
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

// staging is the temporary directory beside the target that files are
// copied into before they are checked and renamed.
func (m *mirror) staging(version string) string { return m.Dir + "/.incoming-" + version }

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
		if digest, name, ok := sums.ParseLine(l, sums.SHA256); ok {
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

// copyAll copies every asset the server lacks, in one rsync or scp run,
// into a staging directory beside the target (so an interrupted rsync
// resumes there). One remote command then checks every copy's SHA-256 and,
// only when all match, renames them into place in order, the ISO before the
// checksum files that describe it. A mismatching copy is deleted.
func (m *mirror) copyAll(ctx context.Context, version string, assets []asset) error {
	pending := m.pending(assets)
	if len(pending) == 0 {
		return nil
	}
	stage := m.staging(version)
	if err := m.ssh("mkdir -p -- " + shellQuote(stage)).Run(ctx); err != nil {
		return fmt.Errorf("server copy to %s: creating %s: %w", m.Target, stage, err)
	}
	start := time.Now()
	var total int64
	for _, a := range pending {
		total += a.Size
		fmt.Fprintf(m.out, "  copy %s (%s) to %s with %s\n", a.Name, units.Bytes(a.Size), m.Target, m.Tool)
	}
	if err := m.transfer(ctx, pending, stage).Stream(m.out).Run(ctx); err != nil {
		return fmt.Errorf("server copy to %s: %w (run the release again: %s)", m.Target, err, m.resumeNote())
	}
	out, err := m.ssh(checkAndRename(m.Dir, stage, pending)).Output(ctx)
	if err != nil {
		return fmt.Errorf("server copy to %s: checking the copies: %w", m.Target, err)
	}
	if err := mismatches(string(out), m.Host, stage, pending); err != nil {
		return fmt.Errorf("server copy to %s: %w", m.Target, err)
	}
	fmt.Fprintf(m.out, "  copied %d file(s), %s, to %s in %s; sha256 checked on the server\n", len(pending), units.Bytes(total), m.Target, time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *mirror) resumeNote() string {
	if m.Tool == "rsync" {
		return "rsync resumes the partial copy"
	}
	return "scp copies the files again"
}

// transfer is the rsync or scp command copying the files into dir.
func (m *mirror) transfer(ctx context.Context, files []asset, dir string) *tool.Cmd {
	dest := m.Host + ":" + dir + "/"
	var args []string
	if m.Tool == "rsync" {
		args = []string{"--partial", "--inplace", "--info=progress2", "-e", "ssh " + strings.Join(m.sshOptions(), " ")}
	} else {
		args = m.sshOptions()
	}
	for _, a := range files {
		args = append(args, a.Path)
	}
	return command(m.Tool, append(args, dest)...)
}

// checkAndRename is the remote script: print "MISSING name" for each copy
// that is not there and "MISMATCH name digest" for each whose SHA-256 is
// wrong (and delete it); when all are right, move every copy into place in
// order and print OK. It runs where sshd starts it, the user's home, like
// rsync and scp: dir and stage are used as given, so that a relative
// target is relative to the home for every step.
func checkAndRename(dir, stage string, files []asset) string {
	var b strings.Builder
	b.WriteString("bad=0\n")
	for _, a := range files {
		tmp := shellQuote(stage + "/" + a.Name)
		fmt.Fprintf(&b, "if [ ! -f %s ]; then echo \"MISSING %s\"; bad=1\n", tmp, a.Name)
		fmt.Fprintf(&b, "else got=$(sha256sum < %s | cut -d' ' -f1)\nif [ \"$got\" != %s ]; then echo \"MISMATCH %s $got\"; rm -f -- %s; bad=1; fi\nfi\n",
			tmp, a.SHA256, a.Name, tmp)
	}
	b.WriteString("[ \"$bad\" = 0 ] || exit 0\n")
	for _, a := range files {
		fmt.Fprintf(&b, "mv -f -- %s %s || exit 1\n", shellQuote(stage+"/"+a.Name), shellQuote(dir+"/"+a.Name))
	}
	fmt.Fprintf(&b, "rmdir -- %s 2>/dev/null\necho OK\n", shellQuote(stage))
	return b.String()
}

// mismatches reads checkAndRename's answer for the copies in stage.
func mismatches(answer, host, stage string, files []asset) error {
	want := map[string]string{}
	for _, a := range files {
		want[a.Name] = a.SHA256
	}
	var bad, missing []string
	for _, l := range strings.Split(strings.TrimSpace(answer), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "MISSING" {
			missing = append(missing, f[1])
		}
		if len(f) >= 2 && f[0] == "MISMATCH" {
			got := ""
			if len(f) > 2 {
				got = f[2]
			}
			bad = append(bad, fmt.Sprintf("%s: expected sha256 %s, the server has %q", f[1], want[f[1]], got))
		}
	}
	if len(bad) > 0 {
		for _, name := range missing {
			bad = append(bad, fmt.Sprintf("%s: missing from %s", name, stage))
		}
		return fmt.Errorf("remote checksum mismatch on %s for %s; the bad copies were deleted and nothing was renamed: check the server's disk and network, then run the release again",
			host, strings.Join(bad, "; "))
	}
	if len(missing) > 0 {
		return fmt.Errorf("the copies of %s are missing from %s on %s after the transfer; nothing was renamed: check the target path, then run the release again",
			strings.Join(missing, ", "), stage, host)
	}
	if !strings.HasSuffix(strings.TrimSpace(answer), "OK") {
		return fmt.Errorf("the server did not confirm the copies (answer %q)", answer)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
