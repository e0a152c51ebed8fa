package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
)

// problems collects every wrong setting of one Load, so that all are
// reported together, one a line.
type problems struct{ list []error }

func (p *problems) add(errs ...error) {
	for _, err := range errs {
		if err != nil {
			p.list = append(p.list, err)
		}
	}
}

// ProblemsError is Load's error: every setting that is wrong, each with
// what is wrong and what to do.
type ProblemsError struct {
	// Problems are the messages, each naming its setting.
	Problems []error
}

// Error is the problem, or a heading and one problem a line.
func (e *ProblemsError) Error() string {
	if len(e.Problems) == 1 {
		return "config: " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d settings are wrong:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

// Unwrap gives the problems to errors.Is and errors.As.
func (e *ProblemsError) Unwrap() []error { return e.Problems }

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ProblemsError{Problems: p.list}
}

// multiLine are the settings whose value may span lines (an armored key).
var multiLine = map[string]bool{EnvSigningKey: true, EnvSigningPass: true}

// checkOneLine refuses a control character (a newline, a tab) in a setting
// that is one line: it would break a kernel command line, a GRUB menu, a
// table or a log line.
func checkOneLine(name, value string) error {
	if multiLine[name] {
		return nil
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s=%q holds a control character (%U): give it on one line", name, value, r)
		}
	}
	return nil
}

// ErrBadKernelArgs marks KERNEL_ARGS that cannot be put on a GRUB kernel
// line as written.
var ErrBadKernelArgs = errors.New("kernel arguments GRUB would change or refuse")

// CheckKernelArgs applies CheckKernelArg to every blank-separated argument.
func CheckKernelArgs(args string) error {
	for _, f := range strings.Fields(args) {
		if err := CheckKernelArg(f); err != nil {
			return err
		}
	}
	return nil
}

