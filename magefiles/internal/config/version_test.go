package config

import (
	"errors"
	"strings"
	"testing"
)

func TestVolumeIDFitsForEveryAcceptedVersion(t *testing.T) {
	for _, v := range []string{"20261127", "v1.2.3", "v10.20.30-rc.4", "v0.0.0", "v1.0.0-rc.0"} {
		if err := ValidateVersion(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if id := VolumeID(v); id != "NOVASPHERE "+v || len(id) > MaxVolumeIDLen {
			t.Errorf("%s: volume id %q", v, id)
		}
	}
}

func TestRefusedVersionsNameTheVersion(t *testing.T) {
	for _, v := range []string{"", "1.2.3", "v1.2", "2026-11-27", "20261399", "v1.2.3-beta", "latest", "v1000000.2000000.3000000-rc.1"} {
		err := ValidateVersion(v)
		if !errors.Is(err, ErrBadVersion) {
			t.Errorf("%q: got %v, want ErrBadVersion", v, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+v+`"`) {
			t.Errorf("%q: error does not name the version: %v", v, err)
		}
	}
}

func TestTooLongVersionNamesTheVolumeIDLimit(t *testing.T) {
	err := ValidateVersion("v1000000.2000000.3000000-rc.1")
	if err == nil || !strings.Contains(err.Error(), "32") || !strings.Contains(err.Error(), "at most 21") {
		t.Fatalf("error should name the 32-character limit and the longest version: %v", err)
	}
}

// Each refusal says which rule the version breaks, so the user knows what
// to change.
func TestRefusedVersionsSayWhichRuleTheyBreak(t *testing.T) {
	for v, rule := range map[string]string{
		"v01.2.3":       `the major "01" has a leading zero`,
		"v1.02.3":       `the minor "02" has a leading zero`,
		"v1.2.03":       `the patch "03" has a leading zero`,
		"v1.0.0-rc.01":  `the rc number "01" has a leading zero`,
		"20261301":      "month 13 does not exist",
		"20230229":      "2023-02-29 is not a date",
		"20261100":      "2026-11-00 is not a date",
		"v1.2.3+build5": "build metadata (+...) is not supported",
		"v1.2.3-beta.1": "the only pre-release form is -rc.N",
		"1.0":           "neither a date nor a semantic version",
	} {
		err := ValidateVersion(v)
		if err == nil {
			t.Errorf("%q accepted", v)
			continue
		}
		if !strings.Contains(err.Error(), rule) || !strings.Contains(err.Error(), "vX.Y.Z") {
			t.Errorf("%q: %v\nwant the rule %q and the accepted forms", v, err, rule)
		}
	}
	for _, ok := range []string{"20240229", "v0.1.0", "v10.0.0-rc.10"} {
		if err := ValidateVersion(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}
