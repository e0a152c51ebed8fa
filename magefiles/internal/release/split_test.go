package release

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
)

// TestISOOverTheLimitIsAttachedInParts uses a small limit (the fake GitHub
// enforces the same one) so that a 1.1 MiB ISO must be split: the release
// gets ordered parts and their checksum file instead of the ISO, and the
// commands in the release notes, run for real on the downloaded files, put
// the ISO back together and check it.
func TestISOOverTheLimitIsAttachedInParts(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 1<<20+100<<10)
	fx.gh.Limit = 1 << 20
	limits := func(o *Options) { o.AssetLimit, o.PartSize = 1<<20, 400<<10 }
	out, err := fx.run(limits)
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	rel := fx.gh.Release("v1.0.0")
	if rel == nil || rel.Draft {
		t.Fatalf("release not published: %+v\n%s", rel, out)
	}
	var names []string
	for _, a := range rel.Assets {
		names = append(names, a.Name)
	}
	want := []string{"novasphere-installer-v1.0.0.iso.part01", "novasphere-installer-v1.0.0.iso.part02", "novasphere-installer-v1.0.0.iso.part03",
		"novasphere-installer-v1.0.0.parts.sha256", "SHA256SUMS", "MD5SUMS", "SHA256SUMS.gpg", "novasphere-installer-v1.0.0.cdx.json",
		"verify-report.json", "novasphere-installer-v1.0.0.build.json"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("assets %v, want %v", names, want)
	}
	if !strings.Contains(out, "✓ ISO of 1.1 MiB is over GitHub's 1.0 MiB limit: attached as 3 parts") {
		t.Errorf("checklist does not explain the split:\n%s", out)
	}

	// Download every asset and run the reassembly commands of the notes.
	dir := t.TempDir()
	for _, a := range rel.Assets {
		must(t, os.WriteFile(filepath.Join(dir, a.Name), a.Content, 0o644))
	}
	script := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(rel.Body)
	if script == nil {
		t.Fatalf("release notes have no reassembly commands:\n%s", rel.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script[1])
	cmd.Dir = dir
	if got, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reassembly commands failed: %v\n%s\n%s", err, script[1], got)
	}
	iso, err := os.ReadFile(filepath.Join(dir, dist.ISOName("v1.0.0")))
	must(t, err)
	if !bytes.Equal(iso, fx.iso) {
		t.Error("the reassembled ISO differs from the original")
	}

	// A second run changes nothing.
	before := len(fx.gh.Writes())
	if out, err := fx.run(limits); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	if w := fx.gh.Writes()[before:]; len(w) != 0 {
		t.Errorf("re-run made write requests: %v", w)
	}
}

func TestPartNamesSortInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		i, n int
		want string
	}{
		{0, 2, "novasphere-installer-v1.0.0.iso.part01"},
		{9, 12, "novasphere-installer-v1.0.0.iso.part10"},
		{99, 100, "novasphere-installer-v1.0.0.iso.part100"},
		{0, 100, "novasphere-installer-v1.0.0.iso.part001"},
	} {
		if got := dist.PartName("v1.0.0", tc.i, tc.n); got != tc.want {
			t.Errorf("dist.PartName(%d, %d) = %s, want %s", tc.i, tc.n, got, tc.want)
		}
	}
}

// TestRealSizeISOIsSplitUnderTwoGiB lays out an ISO just over 2 GiB with
// GitHub's real limit: two parts, each under 2 GiB, covering every byte.
func TestRealSizeISOIsSplitUnderTwoGiB(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{github.AssetLimit, github.AssetLimit + 1, 4_000_000_000} {
		offsets, lengths := partLayout(size, DefaultPartSize)
		var next int64
		for i := range offsets {
			if offsets[i] != next || lengths[i] <= 0 || lengths[i] >= github.AssetLimit {
				t.Errorf("size %d: part %d at %d, %d bytes: not contiguous or not under 2 GiB", size, i, offsets[i], lengths[i])
			}
			next += lengths[i]
		}
		if next != size || len(offsets) != 2 {
			t.Errorf("size %d: %d parts covering %d bytes, want 2 parts covering all", size, len(offsets), next)
		}
	}
}
