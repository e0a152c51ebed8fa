package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// curtinArgs is a parsed `curtin in-target` command line.
type curtinArgs struct {
	Target       string
	AllowDaemons bool
	Argv         []string
}

// parseCurtin reads `in-target [--target=DIR | -t DIR] [--allow-daemons]
// [--capture] -- CMD...` (curtin/commands/in_target.py). Without a target
// option curtin uses $TARGET_MOUNT_POINT.
func parseCurtin(args []string, env func(string) string) (curtinArgs, error) {
	var c curtinArgs
	if len(args) == 0 || args[0] != "in-target" {
		return c, errors.New("the test ISO's curtin emulates only `curtin in-target [--target=DIR] -- CMD...`")
	}
	args = args[1:]
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		switch {
		case a == "--":
			c.Argv = args
			args = nil
		case strings.HasPrefix(a, "--target="):
			c.Target = strings.TrimPrefix(a, "--target=")
		case a == "--target" || a == "-t":
			if len(args) == 0 {
				return c, fmt.Errorf("curtin in-target: %s needs a directory", a)
			}
			c.Target, args = args[0], args[1:]
		case a == "--allow-daemons" || a == "-a":
			c.AllowDaemons = true
		case a == "--capture" || a == "-c":
		case strings.HasPrefix(a, "-"):
			return c, fmt.Errorf("curtin in-target: unknown option %s", a)
		default:
			c.Argv = append([]string{a}, args...)
			args = nil
		}
	}
	if c.Target == "" {
		c.Target = env("TARGET_MOUNT_POINT")
	}
	if c.Target == "" {
		return c, errors.New("curtin in-target: no --target and no TARGET_MOUNT_POINT")
	}
	if len(c.Argv) == 0 {
		return c, errors.New("curtin in-target: no command after --")
	}
	return c, nil
}

// curtinMain runs `curtin in-target` as curtin's ChrootableTarget does: /dev,
// /proc, /sys and /run mounted in the target, service starts blocked by a
// policy-rc.d unless --allow-daemons, then the command chrooted, its exit
// status passed on.
func curtinMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseCurtin(args, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var mounted []string
	defer func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			if err := run(stderr, "umount", mounted[i]); err != nil {
				_ = run(stderr, "umount", "-l", mounted[i]) // best effort: the target is powered off next
			}
		}
	}()
	for _, m := range [][]string{
		{"--bind", "/dev", c.Target + "/dev"},
		{"-t", "devpts", "devpts", c.Target + "/dev/pts"},
		{"-t", "proc", "proc", c.Target + "/proc"},
		{"-t", "sysfs", "sysfs", c.Target + "/sys"},
		{"-t", "tmpfs", "tmpfs", c.Target + "/run"},
	} {
		dir := m[len(m)-1]
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "curtin:", err)
			return 1
		}
		if err := run(stderr, "mount", m...); err != nil {
			fmt.Fprintf(stderr, "curtin: mount %s: %v\n", dir, err)
			return 1
		}
		mounted = append(mounted, dir)
	}
	if !c.AllowDaemons {
		policy := c.Target + "/usr/sbin/policy-rc.d"
		if _, err := os.Lstat(policy); os.IsNotExist(err) {
			if err := os.WriteFile(policy, []byte("#!/bin/sh\n# curtin in-target: no daemons\nexit 101\n"), 0o755); err == nil {
				defer os.Remove(policy)
			}
		}
	}
	cmd, err := chrootCommand(c.Target, c.Argv)
	if err != nil {
		fmt.Fprintln(stderr, "curtin in-target:", err)
		return 127
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			fmt.Fprintf(stderr, "curtin in-target: %s exited with status %d\n", strings.Join(c.Argv, " "), ee.ExitCode())
			return ee.ExitCode()
		}
		fmt.Fprintln(stderr, "curtin in-target:", err)
		return 1
	}
	return 0
}

func run(stderr io.Writer, name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Env = []string{systemPath}
	c.Stdout, c.Stderr = stderr, stderr
	return c.Run()
}
