package installproof

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// tailLines is how many console lines a failure shows.
const tailLines = 25

// consoleLog follows a growing serial console log, line by line.
type consoleLog struct {
	path    string
	offset  int64
	partial []byte
	tail    []string // the last non-empty lines
	lines   int
}

// ansi matches the terminal escape sequences GRUB and the kernel write.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])`)

func cleanLine(b []byte) string {
	return strings.TrimRight(ansi.ReplaceAllString(strings.ReplaceAll(string(b), "\r", ""), ""), " \t")
}

// poll returns the complete lines appended since the last call (with final,
// the unterminated last one too).
func (c *consoleLog) poll(final bool) []string {
	f, err := os.Open(c.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(c.offset, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	c.offset += int64(len(data))
	data = append(c.partial, data...)
	var lines []string
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, cleanLine(data[:i]))
		data = data[i+1:]
	}
	c.partial = append([]byte(nil), data...)
	if final && len(c.partial) > 0 {
		lines = append(lines, cleanLine(c.partial))
		c.partial = nil
	}
	for _, l := range lines {
		c.lines++
		if strings.TrimSpace(l) == "" {
			continue
		}
		c.tail = append(c.tail, l)
		if len(c.tail) > tailLines {
			c.tail = c.tail[len(c.tail)-tailLines:]
		}
	}
	return lines
}

// last is the last non-empty line so far.
func (c *consoleLog) last() string {
	if len(c.tail) == 0 {
		return ""
	}
	return c.tail[len(c.tail)-1]
}

// describeTail is the end of the log for error messages.
func (c *consoleLog) describeTail() string {
	if len(c.tail) == 0 {
		return fmt.Sprintf("the serial console (%s) stayed empty", c.path)
	}
	return fmt.Sprintf("last lines of the serial console (%s):\n  %s", c.path, strings.Join(c.tail, "\n  "))
}
