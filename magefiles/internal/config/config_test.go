package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedSHA256 is the digest of the seed's base, ubuntu-22.04.3, as
// configs/bases.lock locks it.
const seedSHA256 = "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd"

// testRoot is a repository root holding only the committed
// configs/bases.yaml and configs/bases.lock.
func testRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyBases(t, root)
	return root
}

// copyBases copies the committed configs/bases.yaml and configs/bases.lock
// into root.
func copyBases(t *testing.T, root string) {
	t.Helper()
	repo, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"configs/bases.yaml", "configs/bases.lock"} {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	return Load(testRoot(t), MapEnv(env))
}

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
	c, err := load(t, map[string]string{EnvXDGCacheHome: "/xdg", EnvSourceDateEpoch: "1700000000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Version) != 8 || ValidateVersion(c.Version) != nil {
		t.Errorf("default version %q is not today's YYYYMMDD", c.Version)
	}
	root := filepath.Dir(c.BuildDir)
	if c.DistDir != root+"/dist" || c.CacheDir != "/xdg/novasphere-iso" {
		t.Errorf("dirs = %q %q %q", c.DistDir, c.BuildDir, c.CacheDir)
	}
	if c.Base.ID != "ubuntu-22.04.3" || !c.BaseIsDefault || !c.BaseIsLocked || c.BasePinned ||
		c.BaseISOSHA256 != seedSHA256 ||
		c.BaseISOName != "ubuntu-22.04.3-live-server-amd64.iso" {
		t.Errorf("base = %s %q %q, default %v, locked %v", c.Base.ID, c.BaseISOName, c.BaseISOSHA256, c.BaseIsDefault, c.BaseIsLocked)
	}
	if len(c.BaseLocations) != 2 || !strings.HasSuffix(c.BaseLocations[1].SumsURL, "/22.04.3/SHA256SUMS") ||
		!strings.Contains(c.BaseLocations[1].ISOURL, "old-releases.ubuntu.com") {
		t.Errorf("locations = %+v", c.BaseLocations)
	}
	if c.KernelArgs != DefaultKernelArgs || c.GrubTitle != DefaultGrubTitle || c.GrubTimeout != "" {
		t.Errorf("kernel args = %q, title %q, timeout %q", c.KernelArgs, c.GrubTitle, c.GrubTimeout)
	}
	if c.SourceDateEpoch != 1700000000 {
		t.Errorf("epoch = %d", c.SourceDateEpoch)
	}
	if c.KeyringPath != root+"/"+DefaultKeyringPath {
		t.Errorf("keyring = %q", c.KeyringPath)
	}
	if c.Verify.Boot != Auto || !c.Release.Split || c.NoInstall {
		t.Errorf("verify %+v, release split %v, no-install %v", c.Verify, c.Release.Split, c.NoInstall)
	}
}

