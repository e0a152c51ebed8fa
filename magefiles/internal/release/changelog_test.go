package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

func TestReadChangelogSection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ChangelogName)
	must(t, os.WriteFile(path, []byte(sampleChangelog+"\n## [20261101] - 2026-11-01\n\n### Known issues\nNone.\n\n### Upgrading\nNone.\n"), 0o644))
	for _, version := range []string{"v1.0.0", "1.0.0", "20261101"} {
		n, err := readChangelog(path, version)
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if missing := n.missingNotes(); len(missing) > 0 {
			t.Errorf("%s: missing %v", version, missing)
		}
		if strings.Contains(n.Body, "[Unreleased]:") || strings.Contains(n.Body, "## [") {
			t.Errorf("%s: body runs into another section or the link definitions:\n%s", version, n.Body)
		}
	}
	n, _ := readChangelog(path, "v1.0.0")
	if !strings.HasPrefix(n.Body, "### Added") || !strings.HasSuffix(n.Body, "is kept.") {
		t.Errorf("v1.0.0 body:\n%s", n.Body)
	}
	if _, err := readChangelog(path, "v1.0.1"); !errors.Is(err, errNoSection) {
		t.Errorf("v1.0.1: %v, want errNoSection", err)
	}
	if _, err := readChangelog(path, "v1.0.0-rc.1"); !errors.Is(err, errNoSection) {
		t.Errorf("v1.0.0-rc.1 matched the v1.0.0 section: %v", err)
	}
}

// TestRepositoryChangelogIsReleasable checks the project's own CHANGELOG.md
// has an [Unreleased] section and that every version section in it would
// pass the release checklist.
func TestRepositoryChangelogIsReleasable(t *testing.T) {
	t.Parallel()
	root, err := config.FindRoot()
	must(t, err)
	path := filepath.Join(root, ChangelogName)
	if !hasUnreleased(path) {
		t.Error("CHANGELOG.md has no [Unreleased] section")
	}
	data, err := os.ReadFile(path)
	must(t, err)
	versions := 0
	for _, line := range strings.Split(string(data), "\n") {
		h, ok := strings.CutPrefix(line, "## [")
		if !ok || strings.HasPrefix(h, "Unreleased") {
			continue
		}
		version, _, _ := strings.Cut(h, "]")
		if config.ValidateVersion(version) != nil {
			version = "v" + version
		}
		versions++
		n, err := readChangelog(path, version)
		if err != nil {
			t.Errorf("%s: %v", version, err)
			continue
		}
		if missing := n.missingNotes(); len(missing) > 0 {
			t.Errorf("CHANGELOG.md section %s: %v", version, missing)
		}
	}
	if versions == 0 {
		t.Error("CHANGELOG.md has no released version section")
	}
}
