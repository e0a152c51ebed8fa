package customize

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// AutoinstallArgs are the kernel arguments that start an unattended install
// from the NoCloud seed in /nocloud on the ISO. The ';' is escaped because it
// separates commands in GRUB's script language; the kernel receives
// "ds=nocloud;s=/cdrom/nocloud/".
const AutoinstallArgs = `autoinstall ds=nocloud\;s=/cdrom/nocloud/`

// EraseArg is the kernel argument of the second menu entry, titled to say
// it erases the disk: with it the reinstall guard
// (scripts/reinstall-guard.sh, the first early-command) lets the install
// erase a disk that holds an installed NovaSphere. It stands before "---",
// so the installed system does not get it (curtin copies only console=
// arguments from there; curtin/commands/install_grub.py,
// get_carryover_params).
const EraseArg = "novasphere.reinstall=erase-disk"

// EraseTitleSuffix ends the title of the erasing menu entry.
const EraseTitleSuffix = " - reinstall, ERASES the disk"

// KeepTimeout is the GrubOptions.Timeout (the zero value) that leaves the
// base's menu timeout alone.
const KeepTimeout = ""

// ErrNoCasperEntry marks a grub.cfg without an Ubuntu live-server kernel
// entry ("linux /casper/vmlinuz ... ---"), that is, a base ISO that is not an
// Ubuntu live-server layout.
var ErrNoCasperEntry = errors.New(`no casper kernel entry (a "linux /casper/vmlinuz ... ---" line)`)

// ErrBadKernelArgs marks KERNEL_ARGS that cannot be put on a GRUB kernel
// line so that the kernel receives them exactly as written. GRUB's script
// language would change them, so an argument may not contain '$' (GRUB
// expands variables), quotes (GRUB removes them), a backslash other than the
// one in "\;" (GRUB removes it), '{', '}', '|', '&', '<', '>', control
// characters, or start with '#'. A ';' is fine: it is escaped for GRUB.
// The rule is config's (config.CheckKernelArg), so KERNEL_ARGS is refused
// when the configuration loads, before any work.
var ErrBadKernelArgs = config.ErrBadKernelArgs

// GrubOptions say how PatchGrubWith changes a GRUB configuration.
type GrubOptions struct {
	// Version is shown in the menu entry title.
	Version string
	// ExtraArgs are appended after AutoinstallArgs (KERNEL_ARGS), for
	// example "console=ttyS0,115200n8": whitespace-separated arguments that
	// reach the kernel as written. A bare ';' is escaped for GRUB; what GRUB
	// would alter ('$', quotes, other backslashes, see ErrBadKernelArgs) is
	// refused.
	ExtraArgs string
	// Title is the title template of the installer menu entries;
	// "{version}" is replaced by Version, and the version is appended when
	// the template lacks it. Empty means config.DefaultGrubTitle.
	Title string
	// Timeout is the menu timeout in whole seconds, such as "5";
	// KeepTimeout ("") keeps the base's value.
	Timeout string
}

// PatchGrub adds AutoinstallArgs and extraArgs before "---" on every
// "linux .../vmlinuz" line of a grub.cfg or loopback.cfg, titles the entries
// after version and keeps the menu timeout. It is PatchGrubWith with the
// default title and timeout, which is what Customize uses when GRUB_TITLE and
// GRUB_TIMEOUT are unset. Applying it to its own output changes nothing.
func PatchGrub(cfg []byte, version, extraArgs string) ([]byte, error) {
	return PatchGrubWith(cfg, GrubOptions{Version: version, ExtraArgs: extraArgs})
}

