//go:build mage

// novasphere-iso builds NovaSphere's offline installer ISO from an Ubuntu live-server base (configs/bases.yaml; 22.04.3 by default):
// fetch -> extract -> customize -> packages -> images -> pack -> verify -> sbom -> sign -> release.
// Run "mage -h <target>" for details; "mage settings" shows every setting.
package main

import (
	//mage:import
	_ "github.com/novasphere/novasphere-iso/magefiles/targets"
	//mage:import
	_ "github.com/novasphere/novasphere-iso/magefiles/targets/namespaces"
)
