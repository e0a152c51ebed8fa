package config

import (
	"errors"
	"os"
	"path/filepath"
)

// FindRoot returns the repository root: the nearest directory at or above
// the working directory that holds go.mod.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("config: no go.mod found above the working directory; run from inside the novasphere-iso checkout")
		}
		dir = parent
	}
}
