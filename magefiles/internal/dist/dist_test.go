package dist

import "testing"

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
