package customize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

const validUserData = `#cloud-config
autoinstall:
  version: 1
  identity:
    hostname: h
    username: u
    password: "!"
  ssh:
    install-server: yes
    allow-pw: no
  late-commands:
    - echo one
    - [sh, -c, "echo two"]
  shutdown: poweroff
`

func TestValidateUserDataAcceptsTheSample(t *testing.T) {
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"user-data", "meta-data"} {
		path := filepath.Join(root, "configs", "autoinstall", name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		validate := ValidateUserData
		if name == "meta-data" {
			validate = ValidateMetaData
		}
		if err := validate(path, data); err != nil {
			t.Errorf("sample %s refused: %v", name, err)
		}
	}
}

func TestSampleUserDataInstallsNovaSphereOffline(t *testing.T) {
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		"cp -a /cdrom/novasphere /target/opt/novasphere",
		"curtin in-target --target=/target -- sh /opt/novasphere/scripts/install.sh",
		"fallback: offline-install",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("sample user-data lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "install.sh")); err != nil {
		t.Errorf("late-commands run scripts/install.sh, which is missing: %v", err)
	}
}

func TestValidateUserDataAcceptsValid(t *testing.T) {
	if err := ValidateUserData("user-data", []byte(validUserData)); err != nil {
		t.Fatal(err)
	}
}

func TestValidateUserDataRefuses(t *testing.T) {
	cases := []struct {
		name     string
		data     string
		line     int
		key      string
		inProble string
	}{
		{"no header", strings.Replace(validUserData, "#cloud-config\n", "", 1), 1, "", "#cloud-config"},
		{"bad YAML", strings.Replace(validUserData, "  version: 1", "\tversion: 1", 1), 3, "", "invalid YAML"},
		{"no autoinstall", "#cloud-config\nhostname: x\n", 2, "autoinstall", "missing"},
		{"no version", strings.Replace(validUserData, "  version: 1\n", "", 1), 2, "autoinstall", "version"},
		{"version 2", strings.Replace(validUserData, "version: 1", "version: 2", 1), 3, "autoinstall.version", "1"},
		{"unknown top-level key", strings.Replace(validUserData, "  shutdown: poweroff\n", "  shutdwon: poweroff\n", 1), 14, "autoinstall.shutdwon", "not a key"},
		{"wrong type", strings.Replace(validUserData, "install-server: yes", "install-server: sure", 1), 9, "autoinstall.ssh.install-server", "wrong type"},
		{"bad enum", strings.Replace(validUserData, "shutdown: poweroff", "shutdown: halt", 1), 14, "autoinstall.shutdown", "reboot"},
		{"bad command", strings.Replace(validUserData, "    - echo one\n", "    - {run: echo}\n", 1), 12, "autoinstall.late-commands[0]", "wrong type"},
		{"duplicate key", strings.Replace(validUserData, "  shutdown: poweroff\n", "  shutdown: poweroff\n  shutdown: reboot\n", 1), 15, "shutdown", "twice"},
		{"no identity", "#cloud-config\nautoinstall:\n  version: 1\n", 2, "autoinstall", "identity"},
		{"autoinstall is a list", "#cloud-config\nautoinstall:\n  - version: 1\n", 2, "autoinstall", "mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateUserData("configs/autoinstall/user-data", []byte(c.data))
			if !errors.Is(err, ErrInvalidUserData) {
				t.Fatalf("got %v, want ErrInvalidUserData", err)
			}
			var ue *UserDataError
			if !errors.As(err, &ue) {
				t.Fatalf("not a UserDataError: %v", err)
			}
			if ue.Path != "configs/autoinstall/user-data" || ue.Line != c.line || ue.Key != c.key || !strings.Contains(ue.Problem, c.inProble) {
				t.Errorf("got path=%q line=%d key=%q problem=%q; want line %d key %q problem containing %q",
					ue.Path, ue.Line, ue.Key, ue.Problem, c.line, c.key, c.inProble)
			}
			if !strings.HasPrefix(err.Error(), "configs/autoinstall/user-data:") {
				t.Errorf("message does not start with the file: %v", err)
			}
		})
	}
}

func TestValidateMetaDataRefusesNonMapping(t *testing.T) {
	if err := ValidateMetaData("meta-data", []byte("- a\n- b\n")); !errors.Is(err, ErrInvalidUserData) {
		t.Fatalf("got %v", err)
	}
	if err := ValidateMetaData("meta-data", nil); err != nil {
		t.Fatalf("empty meta-data refused: %v", err)
	}
}

// TestYAMLErrorsNameTheOffendingLine breaks each line of the sample
// user-data in turn (a tab in its indentation, a second "key:" on it, an
// unclosed list) and expects the error at that line, not at the line where
// yaml.v3's construct began (it reported a tab on line 13 at line 12).
func TestYAMLErrorsNameTheOffendingLine(t *testing.T) {
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(filepath.Join(root, "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(sample), "\n")

	// The case from the report: a tab before "locale:" (then line 13).
	at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  locale:") })
	if at < 0 {
		t.Fatal("the sample user-data has no locale: line")
	}
	broken := append([]string(nil), lines...)
	broken[at] = "\t" + strings.TrimLeft(broken[at], " ")
	err = ValidateUserData("configs/autoinstall/user-data", []byte(strings.Join(broken, "\n")))
	want := fmt.Sprintf("configs/autoinstall/user-data:%d: invalid YAML: found a tab character that violates indentation", at+1)
	if err == nil || err.Error() != want {
		t.Errorf("tab on line %d: got %v, want %s", at+1, err, want)
	}

	breakers := map[string]func(string) string{
		"tab before the text": func(l string) string { return "\t" + strings.TrimLeft(l, " ") },
		"tab after the indentation": func(l string) string {
			text := strings.TrimLeft(l, " ")
			return l[:len(l)-len(text)] + "\t" + text
		},
		"two colons":    func(string) string { return "  a: b: c" },
		"unclosed list": func(string) string { return "  a: [1, 2" },
	}
	tried := 0
	for name, breakLine := range breakers {
		for i := 1; i < len(lines)-1; i++ {
			broken := append([]string(nil), lines...)
			broken[i] = breakLine(lines[i])
			err := ValidateUserData("user-data", []byte(strings.Join(broken, "\n")))
			var ue *UserDataError
			if !errors.As(err, &ue) || !strings.Contains(ue.Problem, "invalid YAML") {
				continue // still valid YAML (a tab in a comment, say)
			}
			tried++
			if ue.Line != i+1 {
				t.Errorf("%s on line %d (%q): reported at line %d: %v", name, i+1, broken[i], ue.Line, err)
			}
		}
	}
	if tried < 100 {
		t.Errorf("only %d broken files were invalid YAML; the sample changed?", tried)
	}
	t.Logf("%d invalid files, each reported at its broken line", tried)
}
