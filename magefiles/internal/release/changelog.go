package release

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// ChangelogName is the changelog at the repository root, in the Keep a
// Changelog format (https://keepachangelog.com/en/1.1.0/).
const ChangelogName = "CHANGELOG.md"

// releaseNotes is one version's section of CHANGELOG.md.
type releaseNotes struct {
	// Heading is the section's heading line, "## [1.0.0] - 2026-11-27".
	Heading string
	// Body is the section without its heading: the release notes.
	Body string
	// Subsections maps each "### " heading, lower-cased, to its text.
	Subsections map[string]string
}

// errNoSection means CHANGELOG.md has no section for the version.
var errNoSection = errors.New("no section")

var linkDefRE = regexp.MustCompile(`^\[[^\]]+\]:\s*\S`)

// readChangelog finds version's section in the changelog at path. The
// heading may spell the version with or without the leading v, in brackets
// or not: "## [1.0.0] - 2026-11-27", "## v1.0.0".
func readChangelog(path, version string) (releaseNotes, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return releaseNotes{}, fmt.Errorf("%s does not exist: add one in the Keep a Changelog format", path)
		}
		return releaseNotes{}, err
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	start := -1
	for i, line := range lines {
		if isVersionHeading(line, version) {
			start = i
			break
		}
	}
	if start < 0 {
		return releaseNotes{}, errNoSection
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") || strings.HasPrefix(lines[i], "# ") {
			end = i
			break
		}
	}
	body := lines[start+1 : end]
	for len(body) > 0 && (strings.TrimSpace(body[len(body)-1]) == "" || linkDefRE.MatchString(body[len(body)-1])) {
		body = body[:len(body)-1]
	}
	notes := releaseNotes{Heading: lines[start], Body: strings.Trim(strings.Join(body, "\n"), "\n"), Subsections: map[string]string{}}
	notes.readSubsections(body)
	return notes, nil
}

// isVersionHeading reports whether line is a "## " heading for version.
func isVersionHeading(line, version string) bool {
	rest, ok := strings.CutPrefix(line, "## ")
	if !ok {
		return false
	}
	word, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	word = strings.Trim(word, "[]")
	return strings.TrimPrefix(word, "v") == strings.TrimPrefix(version, "v")
}

func (n *releaseNotes) readSubsections(body []string) {
	current := ""
	var text []string
	flush := func() {
		if current != "" {
			n.Subsections[current] = strings.TrimSpace(strings.Join(text, "\n"))
		}
	}
	for _, line := range body {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			flush()
			current, text = strings.ToLower(strings.TrimSpace(h)), nil
			continue
		}
		text = append(text, line)
	}
	flush()
}

// subsection returns the text under the first "### " heading that starts
// with prefix (lower case), and whether there is such a heading.
func (n releaseNotes) subsection(prefix string) (string, bool) {
	for h, text := range n.Subsections {
		if strings.HasPrefix(h, prefix) {
			return stripComments(text), true
		}
	}
	return "", false
}

var commentRE = regexp.MustCompile(`(?s)<!--.*?-->`)

func stripComments(s string) string { return strings.TrimSpace(commentRE.ReplaceAllString(s, "")) }

// missingNotes lists what the release notes lack: the "Known issues" and
// "Upgrade" subsections, each with some text (write "None." when there is
// nothing to say).
func (n releaseNotes) missingNotes() []string {
	var missing []string
	for _, want := range []struct{ prefix, title string }{{"known issues", "Known issues"}, {"upgrad", "Upgrade"}} {
		text, ok := n.subsection(want.prefix)
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("no \"### %s\" subsection", want.title))
		case text == "":
			missing = append(missing, fmt.Sprintf("\"### %s\" is empty (write \"None.\" if there is nothing to say)", want.title))
		}
	}
	return missing
}

// hasUnreleased reports whether the changelog has an [Unreleased] section.
func hasUnreleased(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok && strings.HasPrefix(strings.ToLower(strings.Trim(strings.TrimSpace(h), "[]")), "unreleased") {
			return true
		}
	}
	return false
}
