package release

import (
	"strings"
	"testing"
)

// The release notes describe every attached file by its kind, in upload
// order, the checksum files in one line naming what they list; the
// offline check is shown when SHA256SUMS is signed.
func TestReleaseNotesDescribeEachFileByKind(t *testing.T) {
	t.Parallel()
	st := goodState(t)
	r := &runner{o: Options{Version: st.Version}, st: st}
	want := "notes\n\n### Files\n\n" +
		"- `novasphere-installer-v1.0.0.iso` (3.0 MiB): SHA-256 `" + strings.Repeat("a", 64) + "`\n" +
		"- `SHA256SUMS`, `MD5SUMS`: checksums of the ISO and the SBOM (`sha256sum -c --ignore-missing SHA256SUMS`)\n" +
		"- `SHA256SUMS.gpg`: OpenPGP signature of `SHA256SUMS` by the release key (`configs/keys/novasphere-release.asc` in the repository and on the ISO)\n" +
		"- `novasphere-installer-v1.0.0.cdx.json`: SBOM (CycloneDX JSON): the base ISO, its installed packages, the offline packages, every payload file, the Helm chart\n" +
		"- `verify-report.json`: every check verify ran on this exact ISO\n" +
		"- `novasphere-installer-v1.0.0.build.json`: build record (base ISO digest, payload manifest digest, git commit, xorriso version, SOURCE_DATE_EPOCH)\n" +
		"\nCheck them offline:\n\n```sh\ngpg --import novasphere-release.asc\ngpg --verify SHA256SUMS.gpg SHA256SUMS\nsha256sum -c --ignore-missing SHA256SUMS\n```\n"
	if got := r.releaseBody(); got != want {
		t.Errorf("release notes:\n%s\nwant:\n%s", got, want)
	}
}
