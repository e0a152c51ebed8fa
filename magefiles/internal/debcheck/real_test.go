package debcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// TestRealDebianPackages follows packages/README.md with real packages:
// the closure of jq from Debian's archive (apt-get download), checked
// against this machine's own package list (dpkg-query, the manifest of a
// real system), minus the packages shipped. Check and apt's resolver
// accept it; without libonig5 both refuse it, and Check names the chain.
func TestRealDebianPackages(t *testing.T) {
	requireTool(t, tool.AptGet)
	ctx := context.Background()
	shipped := []string{"jq", "libjq1", "libonig5"}
	out, err := tool.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${binary:Package}\t${Version}\n").Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var manifest strings.Builder
	lines := 0
	for _, line := range strings.Split(string(out), "\n") {
		status, rest, _ := strings.Cut(line, "\t")
		name, _, _ := strings.Cut(rest, "\t")
		name, _, _ = strings.Cut(name, ":")
		if strings.TrimSpace(status) != "ii" || slices.Contains(shipped, name) {
			continue
		}
		manifest.WriteString(rest + "\n")
		lines++
	}
	base, err := ReadBase([]File{{Path: "casper/filesystem.manifest", Data: []byte(manifest.String())}})
	if err != nil {
		t.Fatalf("this machine's dpkg-query list: %v", err)
	}
	t.Logf("base: %d packages of this machine", lines)

	dir := t.TempDir()
	if err := tool.Command("apt-get", append([]string{"download"}, shipped...)...).Dir(dir).Run(ctx); err != nil {
		t.Fatalf("apt-get download %s (Debian's archive; run apt-get update first if the lists are missing): %v", strings.Join(shipped, " "), err)
	}
	debs, err := ReadDebDir(dir, "packages")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Check(base, debs)
	if err != nil {
		t.Fatalf("the closure of jq does not pass:\n%v", err)
	}
	t.Log(plan.Summary())
	var paths []string
	for _, d := range debs {
		paths = append(paths, filepath.Join(dir, strings.TrimPrefix(d.File, "packages/")))
	}
	if ok, out := aptSimulate(t, base, paths); !ok {
		t.Errorf("apt refuses what Check accepts:\n%s", out)
	}

	// Without libonig5 (jq -> libjq1 -> libonig5).
	var without []Deb
	var withoutPaths []string
	for i, d := range debs {
		if d.Package != "libonig5" {
			without = append(without, d)
			withoutPaths = append(withoutPaths, paths[i])
		}
	}
	_, err = Check(base, without)
	var p Problems
	if !errors.As(err, &p) || len(p) != 1 || !strings.Contains(p[0], "(required by jq): Depends libonig5") ||
		!strings.Contains(p[0], "neither the base system nor packages/ has libonig5") {
		t.Errorf("without libonig5: %v", err)
	}
	if ok, out := aptSimulate(t, base, withoutPaths); ok {
		t.Errorf("apt accepts what Check refuses:\n%s", out)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}
