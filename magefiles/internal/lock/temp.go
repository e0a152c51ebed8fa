package lock

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// OrphanAge is the age (time since the last write) after which a temporary
// file counts as abandoned even when a process with its owner's pid is
// alive: a live writer keeps its file's modification time fresh.
const OrphanAge = 24 * time.Hour

// tempSuffix ends every temporary name.
const tempSuffix = ".tmp"

// CreateTemp creates an empty temporary file beside target named
// ".<name>.<pid>.<random>.tmp" (mode 0600), so that cleanups can tell
// which process owns it. Rename it onto target when it is complete.
func CreateTemp(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	for range 100 {
		var r [4]byte
		if _, err := rand.Read(r[:]); err != nil {
			return nil, err
		}
		name := filepath.Join(dir, fmt.Sprintf(".%s.%d.%s%s", base, os.Getpid(), hex.EncodeToString(r[:]), tempSuffix))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("creating a temporary file beside %s: too many name collisions", target)
}

// MkdirTemp creates an empty temporary directory beside target, named as
// CreateTemp names files, so that the same cleanups remove it when its
// owner was killed. Rename it onto target when it is complete.
func MkdirTemp(target string) (string, error) {
	dir, base := filepath.Split(target)
	for range 100 {
		var r [4]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", err
		}
		name := filepath.Join(dir, fmt.Sprintf(".%s.%d.%s%s", base, os.Getpid(), hex.EncodeToString(r[:]), tempSuffix))
		err := os.Mkdir(name, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, err
	}
	return "", fmt.Errorf("creating a temporary directory beside %s: too many name collisions", target)
}

// parseTemp splits a name made by CreateTemp into the target's base name and
// the owner's pid.
func parseTemp(name string) (base string, pid int, ok bool) {
	rest, ok := strings.CutSuffix(name, tempSuffix)
	if !ok || !strings.HasPrefix(rest, ".") {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || len(rest)-i-1 != 8 {
		return "", 0, false
	}
	if _, err := hex.DecodeString(rest[i+1:]); err != nil {
		return "", 0, false
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '.')
	if j <= 1 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(rest[j+1:])
	if err != nil || pid <= 0 || rest[j+1] == '+' {
		return "", 0, false
	}
	return rest[1:j], pid, true
}

// RemoveOrphanTemps deletes the temporary files of target (made by
// CreateTemp) whose owner is no longer running, or that nobody wrote to for
// OrphanAge. Temporary files of live runs are left alone. It returns the
// deleted paths.
func RemoveOrphanTemps(target string) ([]string, error) {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	return removeOrphans(dir, OrphanAge, func(b string) bool { return b == base })
}

// RemoveOrphanTempsIn deletes, in dir only, the temporary files and
// directories of CreateTemp and MkdirTemp (for any target) whose owner is
// no longer running or that nobody wrote to for OrphanAge. A missing dir is
// not an error.
func RemoveOrphanTempsIn(dir string) ([]string, error) {
	return removeOrphans(dir, OrphanAge, func(string) bool { return true })
}

// RemoveOrphanTempsUnder deletes, in dir and every directory below it, the
// temporary files and directories made by CreateTemp and MkdirTemp (for
// any target) whose owner is no
// longer running or that nobody wrote to for OrphanAge: what a killed
// writer left. Temporary files of live runs are left alone. It returns the
// deleted paths. A missing dir is not an error.
func RemoveOrphanTempsUnder(dir string) ([]string, error) {
	var removed []string
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		r, err := removeOrphans(p, OrphanAge, func(string) bool { return true })
		removed = append(removed, r...)
		errs = append(errs, err)
		return nil
	})
	return removed, errors.Join(append(errs, err)...)
}

// CleanStale tidies dir after killed runs: it deletes lock files that no
// process holds, and temporary files (made by CreateTemp, for any target)
// whose owner is no longer running or that nobody wrote to for olderThan.
// It returns the deleted paths. A missing dir is not an error.
func CleanStale(dir string, olderThan time.Duration) ([]string, error) {
	removed, err := removeOrphans(dir, olderThan, func(string) bool { return true })
	locks, lerr := removeFreeLocks(dir)
	return append(removed, locks...), errors.Join(err, lerr)
}

func removeOrphans(dir string, olderThan time.Duration, want func(base string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		base, pid, ok := parseTemp(e.Name())
		if !ok || !want(base) || !e.Type().IsRegular() && !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil {
			continue // gone meanwhile: renamed into place or removed
		}
		if ownerRunning(pid, changeTime(fi)) && time.Since(fi.ModTime()) < olderThan {
			continue
		}
		if err := os.RemoveAll(path); err != nil { // a file, or a directory of MkdirTemp
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// removeFreeLocks deletes the lock files (".<name>.lock") in dir that no
// process holds, following Acquire's rules so that it never deletes a file
// someone is about to lock.
func removeFreeLocks(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".lock") || len(name) <= len("..lock") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		gone, err := RemoveIfFree(path)
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			removed = append(removed, path)
		}
	}
	return removed, errors.Join(errs...)
}

// RemoveIfFree deletes the lock file at path when no process holds an
// flock on it, and reports whether it did. It follows Acquire's rules, so
// it never deletes a file that another process is about to lock.
func RemoveIfFree(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || !ok || !samePath(f, path) {
		return false, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// Held reports whether a process holds an flock on the file at path.
func Held(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	ok, err := tryLock(f)
	return err == nil && !ok
}

// ownerRunning reports whether process pid is running and is the one that
// wrote a file last changed at changed: a process that started after that
// has only inherited the pid of a dead owner.
func ownerRunning(pid int, changed time.Time) bool {
	if pid == os.Getpid() {
		return true
	}
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	started, err := processStart(pid)
	if err != nil {
		return true // cannot tell: keep the file
	}
	// /proc gives the start time to a clock tick and the boot time to a
	// second: allow for that.
	return !started.After(changed.Add(time.Second))
}

// processStart is when process pid started, from /proc.
func processStart(pid int) (time.Time, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return time.Time{}, errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return time.Time{}, errors.New("unreadable /proc stat")
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	// The kernel reports times in USER_HZ, 100 per second on Linux.
	const userHZ = 100
	return boot.Add(time.Duration(ticks) * time.Second / userHZ), nil
}

// bootTime is the btime line of /proc/stat.
func bootTime() (time.Time, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

// changeTime is the file's inode change time.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return fi.ModTime()
}
