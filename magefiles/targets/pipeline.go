package targets

import (
	"context"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
)

// Fetch downloads the chosen Ubuntu live-server base ISO (BASE, default ubuntu-22.04.3) into the cache and verifies it.
//
// The download resumes after an interruption and shows progress. The file is
// accepted only when its SHA-256 equals the pin and the line for it in
// Ubuntu's SHA256SUMS, whose OpenPGP signature must come from the Ubuntu CD
// Image Automatic Signing Key (2012). Verified ISOs are kept in
// $CACHE_DIR/blobs/sha256/<digest>; a cache hit makes no network request and
// does not re-read the file (run fetch:recheck for that). Partial downloads
// stay in $CACHE_DIR/partial and resume on the next run; each location gets
// up to 3 attempts, and an attempt that receives nothing for a minute is
// stopped and resumed. Without a pin, the signed SHA256SUMS is read each run.
//
// Environment (mage settings shows every value and where it came from):
//
//	BASE                   the Ubuntu base, an id of configs/bases.yaml (default ubuntu-22.04.3); its pin is its line in configs/bases.lock
//	CI                     set (true): refuse a base without a line in configs/bases.lock instead of locking it at its first fetch
//	BASE_ISO_URL           base ISO location: http(s)://, file:// or a path (default: the base's urls); replaces the lock
//	BASE_ISO_SHA256        pinned SHA-256 of the base ISO; replaces the lock
//	BASE_ISO_SUMS_URL      SHA256SUMS location; its signature is the same URL plus .gpg
//	BASE_ISO_KEYRING       armored OpenPGP key(s) that must sign SHA256SUMS (default configs/keys/ubuntu-cdimage-2012.asc)
//	CACHE_DIR              download cache (default ${XDG_CACHE_HOME:-~/.cache}/novasphere-iso)
//	NOVASPHERE_NO_INSTALL  1: never install missing tools, print the apt-get line
//	NOVASPHERE_NO_WAIT     1: stop at once, naming it, when another run is writing the same output
//
// Two runs in one checkout never write one output at once: the second waits
// for the first, saying which process holds it.
func Fetch(ctx context.Context) error {
	return runThrough(ctx, stage.Fetch, config.OSEnv(), pipeline.ReleaseFlags{})
}

// Extract reads the files the remaster changes out of the base ISO, without root or loop mounts.
//
// It extracts /boot/grub/grub.cfg, /boot/grub/loopback.cfg, /md5sum.txt and
// /.disk/info with xorriso and records the base's boot equipment, all under
// $BUILD_DIR/extract. Runs fetch first.
//
// Environment: BUILD_DIR (default build); and fetch's: BASE, CI, BASE_ISO_URL,
// BASE_ISO_SHA256, BASE_ISO_SUMS_URL, BASE_ISO_KEYRING, CACHE_DIR,
// NOVASPHERE_NO_INSTALL, NOVASPHERE_NO_WAIT.
func Extract(ctx context.Context) error {
	return runThrough(ctx, stage.Extract, config.OSEnv(), pipeline.ReleaseFlags{})
}

// Customize writes the autoinstall config, grub menu and identity files for the version being built.
//
// user-data is validated against Ubuntu's autoinstall schema first; every
// installer kernel line gets the autoinstall arguments plus KERNEL_ARGS.
// Runs fetch and extract first.
//
// Environment:
//
//	VERSION       installer version, YYYYMMDD or vX.Y.Z[-rc.N] (default today's date, UTC); checked before any work
//	KERNEL_ARGS   extra kernel arguments (default "console=ttyS0,115200n8 console=tty0"; empty for none)
//	GRUB_TIMEOUT  menu timeout in whole seconds, 0 to 3600 (default: the base ISO's)
//	GRUB_TITLE    menu entry title; {version} is replaced (default "Install NovaSphere {version}")
//
// and those of fetch and extract: BASE, CI, BASE_ISO_URL, BASE_ISO_SHA256,
// BASE_ISO_SUMS_URL, BASE_ISO_KEYRING, CACHE_DIR, BUILD_DIR,
// NOVASPHERE_NO_INSTALL, NOVASPHERE_NO_WAIT.
func Customize(ctx context.Context) error {
	return runThrough(ctx, stage.Customize, config.OSEnv(), pipeline.ReleaseFlags{})
}

// Pack writes dist/novasphere-installer-<version>.iso: the base ISO plus the NovaSphere payload, still bootable in BIOS and UEFI.
//
// The payload (charts/, scripts/, configs/, packages/, VERSION and
// MANIFEST.sha256) goes under /novasphere; /md5sum.txt is regenerated. The
// ISO is written to a temporary name and renamed when complete, with
// dist/novasphere-installer-<version>.build.json beside it. Builds from the
// same inputs are byte-identical. When the output is newer than every input,
// pack says it is up to date and does nothing. Runs fetch, extract and
// customize first.
//
// Environment:
//
//	DIST_DIR           output directory (default dist)
//	SOURCE_DATE_EPOCH  timestamp of every file in the ISO (default the commit time of HEAD)
//
// and those of the stages before it: VERSION, KERNEL_ARGS, GRUB_TIMEOUT,
// GRUB_TITLE, BASE, CI, BASE_ISO_URL, BASE_ISO_SHA256, BASE_ISO_SUMS_URL,
// BASE_ISO_KEYRING, CACHE_DIR, BUILD_DIR, NOVASPHERE_NO_INSTALL,
// NOVASPHERE_NO_WAIT.
func Pack(ctx context.Context) error {
	return runThrough(ctx, stage.Pack, config.OSEnv(), pipeline.ReleaseFlags{})
}

