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
)

// Embedded defaults for the base image: Ubuntu 22.04.3 live-server amd64.
const (
	// DefaultBaseISOName is the file name of the pinned base ISO, as it
	// appears in Ubuntu's SHA256SUMS.
	DefaultBaseISOName = "ubuntu-22.04.3-live-server-amd64.iso"
	// DefaultBaseISOSHA256 is the pinned SHA-256 of DefaultBaseISOName.
	DefaultBaseISOSHA256 = "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd"
	// UbuntuSigningKeyFingerprint is the fingerprint of the "Ubuntu CD Image
	// Automatic Signing Key (2012)" that signs SHA256SUMS.
	UbuntuSigningKeyFingerprint = "843938DF228D22F7B3742BC0D94AA3F0EFE21092"
	// DefaultKeyringPath is the committed copy of that key, relative to the
	// repository root.
	DefaultKeyringPath = "configs/keys/ubuntu-cdimage-2012.asc"
)

// DefaultKernelArgs put kernel messages on the first serial port as well as
// the screen, so that servers installed over a serial console (and the QEMU
// boots of verify) see the installer's kernel command line; the last console=
// (tty0) stays /dev/console, so the installer itself runs on the screen.
const DefaultKernelArgs = "console=ttyS0,115200n8 console=tty0"

// DefaultBaseISODirs are the locations tried in order for the default base
// ISO. Each directory holds the ISO, SHA256SUMS and SHA256SUMS.gpg. The
// release's own directory disappears once a newer point release replaces it,
// so the old-releases archive follows.
var DefaultBaseISODirs = []string{
	"https://releases.ubuntu.com/22.04.3/",
	"https://old-releases.ubuntu.com/releases/22.04.3/",
}

// Environment variable names. Each is documented on Config's fields.
const (
	EnvVersion         = "VERSION"
	EnvBaseISOURL      = "BASE_ISO_URL"
	EnvBaseISOSHA256   = "BASE_ISO_SHA256"
	EnvBaseISOSumsURL  = "BASE_ISO_SUMS_URL"
	EnvBaseISOKeyring  = "BASE_ISO_KEYRING"
	EnvDistDir         = "DIST_DIR"
	EnvBuildDir        = "BUILD_DIR"
	EnvCacheDir        = "CACHE_DIR"
	EnvKernelArgs      = "KERNEL_ARGS"
	EnvSourceDateEpoch = "SOURCE_DATE_EPOCH"
	EnvNoInstall       = "NOVASPHERE_NO_INSTALL"
)

// BaseLocation is one place the base ISO can be downloaded from.
type BaseLocation struct {
	// ISOURL is the ISO itself: http(s)://, file:// or a plain path.
	ISOURL string
	// SumsURL is Ubuntu's SHA256SUMS beside it; empty when none is known.
	// Its detached signature is SumsURL + ".gpg".
	SumsURL string
}

// Config is the resolved configuration of one pipeline run.
type Config struct {
	// Version is the installer version (VERSION; default today's UTC date
	// as YYYYMMDD). See ValidateVersion for the accepted forms.
	Version string
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
	// DistDir receives the outputs (DIST_DIR, default "dist").
	DistDir string
	// BuildDir holds intermediate files (BUILD_DIR, default "build").
	BuildDir string
	// CacheDir holds downloads shared between builds (CACHE_DIR, default
	// ${XDG_CACHE_HOME:-~/.cache}/novasphere-iso).
	CacheDir string
	// KernelArgs are appended to every installer kernel command line
	// (KERNEL_ARGS; default DefaultKernelArgs; set it empty for none).
	KernelArgs string
	// SourceDateEpoch fixes every timestamp in the ISO (SOURCE_DATE_EPOCH;
	// default the commit time of HEAD). Zero means unknown.
	SourceDateEpoch int64
	// NoInstall forbids installing missing tools (NOVASPHERE_NO_INSTALL=1).
	NoInstall bool
	// Root is the repository root: payload directories are found under it.
	Root string
}

