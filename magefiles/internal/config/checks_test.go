package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/signing/signingtest"
)

// checkout makes a small git checkout with a tracked file in each payload
// folder, in magefiles/ and at the top, and points HOME at a directory of
// its own, so the rule is tested against a real `git ls-files`.
func checkout(t *testing.T) (root, home string) {
	t.Helper()
	tmp := t.TempDir()
	root, home = filepath.Join(tmp, "home", "src", "repo"), filepath.Join(tmp, "home")
	for _, f := range []string{"go.mod", "README.md", "magefiles/targets/x.go", "charts/novasphere/Chart.yaml",
		"configs/a.yaml", "scripts/s.sh", "packages/.gitkeep", "testdata/deep/f"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyBases(t, root)
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}} {
		if out, err := exec.Command("git", append([]string{"-C", root}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	t.Setenv("HOME", home)
	return root, home
}

// Item 1 and 2 of issue 20: an output directory that is, contains or lies
// inside what the pipeline must never delete or pack is refused when the
// configuration loads, naming the setting and what it overlaps.
func TestOutputDirectoriesMustNotOverlapTheCheckout(t *testing.T) {
	root, home := checkout(t)
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.Symlink(root, filepath.Join(home, "link")); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{EnvVersion: "20261127", EnvSourceDateEpoch: "1", EnvCacheDir: cache}
	refused := []struct{ name, value, want string }{
		{EnvDistDir, ".", "DIST_DIR=" + root + " is the repository checkout"},
		{EnvBuildDir, "./", "BUILD_DIR=" + root + " is the repository checkout"},
		{EnvDistDir, "configs/..", "is the repository checkout"},
		{EnvDistDir, filepath.Join(home, "link"), "is the repository checkout"},
		{EnvDistDir, filepath.Dir(root), "contains the repository checkout"},
		{EnvDistDir, "charts", "is the payload folder charts/"},
		{EnvDistDir, "charts/out", "lies inside the payload folder charts/"},
		{EnvBuildDir, "packages/b", "lies inside the payload folder packages/"},
		{EnvBuildDir, "scripts", "is the payload folder scripts/"},
		{EnvDistDir, "configs/x/y", "lies inside the payload folder configs/"},
		{EnvDistDir, "magefiles/out", "lies inside the repository's tracked magefiles"},
		{EnvDistDir, "testdata", "is the repository's tracked testdata"},
		{EnvDistDir, "README.md", "is the repository's tracked README.md"},
		{EnvDistDir, ".git", "is the repository's tracked .git"},
		{EnvDistDir, "/", "is the root directory /"},
		{EnvBuildDir, home, "is the home directory"},
		{EnvDistDir, cache, "is the download cache"},
		{EnvBuildDir, filepath.Join(cache, "b"), "lies inside the download cache"},
		{EnvDistDir, filepath.Dir(cache), "contains the download cache"},
		{EnvCacheDir, ".", "CACHE_DIR=" + root + " is the repository checkout"},
		{EnvCacheDir, "charts/c", "CACHE_DIR=" + root + "/charts/c lies inside the payload folder charts/"},
		{EnvCacheDir, home, "CACHE_DIR=" + home + " is the home directory"},
		{EnvCacheDir, "/", "CACHE_DIR=/ is the root directory"},
	}
	for _, tc := range refused {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tc.name] = tc.value
			_, err := Load(root, MapEnv(env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	for _, ok := range []map[string]string{
		{}, {EnvDistDir: "out"}, {EnvBuildDir: "build/inner", EnvDistDir: filepath.Join(home, "isos")},
		{EnvDistDir: filepath.Join(t.TempDir(), "d")}, {EnvCacheDir: filepath.Join(home, ".cache", "n")},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range ok {
			env[k] = v
		}
		if _, err := Load(root, MapEnv(env)); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
}

// Item 6: every problem is reported at load, together, one a line, each
// naming its setting; rules that customize applied after fetch (KERNEL_ARGS,
// a newline in GRUB_TITLE) are among them.
func TestLoadReportsEveryProblemTogether(t *testing.T) {
	_, err := load(t, map[string]string{
		EnvVersion: "1.0", EnvKernelArgs: "a=$HOME", EnvGrubTitle: "Install\nNovaSphere", EnvGrubTimeout: "soon",
		EnvBootTimeout: "18446744074", EnvSplit: "2", EnvCopyTool: "ftp", EnvRepository: "nope",
		EnvSCPTarget: "host-without-path", EnvAPIURL: "ftp://x", EnvBaseISOURL: "gopher://x/y.iso", EnvBaseISOSHA256: strings.Repeat("a", 64),
		EnvSSHArgs: "-i key\n-o Port=2", EnvVerifyBoot: "maybe", EnvSourceDateEpoch: "x",
	})
	var pe *ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a ProblemsError", err)
	}
	lines := strings.Split(err.Error(), "\n")
	wants := []string{"VERSION:", "KERNEL_ARGS: ", "GRUB_TITLE=", "GRUB_TIMEOUT:", "VERIFY_BOOT_TIMEOUT=", "RELEASE_SPLIT=",
		"RELEASE_COPY_TOOL=", "GITHUB_REPOSITORY=", "RELEASE_SCP_TARGET:", "GITHUB_API_URL=", "BASE_ISO_URL=",
		"RELEASE_SSH_ARGS=", "VERIFY_BOOT=", "SOURCE_DATE_EPOCH="}
	if want := len(wants) + 1; len(lines) != want {
		t.Errorf("%d lines, want a heading and one a problem (%d):\n%s", len(lines), want, err)
	}
	for _, w := range wants {
		n := 0
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "  "+w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines start with %q, want 1:\n%s", n, w, err)
		}
	}
	if !strings.Contains(err.Error(), "GRUB would change") || !strings.Contains(err.Error(), "settings are wrong") {
		t.Errorf("the message does not say what is wrong:\n%s", err)
	}
}

// Item 5: timeouts are range-checked, with the range in the message, and
// never wrap around.
func TestTimeoutsOutOfRangeAreRefused(t *testing.T) {
	for _, v := range []string{"18446744074", "9223372037", "99999999999999999999", "0", "0s", "-3s", "500ms", "25h", "100000000h", "86401"} {
		for _, name := range []string{EnvBootTimeout, EnvInstallTimeout} {
			_, err := load(t, map[string]string{EnvVersion: "20261127", name: v})
			if err == nil || !strings.Contains(err.Error(), "out of range: use 1s to 24h") || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: error = %v, want the range", name, v, err)
			}
		}
	}
	for v, want := range map[string]string{"90": "1m30s", "3m": "3m0s", "1s": "1s", "86400": "24h0m0s", " 24h ": "24h0m0s"} {
		c, err := load(t, map[string]string{EnvVersion: "20261127", EnvBootTimeout: v})
		if err != nil || c.Verify.BootTimeout.String() != want {
			t.Errorf("%q gave %v, %v; want %s", v, c.Verify.BootTimeout, err, want)
		}
	}
	for _, v := range []string{"3601", "99999999999999999999"} {
		if _, err := load(t, map[string]string{EnvVersion: "20261127", EnvGrubTimeout: v}); err == nil || !strings.Contains(err.Error(), "0 to 3600") {
			t.Errorf("GRUB_TIMEOUT=%s: %v, want the range", v, err)
		}
	}
}

// Item 5: blanks around a value are trimmed the same way for every setting
// (the passphrase aside, whose blanks are its own); a value of blanks only
// is empty.
func TestBlanksAreTrimmedForEverySetting(t *testing.T) {
	c, err := load(t, map[string]string{
		EnvVersion: " v1.2.3\t", EnvGrubTitle: " T {version} ", EnvKernelArgs: "  quiet \n", EnvDistDir: " /out ",
		EnvBaseISOSHA256: " " + seedSHA256 + " ", EnvRepository: " o/n ", EnvCopyTool: " scp ",
		EnvSCPTarget: " u@h:/p/ ", EnvSigningPass: " pass ", EnvGrubTimeout: " 5 ", EnvBootMarker: "  ",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Version, c.GrubTitle, c.KernelArgs, c.DistDir, c.BaseISOSHA256, c.Release.Repository,
		c.Release.CopyTool, c.Release.SCPTarget, c.GrubTimeout}
	want := []string{"v1.2.3", "T {version}", "quiet", "/out", seedSHA256, "o/n", "scp", "u@h:/p/", "5"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}
	if c.Signing.Passphrase != " pass " || c.Verify.BootMarker != nil {
		t.Errorf("passphrase changed (%q) or a blank marker kept (%v)", c.Signing.Passphrase, c.Verify.BootMarker)
	}
}

// Item 7: settings shows effective values, where each came from (a value
// known only later says so in FROM), whole meanings in plain text, and one
// line a setting whatever the values hold.
func TestDumpSettingsShowsEffectiveValues(t *testing.T) {
	c, err := load(t, map[string]string{EnvSourceDateEpoch: "1700000000", EnvGrubTitle: "a\nb"})
	if err == nil {
		t.Fatal("a newline in GRUB_TITLE was accepted")
	}
	var b strings.Builder
	if err := c.DumpSettings(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(Settings)+1 {
		t.Errorf("%d lines for %d settings:\n%s", len(lines), len(Settings), out)
	}
	if strings.Contains(out, "`") {
		t.Errorf("Markdown backticks in the terminal table:\n%s", out)
	}
	row := func(name string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return f
			}
		}
		t.Fatalf("no row for %s:\n%s", name, out)
		return nil
	}
	today := time.Now().UTC().Format("20060102")
	for name, want := range map[string][]string{
		EnvVersion:         {today, "default"},
		EnvBuildDir:        {c.Root + "/build", "default"},
		EnvKernelArgs:      {"console=ttyS0,115200n8", "console=tty0", "default"},
		EnvGrubTimeout:     {"-", "default:", "the", "base", "ISO's"},
		EnvGrubTitle:       {`"a\nb"`, "environment"},
		EnvBootTimeout:     {"5m", "default"},
		EnvNoInstall:       {"0", "default"},
		EnvRepository:      {"-", "default:", "the", "origin", "remote"},
		EnvSigningKey:      {"unset", "default"},
		EnvBaseISOURL:      {"https://releases.ubuntu.com/22.04.3/ubuntu-22.04.3-live-server-amd64.iso", "default"},
		EnvSourceDateEpoch: {"1700000000", "environment"},
	} {
		if got := row(name)[1:]; strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("%s row %v, want it to start %v", name, got, want)
		}
	}
	if !strings.Contains(out, "e.g. https://ghe.example.com/api/v3 for GitHub Enterprise Server") {
		t.Errorf("GITHUB_API_URL's meaning is cut:\n%s", out)
	}
}

// Item 6: RELEASE_SIGNING_KEY is loaded at load time as sign loads it, and
// proven to be the committed release key, without a word of the key.
func TestSigningKeyIsCheckedAtLoad(t *testing.T) {
	root, _ := checkout(t)
	release, other := signingtest.NewKey(t, "Release"), signingtest.NewKey(t, "Other")
	if err := os.MkdirAll(filepath.Join(root, "configs", "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ReleaseKeyPath), release.Public, 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(key string) Env {
		return MapEnv(map[string]string{EnvVersion: "20261127", EnvSourceDateEpoch: "1", EnvSigningKey: key})
	}
	if _, err := Load(root, env(string(release.Private))); err != nil {
		t.Errorf("the release key was refused: %v", err)
	}
	for key, want := range map[string]string{
		string(other.Private):  "is not the release key " + ReleaseKeyPath,
		string(release.Public): "public key given instead of the private key",
		"secret-ish garbage":   "RELEASE_SIGNING_KEY: ",
	} {
		_, err := Load(root, env(key))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		} else if strings.Contains(err.Error(), "garbage") || strings.Contains(err.Error(), "PRIVATE KEY BLOCK-----\n") {
			t.Errorf("the message shows the key: %v", err)
		}
	}
}