// PatchGrubWith patches a GRUB configuration as PatchGrub does, with a
// configurable title and timeout:
//
//   - every "linux" (or "linuxefi") line whose kernel is a vmlinuz gets
//     AutoinstallArgs and then ExtraArgs inserted before "---" (appended when
//     there is no "---"); arguments already on the line are not added again;
//     a line patched before (a base that is itself an installer) first loses
//     what was inserted then, from AutoinstallArgs up to "---", so the
//     previous build's ExtraArgs do not survive;
//   - every menu entry holding such a line is retitled: the first to the
//     title, the others to the title plus the kernel path in parentheses;
//   - "set timeout=N" is set to Timeout unless it is KeepTimeout (and added
//     before the first menu entry when missing);
//   - right after the first entry, a copy of it titled with
//     EraseTitleSuffix whose kernel line also has EraseArg (an erasing entry
//     of an earlier patch is replaced). The first entry stays the default,
//     guarded one.
//
// It fails with ErrNoCasperEntry when no kernel line loads /casper/...vmlinuz.
func PatchGrubWith(cfg []byte, o GrubOptions) ([]byte, error) {
	add, err := argsToAdd(o.ExtraArgs)
	if err != nil {
		return nil, err
	}
	title, err := entryTitle(o.Title, o.Version)
	if err != nil {
		return nil, err
	}
	if err := config.ValidateGrubTimeout(o.Timeout); err != nil {
		return nil, err
	}
	lines := withoutEraseEntries(strings.Split(string(cfg), "\n"))
	entries, casper := patchKernelLines(lines, add)
	if !casper {
		return nil, ErrNoCasperEntry
	}
	retitle(lines, entries, title)
	lines = addEraseEntry(lines, entries[0].line, title, add)
	if o.Timeout != KeepTimeout {
		lines = setTimeout(lines, o.Timeout)
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// HasCasperEntry reports whether cfg has a kernel line that loads
// /casper/...vmlinuz, as an Ubuntu live-server grub.cfg does.
func HasCasperEntry(cfg []byte) bool {
	for _, line := range strings.Split(string(cfg), "\n") {
		if k, ok := parseKernelLine(line); ok && k.casper() {
			return true
		}
	}
	return false
}

var (
	kernelLineRE = regexp.MustCompile(`^(\s*)(linux|linuxefi)(\s+)(\S+)(.*)$`)
	menuentryRE  = regexp.MustCompile(`^(\s*)menuentry(\s+)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$`)
	timeoutRE    = regexp.MustCompile(`^(\s*)set\s+timeout=\S*\s*$`)
)

// kernelLine is a parsed "linux <kernel> <args>" line.
type kernelLine struct {
	prefix string // indentation, command and the blank after it
	kernel string
	args   string // everything after the kernel path
}

func parseKernelLine(line string) (kernelLine, bool) {
	m := kernelLineRE.FindStringSubmatch(line)
	if m == nil || !strings.Contains(m[4][strings.LastIndex(m[4], "/")+1:], "vmlinuz") {
		return kernelLine{}, false
	}
	return kernelLine{prefix: m[1] + m[2] + m[3], kernel: m[4], args: m[5]}, true
}

func (k kernelLine) casper() bool { return strings.HasPrefix(k.kernel, "/casper/") }

// withArgs replaces what an earlier patch inserted (see withoutOurArgs) by
// the arguments of add that the line does not have yet, before the "---"
// separator.
func (k kernelLine) withArgs(add []string) string {
	k.args = withoutOurArgs(k.args)
	fields := strings.Fields(k.args)
	sep := -1
	for i, f := range fields {
		if f == "---" {
			sep = i
			break
		}
	}
	have := map[string]bool{}
	for _, f := range fields {
		have[f] = true
	}
	var missing []string
	for _, a := range add {
		if !have[a] {
			missing = append(missing, a)
			have[a] = true
		}
	}
	if len(missing) == 0 {
		return k.prefix + k.kernel + k.args
	}
	ins := strings.Join(missing, " ")
	if sep < 0 {
		return k.prefix + k.kernel + strings.TrimRight(k.args, " \t") + " " + ins
	}
	at := separatorIndex(k.args)
	return k.prefix + k.kernel + k.args[:at] + ins + " " + k.args[at:]
}

// withoutOurArgs removes from args what PatchGrubWith inserted into it
// before: the fields from AutoinstallArgs up to the next "---" field (not
// included), or to the end of the line when there is none. Arguments
// before AutoinstallArgs belong to the base and stay.
func withoutOurArgs(args string) string {
	start := ourArgsOffset(args)
	if start < 0 {
		return args
	}
	rest := args[start:]
	sep := separatorIndex(rest)
	if sep == len(rest) {
		return strings.TrimRight(args[:start], " \t")
	}
	return args[:start] + rest[sep:]
}

// ourArgsOffset is the byte offset in args of the fields of
// AutoinstallArgs, in order and whole, or -1.
func ourArgsOffset(args string) int {
	ours := strings.Fields(AutoinstallArgs)
	spans := fieldSpans(args)
	for i := 0; i+len(ours) <= len(spans); i++ {
		match := true
		for j, f := range ours {
			if s := spans[i+j]; args[s[0]:s[1]] != f {
				match = false
				break
			}
		}
		if match {
			return spans[i][0]
		}
	}
	return -1
}

// fieldSpans are the [start, end) byte offsets of the blank-separated
// fields of s.
func fieldSpans(s string) [][2]int {
	var spans [][2]int
	start := -1
	for i := 0; i <= len(s); i++ {
		blank := i == len(s) || s[i] == ' ' || s[i] == '\t'
		switch {
		case blank && start >= 0:
			spans = append(spans, [2]int{start, i})
			start = -1
		case !blank && start < 0:
			start = i
		}
	}
	return spans
}

// separatorIndex is the byte offset of the first "---" field in args.
func separatorIndex(args string) int {
	for i := 0; i+3 <= len(args); i++ {
		if args[i:i+3] != "---" {
			continue
		}
		before := i == 0 || args[i-1] == ' ' || args[i-1] == '\t'
		after := i+3 == len(args) || args[i+3] == ' ' || args[i+3] == '\t'
		if before && after {
			return i
		}
	}
	return len(args)
}

// patchedEntry is a menu entry whose kernel line was patched.
type patchedEntry struct {
	line   int // index of the menuentry line
	kernel string
}

// patchKernelLines patches every vmlinuz kernel line in place and returns the
// menu entries holding them and whether a casper kernel was among them.
func patchKernelLines(lines []string, add []string) ([]patchedEntry, bool) {
	var entries []patchedEntry
	casper := false
	current := -1
	for i, line := range lines {
		if menuentryRE.MatchString(line) {
			current = i
			continue
		}
		if strings.TrimSpace(line) == "}" {
			current = -1
			continue
		}
		k, ok := parseKernelLine(line)
		if !ok {
			continue
		}
		casper = casper || k.casper()
		lines[i] = k.withArgs(add)
		if current >= 0 && (len(entries) == 0 || entries[len(entries)-1].line != current) {
			entries = append(entries, patchedEntry{line: current, kernel: k.kernel})
		}
	}
	return entries, casper
}

// entryEnd is the index of the line closing the menu entry that starts at
// line start ("}" alone), or -1.
func entryEnd(lines []string, start int) int {
	for i := start + 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "}" {
			return i
		}
		if menuentryRE.MatchString(lines[i]) {
			return -1
		}
	}
	return -1
}

// withoutEraseEntries drops the menu entries whose kernel line has
// EraseArg (what an earlier patch added).
func withoutEraseEntries(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); i++ {
		if menuentryRE.MatchString(lines[i]) {
			if end := entryEnd(lines, i); end > 0 && entryHasArg(lines[i:end], EraseArg) {
				i = end
				continue
			}
		}
		out = append(out, lines[i])
	}
	return out
}

