//go:build ignore

// This file is the zero-install bootstrap: `go run magefile.go <target>` runs
// the targets in magefiles/ without a mage binary on the machine.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/magefile/mage/mage"
)

func main() {
	// -multiline keeps the line breaks of the targets' doc comments in
	// `-h TARGET`.
	args := append([]string{"-multiline"}, os.Args[1:]...)
	cleanup := func() {}
	if !hasDirFlag(args) {
		// Mage writes its generated main file beside the magefiles: a
		// read-only checkout refuses it, and two runs at once in one
		// checkout delete each other's ("open ./mage_output_file.go: no
		// such file or directory"). Build from a private stand-in module
		// instead; the targets still run in the checkout, and mage's
		// binary cache still makes the second run instant.
		dir, remove, err := standIn()
		if err != nil {
			fmt.Fprintf(os.Stderr, "no private copy of magefiles/ could be made for mage (%v): set TMPDIR to a writable directory, or build the targets once where the checkout is writable (go run magefile.go -compile \"$PWD/novasphere-mage\") and run ./novasphere-mage <target>\n", err)
			os.Exit(1)
		}
		cleanup = remove
		root, _ := os.Getwd()
		args = append([]string{"-d", dir, "-w", root}, absCompileOut(args, root)...)
	}
	code := mage.ParseAndRun(os.Stdout, os.Stderr, os.Stdin, args)
	cleanup()
	os.Exit(code)
}

// hasDirFlag reports whether the user chose mage's magefiles directory
// (-d); then mage runs as asked.
func hasDirFlag(args []string) bool {
	for _, a := range args {
		if a == "-d" || strings.HasPrefix(a, "-d=") {
			return true
		}
	}
	return false
}

// absCompileOut makes a relative `-compile PATH` relative to root rather
// than to the temporary magefiles directory, which is removed.
func absCompileOut(args []string, root string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		switch {
		case a == "-compile" && i+1 < len(out) && !filepath.IsAbs(out[i+1]):
			out[i+1] = filepath.Join(root, out[i+1])
		case strings.HasPrefix(a, "-compile=") && !filepath.IsAbs(strings.TrimPrefix(a, "-compile=")):
			out[i] = "-compile=" + filepath.Join(root, strings.TrimPrefix(a, "-compile="))
		}
	}
	return out
}

// moduleLine is go.mod's module directive.
var moduleLine = regexp.MustCompile(`(?m)^module\s+(\S+)\s*$`)

// standIn makes a temporary module whose magefiles/ holds copies of the
// checkout's magefiles/*.go and whose go.mod is the checkout's, renamed and
// with the checkout's module replaced by the checkout itself: the targets'
// packages are compiled from the checkout, in place, and only the small
// generated main file is written to the temporary directory. It returns the
// stand-in magefiles directory and a function that removes it all.
func standIn() (string, func(), error) {
	root, err := os.Getwd()
	if err != nil {
		return "", nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", nil, err
	}
	m := moduleLine.FindSubmatch(gomod)
	if m == nil {
		return "", nil, fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
	}
	tmp, err := os.MkdirTemp("", "novasphere-mage-*")
	if err != nil {
		return "", nil, err
	}
	remove := func() { os.RemoveAll(tmp) }
	mod := moduleLine.ReplaceAll(gomod, []byte("module novasphere-mage-standin"))
	mod = fmt.Appendf(mod, "\nrequire %s v0.0.0\n\nreplace %s => %s\n", m[1], m[1], root)
	files := map[string][]byte{"go.mod": mod}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		files["go.sum"] = sum
	}
	gofiles, _ := filepath.Glob(filepath.Join(root, "magefiles", "*.go"))
	for _, f := range gofiles {
		data, err := os.ReadFile(f)
		if err != nil {
			remove()
			return "", nil, err
		}
		files[filepath.Join("magefiles", filepath.Base(f))] = data
	}
	if err := os.Mkdir(filepath.Join(tmp, "magefiles"), 0o755); err != nil {
		remove()
		return "", nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			remove()
			return "", nil, err
		}
	}
	return filepath.Join(tmp, "magefiles"), remove, nil
}
