package testiso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// WriteInstallerISO writes the installer fixture (Options.Installer is set
// for the caller) to path, under a temporary name renamed when complete, and
// returns its SHA-256 in hex. The pipeline runs on the written file as on
// Ubuntu's ISO: BASE_ISO_URL=<path> BASE_ISO_SHA256=<digest>.
func WriteInstallerISO(ctx context.Context, path string, opts Options) (string, error) {
	opts.Installer = true
	f, err := Build(ctx, opts)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	src, err := os.Open(f.ISO)
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	defer src.Close()
	tmp, err := lock.CreateTemp(path)
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("testiso: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("testiso: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("testiso: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