func entryHasArg(block []string, arg string) bool {
	for _, l := range block {
		if k, ok := parseKernelLine(l); ok && slices.Contains(strings.Fields(k.args), arg) {
			return true
		}
	}
	return false
}

// addEraseEntry inserts after the entry at line start a copy of it titled
// title+EraseTitleSuffix whose kernel line also carries EraseArg.
func addEraseEntry(lines []string, start int, title string, add []string) []string {
	end := entryEnd(lines, start)
	if end < 0 {
		return lines
	}
	block := append([]string(nil), lines[start:end+1]...)
	m := menuentryRE.FindStringSubmatch(block[0])
	block[0] = m[1] + "menuentry" + m[2] + grubQuote(title+EraseTitleSuffix) + m[4]
	for i, l := range block {
		if k, ok := parseKernelLine(l); ok {
			block[i] = k.withArgs(append(append([]string(nil), add...), EraseArg))
		}
	}
	out := append([]string(nil), lines[:end+1]...)
	out = append(out, block...)
	return append(out, lines[end+1:]...)
}

// retitle gives the patched menu entries their titles.
func retitle(lines []string, entries []patchedEntry, title string) {
	used := map[string]int{}
	for n, e := range entries {
		t := title
		if n > 0 {
			t = title + " (" + e.kernel + ")"
		}
		used[t]++
		if used[t] > 1 {
			t += " #" + strconv.Itoa(used[t])
		}
		m := menuentryRE.FindStringSubmatch(lines[e.line])
		lines[e.line] = m[1] + "menuentry" + m[2] + grubQuote(t) + m[4]
	}
}

// setTimeout sets every "set timeout=" line, or adds one before the first
// menu entry when there is none.
func setTimeout(lines []string, seconds string) []string {
	found := false
	for i, line := range lines {
		if m := timeoutRE.FindStringSubmatch(line); m != nil {
			lines[i] = m[1] + "set timeout=" + seconds
			found = true
		}
	}
	if found {
		return lines
	}
	for i, line := range lines {
		if menuentryRE.MatchString(line) {
			out := append([]string{}, lines[:i]...)
			out = append(out, "set timeout="+seconds, "")
			return append(out, lines[i:]...)
		}
	}
	return lines
}

// argsToAdd is AutoinstallArgs plus the extra arguments, each a separate
// field, with bare ';' escaped for GRUB.
func argsToAdd(extra string) ([]string, error) {
	args := strings.Fields(AutoinstallArgs)
	for _, f := range strings.Fields(extra) {
		if err := config.CheckKernelArg(f); err != nil {
			return nil, err
		}
		args = append(args, escapeSemicolons(f))
	}
	return args, nil
}

// escapeSemicolons puts a backslash before every ';' that lacks one.
func escapeSemicolons(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ';' && (i == 0 || s[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// entryTitle expands the title template for version.
func entryTitle(template, version string) (string, error) {
	if template == "" {
		template = config.DefaultGrubTitle
	}
	t := strings.ReplaceAll(template, "{version}", version)
	if !strings.Contains(template, "{version}") {
		t = strings.TrimSpace(t) + " " + version
	}
	if err := config.CheckGrubTitle(t); err != nil {
		return "", err
	}
	return t, nil
}

// grubQuote quotes s as a GRUB double-quoted word.
func grubQuote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' || r == '$' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
