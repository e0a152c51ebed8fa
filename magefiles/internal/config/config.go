// Package config holds the pipeline's embedded defaults and reads the
// environment variables that override them. It is the one place where a
// setting gets its name, its default and its documentation.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/git"
)

// Facts about the committed Ubuntu signing key and the release key.
const (
	// UbuntuSigningKeyFingerprint is the fingerprint of the "Ubuntu CD Image
	// Automatic Signing Key (2012)" that signs SHA256SUMS.
	UbuntuSigningKeyFingerprint = "843938DF228D22F7B3742BC0D94AA3F0EFE21092"
	// DefaultKeyringPath is the committed copy of that key, relative to the
	// repository root.
	DefaultKeyringPath = "configs/keys/ubuntu-cdimage-2012.asc"
	// ReleaseKeyPath is NovaSphere's release signing public key, relative
	// to the repository root; it ships inside the ISO with configs/.
	ReleaseKeyPath = "configs/keys/novasphere-release.asc"
)

// DefaultKernelArgs put kernel messages on the first serial port as well as
// the screen, so that servers installed over a serial console (and the QEMU
// boots of verify) see the installer's kernel command line; the last console=
// (tty0) stays /dev/console, so the installer itself runs on the screen.
const DefaultKernelArgs = "console=ttyS0,115200n8 console=tty0"

// BaseLocation is one place the base ISO can be downloaded from.
type BaseLocation struct {
	// ISOURL is the ISO itself: http(s)://, file:// or a plain path.
	ISOURL string
	// SumsURL is Ubuntu's SHA256SUMS beside it; empty when none is known.
	// Its detached signature is SumsURL + ".gpg".
	SumsURL string
}

// DefaultGrubTitle is the menu entry title template; {version} is replaced
// (and appended when the template lacks it).
const DefaultGrubTitle = "Install NovaSphere {version}"

// Config is the resolved configuration of one pipeline run, loaded once:
// every setting of the Settings table, parsed and checked.
type Config struct {
	// Version is the installer version (VERSION, or release's argument;
	// default today's UTC date as YYYYMMDD), checked by ValidateVersion.
	Version string
	// Base is the Ubuntu base chosen by BASE from configs/bases.yaml
	// (Bases); BaseIsDefault says it is the file's default, whose outputs
	// keep their names without the base's id.
	Base          bases.Base
	Bases         bases.Set
	BaseIsDefault bool
	// BaseLock is configs/bases.lock as read; BaseLocked is Base's line in
	// it (ok false: unlocked). BasePinned says BASE_ISO_URL or
	// BASE_ISO_SHA256 replace the lock for this run.
	BaseLock                 bases.Lock
	BaseLocked               bases.Entry
	BaseIsLocked, BasePinned bool
	// CI is set on CI runners (CI=true): a base without a lock entry is
	// then refused instead of locked on first use.
	CI bool
	// BaseISOName is the base ISO's file name, used to find its line in
	// SHA256SUMS.
	BaseISOName string
	// BaseLocations are tried in order (BASE_ISO_URL replaces them with one).
	BaseLocations []BaseLocation
	// BaseISOSHA256 pins the base ISO's digest (BASE_ISO_SHA256); lowercase hex.
	BaseISOSHA256 string
	// KeyringPath is the armored OpenPGP key or keyring that must have signed
	// SHA256SUMS (BASE_ISO_KEYRING; default the committed Ubuntu key).
	KeyringPath string
	// DistDir receives the outputs (DIST_DIR, default "dist"), BuildDir
	// holds intermediate files (BUILD_DIR, default "build"), CacheDir holds
	// downloads shared between builds (CACHE_DIR). All three are absolute:
	// relative settings are resolved against Root.
	DistDir, BuildDir, CacheDir string
	// KernelArgs are appended to every installer kernel command line
	// (KERNEL_ARGS; default DefaultKernelArgs; set it empty for none).
	KernelArgs string
	// GrubTimeout is the boot menu timeout in whole seconds (GRUB_TIMEOUT);
	// "" keeps the base ISO's.
	GrubTimeout string
	// GrubTitle is the menu entry title template (GRUB_TITLE).
	GrubTitle string
	// AdminAuthorizedKeys is a file of OpenSSH public keys added to the
	// installed machine's user (ADMIN_AUTHORIZED_KEYS), absolute; "" for
	// none.
	AdminAuthorizedKeys string
	// SourceDateEpoch fixes every timestamp in the ISO (SOURCE_DATE_EPOCH;
	// default the commit time of HEAD). Zero means unknown.
	SourceDateEpoch int64
	// NoInstall forbids installing missing tools (NOVASPHERE_NO_INSTALL=1).
	NoInstall bool
	// NoWait stops at once when another run holds an output's lock
	// (NOVASPHERE_NO_WAIT=1); the default waits.
	NoWait bool
	// Root is the repository root: payload directories are found under it.
	Root string
	// Verify holds verify's settings, Release the release's, Signing the
	// key that signs SHA256SUMS.
	Verify  VerifySettings
	Release ReleaseSettings
	Signing SigningSettings

	origins map[string]Origin
	noted   map[string]bool
}

