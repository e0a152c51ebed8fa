package release

import (
	"context"
	"errors"
	"fmt"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// check reads everything the release needs, read-only, and prints the
// checklist. It returns an error wrapping ErrChecklist when a line fails.
func (r *runner) check(ctx context.Context) error {
	sz := sizing{Limit: r.o.AssetLimit, PartSize: r.o.PartSize, Split: r.o.Getenv(EnvSplit) != "0"}
	r.local = readLocal(r.o.DistDir, r.o.Version, sz, r.rel, r.out)
	c := newChecklist(r.out, r.o.Version)
	c.add(r.lineISO())
	c.add(r.lineVerified())
	c.add(r.lineSums())
	c.add(r.lineSize(sz))
	c.add(r.lineGitClean(ctx))
	c.add(r.lineChangelog())
	c.add(r.lineNotes())
	c.add(r.lineGitHub(ctx))
	c.add(r.lineTag(ctx))
	c.add(r.lineContent(ctx))
	if target := r.o.Getenv(EnvSCPTarget); target != "" {
		c.add(r.lineServer(ctx, target))
	}
	if n := c.failed(); n > 0 {
		return fmt.Errorf("%w: %d of %d lines unmet; nothing was uploaded, copied or changed", ErrChecklist, n, len(c.lines))
	}
	return nil
}

func (r *runner) verifyHint() string {
	return fmt.Sprintf("build and verify it: VERSION=%s go run magefile.go verify (go run magefile.go release %s runs verify first)", r.o.Version, r.o.Version)
}

func (r *runner) lineISO() line {
	l := r.local
	if l.ISOErr != nil {
		return fail("ISO built", l.ISOErr.Error(), r.verifyHint())
	}
	return pass(fmt.Sprintf("ISO built: %s (%s, sha256 %s)", r.rel(l.ISO.Path), units.Bytes(l.ISO.Size), l.ISO.SHA256))
}

func (r *runner) lineVerified() line {
	const title = "verify passed for this exact ISO"
	l := r.local
	if l.ISOErr != nil {
		return skip(title, "not checked: there is no ISO")
	}
	if err := l.FileErrs[VerifyReportName]; err != nil {
		return fail(title, err.Error(), r.verifyHint())
	}
	rep := l.Report
	var problems []string
	if rep.Version != r.o.Version {
		problems = append(problems, fmt.Sprintf("%s is for version %q, not %s", VerifyReportName, rep.Version, r.o.Version))
	}
	if rep.ISO != l.ISO.Name {
		problems = append(problems, fmt.Sprintf("%s is about %q, not %s", VerifyReportName, rep.ISO, l.ISO.Name))
	}
	if !strings.EqualFold(rep.SHA256, l.ISO.SHA256) {
		problems = append(problems, fmt.Sprintf("%s checked an ISO with sha256 %q, but the ISO on disk has sha256 %s: it changed after verify ran", VerifyReportName, rep.SHA256, l.ISO.SHA256))
	}
	if !rep.Passed {
		var failed []string
		for _, c := range rep.Checks {
			if !c.Passed {
				failed = append(failed, c.Name)
			}
		}
		msg := VerifyReportName + " says verify failed"
		if len(failed) > 0 {
			msg += ": " + strings.Join(failed, ", ")
		}
		problems = append(problems, msg)
	}
	if skipped := skippedChecks(rep); len(skipped) > 0 {
		problems = append(problems, fmt.Sprintf("%s: verify skipped %s: a release must have booted (run verify with VERIFY_BOOT=1)",
			VerifyReportName, strings.Join(skipped, ", ")))
	}
	if p := bootMarkerProblem(rep); p != "" {
		fix := "run verify again"
		if rep.BootMarker != "" {
			fix += " without " + config.EnvBootMarker
		}
		problems = append(problems, fmt.Sprintf("%s: %s: %s", VerifyReportName, p, fix))
	}
	if len(problems) > 0 {
		return fail(title, append(problems, r.verifyHint())...)
	}
	return pass(title, fmt.Sprintf("%s: passed, %d checks, %s", VerifyReportName, len(rep.Checks), rep.Time))
}

func (r *runner) lineSums() line {
	const title = "SHA256SUMS, MD5SUMS and build record match the ISO"
	l := r.local
	if l.ISOErr != nil {
		return skip(title, "not checked: there is no ISO")
	}
	var problems []string
	for _, s := range []struct {
		file, want string
		hexLen     int
	}{{SHA256SumsName, l.ISO.SHA256, sums.SHA256}, {MD5SumsName, l.MD5, sums.MD5}} {
		if err := l.FileErrs[s.file]; err != nil {
			problems = append(problems, err.Error())
			continue
		}
		got, ok := sums.Map(l.Files[s.file].Data, s.hexLen)[l.ISO.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s has no line for %s", s.file, l.ISO.Name))
		case got != s.want:
			problems = append(problems, fmt.Sprintf("%s gives %s for %s, the ISO on disk has %s", s.file, got, l.ISO.Name, s.want))
		}
	}
	name := BuildRecordName(r.o.Version)
	if err := l.FileErrs[name]; err != nil {
		problems = append(problems, err.Error())
	} else if l.Build.Version != r.o.Version {
		problems = append(problems, fmt.Sprintf("%s is for version %q, not %s", name, l.Build.Version, r.o.Version))
	}
	if len(problems) > 0 {
		return fail(title, append(problems, r.verifyHint())...)
	}
	b := l.Build
	return pass(title, fmt.Sprintf("built from commit %s, base ISO sha256 %s, SOURCE_DATE_EPOCH %d, xorriso %s",
		short(b.GitCommit), short(b.BaseISOSHA256), b.SourceDateEpoch, strings.TrimPrefix(b.XorrisoVersion, "xorriso ")))
}

func (r *runner) lineSize(sz sizing) line {
	title := fmt.Sprintf("every asset under GitHub's %s limit", units.Bytes(sz.Limit))
	l := r.local
	switch {
	case l.ISOErr != nil:
		return skip(title, "not checked: there is no ISO")
	case !l.OverLimit:
		return pass(title)
	case l.Split:
		return pass(fmt.Sprintf("ISO of %s is over GitHub's %s limit: attached as %d parts", units.Bytes(l.ISO.Size), units.Bytes(sz.Limit), len(l.Parts)),
			fmt.Sprintf("%s ... %s, their SHA-256 in %s; the release notes give the reassembly command", l.Parts[0].Name, l.Parts[len(l.Parts)-1].Name, l.PartsSums.Name),
			EnvSplit+"=0 stops the release here instead")
	default:
		return fail(title,
			fmt.Sprintf("the ISO is %s (%d bytes); GitHub refuses release assets of %s or more, and %s=0 forbids splitting it into parts", units.Bytes(l.ISO.Size), l.ISO.Size, units.Bytes(sz.Limit), EnvSplit),
			fmt.Sprintf("unset %s to attach the ISO as parts of %s with a reassembly command in the release notes", EnvSplit, units.Bytes(sz.PartSize)))
	}
}

func (r *runner) lineGitClean(ctx context.Context) line {
	const title = "git work tree clean"
	out, err := tool.Command("git", "-C", r.o.Root, "status", "--porcelain").Output(ctx)
	if err != nil {
		return fail(title, fmt.Sprintf("cannot read the git status of %s: %v", r.o.Root, err))
	}
	if dirty := strings.TrimRight(string(out), "\n"); dirty != "" {
		lines := strings.Split(dirty, "\n")
		shown := lines[:min(len(lines), 10)]
		detail := []string{fmt.Sprintf("%d changed or untracked path(s):", len(lines))}
		for _, s := range shown {
			detail = append(detail, "  "+s)
		}
		if len(lines) > len(shown) {
			detail = append(detail, "  ...")
		}
		return fail(title, append(detail, "commit or stash them: a release must be exactly a commit")...)
	}
	head, err := tool.Command("git", "-C", r.o.Root, "rev-parse", "HEAD").Output(ctx)
	if err != nil {
		return fail(title, fmt.Sprintf("no commit to release: %v", err))
	}
	r.head = strings.TrimSpace(string(head))
	return pass(title, "HEAD is "+r.head)
}

func (r *runner) lineChangelog() line {
	title := fmt.Sprintf("%s has a section for %s", ChangelogName, r.o.Version)
	path := filepath.Join(r.o.Root, ChangelogName)
	notes, err := readChangelog(path, r.o.Version)
	switch {
	case errors.Is(err, errNoSection):
		detail := []string{fmt.Sprintf("no heading \"## [%s] - YYYY-MM-DD\" in %s", strings.TrimPrefix(r.o.Version, "v"), ChangelogName)}
		if hasUnreleased(path) {
			detail = append(detail, fmt.Sprintf("move the entries under \"## [Unreleased]\" into a new \"## [%s] - YYYY-MM-DD\" section and commit it", strings.TrimPrefix(r.o.Version, "v")))
		}
		return fail(title, detail...)
	case err != nil:
		return fail(title, err.Error())
	}
	r.notes = notes
	return pass(title, notes.Heading)
}

func (r *runner) lineNotes() line {
	const title = `release notes have "Known issues" and "Upgrade"`
	if r.notes.Heading == "" {
		return skip(title, "not checked: there is no section for the version")
	}
	if missing := r.notes.missingNotes(); len(missing) > 0 {
		return fail(title, append(missing, fmt.Sprintf("add them under %q in %s and commit", r.notes.Heading, ChangelogName))...)
	}
	return pass(title)
}

func (r *runner) lineGitHub(ctx context.Context) line {
	s, err := resolveGitHub(ctx, r.o.Getenv, r.o.Root)
	if err != nil {
		return fail("GitHub repository", err.Error())
	}
	r.ghs = s
	title := fmt.Sprintf("GitHub: %s via %s", s.Repo, s.APIBase)
	if s.Token == "" {
		if r.o.DryRun {
			return skip(title, "not checked: no GH_TOKEN or GITHUB_TOKEN, so GitHub was not asked (dry run)")
		}
		return fail(title, errNoToken.Error())
	}
	gh, err := newGitHub(s, r.o.Transport, r.o.Retry, r.out)
	if err != nil {
		return fail(title, err.Error())
	}
	var repo struct {
		FullName string `json:"full_name"`
	}
	if err := gh.do(ctx, http.MethodGet, s.APIBase+"/repos/"+s.Repo, nil, &repo); err != nil {
		switch {
		case isStatus(err, http.StatusUnauthorized):
			return fail(title, fmt.Sprintf("GitHub refused the token from %s: %v", s.TokenSource, err), "create a new token with contents: write on "+s.Repo)
		case isStatus(err, http.StatusNotFound):
			return fail(title, fmt.Sprintf("repository %s not found, or the token from %s cannot see it: %v", s.Repo, s.TokenSource, err))
		}
		return fail(title, err.Error())
	}
	remote, err := readRemote(ctx, gh, r.o.Version)
	if err != nil {
		return fail(title, fmt.Sprintf("reading the release for %s: %v", r.o.Version, err))
	}
	r.gh, r.remote = gh, remote
	return pass(title, fmt.Sprintf("token from %s, repository from %s; %s", s.TokenSource, s.RepoSource, remote.describe(r.o.Version)))
}

// localComplete reports whether every file the release needs is readable.
func (r *runner) localComplete() bool {
	return r.local.ISOErr == nil && len(r.local.FileErrs) == 0 && (!r.local.OverLimit || r.local.Split)
}

func (r *runner) lineContent(ctx context.Context) line {
	title := fmt.Sprintf("%s not already published with different content", r.o.Version)
	switch {
	case r.gh == nil:
		return skip(title, "not checked: no access to GitHub")
	case !r.localComplete():
		return skip(title, "not checked: the local files are not complete")
	case r.remote.Release == nil:
		return pass(title, "no release for "+r.o.Version+" yet: a draft will be created")
	}
	checks, err := r.compare(ctx)
	if err != nil {
		return fail(title, fmt.Sprintf("comparing with the release on GitHub: %v", err))
	}
	r.checks = checks
	var differ []string
	same := 0
	for _, c := range checks {
		switch c.State {
		case stateDiffers:
			differ = append(differ, fmt.Sprintf("%s: %s", c.Local.Name, c.Why))
		case stateSame, stateEquivalent:
			same++
		}
	}
	kind := "published"
	if r.remote.Release.Draft {
		kind = "draft"
	}
	if len(differ) == 0 {
		return pass(title, fmt.Sprintf("%s release has %d of %d files already, with the same content", kind, same, len(checks)))
	}
	if r.o.Force {
		return pass(title, append([]string{fmt.Sprintf("%s release has different content; -force: these will be replaced:", kind)}, differ...)...)
	}
	detail := append([]string{fmt.Sprintf("the %s release %s already has different content:", kind, r.o.Version)}, differ...)
	return fail(title, append(detail,
		"to replace it with this build, run again with -force; to withdraw the release, run: go run magefile.go release:rollback "+r.o.Version)...)
}

func (r *runner) lineServer(ctx context.Context, target string) line {
	title := "server copy to " + target
	m, err := newMirror(target, r.o.Getenv(EnvSSHArgs), r.o.Getenv(EnvCopyTool), r.out)
	if err != nil {
		return fail(title, err.Error())
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return fail(title, "ssh is not installed: apt-get install openssh-client")
	}
	if r.local.ISOErr != nil {
		return skip(title, "not checked: there is no ISO")
	}
	if err := m.probe(ctx, namesOf(r.local.mirrorAssets())); err != nil {
		return fail(title, fmt.Sprintf("cannot reach the server: %v", err), fmt.Sprintf("check %s, %s (for example -i KEY -o Port=22) and that the key is authorized there", EnvSCPTarget, EnvSSHArgs))
	}
	r.mirror = m
	all := r.local.mirrorAssets()
	return pass(title, fmt.Sprintf("reachable; copies with %s; %d of %d files already there", m.Tool, len(all)-len(m.pending(all)), len(all)))
}

func namesOf(assets []asset) []string {
	names := make([]string, len(assets))
	for i, a := range assets {
		names[i] = a.Name
	}
	return names
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
func skippedChecks(rep verify.Report) []string {
	var names []string
	for _, c := range rep.Checks {
		if c.Skipped {
			names = append(names, c.Name)
		}
	}
	return names
}
