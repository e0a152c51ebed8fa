package release

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// checklistLines are the checklist, in the order it is printed. Each line
// only reads the gathered state.
var checklistLines = []func(*state) line{
	lineISO,
	lineVerified,
	lineSums,
	lineSignature,
	lineSize,
	lineLogin,
	lineGitClean,
	lineChangelog,
	lineNotes,
	lineGitHub,
	lineTag,
	lineContent,
}

// evaluate decides every line of the checklist; the server line only when
// a server copy is configured.
func (st *state) evaluate() []line {
	lines := make([]line, 0, len(checklistLines)+1)
	for _, f := range checklistLines {
		lines = append(lines, f(st))
	}
	if st.Server != nil {
		lines = append(lines, lineServer(st))
	}
	return lines
}

func verifyHint(version string) string {
	return fmt.Sprintf("build and verify it: VERSION=%s go run magefile.go verify (go run magefile.go release %s runs verify first)", version, version)
}

func lineISO(st *state) line {
	l := st.Local
	if l.ISOErr != nil {
		return fail("ISO built", l.ISOErr.Error(), verifyHint(st.Version))
	}
	return pass(fmt.Sprintf("ISO built: %s (%s, sha256 %s)", st.show(l.ISO.Path), units.Bytes(l.ISO.Size), l.ISO.SHA256))
}

func lineVerified(st *state) line {
	const title = "verify passed for this exact ISO"
	const name = dist.VerifyReportName
	l := st.Local
	if l.ISOErr != nil {
		return skip(title, "not checked: there is no ISO")
	}
	if err := l.FileErrs[name]; err != nil {
		return fail(title, err.Error(), verifyHint(st.Version))
	}
	rep := l.Report
	var problems []string
	if rep.Version != st.Version {
		problems = append(problems, fmt.Sprintf("%s is for version %q, not %s", name, rep.Version, st.Version))
	}
	if rep.ISO != l.ISO.Name {
		problems = append(problems, fmt.Sprintf("%s is about %q, not %s", name, rep.ISO, l.ISO.Name))
	}
	if !strings.EqualFold(rep.SHA256, l.ISO.SHA256) {
		problems = append(problems, fmt.Sprintf("%s checked an ISO with sha256 %q, but the ISO on disk has sha256 %s: it changed after verify ran", name, rep.SHA256, l.ISO.SHA256))
	}
	if !rep.Passed {
		problems = append(problems, failedChecks(rep))
	}
	if skipped := skippedChecks(rep); len(skipped) > 0 {
		problems = append(problems, fmt.Sprintf("%s: verify skipped %s: a release must have booted (run verify with VERIFY_BOOT=1)",
			name, strings.Join(skipped, ", ")))
	}
	if missing := missingInstallProofs(rep); len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s: no passing install proof %s: a release must have been installed and checked (run verify with %s=1; release runs it)",
			name, strings.Join(missing, ", "), config.EnvVerifyInstall))
	}
	if p := bootMarkerProblem(rep); p != "" {
		fix := "run verify again"
		if rep.BootMarker != "" {
			fix += " without " + config.EnvBootMarker
		}
		problems = append(problems, fmt.Sprintf("%s: %s: %s", name, p, fix))
	}
	if len(problems) > 0 {
		return fail(title, append(problems, verifyHint(st.Version))...)
	}
	return pass(title, fmt.Sprintf("%s: passed, %d checks, %s", name, len(rep.Checks), rep.Time))
}

// failedChecks says verify failed and names its failed checks.
func failedChecks(rep verify.Report) string {
	var failed []string
	for _, c := range rep.Checks {
		if !c.Passed {
			failed = append(failed, c.Name)
		}
	}
	msg := dist.VerifyReportName + " says verify failed"
	if len(failed) > 0 {
		msg += ": " + strings.Join(failed, ", ")
	}
	return msg
}

