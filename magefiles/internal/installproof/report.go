package installproof

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// FirstBootPrefix starts every line the first-boot unit
// (scripts/firstboot.sh) prints.
const FirstBootPrefix = "NOVASPHERE-FIRSTBOOT "

// firstBootResult matches the first-boot unit's last line.
var firstBootResult = regexp.MustCompile(`NOVASPHERE-FIRSTBOOT result (OK|FAILED)`)

// installFailed matches the test installer's failure line.
var installFailed = regexp.MustCompile(`NOVASPHERE-INSTALL-FAILED: .*`)

// Report is what the installed system's first-boot unit said about itself.
type Report struct {
	// Version is the content of /opt/novasphere/VERSION on the installed
	// system.
	Version string `json:"version"`
	// Checks are "<what> ok|FAILED <detail>" lines: version, manifest,
	// config.
	Checks map[string]string `json:"checks"`
	// Packages maps each offline package to "<version> ok" or its failure.
	Packages map[string]string `json:"packages"`
	// Result is "OK" or "FAILED".
	Result string `json:"result"`
}

// parseReport reads the first-boot lines of a console log. A line printed
// twice (console and serial port are one device) counts once.
func parseReport(lines []string) Report {
	r := Report{Checks: map[string]string{}, Packages: map[string]string{}}
	for _, l := range lines {
		i := strings.Index(l, FirstBootPrefix)
		if i < 0 {
			continue
		}
		f := strings.Fields(l[i+len(FirstBootPrefix):])
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "version":
			r.Version = f[1]
		case "check":
			r.Checks[f[1]] = strings.Join(f[2:], " ")
		case "package":
			r.Packages[f[1]] = strings.Join(f[2:], " ")
		case "result":
			r.Result = f[1]
		}
	}
	return r
}

// debPackage is an offline package the ISO carries.
type debPackage struct {
	File, Name, Version string
}

// offlinePackages lists /novasphere/packages/*.deb of the ISO with their
// package names and versions (xorriso and dpkg-deb; nothing is mounted).
func offlinePackages(ctx context.Context, iso, work string) ([]debPackage, error) {
	dir := filepath.Join(work, "packages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ls, err := tool.Command("xorriso", "-indev", iso, "-find", "/novasphere/packages", "-maxdepth", "1", "-name", "*.deb", "-type", "f").Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing /novasphere/packages on %s: %w", iso, err)
	}
	var pkgs []debPackage
	for _, line := range strings.Split(string(ls), "\n") {
		p := strings.Trim(strings.TrimSpace(line), "'")
		if !strings.HasSuffix(p, ".deb") {
			continue
		}
		local := filepath.Join(dir, filepath.Base(p))
		if err := tool.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", p, local).Run(ctx); err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", p, iso, err)
		}
		out, err := tool.Command("dpkg-deb", "-f", local, "Package", "Version").Output(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s on the ISO: %w", p, err)
		}
		d := debPackage{File: filepath.Base(p)}
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				d.Name = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(l, "Version: "); ok {
				d.Version = strings.TrimSpace(v)
			}
		}
		if d.Name == "" || d.Version == "" {
			return nil, fmt.Errorf("%s on the ISO has no Package or Version field", p)
		}
		pkgs = append(pkgs, d)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].File < pkgs[j].File })
	return pkgs, nil
}

// checkReport compares the installed system's report with what was built:
// the version, every check, every offline package at its version.
func checkReport(r Report, version string, pkgs []debPackage) []string {
	var problems []string
	switch {
	case r.Version == "":
		problems = append(problems, "the first-boot unit reported no version")
	case r.Version != version:
		problems = append(problems, fmt.Sprintf("/opt/novasphere/VERSION on the installed system is %s, want %s", r.Version, version))
	}
	for _, what := range []string{"version", "manifest", "config"} {
		v, ok := r.Checks[what]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("the first-boot unit did not report the %s check", what))
		case !strings.HasPrefix(v, "ok"):
			problems = append(problems, fmt.Sprintf("first-boot check %s: %s", what, v))
		}
	}
	for _, p := range pkgs {
		v, ok := r.Packages[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("offline package %s (%s) is not reported installed", p.Name, p.File))
		case v != p.Version+" ok":
			problems = append(problems, fmt.Sprintf("offline package %s %s: the installed system reports %q", p.Name, p.Version, v))
		}
	}
	if r.Result != "OK" {
		problems = append(problems, fmt.Sprintf("the first-boot unit's result is %q, want OK", r.Result))
	}
	return problems
}