// Verify builds the installer ISO and proves it right: checksums, boot records, payload, md5sum.txt, autoinstall, offline packages, QEMU boots and, with VERIFY_INSTALL=1, a real install.
//
// This is what CI runs. Every check runs and is reported in a table and in
// dist/verify-report.json; any failure makes verify exit non-zero. Then it
// writes the SBOM (dist/novasphere-installer-<version>.cdx.json, CycloneDX:
// base ISO, base packages from its casper manifests, offline .debs, payload
// files, Helm chart), SHA256SUMS and MD5SUMS of the ISO and the SBOM, and,
// with RELEASE_SIGNING_KEY, SHA256SUMS.gpg, checked against
// configs/keys/novasphere-release.asc. Runs the stages up to pack first.
//
// Environment:
//
//	VERIFY_BOOT                 1 to require the QEMU boots, 0 to skip them (default: on when qemu is installed)
//	VERIFY_BOOT_TIMEOUT         timeout per boot, a Go duration or seconds, 1s to 24h (default 5m)
//	VERIFY_BOOT_MARKER          regular expression that proves a boot (default: the autoinstall kernel command line)
//	VERIFY_INSTALL              1 runs the install proof: the ISO installed on a blank disk under QEMU (BIOS and UEFI,
//	                            no network), then the installed system booted and NovaSphere checked on it
//	                            (/opt/novasphere/VERSION, MANIFEST.sha256, /etc/novasphere, offline packages, the
//	                            first-boot unit); consoles and screen pictures in dist/install-*, firstboot-*
//	VERIFY_INSTALL_TIMEOUT      timeout of each install (default 30m under KVM, 3h under TCG; the installed
//	                            system's first boot: 5m under KVM, 30m under TCG)
//	VERIFY_FORCE                1 runs every check again; by default a report that passed for this exact ISO
//	                            (same SHA-256) and the same settings is reused, and verify says so
//	GITHUB_STEP_SUMMARY         GitHub Actions' job summary: the result table is appended as Markdown
//	RELEASE_SIGNING_KEY         armored OpenPGP private key that signs SHA256SUMS (secret; unset: not signed)
//	RELEASE_SIGNING_PASSPHRASE  its passphrase (secret)
//
// and those of the stages before it: VERSION, DIST_DIR, SOURCE_DATE_EPOCH,
// KERNEL_ARGS, GRUB_TIMEOUT, GRUB_TITLE, BASE, CI, BASE_ISO_URL, BASE_ISO_SHA256,
// BASE_ISO_SUMS_URL, BASE_ISO_KEYRING, CACHE_DIR, BUILD_DIR,
// NOVASPHERE_NO_INSTALL, NOVASPHERE_NO_WAIT.
func Verify(ctx context.Context) error {
	return runThrough(ctx, stage.Sign, config.OSEnv(), pipeline.ReleaseFlags{})
}

// Release publishes a verified installer ISO as a GitHub release and, when configured, to a server over scp.
//
// The version comes first, then the flags (mage release v1.0.0 -dryrun); version is YYYYMMDD or vX.Y.Z[-rc.N] and overrides VERSION. Release runs
// the whole pipeline through verify first. Before any upload a checklist
// must pass: verify passed, boots included, for this exact ISO; the git work
// tree is clean; CHANGELOG.md has a section for the version with "Known
// issues" and "Upgrade"; the version is not already published with other
// content. Re-running uploads nothing that is already there.
//
// Flags (a bare -draft means -draft=true, as mage's usage below writes it):
//
//	-draft   upload everything but leave the release a draft
//	-dryrun  run the checklist and print every action; upload, copy and change nothing
//	-force   allow replacing an asset whose content differs from this build
//
// Environment:
//
//	GH_TOKEN or GITHUB_TOKEN  GitHub token (never printed)
//	GITHUB_REPOSITORY         owner/name (default: the origin remote)
//	GITHUB_API_URL or GH_HOST GitHub API (default https://api.github.com)
//	RELEASE_SCP_TARGET        user@host:/path/ to also copy the assets to (rsync when present, else scp)
//	RELEASE_SSH_ARGS          extra ssh options for that copy, split on spaces (e.g. -i key -o Port=2222)
//	RELEASE_COPY_TOOL         rsync or scp, to force one
//	RELEASE_SPLIT             0 stops the release instead of splitting an ISO of 2 GiB or more into parts
//
// and those of verify and the stages before it (release always runs the
// install proof, as VERIFY_INSTALL=1): VERIFY_BOOT, VERIFY_BOOT_TIMEOUT,
// VERIFY_BOOT_MARKER, VERIFY_INSTALL_TIMEOUT, VERIFY_FORCE,
// GITHUB_STEP_SUMMARY, RELEASE_SIGNING_KEY,
// RELEASE_SIGNING_PASSPHRASE, DIST_DIR, SOURCE_DATE_EPOCH,
// KERNEL_ARGS, GRUB_TIMEOUT, GRUB_TITLE, BASE, CI, BASE_ISO_URL, BASE_ISO_SHA256,
// BASE_ISO_SUMS_URL, BASE_ISO_KEYRING, CACHE_DIR, BUILD_DIR,
// NOVASPHERE_NO_INSTALL, NOVASPHERE_NO_WAIT.
func Release(ctx context.Context, version string, draft, dryrun, force *bool) error {
	if err := versionArgument("release", version); err != nil {
		return err
	}
	// The argument is the version: an unrelated VERSION in the environment
	// must neither block nor change the release.
	env := config.OSEnv().WithArgument(config.EnvVersion, version).WithArgument(config.EnvVerifyInstall, "1")
	flags := pipeline.ReleaseFlags{Draft: isSet(draft), DryRun: isSet(dryrun), Force: isSet(force)}
	return runThrough(ctx, stage.Release, env, flags)
}

func isSet(b *bool) bool { return b != nil && *b }
