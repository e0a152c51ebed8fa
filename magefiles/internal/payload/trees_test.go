package payload

import (
	"path/filepath"
	"strings"
	"testing"
)

// The repository's directories and a tree a stage made are walked as one
// payload, each under its own place, and only the repository's missing
// directories are noted.
func TestWalkSourcesAddsStageTrees(t *testing.T) {
	root := writeTree(t, map[string]string{"charts/app/Chart.yaml": "name: app\n", "scripts/install.sh": "#!/bin/sh\n"})
	images := writeTree(t, map[string]string{"index.json": "{}\n", "blobs/sha256/abc": "layer\n"})
	tree, err := WalkSources(append(RepoSources(root), Source{Rel: "images", Path: images}))
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, e := range tree.Files() {
		rels = append(rels, e.Rel)
	}
	if got, want := strings.Join(rels, " "), "charts/app/Chart.yaml images/blobs/sha256/abc images/index.json scripts/install.sh"; got != want {
		t.Errorf("files:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(tree.Missing, ","); got != "configs,packages" {
		t.Errorf("missing %q, want the repository's configs and packages only", got)
	}
}

// A stage's tree must exist and be a directory, and no two trees may share
// a place on the ISO or take the place of a generated file.
func TestWalkSourcesRefusesBadTrees(t *testing.T) {
	root := writeTree(t, map[string]string{"charts/app/Chart.yaml": "name: app\n", "file": "x\n"})
	other := writeTree(t, map[string]string{"a": "a\n"})
	for _, tc := range []struct {
		name string
		tree Source
		want string
	}{
		{"missing", Source{Rel: "images", Path: filepath.Join(root, "nope")}, "tree /novasphere/images: lstat"},
		{"not a directory", Source{Rel: "images", Path: filepath.Join(root, "file")}, "is not a directory"},
		{"same place", Source{Rel: "charts", Path: other}, "overlaps /novasphere/charts"},
		{"inside another", Source{Rel: "charts/more", Path: other}, "overlaps /novasphere/charts"},
		{"generated file", Source{Rel: ManifestName, Path: other}, "would replace the generated /novasphere/MANIFEST.sha256"},
		{"outside", Source{Rel: "../etc", Path: other}, "is not a plain path under /novasphere"},
		{"absolute", Source{Rel: "/images", Path: other}, "is not a plain path under /novasphere"},
		{"bad name", Source{Rel: "a\nb", Path: other}, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WalkSources(append(RepoSources(root), tc.tree))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WalkSources = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
