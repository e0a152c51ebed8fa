// Package targets holds the Mage targets of novasphere-iso. Each target is a
// thin wrapper: the work is done by one package per pipeline stage under
// magefiles/internal. Dependencies are declared with mg.CtxDeps so that a
// timeout (mage -t 30m) or Ctrl-C reaches every step, and each step runs once:
//
//	release -> verify -> pack -> customize -> extract -> fetch
package targets

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// errNotImplemented marks a stage whose issue has not landed yet.
var errNotImplemented = errors.New("not implemented yet")

var (
	loadOnce sync.Once
	cfg      config.Config
	cfgErr   error
)

// settings loads the configuration once per mage run.
func settings() (config.Config, error) {
	loadOnce.Do(func() {
		root, err := config.FindRoot()
		if err != nil {
			cfgErr = err
			return
		}
		cfg, cfgErr = config.Load(root)
	})
	return cfg, cfgErr
}

// installer installs missing tools, or refuses under NOVASPHERE_NO_INSTALL=1.
func installer(c config.Config) *tool.Installer {
	return tool.NewInstaller(c.NoInstall, os.Stderr)
}

// stageErr prefixes a stage's error with its name, once.
func stageErr(stage string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", stage, err)
}
