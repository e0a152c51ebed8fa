package dist

import (
	"slices"
	"testing"
)

// A release attaches the published kinds in upload order whatever order
// the stages added them in; logs and pictures stay in dist/ only; the
// checksum files list the ISO and the SBOM.
func TestArtifactsSelectByKind(t *testing.T) {
	t.Parallel()
	var as Artifacts
	for _, a := range []Artifact{
		{Name: "x.iso", Kind: KindISO}, {Name: "x.build.json", Kind: KindRecord}, {Name: SHA256SumsName, Kind: KindChecksums},
		{Name: MD5SumsName, Kind: KindChecksums}, {Name: VerifyReportName, Kind: KindReport}, {Name: "boot-bios-cdrom.log", Kind: KindLog},
		{Name: "screen.png", Kind: KindPicture}, {Name: "x.cdx.json", Kind: KindSBOM}, {Name: SignatureName, Kind: KindSignature},
		{Name: "x.iso", Kind: KindISO, SHA256: "digest"},
	} {
		as.Add(a)
	}
	var names []string
	for _, a := range as.Published() {
		names = append(names, a.Name)
	}
	want := []string{"x.iso", SHA256SumsName, MD5SumsName, SignatureName, "x.cdx.json", VerifyReportName, "x.build.json"}
	if !slices.Equal(names, want) {
		t.Errorf("published %v, want %v", names, want)
	}
	if a, _ := as.Get("x.iso"); a.SHA256 != "digest" || len(as.List(KindISO)) != 1 {
		t.Errorf("adding the ISO again did not replace it: %+v", as.List(KindISO))
	}
	names = nil
	for _, a := range as.Summed() {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{"x.iso", "x.cdx.json"}) {
		t.Errorf("summed %v, want the ISO and the SBOM", names)
	}
}

// TestBaseInNames: the default base keeps the names it always had; another
// base's versioned outputs carry its id, the version-less ones do not.
func TestBaseInNames(t *testing.T) {
	def := New("/d", "v1.0.0")
	other := def.ForBase("ubuntu-24.04.4")
	for _, c := range []struct{ got, want string }{
		{def.ISO(), "/d/novasphere-installer-v1.0.0.iso"},
		{other.ISO(), "/d/novasphere-installer-v1.0.0-ubuntu-24.04.4.iso"},
		{other.SBOM(), "/d/novasphere-installer-v1.0.0-ubuntu-24.04.4.cdx.json"},
		{other.BuildRecord(), "/d/novasphere-installer-v1.0.0-ubuntu-24.04.4.build.json"},
		{other.SHA256Sums(), "/d/SHA256SUMS"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
