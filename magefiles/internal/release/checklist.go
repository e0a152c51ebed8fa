package release

import (
	"fmt"
	"io"
	"strings"
)

// mark is the state of one checklist line.
type mark int

const (
	markPass mark = iota
	markFail
	markSkip
)

// symbol is the mark printed at the start of a line.
func (m mark) symbol() string {
	switch m {
	case markPass:
		return "✓"
	case markFail:
		return "✗"
	default:
		return "-"
	}
}

// line is one checklist item: what must hold, whether it does, and the
// details a user needs to act on it.
type line struct {
	Mark   mark
	Title  string
	Detail []string
}

func pass(title string, detail ...string) line { return line{markPass, title, detail} }
func fail(title string, detail ...string) line { return line{markFail, title, detail} }
func skip(title string, detail ...string) line { return line{markSkip, title, detail} }

// printChecklist prints the lines under a heading and returns how many
// failed, and how many there are.
func printChecklist(out io.Writer, version string, lines []line) (failed, total int) {
	fmt.Fprintf(out, "release %s: checklist\n", version)
	for _, l := range lines {
		fmt.Fprintf(out, "  %s %s\n", l.Mark.symbol(), l.Title)
		for _, d := range l.Detail {
			for _, s := range strings.Split(d, "\n") {
				fmt.Fprintf(out, "      %s\n", s)
			}
		}
		if l.Mark == markFail {
			failed++
		}
	}
	return failed, len(lines)
}
