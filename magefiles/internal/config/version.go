package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// VolumeIDPrefix starts the installer ISO's volume id; the version follows.
const VolumeIDPrefix = "NOVASPHERE "

// MaxVolumeIDLen is the ISO 9660 limit on the volume identifier, in bytes.
const MaxVolumeIDLen = 32

// MaxVersionLen is the longest version whose volume id still fits.
const MaxVersionLen = MaxVolumeIDLen - len(VolumeIDPrefix)

// ErrBadVersion marks a refused version.
var ErrBadVersion = errors.New("bad version")

var (
	dateRE   = regexp.MustCompile(`^\d{8}$`)
	semverRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?$`)
)

// acceptedForms ends every refusal: what a version may look like.
const acceptedForms = "use a date YYYYMMDD (for example 20261127) or a semantic version vX.Y.Z or vX.Y.Z-rc.N (for example v1.0.0, v1.2.0-rc.1)"

// ValidateVersion is the one check of a version, run when the
// configuration is loaded, before any stage: a date YYYYMMDD that exists in
// the calendar, or a semantic version vX.Y.Z with an optional -rc.N suffix
// and no leading zeros (SemVer 2.0.0, item 2), short enough for the volume
// id "NOVASPHERE <version>" to fit ISO 9660's 32 characters. The error says
// which rule the version breaks.
func ValidateVersion(v string) error {
	if rule := brokenRule(v); rule != "" {
		return fmt.Errorf("%w: version %q is not accepted: %s; %s", ErrBadVersion, v, rule, acceptedForms)
	}
	if n := len(VolumeIDPrefix + v); n > MaxVolumeIDLen {
		return fmt.Errorf("%w: version %q makes the volume id %q %d characters long; ISO 9660 allows %d, so the version may have at most %d characters",
			ErrBadVersion, v, VolumeIDPrefix+v, n, MaxVolumeIDLen, MaxVersionLen)
	}
	return nil
}

// brokenRule names the rule v breaks, or "" when it is well formed.
func brokenRule(v string) string {
	switch {
	case dateRE.MatchString(v):
		return dateRule(v)
	case semverRE.MatchString(v):
		return semverRule(v)
	case strings.HasPrefix(v, "v") && strings.Contains(v, "+"):
		return "build metadata (+...) is not supported"
	case strings.HasPrefix(v, "v") && strings.Contains(v, "-") && !strings.Contains(v, "-rc."):
		return "the only pre-release form is -rc.N"
	}
	return "it is neither a date nor a semantic version"
}

// dateRule checks that YYYYMMDD is a real calendar date.
func dateRule(v string) string {
	month, _ := strconv.Atoi(v[4:6])
	if month < 1 || month > 12 {
		return fmt.Sprintf("month %s does not exist", v[4:6])
	}
	if _, err := time.Parse("20060102", v); err != nil {
		return fmt.Sprintf("%s-%s-%s is not a date", v[:4], v[4:6], v[6:])
	}
	return ""
}

// semverRule refuses numbers with leading zeros, which SemVer forbids and
// which would make v01.2.3 and v1.2.3 one version.
func semverRule(v string) string {
	m := semverRE.FindStringSubmatch(v)
	for i, part := range []string{"major", "minor", "patch", "rc number"} {
		if n := m[i+1]; len(n) > 1 && n[0] == '0' {
			return fmt.Sprintf("the %s %q has a leading zero, which SemVer forbids", part, n)
		}
	}
	return ""
}

// VolumeID is the installer ISO's volume id for a valid version.
func VolumeID(version string) string { return VolumeIDPrefix + version }
