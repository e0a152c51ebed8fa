package config

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
)

// Setting is one environment variable the project reads: its name, its
// default as users see it, its meaning, and the first stage that reads it
// (every later stage of the chain reads it too, through its dependencies).
type Setting struct {
	// Name is the environment variable.
	Name string
	// Default describes the value used when the variable is unset.
	Default string
	// Meaning says what the variable does, in one or two sentences.
	Meaning string
	// Stage is the first stage that reads it (every later stage of
	// pipeline.Stages reads it too); "" means it only changes another
	// setting's default.
	Stage stage.Name
	// Secret settings are shown as set or unset, never by value.
	Secret bool
}

// Environment variable names, each described in Settings.
const (
	EnvVersion        = "VERSION"
	EnvBase           = "BASE"
	EnvCI             = "CI"
	EnvBaseISOURL     = "BASE_ISO_URL"
	EnvBaseISOSHA256  = "BASE_ISO_SHA256"
	EnvBaseISOSumsURL = "BASE_ISO_SUMS_URL"
	EnvBaseISOKeyring = "BASE_ISO_KEYRING"
	EnvCacheDir       = "CACHE_DIR"
	EnvXDGCacheHome   = "XDG_CACHE_HOME"
	EnvBuildDir       = "BUILD_DIR"
	EnvDistDir        = "DIST_DIR"
	EnvKernelArgs     = "KERNEL_ARGS"
	EnvGrubTimeout    = "GRUB_TIMEOUT"
	EnvGrubTitle      = "GRUB_TITLE"
	// EnvAdminAuthorizedKeys names a file of OpenSSH public keys.
	EnvAdminAuthorizedKeys = "ADMIN_AUTHORIZED_KEYS"
	EnvSourceDateEpoch     = "SOURCE_DATE_EPOCH"
	EnvNoInstall           = "NOVASPHERE_NO_INSTALL"
	EnvNoWait              = "NOVASPHERE_NO_WAIT"
	EnvVerifyBoot          = "VERIFY_BOOT"
	EnvBootTimeout         = "VERIFY_BOOT_TIMEOUT"
	EnvBootMarker          = "VERIFY_BOOT_MARKER"
	EnvVerifyInstall       = "VERIFY_INSTALL"
	EnvInstallTimeout      = "VERIFY_INSTALL_TIMEOUT"
	EnvVerifyForce         = "VERIFY_FORCE"
	EnvStepSummary         = "GITHUB_STEP_SUMMARY"
	EnvGHToken             = "GH_TOKEN"
	EnvGitHubToken         = "GITHUB_TOKEN"
	EnvRepository          = "GITHUB_REPOSITORY"
	EnvAPIURL              = "GITHUB_API_URL"
	EnvGHHost              = "GH_HOST"
	EnvSCPTarget           = "RELEASE_SCP_TARGET"
	EnvSSHArgs             = "RELEASE_SSH_ARGS"
	EnvCopyTool            = "RELEASE_COPY_TOOL"
	EnvSplit               = "RELEASE_SPLIT"
	EnvSigningKey          = "RELEASE_SIGNING_KEY"
	EnvSigningPass         = "RELEASE_SIGNING_PASSPHRASE"
)

