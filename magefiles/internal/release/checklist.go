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

// checklist prints each line as soon as it is decided.
type checklist struct {
	out   io.Writer
	lines []line
}

func newChecklist(out io.Writer, version string) *checklist {
	fmt.Fprintf(out, "release %s: checklist\n", version)
	return &checklist{out: out}
}

func (c *checklist) add(l line) {
	c.lines = append(c.lines, l)
	fmt.Fprintf(c.out, "  %s %s\n", l.Mark.symbol(), l.Title)
	for _, d := range l.Detail {
		for _, s := range strings.Split(d, "\n") {
			fmt.Fprintf(c.out, "      %s\n", s)
		}
	}
}

// failed counts the lines that do not hold.
func (c *checklist) failed() int {
	n := 0
	for _, l := range c.lines {
		if l.Mark == markFail {
			n++
		}
	}
	return n
}
