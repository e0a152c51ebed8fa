//go:build ignore

// This file is the zero-install bootstrap: `go run magefile.go <target>` runs
// the targets in magefiles/ without a mage binary on the machine.
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() {
	// Keep the line breaks of the targets' doc comments in `-h TARGET`.
	if os.Getenv("MAGEFILE_MULTILINE") == "" {
		os.Setenv("MAGEFILE_MULTILINE", "1")
	}
	os.Exit(mage.Main())
}