// Settings is every environment variable the project reads, in the order
// `mage settings` and README's configuration table show them.
var Settings = []Setting{
	{EnvVersion, "today's date, UTC, `YYYYMMDD`", "installer version: YYYYMMDD or vX.Y.Z[-rc.N] (`release` takes it as its argument)", stage.Customize, false},
	{EnvBase, "`default:` of `configs/bases.yaml` (`ubuntu-22.04.3`)", "the Ubuntu base to build on: an `id` of `configs/bases.yaml` (`go run magefile.go bases` lists them); outputs of a base other than the default carry its id", stage.Fetch, false},
	{EnvBaseISOURL, "the base's `urls` in `configs/bases.yaml`, in order", "base ISO: `http(s)://`, `file://` or a plain path; replaces the base's URLs and its lock line", stage.Fetch, false},
	{EnvBaseISOSHA256, "the base's line in `configs/bases.lock`", "pinned digest of the base ISO; replaces the lock line", stage.Fetch, false},
	{EnvBaseISOSumsURL, "`SHA256SUMS` beside the ISO", "Ubuntu's sums file; its signature is the same URL plus `.gpg`", stage.Fetch, false},
	{EnvBaseISOKeyring, "the base's `keyring` (`" + DefaultKeyringPath + "`)", "armored OpenPGP key(s) that must sign SHA256SUMS", stage.Fetch, false},
	{EnvCI, "unset (CI runners set `true`)", "set (any value but `0`/`false`/`no`/`off`): a base without a line in `configs/bases.lock` is refused instead of locked at its first fetch", stage.Fetch, false},
	{EnvCacheDir, "`${XDG_CACHE_HOME:-~/.cache}/novasphere-iso`", "verified downloads, by digest; it may not be, contain or lie inside the checkout's tracked files or a payload folder, nor be `/` or the home directory", stage.Fetch, false},
	{EnvXDGCacheHome, "`~/.cache`", "only moves the default `CACHE_DIR`", stage.Name{}, false},
	{EnvBuildDir, "`build`", "intermediate files; it may not be, contain or lie inside the checkout's tracked files, a payload folder, the cache, `/` or the home directory", stage.Extract, false},
	{EnvDistDir, "`dist`", "outputs; the same rule as `BUILD_DIR`", stage.Pack, false},
	{EnvKernelArgs, "`" + DefaultKernelArgs + "`", "extra installer kernel arguments; set it empty for none. The default shows kernel messages on the serial port too (servers with serial consoles, and verify's QEMU boots) while the installer stays on the screen", stage.Customize, false},
	{EnvGrubTimeout, "the base ISO's (30 s on Ubuntu)", "boot menu timeout in whole seconds, 0 to 3600", stage.Customize, false},
	{EnvGrubTitle, "`" + DefaultGrubTitle + "`", "boot menu entry title; `{version}` is replaced", stage.Customize, false},
	{EnvAdminAuthorizedKeys, "unset: only the keys of `configs/autoinstall/user-data`", "file of OpenSSH public keys (one a line, as in `~/.ssh/id_ed25519.pub`; `#` comments) added to user-data's `ssh.authorized-keys` for the installed machine's user (for CI secrets and per-customer builds). Each key is checked like `ssh-keygen -l` (ed25519, ECDSA, RSA of 2048 bits or more); a private key is refused without being shown. A release refuses a configuration nobody can log in with", stage.Customize, false},
	{EnvSourceDateEpoch, "commit time of `HEAD`", "every timestamp in the ISO, for byte-identical rebuilds", stage.Pack, false},
	{EnvNoInstall, "unset", "`1`: never install missing tools, print the apt-get line", stage.Fetch, false},
	{EnvNoWait, "unset", "`1`: when another run is writing the same output (the cached base, `build/`, the ISO), stop at once naming it instead of waiting", stage.Fetch, false},
	{EnvVerifyBoot, "boot when qemu is installed", "`1` requires the QEMU boots (installs qemu-system-x86 and ovmf), `0` skips them (reported as SKIP)", stage.Verify, false},
	{EnvBootTimeout, "`5m`", "timeout per boot, a Go duration (`3m`, `90s`) or seconds, from 1s to 24h", stage.Verify, false},
	{EnvBootMarker, "the kernel command line with the autoinstall arguments", "regular expression that proves a boot on the serial console", stage.Verify, false},
	{EnvVerifyInstall, "`0` (`release` always runs it)", "`1` runs the install proof: the ISO installed on a blank disk under QEMU in BIOS and UEFI, offline, then NovaSphere checked on the installed system (logs and screen pictures in `dist/`)", stage.Verify, false},
	{EnvInstallTimeout, "30m under KVM, 3h under TCG", "timeout of each unattended install, 1s to 24h (the installed system's first boot: 5m under KVM, 30m under TCG)", stage.Verify, false},
	{EnvVerifyForce, "`0`", "`1` runs every check again even when `verify-report.json` already passed for this exact ISO and the same settings", stage.Verify, false},
	{EnvStepSummary, "unset (GitHub Actions sets it)", "file verify appends its result table to, as Markdown", stage.Verify, false},
	{EnvSigningKey, "unset: SHA256SUMS is not signed", "armored OpenPGP private key that signs SHA256SUMS as `SHA256SUMS.gpg` (a GitHub secret; never printed or written to disk); its public key must be `" + ReleaseKeyPath + "`", stage.Verify, true},
	{EnvSigningPass, "unset", "the signing key's passphrase, if it has one", stage.Verify, true},
	{EnvGHToken, "unset", "GitHub token with contents: write (never printed, logged or written)", stage.Release, true},
	{EnvGitHubToken, "unset", "GitHub token, when `GH_TOKEN` is unset (GitHub Actions)", stage.Release, true},
	{EnvRepository, "the `origin` remote", "`owner/name` of the GitHub repository", stage.Release, false},
	{EnvAPIURL, "`https://api.github.com`", "API base, e.g. `https://ghe.example.com/api/v3` for GitHub Enterprise Server (Actions sets it)", stage.Release, false},
	{EnvGHHost, "the `origin` remote's host", "GitHub host when `GITHUB_API_URL` is unset", stage.Release, false},
	{EnvSCPTarget, "unset", "`user@host:/path/`: also copy the files there (rsync when both ends have it, else scp), checked with `sha256sum` on the server before they are renamed into place", stage.Release, false},
	{EnvSSHArgs, "unset", "extra ssh options for that copy, split on spaces (`-i ~/.ssh/release -o Port=2222`)", stage.Release, false},
	{EnvCopyTool, "rsync when both ends have it, else scp", "`rsync` or `scp`, to force one", stage.Release, false},
	{EnvSplit, "`1`", "`0` stops the release instead of splitting an ISO of 2 GiB or more into parts", stage.Release, false},
}

