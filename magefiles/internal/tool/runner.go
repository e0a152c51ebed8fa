// Package tool runs the external programs the pipeline drives (xorriso,
// mksquashfs, qemu, ssh, ...) and makes sure they are installed.
//
// The runner is built on os/exec rather than github.com/bitfield/script
// because script merges stderr into stdout and reads exit status 0 for a
// command that was not found or was killed. Text pipelines over a tool's
// output (filtering progress lines, parsing reports) use script.
package tool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// Cmd is one external command, configured with its With* methods and run
// with Run, Output or Start.
type Cmd struct {
	name   string
	args   []string
	dir    string
	env    []string
	stdin  io.Reader
	stream io.Writer
	stdout io.Writer
}

// Command returns a Cmd that runs name with args.
func Command(name string, args ...string) *Cmd {
	return &Cmd{name: name, args: args}
}

// Dir sets the working directory.
func (c *Cmd) Dir(dir string) *Cmd { c.dir = dir; return c }

// Env adds KEY=VALUE pairs to the inherited environment.
func (c *Cmd) Env(kv ...string) *Cmd { c.env = append(c.env, kv...); return c }

// Stdin feeds r to the command's standard input.
func (c *Cmd) Stdin(r io.Reader) *Cmd { c.stdin = r; return c }

// Stream copies the command's stdout and stderr to w live, as they are
// written (stderr is still kept for the error message).
func (c *Cmd) Stream(w io.Writer) *Cmd { c.stream = LockedWriter(w); return c }

// Stdout sends the command's standard output to w instead of capturing it.
func (c *Cmd) Stdout(w io.Writer) *Cmd { c.stdout = w; return c }

// String is the command line, shell-quoted, as a user would type it.
func (c *Cmd) String() string {
	parts := []string{quote(c.name)}
	for _, a := range c.args {
		parts = append(parts, quote(a))
	}
	return strings.Join(parts, " ")
}

// Run runs the command to completion. A failure is an *Error that names the
// command line, the exit status and the tail of stderr.
func (c *Cmd) Run(ctx context.Context) error {
	_, err := c.run(ctx, false)
	return err
}

// Output runs the command and returns its standard output.
func (c *Cmd) Output(ctx context.Context) ([]byte, error) {
	return c.run(ctx, true)
}

func (c *Cmd) run(ctx context.Context, capture bool) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := c.build(ctx)
	cmd.Stderr = &stderr
	switch {
	case capture && c.stream != nil:
		cmd.Stdout = io.MultiWriter(&stdout, c.stream)
	case capture:
		cmd.Stdout = &stdout
	case c.stdout != nil:
		cmd.Stdout = c.stdout
	case c.stream != nil:
		cmd.Stdout = c.stream
	}
	if c.stream != nil {
		cmd.Stderr = io.MultiWriter(&stderr, c.stream)
	}
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), c.wrap(ctx, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Start starts the command without waiting for it, for long-lived processes
// such as QEMU. Output goes where Stdout and Stream say (else is discarded).
// The caller must Wait on the returned process.
func (c *Cmd) Start(ctx context.Context) (*Process, error) {
	cmd := c.build(ctx)
	p := &Process{cmd: cmd, c: c}
	cmd.Stdout = c.stdout
	if cmd.Stdout == nil {
		cmd.Stdout = c.stream
	}
	cmd.Stderr = io.MultiWriter(&p.stderr, orDiscard(c.stream))
	if err := cmd.Start(); err != nil {
		return nil, c.wrap(ctx, err, "")
	}
	return p, nil
}

func (c *Cmd) build(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	cmd.Dir = c.dir
	cmd.Stdin = c.stdin
	cmd.SysProcAttr = procAttr()
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	// On cancellation (Ctrl-C, mage -t) stop the tool politely first.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5e9
	return cmd
}

func (c *Cmd) wrap(ctx context.Context, err error, stderr string) error {
	e := &Error{Command: c.String(), Stderr: strings.TrimSpace(stderr), Err: err, ExitCode: -1}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		e.ExitCode = exitErr.ExitCode()
	}
	if errors.Is(err, exec.ErrNotFound) {
		e.Err = fmt.Errorf("%s is not installed or not in PATH", c.name)
	}
	if ctx.Err() != nil {
		e.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return e
}

// Process is a started command.
type Process struct {
	cmd    *exec.Cmd
	c      *Cmd
	stderr bytes.Buffer
}

// PID is the operating-system process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Kill kills this process (by its own PID, never by name).
func (p *Process) Kill() error { return p.cmd.Process.Kill() }

// Wait waits for the process to end and returns an *Error when it failed.
func (p *Process) Wait() error {
	if err := p.cmd.Wait(); err != nil {
		return p.c.wrap(context.Background(), err, p.stderr.String())
	}
	return nil
}

// Error reports a failed external command.
type Error struct {
	// Command is the exact command line that was run.
	Command string
	// ExitCode is the exit status, or -1 when the command did not exit
	// normally (not found, killed by a signal).
	ExitCode int
	// Stderr is what the command wrote to standard error.
	Stderr string
	// Err is the underlying error.
	Err error
}

// Error names the command, how it ended and the last lines of its stderr.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Command)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	} else {
		b.WriteString(e.Err.Error())
	}
	if tail := lastLines(e.Stderr, 15); tail != "" {
		b.WriteString("\n" + tail)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// LockedWriter returns a writer that serialises writes to w, for output that
// several goroutines share (a tool's stdout and stderr copiers, concurrent
// checks). A writer it returned is returned as is.
func LockedWriter(w io.Writer) io.Writer {
	if lw, ok := w.(*lockedWriter); ok {
		return lw
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to the underlying writer while holding the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Buffer is a bytes.Buffer that concurrent writers may share (a QEMU
// watcher, the HTTP transport and the test that reads it). The zero value
// is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