func lineSums(st *state) line {
	const title = "SHA256SUMS, MD5SUMS and build record match the ISO"
	l := st.Local
	if l.ISOErr != nil {
		return skip(title, "not checked: there is no ISO")
	}
	var problems []string
	for _, f := range dist.ChecksumFiles {
		problems = append(problems, sumsProblems(l, f)...)
	}
	name := dist.BuildRecordName(st.Version)
	if err := l.FileErrs[name]; err != nil {
		problems = append(problems, err.Error())
	} else if l.Build.Version != st.Version {
		problems = append(problems, fmt.Sprintf("%s is for version %q, not %s", name, l.Build.Version, st.Version))
	}
	if len(problems) > 0 {
		return fail(title, append(problems, verifyHint(st.Version))...)
	}
	b := l.Build
	return pass(title, fmt.Sprintf("built from commit %s, base ISO sha256 %s, SOURCE_DATE_EPOCH %d, xorriso %s",
		short(b.GitCommit), short(b.BaseISOSHA256), b.SourceDateEpoch, strings.TrimPrefix(b.XorrisoVersion, "xorriso ")))
}

// sumsProblems checks that the checksum file f lists every summed file
// (the ISO, the SBOM) with the digest of the file on disk.
func sumsProblems(l *localBuild, f dist.ChecksumFile) []string {
	if err := l.FileErrs[f.Name]; err != nil {
		return []string{err.Error()}
	}
	sumsFile, ok := l.Files[f.Name]
	if !ok {
		return []string{fmt.Sprintf("%s is not among the files this build wrote", f.Name)}
	}
	listed := sums.Map(sumsFile.Data, f.HexLen)
	var problems []string
	for _, a := range l.summed() {
		got, ok := listed[a.Name]
		want := f.Digest(a.Artifact)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s has no line for %s", f.Name, a.Name))
		case got != want:
			problems = append(problems, fmt.Sprintf("%s gives %s for %s, the %s on disk has %s", f.Name, got, a.Name, a.what, want))
		}
	}
	return problems
}

// lineSignature: SHA256SUMS.gpg verifies with the committed release key,
// so a customer can check everything offline with gpg and sha256sum. A
// release candidate may be unsigned; any other version must be signed.
func lineSignature(st *state) line {
	const title = "SHA256SUMS is signed by the release key"
	l := st.Local
	sig, signed := l.Files[dist.SignatureName]
	sumsFile, haveSums := l.Files[dist.SHA256SumsName]
	switch {
	case !signed && isRC(st.Version):
		return skip(title, "not signed: a release candidate may be unsigned")
	case !signed:
		return fail(title, fmt.Sprintf("%s does not exist: a release must be signed", st.show(l.Layout.Signature())),
			fmt.Sprintf("set %s (and %s if the key has one) and run verify again; README's \"Release signing key\" says how the key is made", config.EnvSigningKey, config.EnvSigningPass))
	case !haveSums:
		return skip(title, "not checked: there is no "+dist.SHA256SumsName)
	case st.ReleaseKeyErr != nil:
		return fail(title, fmt.Sprintf("the release public key %s cannot be read: %v", config.ReleaseKeyPath, st.ReleaseKeyErr),
			"commit the release key's public half there (README: \"Release signing key\")")
	}
	fpr, err := signing.Verify(st.ReleaseKey, sumsFile.Data, sig.Data)
	if err != nil {
		return fail(title, fmt.Sprintf("%s does not verify with %s: %v", dist.SignatureName, config.ReleaseKeyPath, err),
			"run verify again with the release key in "+config.EnvSigningKey)
	}
	return pass(title, "signed by "+fpr+" ("+config.ReleaseKeyPath+")")
}

