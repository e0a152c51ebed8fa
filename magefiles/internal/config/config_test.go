package config

import (
	"os"
	"strings"
	"testing"
)

func TestValidateVersion(t *testing.T) {
	for _, v := range []string{"20261127", "v1.0.0", "v10.2.33", "v1.2.0-rc.1"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ValidateVersion(%q) = %v, want ok", v, err)
		}
	}
	for _, v := range []string{"", "1.0.0", "v1.0", "v1.0.0-beta", "20261332", "2026-11-27", "v1.0.0-rc.1 ", "latest"} {
		err := ValidateVersion(v)
		if err == nil {
			t.Errorf("ValidateVersion(%q) accepted a bad version", v)
			continue
		}
		if !strings.Contains(err.Error(), "YYYYMMDD") || !strings.Contains(err.Error(), "vX.Y.Z") {
			t.Errorf("error %q does not list the accepted forms", err)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Setenv(EnvKernelArgs, "") // restored after the test
	os.Unsetenv(EnvKernelArgs)
	for _, k := range []string{EnvVersion, EnvBaseISOURL, EnvBaseISOSHA256, EnvBaseISOSumsURL, EnvDistDir, EnvBuildDir, EnvCacheDir} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv(EnvSourceDateEpoch, "1700000000")
	c, err := Load("/repo")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Version) != 8 || ValidateVersion(c.Version) != nil {
		t.Errorf("default version %q is not today's YYYYMMDD", c.Version)
	}
	if c.DistDir != "dist" || c.BuildDir != "build" || c.CacheDir != "/xdg/novasphere-iso" {
		t.Errorf("dirs = %q %q %q", c.DistDir, c.BuildDir, c.CacheDir)
	}
	if c.BaseISOSHA256 != DefaultBaseISOSHA256 || c.BaseISOName != DefaultBaseISOName {
		t.Errorf("base = %q %q", c.BaseISOName, c.BaseISOSHA256)
	}
	if len(c.BaseLocations) != 2 || !strings.HasSuffix(c.BaseLocations[1].SumsURL, "/22.04.3/SHA256SUMS") ||
		!strings.Contains(c.BaseLocations[1].ISOURL, "old-releases.ubuntu.com") {
		t.Errorf("locations = %+v", c.BaseLocations)
	}
	if c.KernelArgs != DefaultKernelArgs {
		t.Errorf("kernel args = %q, want the serial-console default", c.KernelArgs)
	}
	if c.SourceDateEpoch != 1700000000 {
		t.Errorf("epoch = %d", c.SourceDateEpoch)
	}
	if got := c.Path(c.DistDir); got != "/repo/dist" {
		t.Errorf("Path(dist) = %q", got)
	}
	if got := c.Path("/abs/dist"); got != "/abs/dist" {
		t.Errorf("Path(/abs/dist) = %q", got)
	}
	if got := c.WithVersion("v1.0.0").OutputISO(); got != "dist/novasphere-installer-v1.0.0.iso" {
		t.Errorf("OutputISO = %q", got)
	}
}

func TestLoadOverrides(t *testing.T) {
	t.Setenv(EnvVersion, "v2.1.0-rc.3")
	t.Setenv(EnvBaseISOURL, "/isos/custom.iso")
	t.Setenv(EnvBaseISOSHA256, strings.Repeat("ab", 32))
	t.Setenv(EnvDistDir, "/out")
	t.Setenv(EnvKernelArgs, "")
	c, err := Load("/repo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "v2.1.0-rc.3" || c.BaseISOName != "custom.iso" || c.DistDir != "/out" || c.KernelArgs != "" {
		t.Errorf("got %+v", c)
	}
	if len(c.BaseLocations) != 1 || c.BaseLocations[0].ISOURL != "/isos/custom.iso" {
		t.Errorf("locations = %+v", c.BaseLocations)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{EnvVersion, "1.0", "version \"1.0\" is not accepted"},
		{EnvBaseISOSHA256, "xyz", "BASE_ISO_SHA256=\"xyz\" is not a SHA-256"},
		{EnvSourceDateEpoch, "yesterday", "SOURCE_DATE_EPOCH=\"yesterday\""},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(EnvVersion, "20261127")
			t.Setenv(tc.env, tc.value)
			if _, err := Load("/repo"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCustomURLNeedsAPinOrSums(t *testing.T) {
	t.Setenv(EnvVersion, "20261127")
	t.Setenv(EnvBaseISOURL, "https://mirror.example/custom.iso")
	t.Setenv(EnvBaseISOSHA256, "")
	t.Setenv(EnvBaseISOSumsURL, "")
	_, err := Load("/repo")
	if err == nil || !strings.Contains(err.Error(), "BASE_ISO_SHA256") {
		t.Fatalf("error = %v, want a request for a pin", err)
	}
}
