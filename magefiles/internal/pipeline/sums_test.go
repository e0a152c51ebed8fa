package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// SHA256SUMS and MD5SUMS list every artifact of a summed kind (moved from
// verify's TestWriteSumsIsAcceptedByCoreutils): coreutils accepts them,
// a changed file fails them, no temporary file stays, and a name the
// format cannot hold is refused.
func TestWriteSumsIsAcceptedByCoreutils(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &Build{Dist: dist.New(dir, "v1.0.0")}
	iso, bom := b.Dist.ISO(), b.Dist.SBOM()
	for path, data := range map[string]string{iso: "pretend this is an ISO\n", bom: "{}\n", b.Dist.VerifyReport(): "{}\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for path, kind := range map[string]dist.Kind{iso: dist.KindISO, bom: dist.KindSBOM, b.Dist.VerifyReport(): dist.KindReport} {
		if err := b.addFile(t.Context(), kind, path); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.writeSums(t.Context()); err != nil {
		t.Fatal(err)
	}
	for cmd, file := range map[string]string{"sha256sum": dist.SHA256SumsName, "md5sum": dist.MD5SumsName} {
		out, err := tool.Command(cmd, "--strict", "-c", file).Dir(dir).Output(t.Context())
		if err != nil {
			t.Errorf("%s -c %s: %v", cmd, file, err)
		}
		// The summed kinds only: the ISO and the SBOM, not the report.
		if got := strings.Count(string(out), ": OK"); got != 2 || strings.Contains(string(out), dist.VerifyReportName) {
			t.Errorf("%s -c %s checked %d files, want the ISO and the SBOM:\n%s", cmd, file, got, string(out))
		}
		if a, ok := b.Artifacts.Get(file); !ok || a.Kind != dist.KindChecksums || a.SHA256 == "" {
			t.Errorf("%s is not listed as checksums with its digest: %+v", file, a)
		}
	}
	// A changed file fails the check: the sums are not vacuous.
	if err := os.WriteFile(iso, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tool.Command("sha256sum", "-c", dist.SHA256SumsName).Dir(dir).Run(t.Context()); err == nil {
		t.Error("sha256sum -c accepted a changed file")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	for _, bad := range []string{"a/b.iso", "new\nline.iso"} {
		b.Artifacts.Add(dist.Artifact{Name: bad, Path: filepath.Join(dir, "x"), Kind: dist.KindISO, SHA256: strings.Repeat("0", 64), MD5: strings.Repeat("0", 32)})
		if err := b.writeSums(t.Context()); err == nil {
			t.Errorf("writeSums accepted the name %q", bad)
		}
	}
}