// Lookup finds a setting by name.
func Lookup(name string) (Setting, bool) {
	for _, s := range Settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Env is where settings are read from: the process environment, and values
// that take precedence over it (the version argument of release).
type Env struct {
	lookup    func(string) (string, bool)
	overrides map[string]Origin
}

// Origin is a setting's effective value and where it came from.
type Origin struct {
	// Name is the variable.
	Name string
	// Value is the value used ("" for secrets in a dump).
	Value string
	// From is "default", "environment", "argument" or "git".
	From string
}

// OSEnv reads the process environment. It is the only place the project
// reads environment variables.
func OSEnv() Env { return Env{lookup: os.LookupEnv} }

// MapEnv reads settings from m alone, for tests.
func MapEnv(m map[string]string) Env {
	return Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// WithArgument returns e with name fixed to value, as a command-line argument
// gives it (release's version).
func (e Env) WithArgument(name, value string) Env {
	o := make(map[string]Origin, len(e.overrides)+1)
	for k, v := range e.overrides {
		o[k] = v
	}
	o[name] = Origin{Name: name, Value: value, From: "argument"}
	e.overrides = o
	return e
}

// verbatim are the settings used exactly as given: blanks at the ends of a
// passphrase are part of it.
var verbatim = map[string]bool{EnvSigningPass: true}

// raw returns the value of name and where it came from; ok is false when
// it is unset (an empty value counts as set). Every value but a verbatim
// one is trimmed of blanks (spaces, tabs, newlines) at both ends, the same
// way for every setting: one made only of blanks is empty.
func (e Env) raw(name string) (Origin, bool) {
	o, ok := e.overrides[name]
	if !ok && e.lookup != nil {
		var v string
		v, ok = e.lookup(name)
		o = Origin{Name: name, Value: v, From: "environment"}
	}
	if !ok {
		return Origin{}, false
	}
	if !verbatim[name] {
		o.Value = strings.TrimSpace(o.Value)
	}
	return o, true
}

// String is the value of name, or def when it is unset or empty.
func (e Env) String(name, def string) string {
	if o, ok := e.raw(name); ok && o.Value != "" {
		return o.Value
	}
	return def
}

// StringOrEmpty is like String, but a variable set to the empty string
// means "empty", not "default" (KERNEL_ARGS= removes the default arguments).
func (e Env) StringOrEmpty(name, def string) string {
	if o, ok := e.raw(name); ok {
		return o.Value
	}
	return def
}

// IsSet reports whether name is set to a non-empty value.
func (e Env) IsSet(name string) bool { return e.String(name, "") != "" }

// Bool reads a yes/no setting with the project's one boolean parser; unset
// or empty gives def.
func (e Env) Bool(name string, def bool) (bool, error) {
	v := strings.TrimSpace(e.String(name, ""))
	if v == "" {
		return def, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return false, fmt.Errorf("%s=%q: use 1 or 0 (true/false, yes/no, on/off)", name, v)
	}
	return b, nil
}

// Switch is a setting that is on, off or decided by the pipeline (unset).
type Switch int

const (
	// Auto lets the pipeline decide (VERIFY_BOOT unset: boot when qemu is
	// installed).
	Auto Switch = iota
	// On requires the work.
	On
	// Off skips it.
	Off
)

// Switch reads an on/off/unset setting.
func (e Env) Switch(name string) (Switch, error) {
	if strings.TrimSpace(e.String(name, "")) == "" {
		return Auto, nil
	}
	b, err := e.Bool(name, false)
	if err != nil {
		return Auto, err
	}
	if b {
		return On, nil
	}
	return Off, nil
}

// ParseBool is the project's one parser for yes/no settings: 1, true, yes
// and on are true; 0, false, no and off are false, in any case; anything
// else is not a boolean.
func ParseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

// Origins returns every setting's effective value and where it came from,
// in the order of Settings; secrets show as "set" or "unset". A default
// shows as the value it gives (VERSION today's date, BUILD_DIR its
// absolute path); a default only known later says so in From ("default:
// the base ISO's ...") with "-" as the value.
func (c Config) Origins() []Origin {
	out := make([]Origin, 0, len(Settings))
	for _, s := range Settings {
		o, ok := c.origins[s.Name]
		if !ok {
			o = Origin{Name: s.Name, From: "default"}
			o.Value, o.From = c.defaultValue(s)
		}
		if s.Secret {
			o.Value = "unset"
			if ok && o.From != "default" && c.origins[s.Name].Value != "" {
				o.Value = "set"
			}
			o.From = strings.SplitN(o.From, ":", 2)[0]
		}
		out = append(out, o)
	}
	return out
}

// defaultValue is the value an unset setting takes, and "default"; or "-"
// and the default's description when the value is only known later.
func (c Config) defaultValue(s Setting) (value, from string) {
	if v, ok := c.computed(s.Name); ok {
		return v, "default"
	}
	if v, ok := strings.CutPrefix(s.Default, "`"); ok && strings.Count(v, "`") == 1 && strings.HasSuffix(v, "`") {
		return strings.TrimSuffix(v, "`"), "default"
	}
	if strings.HasPrefix(s.Default, "unset") {
		return "unset", "default"
	}
	return "-", "default: " + Plain(s.Default)
}

// computed are the defaults Load works out itself.
func (c Config) computed(name string) (string, bool) {
	yesNo := map[bool]string{true: "1", false: "0"}
	switch name {
	case EnvVersion:
		return c.Version, c.Version != ""
	case EnvBaseISOURL:
		if len(c.BaseLocations) > 0 {
			return c.BaseLocations[0].ISOURL, true
		}
	case EnvBaseISOSumsURL:
		if len(c.BaseLocations) > 0 && c.BaseLocations[0].SumsURL != "" {
			return c.BaseLocations[0].SumsURL, true
		}
	case EnvBaseISOKeyring:
		return c.KeyringPath, c.KeyringPath != ""
	case EnvCacheDir:
		return c.CacheDir, c.CacheDir != ""
	case EnvBuildDir:
		return c.BuildDir, c.BuildDir != ""
	case EnvDistDir:
		return c.DistDir, c.DistDir != ""
	case EnvKernelArgs:
		return c.KernelArgs, true
	case EnvGrubTitle:
		return c.GrubTitle, c.GrubTitle != ""
	case EnvNoInstall:
		return yesNo[c.NoInstall], true
	case EnvNoWait:
		return yesNo[c.NoWait], true
	case EnvVerifyInstall:
		return yesNo[c.Verify.Install], true
	case EnvVerifyForce:
		return yesNo[c.Verify.Force], true
	case EnvSplit:
		return yesNo[c.Release.Split], true
	}
	return "", false
}

// Plain is a Markdown text of the settings table as the terminal shows it:
// without backticks.
func Plain(s string) string { return strings.ReplaceAll(s, "`", "") }

// DumpSettings writes the table `mage settings` prints: every setting, its
// effective value, where it came from and what it means, in plain text.
// A value with a control character (a newline) is shown quoted, so each
// setting stays one line.
func (c Config) DumpSettings(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM\tMEANING")
	for i, o := range c.Origins() {
		v := o.Value
		if v == "" || strings.ContainsFunc(v, unicode.IsControl) || strings.Contains(v, "\t") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Name, v, o.From, Plain(Settings[i].Meaning))
	}
	return tw.Flush()
}

// MarkdownTable is README's configuration table, made from Settings:
// README holds it between the markers "<!-- settings -->" and
// "<!-- /settings -->", and a test keeps the two the same.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning | read by |\n| --- | --- | --- | --- |\n")
	for _, s := range Settings {
		by := "`" + s.Stage.String() + "` and later"
		switch s.Stage {
		case stage.Name{}:
			by = "(a default)"
		case stage.Release:
			by = "`" + s.Stage.String() + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Name, s.Default, s.Meaning, by)
	}
	return b.String()
}
