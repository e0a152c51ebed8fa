package main

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
)

// chrootPath is PATH inside a chroot, Debian's default for root.
const chrootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// chrootCommand is argv run inside root, as chroot(8) does. It is not
// busybox's chroot: Debian's static busybox prefers its own applets, so
// `chroot /target sh` would run busybox's sh rather than the target's.
// argv[0] is looked up in the root's PATH.
func chrootCommand(root string, argv []string) (*exec.Cmd, error) {
	prog, err := lookPathIn(root, argv[0])
	if err != nil {
		return nil, err
	}
	c := &exec.Cmd{
		Path:        prog,
		Args:        argv,
		Env:         []string{"PATH=" + chrootPath, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"},
		Dir:         "/",
		SysProcAttr: &syscall.SysProcAttr{Chroot: root},
	}
	return c, nil
}

// lookPathIn finds name as PATH lookup inside root would, returning the path
// as seen from inside root.
func lookPathIn(root, name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range strings.Split(chrootPath, ":") {
		p := path.Join(dir, name)
		if st, err := os.Stat(resolveIn(root, p, 0)); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in %s's PATH (%s)", name, root, chrootPath)
}

// resolveIn turns a path inside root into a host path, following symbolic
// links (absolute ones relative to root), such as Debian's /bin -> usr/bin.
func resolveIn(root, p string, depth int) string {
	if depth > 40 {
		return root + p
	}
	parts := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		target, err := os.Readlink(root + next)
		if err != nil {
			cur = next
			continue
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest := path.Join(append([]string{target}, parts[i+1:]...)...)
		return resolveIn(root, rest, depth+1)
	}
	return root + cur
}
