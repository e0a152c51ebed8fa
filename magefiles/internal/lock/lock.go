// Package lock gives each output file, and each cache entry, one writer at a
// time across processes, and names temporary files after the process that
// owns them so that a run never deletes another live run's work.
//
// A lock on dist/x.iso is an flock(2) on dist/.x.iso.lock. The kernel
// drops it when the holder exits, however it exits (SIGKILL included), so a
// killed run never leaves a lock behind that blocks the next one. The file
// records who holds it (pid, command, start time, host) so that a second run
// can say whom it waits for. The holder deletes the file when it releases
// the lock; a waiter then notices that it holds a lock on a deleted file and
// opens the new one, so no two runs ever hold the same name at once and lock
// files do not pile up. Only a killed holder leaves its (unlocked) file,
// which the next Acquire of the same output takes over and deletes, and
// CleanStale removes.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options say how Acquire behaves when another process holds the lock.
type Options struct {
	// Stage names the stage that asks ("pack"); messages start with it.
	Stage string
	// Name is what is locked, as the user knows it ("dist/x.iso"); default:
	// the target path.
	Name string
	// NoWait returns a *BusyError at once instead of waiting.
	NoWait bool
	// Log receives the "waiting for" line; nil discards it.
	Log io.Writer
	// Command is this process's command as other runs will see it ("mage
	// pack"). It is written to the lock file, so it must hold no secret.
	// Default: the program's name, without its arguments.
	Command string
	// Poll is how often a waiting Acquire tries again (default 200ms).
	Poll time.Duration
}

// Holder describes the process that holds a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Host    string    `json:"host"`
}

// String reads "pid 1234 (mage pack) since 16:02:11", with the date when
// the lock was taken on another day and the host when it is not this one.
func (h Holder) String() string {
	if h.PID == 0 {
		return "another process"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d", h.PID)
	if h.Command != "" {
		fmt.Fprintf(&b, " (%s)", h.Command)
	}
	if me, _ := os.Hostname(); h.Host != "" && h.Host != me {
		fmt.Fprintf(&b, " on host %s", h.Host)
	}
	if !h.Started.IsZero() {
		local, now := h.Started.Local(), time.Now()
		if y, m, d := local.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
			fmt.Fprintf(&b, " since %s", local.Format("15:04:05"))
		} else {
			fmt.Fprintf(&b, " since %s", local.Format("2006-01-02 15:04:05"))
		}
	}
	return b.String()
}

// ErrBusy is wrapped by every *BusyError.
var ErrBusy = errors.New("held by another process")

// BusyError reports that Acquire with NoWait found the lock held.
type BusyError struct {
	Stage  string
	Name   string
	Holder Holder
}

// Error reads "pack: dist/x.iso is in use: held by pid 1234 (mage pack)
// since 16:02:11; wait for it to finish or stop it, then run again".
func (e *BusyError) Error() string {
	return fmt.Sprintf("%s%s is in use: held by %s; wait for it to finish or stop it, then run again", prefix(e.Stage), e.Name, e.Holder)
}

// Unwrap returns ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

// stopError is a wait ended by the context: it reads "interrupted" or "timed
// out" but still matches context.Canceled or context.DeadlineExceeded.
type stopError struct {
	msg   string
	cause error
}

func (e *stopError) Error() string { return e.msg }
func (e *stopError) Unwrap() error { return e.cause }

// Lock is a held lock. Release it when the output is complete or abandoned.
type Lock struct {
	f    *os.File
	path string
}

// Path is the lock file for target: ".<name>.lock" beside it, hidden so that
// listings of dist/ show only outputs.
func Path(target string) string {
	dir, base := filepath.Split(target)
	return filepath.Join(dir, "."+base+".lock")
}

// Acquire takes the lock on target (a file that need not exist yet; its
// directory is created). While another process holds it, Acquire writes
// "<stage>: waiting for <name>: held by <holder>" to o.Log once (again if the
// holder changes) and waits, or with o.NoWait returns a *BusyError at once.
// When ctx ends first, the error says "interrupted" (or "timed out") and
// wraps ctx.Err().
func Acquire(ctx context.Context, target string, o Options) (*Lock, error) {
	if o.Name == "" {
		o.Name = target
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	path := Path(target)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("%slocking %s: %w", prefix(o.Stage), o.Name, err)
	}
	var announced *Holder
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%slocking %s: %w", prefix(o.Stage), o.Name, err)
		}
		for {
			ok, err := tryLock(f)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%slocking %s: %w", prefix(o.Stage), o.Name, err)
			}
			if ok {
				break
			}
			h := readHolderSettled(f)
			if o.NoWait {
				f.Close()
				return nil, &BusyError{Stage: o.Stage, Name: o.Name, Holder: h}
			}
			if announced == nil || *announced != h {
				fmt.Fprintf(o.Log, "%swaiting for %s: held by %s\n", prefix(o.Stage), o.Name, h)
				announced = &h
			}
			if err := sleep(ctx, o.Poll); err != nil {
				f.Close()
				return nil, &stopError{
					msg:   fmt.Sprintf("%s%s while waiting for %s (held by %s)", prefix(o.Stage), stopWord(err), o.Name, h),
					cause: err,
				}
			}
		}
		// The lock is ours, but the previous holder may have deleted this
		// file on release: then the lock guards nothing and we start over.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		if err := writeHolder(f, o.Command); err != nil {
			f.Close()
			return nil, fmt.Errorf("%slocking %s: %w", prefix(o.Stage), o.Name, err)
		}
		return &Lock{f: f, path: path}, nil
	}
}

// Release deletes the lock file and drops the lock. It is safe to call more
// than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var err error
	if samePath(l.f, l.path) {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Holders reports who holds the lock on target, if anyone.
func Holders(target string) (Holder, bool) {
	f, err := os.Open(Path(target))
	if err != nil {
		return Holder{}, false
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || ok {
		return Holder{}, false
	}
	return readHolderSettled(f), true
}

// tryLock takes an exclusive flock without waiting; false means another
// open file holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return false, err
		}
	}
}

// samePath reports whether the open file f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func writeHolder(f *os.File, command string) error {
	if command == "" {
		command = defaultCommand()
	}
	host, _ := os.Hostname()
	data, err := json.Marshal(Holder{PID: os.Getpid(), Command: command, Started: time.Now().Round(time.Second), Host: host})
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(data, '\n'), 0)
	return err
}

// defaultCommand is the program's base name; its arguments are left out
// because they could hold something secret.
func defaultCommand() string {
	return filepath.Base(os.Args[0])
}

// readHolder reads what the holder wrote; ok is false while it is still
// writing (or never did).
func readHolder(f *os.File) (Holder, bool) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	var h Holder
	if n == 0 || json.Unmarshal(buf[:n], &h) != nil || h.PID == 0 {
		return Holder{}, false
	}
	return h, true
}

// readHolderSettled gives a holder that has just taken the lock a moment to
// write its name.
func readHolderSettled(f *os.File) Holder {
	for i := 0; ; i++ {
		if h, ok := readHolder(f); ok || i == 10 {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stopWord says why a context ended in the user's words.
func stopWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "interrupted"
}

func prefix(stage string) string {
	if stage == "" {
		return ""
	}
	return stage + ": "
}