func lineSize(st *state) line {
	sz, l := st.Sizing, st.Local
	title := fmt.Sprintf("every asset under GitHub's %s limit", units.Bytes(sz.Limit))
	switch {
	case l.ISOErr != nil:
		return skip(title, "not checked: there is no ISO")
	case !l.OverLimit:
		return pass(title)
	case l.Split:
		return pass(fmt.Sprintf("ISO of %s is over GitHub's %s limit: attached as %d parts", units.Bytes(l.ISO.Size), units.Bytes(sz.Limit), len(l.Parts)),
			fmt.Sprintf("%s ... %s, their SHA-256 in %s; the release notes give the reassembly command", l.Parts[0].Name, l.Parts[len(l.Parts)-1].Name, l.PartsSums.Name),
			config.EnvSplit+"=0 stops the release here instead")
	default:
		return fail(title,
			fmt.Sprintf("the ISO is %s (%d bytes); GitHub refuses release assets of %s or more, and %s=0 forbids splitting it into parts", units.Bytes(l.ISO.Size), l.ISO.Size, units.Bytes(sz.Limit), config.EnvSplit),
			fmt.Sprintf("unset %s to attach the ISO as parts of %s with a reassembly command in the release notes", config.EnvSplit, units.Bytes(sz.PartSize)))
	}
}

// lineLogin: an operator can log in to the installed machine.
func lineLogin(st *state) line {
	const title = "an operator can log in to the installed machine"
	switch {
	case st.Login == nil:
		return skip(title, "not checked: the customize stage did not run in this release")
	case !st.Login.CanLogIn():
		return fail(title, customize.NoLoginHint(config.EnvAdminAuthorizedKeys))
	}
	return pass(title + ": " + st.Login.Summary())
}

func lineGitClean(st *state) line {
	const title = "git work tree clean"
	g := st.Git
	switch {
	case g.StatusErr != nil:
		return fail(title, g.StatusErr.Error())
	case len(g.Changes) > 0:
		shown := g.Changes[:min(len(g.Changes), 10)]
		detail := []string{fmt.Sprintf("%d changed or untracked path(s):", len(g.Changes))}
		for _, s := range shown {
			detail = append(detail, "  "+s)
		}
		if len(g.Changes) > len(shown) {
			detail = append(detail, "  ...")
		}
		return fail(title, append(detail, "commit or stash them: a release must be exactly a commit")...)
	case g.HeadErr != nil:
		return fail(title, fmt.Sprintf("no commit to release: %v", g.HeadErr))
	}
	return pass(title, "HEAD is "+g.Head)
}

func lineChangelog(st *state) line {
	title := fmt.Sprintf("%s has a section for %s", ChangelogName, st.Version)
	c := st.Changelog
	switch {
	case errors.Is(c.Err, errNoSection):
		bare := strings.TrimPrefix(st.Version, "v")
		detail := []string{fmt.Sprintf("no heading \"## [%s] - YYYY-MM-DD\" in %s", bare, ChangelogName)}
		if c.HasUnreleased {
			detail = append(detail, fmt.Sprintf("move the entries under \"## [Unreleased]\" into a new \"## [%s] - YYYY-MM-DD\" section and commit it", bare))
		}
		return fail(title, detail...)
	case c.Err != nil:
		return fail(title, c.Err.Error())
	}
	return pass(title, c.Notes.Heading)
}

func lineNotes(st *state) line {
	const title = `release notes have "Known issues" and "Upgrade"`
	notes := st.Changelog.Notes
	if st.Changelog.Err != nil || notes.Heading == "" {
		return skip(title, "not checked: there is no section for the version")
	}
	if missing := notes.missingNotes(); len(missing) > 0 {
		return fail(title, append(missing, fmt.Sprintf("add them under %q in %s and commit", notes.Heading, ChangelogName))...)
	}
	return pass(title)
}