// VerifySettings configure verify's QEMU boots.
type VerifySettings struct {
	// Boot: On requires the boots, Off skips them, Auto boots when qemu is
	// installed (VERIFY_BOOT).
	Boot Switch
	// BootTimeout bounds each boot (VERIFY_BOOT_TIMEOUT); zero means
	// verify's default.
	BootTimeout time.Duration
	// BootMarker proves a boot (VERIFY_BOOT_MARKER); nil means verify's
	// default.
	BootMarker *regexp.Regexp
	// Install runs the install proof (VERIFY_INSTALL); InstallTimeout
	// bounds each install (VERIFY_INSTALL_TIMEOUT; zero: per accelerator).
	Install        bool
	InstallTimeout time.Duration
	// Force runs every check again instead of reusing a passing report
	// (VERIFY_FORCE).
	Force bool
	// StepSummary is GitHub Actions' job summary file (GITHUB_STEP_SUMMARY).
	StepSummary string
}

// SigningSettings hold the release signing key (RELEASE_SIGNING_KEY) and
// its passphrase (RELEASE_SIGNING_PASSPHRASE). Both are secrets: String
// and GoString never show them.
type SigningSettings struct {
	Key, Passphrase string
}

// String hides the key: "signing key set" or "no signing key".
func (s SigningSettings) String() string {
	if s.Key == "" {
		return "no signing key"
	}
	return "signing key set"
}

// GoString hides the key from %#v too.
func (s SigningSettings) GoString() string { return s.String() }

// ReleaseSettings say where and as whom a release is published.
type ReleaseSettings struct {
	// Token authenticates to GitHub (GH_TOKEN, else GITHUB_TOKEN); never
	// printed. TokenSource names the variable it came from.
	Token, TokenSource string
	// Repository is owner/name (GITHUB_REPOSITORY); "" means the origin
	// remote's.
	Repository string
	// APIURL is the REST API base (GITHUB_API_URL), Host a GitHub host
	// (GH_HOST) used when APIURL is empty.
	APIURL, Host string
	// SCPTarget is user@host:/path/ to copy the files to as well
	// (RELEASE_SCP_TARGET), SSHArgs extra ssh options for it
	// (RELEASE_SSH_ARGS), CopyTool "rsync", "scp" or "" to choose
	// (RELEASE_COPY_TOOL).
	SCPTarget, SSHArgs, CopyTool string
	// Split allows attaching an ISO of 2 GiB or more in parts
	// (RELEASE_SPLIT, default true).
	Split bool
}