func TestLoadOverrides(t *testing.T) {
	c, err := load(t, map[string]string{
		EnvVersion: "v2.1.0-rc.3", EnvBaseISOURL: "/isos/custom.iso", EnvBaseISOSHA256: strings.Repeat("ab", 32),
		EnvDistDir: "/out", EnvBuildDir: "tmp/build", EnvKernelArgs: "", EnvGrubTimeout: "7", EnvGrubTitle: "Go {version}",
		EnvVerifyBoot: "off", EnvBootTimeout: "90", EnvBootMarker: "hello", EnvGHToken: "", EnvGitHubToken: "t0k",
		EnvSplit: "no", EnvNoInstall: "TRUE",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "v2.1.0-rc.3" || c.BaseISOName != "custom.iso" || c.DistDir != "/out" || c.KernelArgs != "" {
		t.Errorf("got %+v", c)
	}
	if !strings.HasSuffix(c.BuildDir, "/tmp/build") || c.GrubTimeout != "7" || c.GrubTitle != "Go {version}" {
		t.Errorf("build dir %q, grub %q %q", c.BuildDir, c.GrubTimeout, c.GrubTitle)
	}
	if len(c.BaseLocations) != 1 || c.BaseLocations[0].ISOURL != "/isos/custom.iso" {
		t.Errorf("locations = %+v", c.BaseLocations)
	}
	if c.Verify.Boot != Off || c.Verify.BootTimeout != 90*time.Second || c.Verify.BootMarker.String() != "hello" {
		t.Errorf("verify = %+v", c.Verify)
	}
	if c.Release.Token != "t0k" || c.Release.TokenSource != EnvGitHubToken || c.Release.Split || !c.NoInstall {
		t.Errorf("release = %+v, no-install %v", c.Release, c.NoInstall)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{EnvVersion, "1.0", "version \"1.0\" is not accepted"},
		{EnvBaseISOSHA256, "xyz", "BASE_ISO_SHA256=\"xyz\" is not a SHA-256"},
		{EnvSourceDateEpoch, "yesterday", "SOURCE_DATE_EPOCH=\"yesterday\""},
		{EnvSourceDateEpoch, "99999999999", "ISO 9660 records dates up to 2155-12-31"},
		{EnvGrubTimeout, "soon", "GRUB_TIMEOUT: grub menu timeout \"soon\""},
		{EnvVerifyBoot, "maybe", "VERIFY_BOOT=\"maybe\": use 1 or 0"},
		{EnvBootTimeout, "-3s", "VERIFY_BOOT_TIMEOUT=\"-3s\""},
		{EnvBootMarker, "(", "VERIFY_BOOT_MARKER: not a regular expression"},
		{EnvNoInstall, "sometimes", "NOVASPHERE_NO_INSTALL=\"sometimes\""},
		{EnvSplit, "2", "RELEASE_SPLIT=\"2\""},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := load(t, map[string]string{EnvVersion: "20261127", tc.env: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCustomURLNeedsAPinOrSums(t *testing.T) {
	_, err := load(t, map[string]string{EnvVersion: "20261127", EnvBaseISOURL: "https://mirror.example/custom.iso"})
	if err == nil || !strings.Contains(err.Error(), "BASE_ISO_SHA256") {
		t.Fatalf("error = %v, want a request for a pin", err)
	}
}

// One parser decides every yes/no setting: "false" means false everywhere.
func TestParseBool(t *testing.T) {
	for s, want := range map[string]bool{"1": true, "true": true, "YES": true, " on ": true, "0": false, "false": false, "No": false, "off": false} {
		got, ok := ParseBool(s)
		if !ok || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "2", "y", "enable"} {
		if _, ok := ParseBool(s); ok {
			t.Errorf("ParseBool(%q) accepted", s)
		}
	}
	c, err := load(t, map[string]string{EnvNoInstall: "false"})
	if err != nil || c.NoInstall {
		t.Errorf("NOVASPHERE_NO_INSTALL=false gave NoInstall=%v, %v", c.NoInstall, err)
	}
}

// The version argument of release wins over VERSION, and the dump says so.
func TestArgumentOverridesTheEnvironment(t *testing.T) {
	c, err := Load(testRoot(t), MapEnv(map[string]string{EnvVersion: "dev"}).WithArgument(EnvVersion, "v1.2.4"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "v1.2.4" {
		t.Errorf("version %q", c.Version)
	}
	if o := origin(c, EnvVersion); o.From != "argument" || o.Value != "v1.2.4" {
		t.Errorf("origin = %+v", o)
	}
}

func origin(c Config, name string) Origin {
	for _, o := range c.Origins() {
		if o.Name == name {
			return o
		}
	}
	return Origin{}
}

// The dump shows every setting with where its value came from, and never a
// secret's value.
func TestDumpSettingsShowsOriginsAndHidesSecrets(t *testing.T) {
	c, err := load(t, map[string]string{EnvGHToken: "ghp_secretvalue", EnvDistDir: "/out", EnvSourceDateEpoch: "1700000000"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.DumpSettings(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "ghp_secretvalue") {
		t.Fatalf("the dump shows the token:\n%s", out)
	}
	for _, s := range Settings {
		if !strings.Contains(out, "\n"+s.Name+" ") {
			t.Errorf("the dump lacks %s:\n%s", s.Name, out)
		}
	}
	for name, want := range map[string]Origin{
		EnvGHToken:     {Value: "set", From: "environment"},
		EnvGitHubToken: {Value: "unset", From: "default"},
		EnvDistDir:     {Value: "/out", From: "environment"},
		EnvBuildDir:    {Value: c.Root + "/build", From: "default"},
	} {
		if o := origin(c, name); o.Value != want.Value || o.From != want.From {
			t.Errorf("%s: %+v, want %+v", name, o, want)
		}
	}
}

// README's configuration table is the settings table: every setting, its
// default and its meaning, and no other variable. To update README after
// changing Settings, run: go test ./magefiles/internal/config -run README -update
func TestREADMEConfigurationTableIsTheSettingsTable(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- settings -->\n", "<!-- /settings -->"
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
	}
	got, want := string(readme[i+len(begin):j]), MarkdownTable()
	if got == want {
		return
	}
	if *update {
		out := append(append(append([]byte{}, readme[:i+len(begin)]...), want...), readme[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's configuration table differs from config.Settings; run with -update.\ngot:\n%s\nwant:\n%s", got, want)
}

var update = flag.Bool("update", false, "rewrite README's configuration table from Settings")

// TestBase: BASE picks an entry of configs/bases.yaml; one the file lacks
// is refused naming the file; a base without a lock line has no pin.
func TestBase(t *testing.T) {
	c, err := load(t, map[string]string{EnvBase: "ubuntu-24.04.4", EnvCI: "woodpecker"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseIsDefault || c.BaseIsLocked || c.BaseISOSHA256 != "" || !c.CI || c.Base.SBOMDistro != "ubuntu-24.04" {
		t.Errorf("24.04.4: default %v, locked %v, pin %q, CI %v, distro %q", c.BaseIsDefault, c.BaseIsLocked, c.BaseISOSHA256, c.CI, c.Base.SBOMDistro)
	}
	if len(c.BaseLocations) != 2 || c.BaseLocations[0].SumsURL != "https://releases.ubuntu.com/24.04.4/SHA256SUMS" {
		t.Errorf("locations = %+v", c.BaseLocations)
	}
	_, err = load(t, map[string]string{EnvBase: "ubuntu-30.04"})
	if err == nil || !strings.Contains(err.Error(), `BASE="ubuntu-30.04" is not in configs/bases.yaml`) {
		t.Fatalf("unknown BASE: %v", err)
	}
}

// Issue 20 item 12: README's repository layout names every package under
// magefiles/internal.
func TestREADMELayoutListsEveryPackage(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "magefiles", "internal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !bytes.Contains(readme, []byte("\nmagefiles/internal/"+e.Name()+" ")) {
			t.Errorf("README's repository layout does not list magefiles/internal/%s", e.Name())
		}
	}
}

// A release's version argument is checked once, when the configuration is
// loaded, before any stage (moved from release's
// TestInvalidVersionIsRefusedBeforeAnything: release.Run no longer checks
// it again); the error says it is the argument, not VERSION.
func TestInvalidVersionArgumentIsRefusedByLoad(t *testing.T) {
	t.Parallel()
	env := MapEnv(map[string]string{EnvVersion: "20261127", EnvSourceDateEpoch: "1700000000"}).WithArgument(EnvVersion, "v1.0")
	_, err := Load(testRoot(t), env)
	if err == nil || !errors.Is(err, ErrBadVersion) || !strings.Contains(err.Error(), `the version argument: bad version: version "v1.0" is not accepted`) {
		t.Fatalf("Load with the version argument v1.0: %v, want the argument refused", err)
	}
}
