package debcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// aptSimulate asks apt's own resolver whether debs install on base, with
// install.sh's flags (one transaction, no download, no removal, no
// recommends), in simulation on a private dpkg status file that lists the
// base packages: no root, no network, the host's apt state untouched.
func aptSimulate(t *testing.T, base Base, debs []string) (ok bool, out string) {
	t.Helper()
	args := append([]string{"-s", "install"}, installShAptFlags...)
	cmd := exec.Command("apt-get", append(args, debs...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+privateApt(t, base), "LC_ALL=C")
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("apt-get: %v", err)
	}
	return err == nil, string(b)
}

// installShAptFlags are scripts/install.sh's apt-get install flags
// (TestInstallSh checks that the script uses them).
var installShAptFlags = []string{"-y", "--no-remove", "--no-install-recommends"}

// privateApt writes an apt configuration whose only state is a dpkg status
// file listing the base packages, and returns its path for APT_CONFIG.
//
// Base packages get "Multi-Arch: allowed" unless the manifest qualifies
// them (then "same"): Check accepts ":any" on base packages because
// manifests do not say, and the fake status says so explicitly.
func privateApt(t *testing.T, base Base) string {
	t.Helper()
	requireTool(t, tool.AptGet)
	dir := t.TempDir()
	var status bytes.Buffer
	for _, p := range base.Packages {
		arch, ma := p.Arch, "same"
		if arch == "" {
			arch, ma = NativeArch, "allowed"
		}
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: %s\nMulti-Arch: %s\n", p.Name, p.Version, arch, ma)
		if len(p.Provides) > 0 {
			fmt.Fprintf(&status, "Provides: %s\n", strings.Join(p.Provides, ", "))
		}
		fmt.Fprintf(&status, "Maintainer: Ubuntu <ubuntu@example.com>\nDescription: base package\n\n")
	}
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"state/status":          status.String(),
		"state/extended_states": "",
		"etc/sources.list":      "",
		"apt.conf": fmt.Sprintf(`Dir::Etc::Parts "%[1]s/etc/apt.conf.d";
Dir::Etc::Main "%[1]s/etc/apt.conf";
Dir::Etc::SourceList "%[1]s/etc/sources.list";
Dir::Etc::SourceParts "%[1]s/etc/sources.list.d";
Dir::Etc::Preferences "%[1]s/etc/preferences";
Dir::Etc::PreferencesParts "%[1]s/etc/preferences.d";
Dir::State "%[1]s/state";
Dir::State::Status "%[1]s/state/status";
Dir::Cache "%[1]s/cache";
Dir::Log "%[1]s/log";
Debug::NoLocking "true";
APT::Architecture "%[2]s";
APT::Architectures { "%[2]s"; };
`, dir, NativeArch),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "apt.conf")
}

// TestCheckAgreesWithApt: for every scenario, apt's own resolver, run as
// install.sh runs it, accepts exactly the packages/ directories that Check
// accepts. So a packages/ that passes the check installs offline, and the
// ones refused would have failed (or removed a base package) at the
// customer's site.
func TestCheckAgreesWithApt(t *testing.T) {
	base := fixtureBase(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var paths []string
			for _, k := range sc.debs {
				paths = append(paths, debFile(t, k))
			}
			aptOK, out := aptSimulate(t, base, paths)
			checkOK := len(sc.problems) == 0
			switch sc.aptAccepts {
			case "":
				if aptOK != checkOK {
					t.Errorf("Check accepts: %v, apt accepts: %v; apt said:\n%s", checkOK, aptOK, out)
				}
			case "dpkg":
				// apt's simulation does not ask dpkg which architectures
				// the system has; dpkg itself refuses the package.
				if !aptOK {
					t.Errorf("apt refuses now; drop the exception:\n%s", out)
				}
				if ok, out := dpkgDryRun(t, paths); ok {
					t.Errorf("dpkg --dry-run -i accepts what Check refuses:\n%s", out)
				}
				if ok, out := dpkgDryRun(t, []string{debFile(t, "c2")}); !ok {
					t.Errorf("dpkg --dry-run -i refuses a plain amd64 system's package too:\n%s", out)
				}
			default:
				if !aptOK {
					t.Errorf("apt refuses now (%s was the exception); drop it:\n%s", sc.aptAccepts, out)
				}
			}
		})
	}
}

// dpkgDryRun runs dpkg --dry-run -i on a private, empty dpkg database.
func dpkgDryRun(t *testing.T, debs []string) (ok bool, out string) {
	t.Helper()
	admin := t.TempDir()
	if err := os.MkdirAll(filepath.Join(admin, "updates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"status", "available"} {
		if err := os.WriteFile(filepath.Join(admin, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("dpkg", append([]string{"--admindir=" + admin, "--dry-run", "-i"}, debs...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("dpkg: %v", err)
	}
	return err == nil, string(b)
}
