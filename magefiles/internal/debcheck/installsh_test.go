package debcheck

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installSh is the repository's scripts/install.sh.
const installSh = "../../../scripts/install.sh"

// TestInstallSh runs scripts/install.sh as curtin in-target would, with
// apt-get replaced by the real apt-get in simulation on the fixture base
// system and install(1) by a recorder, so nothing on this machine changes.
func TestInstallSh(t *testing.T) {
	script, err := os.ReadFile(installSh)
	if err != nil {
		t.Fatal(err)
	}
	if want := "apt-get install " + strings.Join(installShAptFlags, " ") + ` "$@"`; !strings.Contains(string(script), want) {
		t.Fatalf("%s does not run %q, the command TestCheckAgreesWithApt proves", installSh, want)
	}
	base := fixtureBase(t)
	realApt, err := exec.LookPath("apt-get")
	if err != nil {
		t.Fatalf("apt-get is missing: install the apt package")
	}
	cases := []struct {
		name    string
		debs    []string
		tamper  bool
		wantErr bool
		want    []string // in the output
		apt     bool     // apt-get runs
	}{
		{name: "packages that pass the check", debs: []string{"chain-a", "chain-b", "chain-c"}, apt: true,
			want: []string{"installing 3 offline package(s) in one apt transaction", "Inst chain-c", "Inst chain-b", "Inst chain-a", "NovaSphere 1.0.0 installed"}},
		{name: "a dependency the base does not satisfy", debs: []string{"novasphere-agent"}, apt: true, wantErr: true,
			want: []string{"novasphere-agent : Depends: libfoo1 (>= 2.1) but 2.0-1 is to be installed",
				"novasphere-install: apt-get could not install the offline packages (exit status 100; apt's message is above)."}},
		{name: "a package that would remove a base package", debs: []string{"conf-base"}, apt: true, wantErr: true,
			want: []string{"E: Packages need to be removed but remove is disabled.", "apt-get could not install the offline packages"}},
		{name: "no packages", want: []string{"NovaSphere 1.0.0 installed"}},
		{name: "payload changed after the build", debs: []string{"chain-c"}, tamper: true, wantErr: true,
			want: []string{"FAILED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			payload := filepath.Join(dir, "opt", "novasphere")
			writeFiles(t, payload, map[string]string{
				"VERSION":                 "1.0.0\n",
				"configs/novasphere.yaml": "replicas: 1\n",
				"scripts/install.sh":      string(script),
			})
			for _, k := range c.debs {
				raw, err := os.ReadFile(debFile(t, k))
				if err != nil {
					t.Fatal(err)
				}
				writeFiles(t, payload, map[string]string{"packages/" + specs[k].fileName(): string(raw)})
			}
			writeManifest(t, payload)
			if c.tamper {
				writeFiles(t, payload, map[string]string{"VERSION": "1.0.1\n"})
			}
			bin := filepath.Join(dir, "bin")
			calls := filepath.Join(dir, "calls")
			writeFiles(t, bin, map[string]string{
				"apt-get": fmt.Sprintf("#!/bin/sh\necho \"apt-get $*\" >> %q\nexec %q -s \"$@\"\n", calls, realApt),
				"install": fmt.Sprintf("#!/bin/sh\necho \"install $*\" >> %q\n", calls),
				// The installed system's systemd, recorded: this machine's is
				// not touched.
				"systemctl": fmt.Sprintf("#!/bin/sh\necho \"systemctl $*\" >> %q\n", calls),
			})
			for _, f := range []string{"apt-get", "install", "systemctl"} {
				if err := os.Chmod(filepath.Join(bin, f), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("sh", filepath.Join(payload, "scripts/install.sh"))
			boot := filepath.Join(dir, "boot")
			if err := os.MkdirAll(boot, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(os.Environ(), "NOVASPHERE_DIR="+payload, "NOVASPHERE_BOOT_DIR="+boot, "PATH="+bin+":"+os.Getenv("PATH"),
				"APT_CONFIG="+privateApt(t, base), "LC_ALL=C")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if (err != nil) != c.wantErr {
				t.Errorf("exit error %v, want error: %v\n%s", err, c.wantErr, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output has no %q:\n%s", w, out)
				}
			}
			log, _ := os.ReadFile(calls)
			aptCalls := strings.Count(string(log), "apt-get ")
			if c.apt != (aptCalls == 1) || aptCalls > 1 {
				t.Errorf("apt-get ran %d times, want it to run: %v\n%s", aptCalls, c.apt, log)
			}
			if c.apt {
				line := "apt-get install " + strings.Join(installShAptFlags, " ")
				for _, k := range c.debs {
					line += " " + filepath.Join(payload, "packages", specs[k].fileName())
				}
				if !strings.Contains(string(log), line+"\n") {
					t.Errorf("apt-get call:\n%s\nwant:\n%s (every package, one transaction)", log, line)
				}
			}
			if installs := strings.Contains(string(log), "install -m 0644"); installs == c.wantErr {
				t.Errorf("config installed: %v after a failure: %v\n%s", installs, c.wantErr, log)
			}
			if enabled := strings.Contains(string(log), "systemctl enable novasphere-firstboot.service"); enabled == c.wantErr {
				t.Errorf("first-boot unit enabled: %v after a failure: %v\n%s", enabled, c.wantErr, log)
			}
			// The reinstall guard's marker, only on a successful install.
			marker, err := os.ReadFile(filepath.Join(boot, "novasphere-installed"))
			if c.wantErr != (err != nil) || (err == nil && string(marker) != "NovaSphere 1.0.0\n") {
				t.Errorf("reinstall marker %q (%v) after an install that failed: %v", marker, err, c.wantErr)
			}
		})
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeManifest writes MANIFEST.sha256 for every file under root, as pack
// does.
func writeManifest(t *testing.T, root string) {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"MANIFEST.sha256": b.String()})
}