// CheckKernelArg refuses an argument GRUB's script language would change
// before the kernel sees it: control characters, a leading '#', quotes,
// '$', backslashes other than "\;", braces and shell operators.
func CheckKernelArg(arg string) error {
	for _, r := range arg {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q contains a control character", ErrBadKernelArgs, arg)
		}
	}
	if strings.HasPrefix(arg, "#") {
		return fmt.Errorf("%w: %q starts with '#', which begins a comment in GRUB", ErrBadKernelArgs, arg)
	}
	if strings.ContainsAny(arg, `"'`) {
		return fmt.Errorf("%w: %q contains a quote, which GRUB removes before the kernel sees the argument; leave quotes out (an argument cannot hold a blank)", ErrBadKernelArgs, arg)
	}
	if strings.Contains(arg, "$") {
		return fmt.Errorf("%w: %q contains '$', which GRUB expands as a variable; the kernel would not get it as written", ErrBadKernelArgs, arg)
	}
	if strings.Contains(strings.ReplaceAll(arg, `\;`, ""), `\`) {
		return fmt.Errorf("%w: %q contains a backslash, which GRUB removes (only \"\\;\" is taken, as ';')", ErrBadKernelArgs, arg)
	}
	for _, c := range []string{"{", "}", "|", "&", "<", ">"} {
		if strings.Contains(arg, c) {
			return fmt.Errorf("%w: %q contains %q, which GRUB's script language does not pass to the kernel", ErrBadKernelArgs, arg, c)
		}
	}
	return nil
}

// CheckGrubTitle refuses a menu title template with a control character
// (a newline would end the menuentry line).
func CheckGrubTitle(template string) error {
	for _, r := range template {
		if unicode.IsControl(r) {
			return fmt.Errorf("grub menu title %q contains a control character (%U): give it on one line", template, r)
		}
	}
	return nil
}

// Timeout ranges: a boot or an install shorter than a second proves
// nothing, and one longer than a day is a mistake (a wrapped number).
const (
	MinTimeout = time.Second
	MaxTimeout = 24 * time.Hour
)

// durationRE matches what time.ParseDuration reads, so that a duration it
// refuses only for overflowing is called out of range.
var durationRE = regexp.MustCompile(`^[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$`)

// parseTimeout reads a Go duration ("3m", "90s") or a whole number of
// seconds, between MinTimeout and MaxTimeout.
func parseTimeout(v string) (time.Duration, error) {
	rangeErr := fmt.Errorf("out of range: use 1s to 24h (for example 3m, 90s or 600)")
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n < 0 || n > int64(MaxTimeout/time.Second) {
			return 0, rangeErr
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(v); err != nil {
		if durationRE.MatchString(v) {
			return 0, rangeErr
		}
		return 0, fmt.Errorf("not a duration: use for example 3m, 90s or a number of seconds (1s to 24h)")
	}
	if d < MinTimeout || d > MaxTimeout {
		return 0, rangeErr
	}
	return d, nil
}

// MaxGrubTimeout is the longest boot menu timeout accepted, in seconds.
const MaxGrubTimeout = 3600

// ValidateGrubTimeout accepts "" (keep the base's) or a whole number of
// seconds from 0 to MaxGrubTimeout.
func ValidateGrubTimeout(t string) error {
	if t == "" {
		return nil
	}
	n, err := strconv.Atoi(t)
	if err != nil && !errors.Is(err, strconv.ErrRange) || err == nil && strconv.Itoa(n) != t {
		return fmt.Errorf("grub menu timeout %q is not a whole number of seconds (0 to %d)", t, MaxGrubTimeout)
	}
	if err != nil || n < 0 || n > MaxGrubTimeout {
		return fmt.Errorf("grub menu timeout %q is out of range: use 0 to %d seconds", t, MaxGrubTimeout)
	}
	return nil
}

// checkRelease checks the release settings' forms; what they point at
// (the repository, the server) is the release checklist's to find.
func checkRelease(s ReleaseSettings) []error {
	var errs []error
	if s.Repository != "" && !github.ValidRepo(s.Repository) {
		errs = append(errs, fmt.Errorf("%s=%q is not owner/name", EnvRepository, s.Repository))
	}
	if s.APIURL != "" {
		errs = append(errs, CheckAPIURL(s.APIURL))
	}
	errs = append(errs, CheckGHHost(s.Host))
	if s.SCPTarget != "" {
		if _, err := servercopy.ParseTarget(s.SCPTarget); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvSCPTarget, err))
		}
	}
	if _, err := servercopy.ParseTool(s.CopyTool); err != nil {
		errs = append(errs, fmt.Errorf("%s=%w", EnvCopyTool, err))
	}
	return errs
}

// checkSigningKey loads RELEASE_SIGNING_KEY as sign will (armored private
// key, passphrase, expiry, an algorithm GnuPG 2.2 verifies) and, when the
// repository has the release public key, proves by a probe signature that
// it is that key: a wrong key or passphrase is found before the build, not
// after verify. Nothing of the key or the passphrase is in a message.
func (c Config) checkSigningKey() error {
	if c.Signing.Key == "" {
		return nil
	}
	s, err := signing.LoadSigningKey([]byte(c.Signing.Key), []byte(c.Signing.Passphrase))
	if err != nil {
		return fmt.Errorf("%s: %w", EnvSigningKey, err)
	}
	pub, err := os.ReadFile(filepath.Join(c.Root, ReleaseKeyPath))
	if err != nil {
		return nil // not committed yet: sign says so
	}
	probe := []byte("novasphere-iso: RELEASE_SIGNING_KEY probe\n")
	sig, err := s.Sign(probe)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvSigningKey, err)
	}
	if _, err := signing.Verify(pub, probe, sig); err != nil {
		return fmt.Errorf("%s: key %s is not the release key %s: %w", EnvSigningKey, s.Fingerprint(), ReleaseKeyPath, err)
	}
	return nil
}

// CheckAPIURL refuses a GITHUB_API_URL that is not an http(s) URL with a
// host.
func CheckAPIURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s=%q is not an http(s) URL such as https://api.github.com or https://ghe.example.com/api/v3", EnvAPIURL, v)
	}
	return nil
}

// CheckGHHost refuses a GH_HOST that is not a host name ("" is fine).
func CheckGHHost(h string) error {
	if strings.ContainsAny(h, "/:@ ") {
		return fmt.Errorf("%s=%q is not a host name (for example github.com or ghe.example.com)", EnvGHHost, h)
	}
	return nil
}

// checkBaseURL accepts http(s)://, file:// or a plain path.
func checkBaseURL(u string) error {
	if u == "" {
		return nil
	}
	scheme, _, ok := strings.Cut(u, "://")
	if !ok {
		return nil // a plain path
	}
	switch scheme {
	case "http", "https", "file":
		return nil
	}
	return fmt.Errorf("%s=%q: use an http(s):// or file:// URL, or a plain path", EnvBaseISOURL, u)
}