// Load reads env over the embedded defaults and checks every rule of every
// setting, the version's and the output directories' included, before any
// stage runs; all problems come back together, one a line, in a
// *ProblemsError. root is the repository root (where go.mod is).
func Load(root string, env Env) (Config, error) {
	c := Config{Root: root, origins: map[string]Origin{}}
	var p problems
	r := reader{env: env, c: &c, p: &p}
	c.Version = r.str(EnvVersion, time.Now().UTC().Format("20060102"))
	c.DistDir = c.abs(r.str(EnvDistDir, "dist"))
	c.BuildDir = c.abs(r.str(EnvBuildDir, "build"))
	c.CacheDir = c.abs(r.str(EnvCacheDir, defaultCacheDir(r.str(EnvXDGCacheHome, ""))))
	c.KernelArgs = r.strOrEmpty(EnvKernelArgs, DefaultKernelArgs)
	c.GrubTimeout = r.str(EnvGrubTimeout, "")
	c.GrubTitle = r.str(EnvGrubTitle, DefaultGrubTitle)
	if k := r.str(EnvAdminAuthorizedKeys, ""); k != "" {
		c.AdminAuthorizedKeys = c.abs(k)
	}
	// A BASE the file lacks leaves no locations to check.
	if err := c.chooseBase(r); err != nil {
		p.add(err)
	} else {
		p.add(c.loadBase(r))
	}
	p.add(c.checkVersion())
	p.add(named(EnvKernelArgs, CheckKernelArgs(c.KernelArgs)))
	p.add(named(EnvGrubTimeout, ValidateGrubTimeout(c.GrubTimeout)))
	p.add(c.checkOutputDirs()...)
	c.NoInstall = r.bool(EnvNoInstall, false)
	c.NoWait = r.bool(EnvNoWait, false)
	c.SourceDateEpoch = sourceDateEpoch(r, root)
	c.Verify = loadVerify(r)
	c.Release = loadRelease(r)
	p.add(checkRelease(c.Release)...)
	c.Signing = SigningSettings{Key: r.str(EnvSigningKey, ""), Passphrase: r.strOrEmpty(EnvSigningPass, "")}
	p.add(c.checkSigningKey())
	return c, p.err()
}

// checkVersion is the one check of the version in a run: release's version
// argument comes here too, and is named as such.
func (c Config) checkVersion() error {
	err := ValidateVersion(c.Version)
	if err != nil && c.origins[EnvVersion].From == "argument" {
		return fmt.Errorf("the version argument: %w", err)
	}
	return named(EnvVersion, err)
}

