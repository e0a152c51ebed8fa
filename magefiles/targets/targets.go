// Package targets holds the Mage targets of novasphere-iso. A target only
// says how far the pipeline runs: the stages, their order and the data they
// hand each other live in magefiles/internal/pipeline, and the work in one
// package per stage under magefiles/internal.
//
//	fetch -> extract -> customize -> packages -> images -> pack -> verify -> sbom -> sign -> release
package targets

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"

	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
)

// loadConfig loads the configuration once for this target, from the
// environment and, for release, its version argument.
func loadConfig(env config.Env) (config.Config, error) {
	root, err := config.FindRoot()
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(root, env)
}

// runThrough runs the pipeline up to and including the stage last.
func runThrough(ctx context.Context, last stage.Name, env config.Env, flags pipeline.ReleaseFlags) error {
	c, err := loadConfig(env)
	if err != nil {
		return err
	}
	b := pipeline.New(c, os.Stdout, os.Stderr, isTerminal(os.Stderr))
	b.Release = flags
	return b.Run(ctx, last)
}

// isTerminal reports whether f is a terminal (progress then rewrites one
// line instead of printing a line every few seconds).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// versionArgument says where flags go when one was given in place of
// release's version argument. The version itself is checked once, when
// the configuration is loaded with it.
func versionArgument(target, v string) error {
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("%s: %q is a flag, not a version: flags go after the version, for example: mage %s v1.2.3 %s", target, v, target, v)
	}
	return nil
}