func lineGitHub(st *state) line {
	g := st.GitHub
	if g.SettingsErr != nil {
		return fail("GitHub repository", g.SettingsErr.Error())
	}
	s := g.Settings
	title := fmt.Sprintf("GitHub: %s via %s", s.Repo, s.APIBase)
	switch {
	case s.Token == "" && st.DryRun:
		return skip(title, "not checked: no GH_TOKEN or GITHUB_TOKEN, so GitHub was not asked (dry run)")
	case s.Token == "":
		return fail(title, errNoToken.Error())
	case g.ClientErr != nil:
		return fail(title, g.ClientErr.Error())
	case github.IsStatus(g.RepoErr, http.StatusUnauthorized):
		return fail(title, fmt.Sprintf("GitHub refused the token from %s: %v", s.TokenSource, g.RepoErr), "create a new token with contents: write on "+s.Repo)
	case github.IsStatus(g.RepoErr, http.StatusNotFound):
		return fail(title, fmt.Sprintf("repository %s not found, or the token from %s cannot see it: %v", s.Repo, s.TokenSource, g.RepoErr))
	case g.RepoErr != nil:
		return fail(title, g.RepoErr.Error())
	case g.RemoteErr != nil:
		return fail(title, fmt.Sprintf("reading the release for %s: %v", st.Version, g.RemoteErr))
	}
	return pass(title, fmt.Sprintf("token from %s, repository from %s; %s", s.TokenSource, s.RepoSource, g.Remote.describe(st.Version)))
}

// lineTag checks that the release's git tag is, or will be, at HEAD.
// GitHub ignores a release's target_commitish when its tag already exists,
// so a tag at another commit would label files built from HEAD; and a tag
// that does not exist yet is created at HEAD, which GitHub must have. A
// re-run after a release finds the tag it made, at HEAD.
func lineTag(st *state) line {
	tag, head, t := st.Version, st.Git.Head, st.Tag
	title := fmt.Sprintf("tag %s is at HEAD", tag)
	switch {
	case !st.GitHub.ok():
		return skip(title, "not checked: no access to GitHub")
	case !st.Git.clean():
		return skip(title, "not checked: HEAD is not known (see the git line)")
	case t.Err != nil:
		return fail(title, fmt.Sprintf("reading tag %s on GitHub: %v", tag, t.Err))
	case t.Commit == "":
		return lineNoTag(st, title)
	}
	kind := "tag"
	if t.Annotated {
		kind = "annotated tag"
	}
	if !strings.EqualFold(t.Commit, head) {
		return fail(title,
			fmt.Sprintf("tag %s points at %s, HEAD is %s: check out the tag (git checkout %s) and release from there, or use a new version", tag, short(t.Commit), short(head), tag),
			fmt.Sprintf("GitHub ignores the release's target commit when the tag exists: the files built from HEAD would be published under a tag for commit %s", short(t.Commit)))
	}
	return pass(title, fmt.Sprintf("%s %s on GitHub points at HEAD %s", kind, tag, short(head)))
}

// lineNoTag decides the tag line when GitHub has no tag for the version:
// publishing creates it at HEAD, so GitHub must have HEAD.
func lineNoTag(st *state, title string) line {
	tag, head, t := st.Version, st.Git.Head, st.Tag
	switch {
	case t.HeadErr != nil:
		return fail(title, fmt.Sprintf("asking GitHub for HEAD %s: %v", short(head), t.HeadErr))
	case !t.HeadOnGitHub:
		return fail(title,
			fmt.Sprintf("HEAD %s is not on GitHub: push it first (git push origin HEAD)", short(head)),
			fmt.Sprintf("there is no tag %s on GitHub yet, and GitHub cannot create it at a commit it does not have: the release would fail after its checks", tag))
	}
	return pass(title, fmt.Sprintf("no tag %s on GitHub yet: publishing creates it at HEAD %s, which GitHub has", tag, short(head)))
}

// createsTag reports that GitHub has no tag for the version yet:
// publishing creates it, at HEAD (the target commit it is published with).
func (st *state) createsTag() bool {
	return st.Tag.Checked && st.Tag.Err == nil && st.Tag.Commit == "" && st.Tag.HeadOnGitHub
}