// named prefixes err with the setting it is about.
func named(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// chooseBase reads configs/bases.yaml and configs/bases.lock and picks
// BASE's entry.
func (c *Config) chooseBase(r reader) error {
	var err error
	if c.Bases, err = bases.LoadIn(c.Root); err != nil {
		return err
	}
	if c.Base, err = c.Bases.Get(r.str(EnvBase, c.Bases.Default)); err != nil {
		return err
	}
	c.BaseIsDefault = c.Bases.IsDefault(c.Base)
	if c.BaseLock, err = bases.ReadLock(c.abs(bases.LockFile), bases.LockFile); err != nil {
		return err
	}
	if c.BaseLocked, c.BaseIsLocked, err = c.BaseLock.Find(c.Base); err != nil {
		return err
	}
	// CI systems set CI to "true" or "1", some to their name (woodpecker):
	// any value but a false one counts.
	if v := strings.TrimSpace(r.str(EnvCI, "")); v != "" {
		b, ok := ParseBool(v)
		c.CI = !ok || b
	}
	c.BaseISOName = c.Base.ISO
	c.KeyringPath = c.abs(r.str(EnvBaseISOKeyring, c.Base.Keyring))
	c.BasePinned = r.env.IsSet(EnvBaseISOURL) || r.env.IsSet(EnvBaseISOSHA256)
	c.BaseISOSHA256 = strings.ToLower(r.str(EnvBaseISOSHA256, ""))
	if c.BaseISOSHA256 == "" && c.BaseIsLocked {
		c.BaseISOSHA256 = c.BaseLocked.SHA256
	}
	return nil
}

// loadBase reads where the base ISO comes from and how it is checked.
func (c *Config) loadBase(r reader) error {
	c.BaseLocations = c.baseLocations()
	if u := r.str(EnvBaseISOURL, ""); u != "" {
		if err := checkBaseURL(u); err != nil {
			return err
		}
		c.BaseISOName = baseName(u)
		c.BaseLocations = []BaseLocation{{ISOURL: u, SumsURL: r.str(EnvBaseISOSumsURL, "")}}
		if !r.env.IsSet(EnvBaseISOSHA256) {
			// A custom ISO with the default pin would always fail; demand a pin
			// or a sums file rather than guessing.
			c.BaseISOSHA256 = ""
		}
	} else if s := r.str(EnvBaseISOSumsURL, ""); s != "" {
		for i := range c.BaseLocations {
			c.BaseLocations[i].SumsURL = s
		}
	}
	if c.BaseISOSHA256 != "" && !bases.IsSHA256(c.BaseISOSHA256) {
		return fmt.Errorf("%s=%q is not a SHA-256 digest (64 hexadecimal characters)", EnvBaseISOSHA256, c.BaseISOSHA256)
	}
	if c.BaseLocations[0].SumsURL == "" && c.BaseISOSHA256 == "" {
		return fmt.Errorf("%s is set but neither %s nor %s is: set one so the download can be verified", EnvBaseISOURL, EnvBaseISOSHA256, EnvBaseISOSumsURL)
	}
	return nil
}

// loadVerify reads verify's settings.
func loadVerify(r reader) VerifySettings {
	var v VerifySettings
	v.Boot = r.switchOf(EnvVerifyBoot)
	v.BootTimeout = r.timeout(EnvBootTimeout)
	if s := r.str(EnvBootMarker, ""); s != "" {
		var err error
		if v.BootMarker, err = regexp.Compile(s); err != nil {
			r.p.add(fmt.Errorf("%s: not a regular expression: %w", EnvBootMarker, err))
		}
	}
	v.Install = r.bool(EnvVerifyInstall, false)
	v.InstallTimeout = r.timeout(EnvInstallTimeout)
	v.Force = r.bool(EnvVerifyForce, false)
	v.StepSummary = r.str(EnvStepSummary, "")
	return v
}

// loadRelease reads the GitHub and server-copy settings.
func loadRelease(r reader) ReleaseSettings {
	s := ReleaseSettings{
		Repository: r.str(EnvRepository, ""),
		APIURL:     r.str(EnvAPIURL, ""),
		Host:       r.str(EnvGHHost, ""),
		SCPTarget:  r.str(EnvSCPTarget, ""),
		SSHArgs:    r.str(EnvSSHArgs, ""),
		CopyTool:   r.str(EnvCopyTool, ""),
	}
	for _, name := range []string{EnvGHToken, EnvGitHubToken} {
		if v := r.str(name, ""); v != "" && s.Token == "" {
			s.Token, s.TokenSource = v, name
		}
	}
	s.Split = r.bool(EnvSplit, true)
	return s
}

// reader reads settings from an Env, records where each came from, and
// adds what is wrong with a value to the load's problems.
type reader struct {
	env Env
	c   *Config
	p   *problems
}

// note records name's origin and checks that a one-line setting is one
// line.
func (r reader) note(name string) {
	if o, ok := r.env.raw(name); ok {
		r.c.origins[name] = o
		if r.p != nil && !r.checked(name) {
			r.p.add(checkOneLine(name, o.Value))
		}
	}
}

// checked reports whether name was noted before (a setting read twice is
// checked once).
func (r reader) checked(name string) bool {
	if r.c.noted == nil {
		r.c.noted = map[string]bool{}
	}
	seen := r.c.noted[name]
	r.c.noted[name] = true
	return seen
}

func (r reader) str(name, def string) string { r.note(name); return r.env.String(name, def) }
func (r reader) strOrEmpty(name, def string) string {
	r.note(name)
	return r.env.StringOrEmpty(name, def)
}

func (r reader) bool(name string, def bool) bool {
	r.note(name)
	b, err := r.env.Bool(name, def)
	r.p.add(err)
	return b
}

func (r reader) switchOf(name string) Switch {
	r.note(name)
	s, err := r.env.Switch(name)
	if err != nil {
		r.p.add(fmt.Errorf("%w (unset: the pipeline decides)", err))
	}
	return s
}

// timeout reads a timeout setting; unset means the stage's default (zero).
func (r reader) timeout(name string) time.Duration {
	s := r.str(name, "")
	if s == "" {
		return 0
	}
	d, err := parseTimeout(s)
	if err != nil {
		r.p.add(fmt.Errorf("%s=%q: %w", name, s, err))
	}
	return d
}

// abs resolves a directory or file setting against the repository root
// when it is relative, so targets work from any directory.
func (c Config) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// baseLocations are the chosen base's URLs, each with its SHA256SUMS.
func (c Config) baseLocations() []BaseLocation {
	locs := make([]BaseLocation, 0, len(c.Base.URLs))
	for i, u := range c.Base.URLs {
		locs = append(locs, BaseLocation{ISOURL: u, SumsURL: c.Base.SumsURLs[i]})
	}
	return locs
}

// defaultCacheDir is ${XDG_CACHE_HOME:-~/.cache}/novasphere-iso.
func defaultCacheDir(xdg string) string {
	if xdg == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		xdg = filepath.Join(home, ".cache")
	}
	return filepath.Join(xdg, "novasphere-iso")
}

