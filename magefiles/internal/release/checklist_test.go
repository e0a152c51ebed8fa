package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
)

// TestEachUnmetChecklistLineStopsTheRelease breaks one condition at a time
// and checks the release stops at the checklist, names the failed line with
// a ✗ and how to fix it, and sends no write request to GitHub.
func TestEachUnmetChecklistLineStopsTheRelease(t *testing.T) {
	t.Parallel()
	noChangelogSection := strings.Replace(sampleChangelog, "## [1.0.0] - 2026-11-27", "## [0.9.0] - 2026-10-01", 1)
	noKnownIssues := strings.Replace(sampleChangelog, "### Known issues\n- Secure Boot must be disabled on some older firmware.\n", "", 1)
	emptyUpgrade := strings.Replace(sampleChangelog, "- Boot the new ISO and choose \"Install\"; existing data under /var/lib/novasphere is kept.\n", "<!-- TODO -->\n", 1)
	cases := []struct {
		name  string
		setup func(fx *fixture)
		opts  func(o *Options)
		want  []string
	}{
		{
			name:  "ISO not built",
			setup: func(fx *fixture) { must(t, os.Remove(filepath.Join(fx.dist, dist.ISOName(fx.version)))) },
			want:  []string{"✗ ISO built", "dist/novasphere-installer-v1.0.0.iso does not exist", "VERSION=v1.0.0 go run magefile.go verify"},
		},
		{
			name: "verify failed",
			setup: func(fx *fixture) {
				fx.editReport(func(m map[string]any) {
					m["passed"] = false
					m["checks"] = []map[string]any{{"name": "boot-uefi-disk", "passed": false, "detail": "timeout"}}
				})
			},
			want: []string{"✗ verify passed for this exact ISO", "verify-report.json says verify failed: boot-uefi-disk"},
		},
		{
			name: "verify report for another ISO digest",
			setup: func(fx *fixture) {
				fx.editReport(func(m map[string]any) { m["sha256"] = strings.Repeat("0", 64) })
			},
			want: []string{"✗ verify passed for this exact ISO", "it changed after verify ran"},
		},
		{
			name: "verify skipped the boots",
			setup: func(fx *fixture) {
				fx.editReport(func(m map[string]any) {
					m["checks"] = []map[string]any{
						{"name": "payload", "passed": true, "detail": "ok"},
						{"name": "boot-bios-cdrom", "passed": true, "skipped": true, "detail": "VERIFY_BOOT=0"},
					}
				})
			},
			want: []string{"✗ verify passed for this exact ISO", "verify skipped boot-bios-cdrom", "VERIFY_BOOT=1"},
		},
		{
			name: "verify booted with a custom marker",
			setup: func(fx *fixture) {
				fx.editReport(func(m map[string]any) { m["boot_marker"] = "." })
			},
			want: []string{"✗ verify passed for this exact ISO", `verify booted with the custom marker "." (VERIFY_BOOT_MARKER), not verify's default "(?:Command line:|NOVASPHERE-CMDLINE:)`,
				"a weaker marker can pass a boot of firmware that never loaded the ISO", "run verify again without VERIFY_BOOT_MARKER"},
		},
		{
			name: "verify report of an older verify without the boot marker",
			setup: func(fx *fixture) {
				fx.editReport(func(m map[string]any) { delete(m, "boot_marker") })
			},
			want: []string{"✗ verify passed for this exact ISO", "verify-report.json: it does not record the boot marker the boots waited for (it was written by an older verify): run verify again"},
		},
		{
			name:  "verify report missing",
			setup: func(fx *fixture) { must(t, os.Remove(filepath.Join(fx.dist, dist.VerifyReportName))) },
			want:  []string{"✗ verify passed for this exact ISO", "verify-report.json does not exist"},
		},
		{
			name: "SHA256SUMS of another ISO",
			setup: func(fx *fixture) {
				other := []byte(strings.Repeat("1", 64) + "  " + dist.ISOName(fx.version) + "\n")
				fx.writeDist(dist.SHA256SumsName, other)
				fx.sign(other) // signed, so that only the digest is wrong
			},
			want: []string{"✗ SHA256SUMS, MD5SUMS and build record match the ISO", "SHA256SUMS gives 1111"},
		},
		{
			name:  "build record missing",
			setup: func(fx *fixture) { must(t, os.Remove(filepath.Join(fx.dist, dist.BuildRecordName(fx.version)))) },
			want:  []string{"✗ SHA256SUMS, MD5SUMS and build record match the ISO", "novasphere-installer-v1.0.0.build.json does not exist"},
		},
		{
			name:  "git work tree not clean",
			setup: func(fx *fixture) { fx.write("charts/values.yaml", "replicas: 3\n") },
			want:  []string{"✗ git work tree clean", "?? charts/", "commit or stash them"},
		},
		{
			name:  "no CHANGELOG section for the version",
			setup: func(fx *fixture) { fx.write(ChangelogName, noChangelogSection); fx.commit("changelog") },
			want:  []string{"✗ CHANGELOG.md has a section for v1.0.0", `no heading "## [1.0.0] - YYYY-MM-DD"`, `move the entries under "## [Unreleased]"`},
		},
		{
			name:  "no Known issues",
			setup: func(fx *fixture) { fx.write(ChangelogName, noKnownIssues); fx.commit("changelog") },
			want:  []string{`✗ release notes have "Known issues" and "Upgrade"`, `no "### Known issues" subsection`},
		},
		{
			name:  "empty Upgrade",
			setup: func(fx *fixture) { fx.write(ChangelogName, emptyUpgrade); fx.commit("changelog") },
			want:  []string{`✗ release notes have "Known issues" and "Upgrade"`, `"### Upgrade" is empty`},
		},
		{
			name: "already published with different content",
			setup: func(fx *fixture) {
				fx.gh.Seed(fx.version, false, false, time.Now().Add(-time.Hour), map[string][]byte{dist.ISOName(fx.version): randomBytes(9, len(fx.iso))})
			},
			want: []string{"✗ v1.0.0 not already published with different content", "the published release v1.0.0 already has different content", "run again with -force", "release:rollback v1.0.0"},
		},
		{
			name:  "ISO over the size limit and splitting disabled",
			setup: func(fx *fixture) { fx.env[config.EnvSplit] = "0" },
			opts:  func(o *Options) { o.AssetLimit, o.PartSize = 512<<10, 256<<10 },
			want:  []string{"✗ every asset under GitHub's 512.0 KiB limit", "RELEASE_SPLIT=0 forbids splitting", "unset RELEASE_SPLIT"},
		},
		{
			name:  "no token",
			setup: func(fx *fixture) { delete(fx.env, config.EnvGHToken) },
			want:  []string{"✗ GitHub: novasphere/novasphere-iso via", "no GitHub token: set GH_TOKEN or GITHUB_TOKEN"},
		},
		{
			name:  "token refused",
			setup: func(fx *fixture) { fx.env[config.EnvGHToken] = "ghp_revokedTokenXXXXXXXXXXXXXXXXXXXXXX" },
			want:  []string{"✗ GitHub: novasphere/novasphere-iso via", "GitHub refused the token from GH_TOKEN: HTTP 401: Bad credentials"},
		},
		{
			name:  "repository unknown",
			setup: func(fx *fixture) { fx.env[config.EnvRepository] = "novasphere/other" },
			want:  []string{"✗ GitHub: novasphere/other via", "repository novasphere/other not found, or the token from GH_TOKEN cannot see it"},
		},
		{
			name:  "nobody can log in to the installed machine",
			setup: func(fx *fixture) {},
			opts:  func(o *Options) { o.Login = &customize.Login{Username: "novasphere", InstallServer: true} },
			want:  []string{"✗ an operator can log in to the installed machine", "set ADMIN_AUTHORIZED_KEYS to a file of OpenSSH public keys", "ssh.authorized-keys in configs/autoinstall/user-data"},
		},
		{
			// config refuses it at load; the checklist still does, for
			// callers that build Options themselves.
			name:  "server target malformed",
			setup: func(fx *fixture) {},
			opts:  func(o *Options) { o.Settings.SCPTarget = "releases.example.com" },
			want:  []string{"✗ server copy to releases.example.com", "is not user@host:/path/"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, "v1.0.0", 600<<10)
			tc.setup(fx)
			mods := []func(*Options){}
			if tc.opts != nil {
				mods = append(mods, tc.opts)
			}
			out, err := fx.run(mods...)
			if !errors.Is(err, ErrChecklist) {
				t.Fatalf("release: %v, want the checklist to stop it\n%s", err, out)
			}
			if w := fx.gh.Writes(); len(w) != 0 {
				t.Errorf("%d write request(s) despite the failed checklist: %v", len(w), w)
			}
			if got := strings.Count(out, "  ✗ "); got != 1 {
				t.Errorf("%d failed lines, want exactly 1:\n%s", got, out)
			}
			for _, want := range append(tc.want, "1 of ", "nothing was uploaded, copied or changed") {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "actions for") {
				t.Errorf("actions were listed after a failed checklist:\n%s", out)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDryRunWithoutTokenStillChecksTheRest(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "v1.0.0", 64<<10)
	delete(fx.env, config.EnvGHToken)
	out, err := fx.run(dryRun)
	if err != nil {
		t.Fatalf("dry run without token: %v\n%s", err, out)
	}
	for _, want := range []string{"- GitHub: novasphere/novasphere-iso", "no GH_TOKEN or GITHUB_TOKEN, so GitHub was not asked (dry run)", "create or reuse the draft release v1.0.0 (GitHub not read: no token)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := fx.gh.RequestCount(); n != 0 {
		t.Errorf("GitHub was asked %d time(s) without a token", n)
	}
}
