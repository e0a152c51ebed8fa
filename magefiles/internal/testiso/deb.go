package testiso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Deb describes a small real .deb for tests: dpkg-deb builds it.
type Deb struct {
	// Package, Version and Architecture (default amd64) are its control
	// fields; Depends is its Depends field, if any.
	Package, Version, Architecture, Depends string
	// Files are installed files: absolute path -> content.
	Files map[string]string
}

// BuildDeb writes d as dir/<package>_<version>_<arch>.deb with dpkg-deb
// --build and returns its path.
func BuildDeb(ctx context.Context, dir string, d Deb) (string, error) {
	if d.Architecture == "" {
		d.Architecture = "amd64"
	}
	tree, err := os.MkdirTemp(dir, ".deb-tree-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tree)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: NovaSphere tests <tests@novasphere.invalid>\nDescription: test package %s\n",
		d.Package, d.Version, d.Architecture, d.Package)
	if d.Depends != "" {
		control += "Depends: " + d.Depends + "\n"
	}
	files := map[string]string{"DEBIAN/control": control}
	for p, content := range d.Files {
		files[strings.TrimPrefix(p, "/")] = content
	}
	for p, content := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.deb", d.Package, d.Version, d.Architecture))
	if err := tool.Command("dpkg-deb", "--root-owner-group", "--build", tree, out).Run(ctx); err != nil {
		return "", fmt.Errorf("building %s: %w", filepath.Base(out), err)
	}
	return out, nil
}
