package customize

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSchemaPerRelease: a key of a later release is refused on an earlier
// base, naming the file, the line, the key and the release's schema.
func TestSchemaPerRelease(t *testing.T) {
	groups := strings.Replace(validUserData, "    password: \"!\"\n", "    password: \"!\"\n    groups: [docker]\n", 1)
	crash := validUserData + "  kernel-crash-dumps:\n    enabled: false\n"
	interactive := validUserData + "  interactive-sections: [network]\n"
	for _, c := range []struct {
		name, data, release string
		want                string // "" accepted
	}{
		{"groups on 22.04", groups, Schema2204, "u.yaml:8: key autoinstall.identity.groups: Ubuntu 22.04's installer does not know it (subiquity 23.04.2/23.08.1"},
		{"groups on 24.04", groups, Schema2404, "u.yaml:8: key autoinstall.identity.groups: Ubuntu 24.04's installer does not know it (subiquity 24.04.1"},
		{"groups on 26.04", groups, Schema2604, ""},
		{"kernel-crash-dumps on 24.04", crash, Schema2404, "key autoinstall.kernel-crash-dumps: Ubuntu 24.04's"},
		{"kernel-crash-dumps on 26.04", crash, Schema2604, ""},
		{"interactive-sections on 22.04", interactive, Schema2204, "key autoinstall.interactive-sections: Ubuntu 22.04's"},
		{"interactive-sections on 24.04", interactive, Schema2404, ""},
		{"plain on 22.04", validUserData, Schema2204, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateUserDataFor("u.yaml", []byte(c.data), c.release)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if err := ValidateUserDataFor("u.yaml", []byte(validUserData), "30.04"); err == nil {
		t.Error("an unknown release was accepted")
	}
}

// TestRootAutoinstall: with RootAutoinstall, /autoinstall.yaml holds
// user-data's autoinstall mapping as its only top-level key (subiquity
// 24.04's wrapper rule), other cloud-config keys stay out; verify's check
// refuses a file with another top-level key or another configuration.
func TestRootAutoinstall(t *testing.T) {
	o := testOptions(t)
	withCloudInit := validUserData + "packages: [htop]\n" // a cloud-init key beside autoinstall
	if err := os.WriteFile(o.UserData, []byte(withCloudInit), 0o644); err != nil {
		t.Fatal(err)
	}
	plain, err := Customize(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(plain.Files, " "), RootAutoinstallPath) {
		t.Fatalf("a 22.04 base got %s", RootAutoinstallPath)
	}
	o.RootAutoinstall, o.Schema = true, Schema2404
	r, err := Customize(o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(r.Path(RootAutoinstallPath))
	if err != nil {
		t.Fatalf("%s not written: %v (files %v)", RootAutoinstallPath, err, r.Files)
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil || len(file) != 1 || file["autoinstall"] == nil {
		t.Fatalf("%s = %v (%v):\n%s", RootAutoinstallPath, file, err, data)
	}
	if err := CheckRootAutoinstall(data, []byte(withCloudInit)); err != nil {
		t.Fatal(err)
	}
	if err := CheckRootAutoinstall(append(data, "packages: [htop]\n"...), []byte(withCloudInit)); err == nil || !strings.Contains(err.Error(), "only as the file's one top-level key") {
		t.Errorf("a second top-level key: %v", err)
	}
	other := strings.Replace(string(data), "hostname: h", "hostname: other", 1)
	if err := CheckRootAutoinstall([]byte(other), []byte(withCloudInit)); err == nil || !strings.Contains(err.Error(), "different autoinstall configurations") {
		t.Errorf("another configuration: %v", err)
	}
	if read, _ := os.ReadFile(r.Path(GrubCfgPath)); !strings.Contains(string(read), AutoinstallArgs) {
		t.Error("the autoinstall kernel argument is gone")
	}
}