func lineContent(st *state) line {
	title := fmt.Sprintf("%s not already published with different content", st.Version)
	switch {
	case !st.GitHub.ok():
		return skip(title, "not checked: no access to GitHub")
	case !st.Local.complete():
		return skip(title, "not checked: the local files are not complete")
	case st.GitHub.Remote.Release == nil:
		return pass(title, "no release for "+st.Version+" yet: a draft will be created")
	case st.Content.Err != nil:
		return fail(title, fmt.Sprintf("comparing with the release on GitHub: %v", st.Content.Err))
	}
	var differ []string
	same := 0
	for _, c := range st.Content.Checks {
		switch c.State {
		case stateDiffers:
			differ = append(differ, fmt.Sprintf("%s: %s", c.Local.Name, c.Why))
		case stateSame, stateEquivalent:
			same++
		}
	}
	kind := "published"
	if st.GitHub.Remote.Release.Draft {
		kind = "draft"
	}
	if len(differ) == 0 {
		return pass(title, fmt.Sprintf("%s release has %d of %d files already, with the same content", kind, same, len(st.Content.Checks)))
	}
	if st.Force {
		return pass(title, append([]string{fmt.Sprintf("%s release has different content; -force: these will be replaced:", kind)}, differ...)...)
	}
	detail := append([]string{fmt.Sprintf("the %s release %s already has different content:", kind, st.Version)}, differ...)
	return fail(title, append(detail,
		"to replace it with this build, run again with -force; to withdraw the release, run: go run magefile.go release:rollback "+st.Version)...)
}

func lineServer(st *state) line {
	s := st.Server
	title := "server copy to " + s.Label
	switch {
	case s.Err != nil:
		return fail(title, s.Err.Error())
	case s.NoSSH:
		return fail(title, "ssh is not installed: apt-get install openssh-client")
	case st.Local.ISOErr != nil:
		return skip(title, "not checked: there is no ISO")
	case s.ProbeErr != nil:
		return fail(title, fmt.Sprintf("cannot reach the server: %v", s.ProbeErr),
			fmt.Sprintf("check %s, %s (for example -i KEY -o Port=22) and that the key is authorized there", config.EnvSCPTarget, config.EnvSSHArgs))
	}
	all := st.Local.serverFiles()
	return pass(title, fmt.Sprintf("reachable; copies with %s; %d of %d files already there", s.Copier.Tool, len(all)-len(s.Copier.Pending(all)), len(all)))
}

// short abbreviates a digest or commit for display.
func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "(unknown)"
	}
	return s
}

// bootMarkerProblem says why a report's boots do not prove the ISO booted
// ("" when they do): only verify's default marker, the kernel command line
// with our autoinstall arguments, shows that GRUB loaded this ISO's
// grub.cfg, kernel and initrd. A custom VERIFY_BOOT_MARKER may be weaker
// (".") and match firmware that never loaded the ISO; a report without the
// field is from an older verify and does not say.
func bootMarkerProblem(rep verify.Report) string {
	switch rep.BootMarker {
	case verify.DefaultBootMarker.String():
		return ""
	case "":
		return "it does not record the boot marker the boots waited for (it was written by an older verify)"
	}
	return fmt.Sprintf("verify booted with the custom marker %q (%s), not verify's default %q; a weaker marker can pass a boot of firmware that never loaded the ISO",
		rep.BootMarker, config.EnvBootMarker, verify.DefaultBootMarker.String())
}

// skippedChecks names the checks verify skipped (the boots, under
// VERIFY_BOOT=0 or without qemu): a skipped check is reported as passed, but
// a release must not rest on it.
// missingInstallProofs are the install proofs (install-bios,
// install-uefi) the report lacks or records as failed.
func missingInstallProofs(rep verify.Report) []string {
	var missing []string
	for _, fw := range verify.InstallFirmwares {
		name := verify.InstallCheckName(fw)
		ok := false
		for _, c := range rep.Checks {
			if c.Name == name && c.Passed && !c.Skipped {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	return missing
}

func skippedChecks(rep verify.Report) []string {
	var names []string
	for _, c := range rep.Checks {
		if c.Skipped {
			names = append(names, c.Name)
		}
	}
	return names
}