// Load reads the environment over the embedded defaults. root is the
// repository root (where go.mod is).
func Load(root string) (Config, error) {
	c := Config{
		Version:       getenv(EnvVersion, time.Now().UTC().Format("20060102")),
		BaseISOName:   DefaultBaseISOName,
		BaseISOSHA256: strings.ToLower(getenv(EnvBaseISOSHA256, DefaultBaseISOSHA256)),
		KeyringPath:   getenv(EnvBaseISOKeyring, filepath.Join(root, DefaultKeyringPath)),
		DistDir:       getenv(EnvDistDir, "dist"),
		BuildDir:      getenv(EnvBuildDir, "build"),
		CacheDir:      getenv(EnvCacheDir, defaultCacheDir()),
		KernelArgs:    getenvOrEmpty(EnvKernelArgs, DefaultKernelArgs),
		NoInstall:     truthy(os.Getenv(EnvNoInstall)),
		Root:          root,
	}
	c.BaseLocations = defaultLocations()
	if u := os.Getenv(EnvBaseISOURL); u != "" {
		c.BaseISOName = baseName(u)
		c.BaseLocations = []BaseLocation{{ISOURL: u, SumsURL: os.Getenv(EnvBaseISOSumsURL)}}
		if os.Getenv(EnvBaseISOSHA256) == "" {
			// A custom ISO with the default pin would always fail; demand a pin
			// or a sums file rather than guessing.
			c.BaseISOSHA256 = ""
		}
	} else if s := os.Getenv(EnvBaseISOSumsURL); s != "" {
		for i := range c.BaseLocations {
			c.BaseLocations[i].SumsURL = s
		}
	}
	if c.BaseISOSHA256 != "" && !isHex64(c.BaseISOSHA256) {
		return c, fmt.Errorf("config: %s=%q is not a SHA-256 digest (64 hexadecimal characters)", EnvBaseISOSHA256, c.BaseISOSHA256)
	}
	if c.BaseLocations[0].SumsURL == "" && c.BaseISOSHA256 == "" {
		return c, fmt.Errorf("config: %s is set but neither %s nor %s is: set one so the download can be verified", EnvBaseISOURL, EnvBaseISOSHA256, EnvBaseISOSumsURL)
	}
	if err := ValidateVersion(c.Version); err != nil {
		return c, fmt.Errorf("config: %s: %w", EnvVersion, err)
	}
	epoch, err := sourceDateEpoch(root)
	if err != nil {
		return c, err
	}
	c.SourceDateEpoch = epoch
	return c, nil
}

// OutputISO is the path of the installer ISO for the configured version.
func (c Config) OutputISO() string {
	return filepath.Join(c.DistDir, "novasphere-installer-"+c.Version+".iso")
}

// Path resolves p, a directory or file setting such as DistDir, against the
// repository root when it is relative, so targets work from any directory.
func (c Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// WithVersion returns a copy of c building version v.
func (c Config) WithVersion(v string) Config {
	c.Version = v
	return c
}

var versionRE = regexp.MustCompile(`^(?:\d{8}|v\d+\.\d+\.\d+(?:-rc\.\d+)?)$`)

// ValidateVersion accepts a date version YYYYMMDD (a real calendar date) or a
// semantic version vX.Y.Z with an optional -rc.N suffix.
func ValidateVersion(v string) error {
	if versionRE.MatchString(v) {
		if v[0] == 'v' {
			return nil
		}
		if _, err := time.Parse("20060102", v); err == nil {
			return nil
		}
	}
	return fmt.Errorf("version %q is not accepted: use a date YYYYMMDD (for example 20261127) or a semantic version vX.Y.Z or vX.Y.Z-rc.N (for example v1.0.0, v1.2.0-rc.1)", v)
}

func defaultLocations() []BaseLocation {
	locs := make([]BaseLocation, 0, len(DefaultBaseISODirs))
	for _, d := range DefaultBaseISODirs {
		locs = append(locs, BaseLocation{ISOURL: d + DefaultBaseISOName, SumsURL: d + "SHA256SUMS"})
	}
	return locs
}

func defaultCacheDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "novasphere-iso")
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH or, when unset, the commit time of
// HEAD in root. Outside a git checkout it returns 0.
func sourceDateEpoch(root string) (int64, error) {
	if s := os.Getenv(EnvSourceDateEpoch); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("config: %s=%q is not a Unix time in seconds", EnvSourceDateEpoch, s)
		}
		return n, nil
	}
	return gitCommitTime(root), nil
}

func baseName(u string) string {
	u = strings.TrimSuffix(u, "/")
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndex(u, "/")+1:]
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// getenvOrEmpty is like getenv, but a variable set to the empty string
// means "empty", not "default".
func getenvOrEmpty(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