// maxEpoch is the last second ISO 9660 can record: directory records keep
// the year as years since 1900 in one byte.
var maxEpoch = time.Date(2155, 12, 31, 23, 59, 59, 0, time.UTC).Unix()

// sourceDateEpoch reads SOURCE_DATE_EPOCH or, when unset, the commit time of
// HEAD in root. Outside a git checkout it returns 0.
func sourceDateEpoch(r reader, root string) int64 {
	s := r.str(EnvSourceDateEpoch, "")
	if s == "" {
		t := git.CommitTime(root)
		if t != 0 {
			r.c.origins[EnvSourceDateEpoch] = Origin{Name: EnvSourceDateEpoch, Value: strconv.FormatInt(t, 10), From: "git"}
		}
		return t
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		r.p.add(fmt.Errorf("%s=%q is not a Unix time in seconds (0 to %d)", EnvSourceDateEpoch, s, maxEpoch))
		return 0
	}
	if n > maxEpoch {
		r.p.add(fmt.Errorf("%s=%s is %s: ISO 9660 records dates up to 2155-12-31T23:59:59Z (%d)",
			EnvSourceDateEpoch, s, time.Unix(n, 0).UTC().Format("2006-01-02"), maxEpoch))
		return 0
	}
	return n
}

func baseName(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndex(u, "/")+1:]
}

// ReleaseFromEnv reads only the release's settings from env, for callers
// that need no build (release:rollback) and for tests.
func ReleaseFromEnv(env Env) (ReleaseSettings, error) {
	c := Config{origins: map[string]Origin{}}
	var p problems
	s := loadRelease(reader{env: env, c: &c, p: &p})
	p.add(checkRelease(s)...)
	return s, p.err()
}

// CacheDirOf is CACHE_DIR as env sets it, or its default, for callers that
// need only the cache (the test ISO builder).
func CacheDirOf(env Env) string {
	return env.String(EnvCacheDir, defaultCacheDir(env.String(EnvXDGCacheHome, "")))
}
