// Package servercopy copies release files to a server over ssh: with rsync
// when both ends have it (an interrupted copy resumes), else with scp. The
// files go to a temporary staging directory beside the target, their
// SHA-256 is checked on the server, and only then are they renamed into
// place, so the server never shows a partial or corrupt file. It takes
// plain values (target, ssh options, forced tool) and never reads the
// environment.
package servercopy

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

// Copy tools.
const (
	// Rsync resumes an interrupted copy.
	Rsync = "rsync"
	// SCP is the fallback when rsync is missing on either end.
	SCP = "scp"
)

// Target is where the files go: [user@]host and a directory on it.
type Target struct {
	// Host is [user@]host.
	Host string
	// Dir is the remote directory without a trailing slash ("/" stays);
	// a relative path is relative to the remote home.
	Dir string
}

var (
	targetHostRE = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9._-]*@)?[A-Za-z0-9][A-Za-z0-9._-]*$`)
	targetDirRE  = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
)

// ParseTarget reads user@host:/path/. Its errors say what is wrong with
// the value without naming where it came from: the caller adds that.
func ParseTarget(s string) (Target, error) {
	host, dir, ok := strings.Cut(s, ":")
	if !ok || !targetHostRE.MatchString(host) || dir == "" {
		return Target{}, fmt.Errorf("%q is not user@host:/path/ (for example deploy@files.example.com:/srv/releases/)", s)
	}
	if !targetDirRE.MatchString(dir) {
		return Target{}, fmt.Errorf("the remote path %q may only hold letters, digits and . _ / + - (no spaces, quotes or ~; a relative path is relative to the remote home)", dir)
	}
	if dir != "/" {
		dir = strings.TrimRight(dir, "/")
	}
	return Target{Host: host, Dir: dir}, nil
}

// String is host:dir/, as rsync and scp take it.
func (t Target) String() string {
	if t.Dir == "/" {
		return t.Host + ":/"
	}
	return t.Host + ":" + t.Dir + "/"
}

// ParseTool checks a forced copy tool: "" (choose), Rsync or SCP.
func ParseTool(s string) (string, error) {
	switch s {
	case "", Rsync, SCP:
		return s, nil
	}
	return "", fmt.Errorf("%q: use rsync or scp", s)
}

// Options configure a Copier.
type Options struct {
	// Target is where the files go.
	Target Target
	// Label names the target in messages (default Target.String()), for
	// example the target as the user wrote it.
	Label string
	// SSHArgs are extra options given to ssh, scp and rsync's ssh. Use
	// -o Port= rather than -p, which scp spells -P.
	SSHArgs []string
	// Tool forces Rsync or SCP; "" chooses rsync when it is installed here
	// and on the server (Probe), else scp.
	Tool string
	// HideEnv are environment variables emptied for ssh, scp and rsync
	// (secrets they have no business seeing).
	HideEnv []string
	// Out receives the progress (default: discarded).
	Out io.Writer
}

// File is one file to copy, with its SHA-256 (lowercase hex).
type File struct {
	Name, Path string
	Size       int64
	SHA256     string
}

// Copier copies files to one target.
type Copier struct {
	// Target is the label of the target, for messages.
	Target string
	// Host is [user@]host; Dir the remote directory.
	Host, Dir string
	// SSHArgs are the extra ssh options.
	SSHArgs []string
	// Tool is Rsync or SCP once chosen ("" before Probe when not forced).
	Tool string
	// Existing maps a file name to its SHA-256 on the server (after Probe).
	Existing map[string]string
	hideEnv  []string
	out      io.Writer
}

// New makes a Copier; it connects to nothing.
func New(o Options) (*Copier, error) {
	tool, err := ParseTool(o.Tool)
	if err != nil {
		return nil, err
	}
	if o.Label == "" {
		o.Label = o.Target.String()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return &Copier{Target: o.Label, Host: o.Target.Host, Dir: o.Target.Dir, SSHArgs: o.SSHArgs, Tool: tool, hideEnv: o.HideEnv, out: o.Out}, nil
}

// sshOptions are the options every ssh, scp and rsync call gets: never
// prompt, then the user's.
func (c *Copier) sshOptions() []string {
	return append([]string{"-o", "BatchMode=yes"}, c.SSHArgs...)
}

// command runs a local tool with the hidden variables emptied.
func (c *Copier) command(name string, args ...string) *tool.Cmd {
	cmd := tool.Command(name, args...)
	for _, v := range c.hideEnv {
		cmd.Env(v + "=")
	}
	return cmd
}

func (c *Copier) ssh(remote string) *tool.Cmd {
	args := append(c.sshOptions(), c.Host, remote)
	return c.command("ssh", args...)
}

// staging is the temporary directory beside the target that files are
// copied into before they are checked and renamed.
func (c *Copier) staging(version string) string { return c.Dir + "/.incoming-" + version }

// Probe connects once, read-only: which files are already there (and their
// SHA-256) and whether the server has rsync. It chooses the copy tool.
func (c *Copier) Probe(ctx context.Context, names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = shellQuote(n)
	}
	remote := fmt.Sprintf("cd %s 2>/dev/null && sha256sum -- %s 2>/dev/null; if command -v rsync >/dev/null 2>&1; then echo rsync=yes; else echo rsync=no; fi",
		shellQuote(c.Dir), strings.Join(quoted, " "))
	out, err := c.ssh(remote).Output(ctx)
	if err != nil {
		return err
	}
	c.Existing = map[string]string{}
	remoteRsync := false
	for _, l := range strings.Split(string(out), "\n") {
		if l == "rsync=yes" {
			remoteRsync = true
			continue
		}
		if digest, name, ok := sums.ParseLine(l, sums.SHA256); ok {
			c.Existing[name] = digest
		}
	}
	if c.Tool == "" {
		c.Tool = SCP
		if _, err := exec.LookPath("rsync"); err == nil && remoteRsync {
			c.Tool = Rsync
		}
	}
	return nil
}

// Pending returns the files the server does not already have (by name and
// SHA-256, as Probe found them).
func (c *Copier) Pending(files []File) []File {
	var list []File
	for _, a := range files {
		if c.Existing[a.Name] != a.SHA256 {
			list = append(list, a)
		}
	}
	return list
}

// CopyAll copies every file the server lacks, in one rsync or scp run,
// into a staging directory beside the target, .incoming-VERSION (so an
// interrupted rsync resumes there). One remote command then checks every
// copy's SHA-256 and, only when all match, renames them into place in the
// order of files (put an ISO before the checksum files that describe it).
// A mismatching copy is deleted.
func (c *Copier) CopyAll(ctx context.Context, version string, files []File) error {
	pending := c.Pending(files)
	if len(pending) == 0 {
		return nil
	}
	stage := c.staging(version)
	if err := c.ssh("mkdir -p -- " + shellQuote(stage)).Run(ctx); err != nil {
		return fmt.Errorf("server copy to %s: creating %s: %w", c.Target, stage, err)
	}
	start := time.Now()
	var total int64
	for _, a := range pending {
		total += a.Size
		fmt.Fprintf(c.out, "  copy %s (%s) to %s with %s\n", a.Name, units.Bytes(a.Size), c.Target, c.Tool)
	}
	if err := c.transfer(pending, stage).Stream(c.out).Run(ctx); err != nil {
		return fmt.Errorf("server copy to %s: %w (run the release again: %s)", c.Target, err, c.resumeNote())
	}
	out, err := c.ssh(checkAndRename(c.Dir, stage, pending)).Output(ctx)
	if err != nil {
		return fmt.Errorf("server copy to %s: checking the copies: %w", c.Target, err)
	}
	if err := mismatches(string(out), c.Host, stage, pending); err != nil {
		return fmt.Errorf("server copy to %s: %w", c.Target, err)
	}
	fmt.Fprintf(c.out, "  copied %d file(s), %s, to %s in %s; sha256 checked on the server\n", len(pending), units.Bytes(total), c.Target, time.Since(start).Round(time.Millisecond))
	return nil
}

func (c *Copier) resumeNote() string {
	if c.Tool == Rsync {
		return "rsync resumes the partial copy"
	}
	return "scp copies the files again"
}

// transfer is the rsync or scp command copying the files into dir.
func (c *Copier) transfer(files []File, dir string) *tool.Cmd {
	dest := c.Host + ":" + dir + "/"
	var args []string
	if c.Tool == Rsync {
		args = []string{"--partial", "--inplace", "--info=progress2", "-e", "ssh " + strings.Join(c.sshOptions(), " ")}
	} else {
		args = c.sshOptions()
	}
	for _, a := range files {
		args = append(args, a.Path)
	}
	return c.command(c.Tool, append(args, dest)...)
}

// checkAndRename is the remote script: print "MISSING name" for each copy
// that is not there and "MISMATCH name digest" for each whose SHA-256 is
// wrong (and delete it); when all are right, move every copy into place in
// order and print OK. It runs where sshd starts it, the user's home, like
// rsync and scp: dir and stage are used as given, so that a relative
// target is relative to the home for every step.
func checkAndRename(dir, stage string, files []File) string {
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
func mismatches(answer, host, stage string, files []File) error {
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
