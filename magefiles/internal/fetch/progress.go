package fetch

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// stat is a snapshot of a transfer.
type stat struct {
	done  int64   // bytes so far, including resumed ones
	total int64   // expected size, or -1 when unknown
	bps   float64 // current rate in bytes per second, 0 when unknown
}

// String renders "1.2 GiB of 1.9 GiB  63.1%  11.2 MiB/s  ETA 1m04s".
func (s stat) String() string {
	var b strings.Builder
	b.WriteString(units.Bytes(s.done))
	if s.total > 0 {
		fmt.Fprintf(&b, " of %s  %5.1f%%", units.Bytes(s.total), 100*float64(s.done)/float64(s.total))
	}
	if s.bps > 0 {
		fmt.Fprintf(&b, "  %s/s", units.Bytes(int64(s.bps)))
	} else {
		b.WriteString("  -- B/s")
	}
	if s.total > 0 {
		b.WriteString("  ETA " + s.eta())
	}
	return b.String()
}

// eta is the estimated time left, "--" when the rate is unknown.
func (s stat) eta() string {
	left := s.total - s.done
	if left <= 0 {
		return "0s"
	}
	if s.bps <= 0 {
		return "--"
	}
	secs := float64(left) / s.bps
	if secs > 100*3600 {
		return ">100h"
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Second).String()
}

// progress prints a transfer's progress: on a terminal one line rewritten in
// place at most once a second, otherwise (CI logs) one full line every
// interval.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	last     time.Time // last print, or the start
	printed  bool
}

// newProgress starts a progress line for f's options.
func (f *fetcher) newProgress() *progress {
	every := f.o.ProgressInterval
	if f.o.Terminal {
		every = time.Second
	}
	return &progress{w: f.o.Log, terminal: f.o.Terminal, every: every, last: time.Now()}
}

// update prints s if the interval has passed since the last line.
func (p *progress) update(s stat, now time.Time) {
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	p.printed = true
	if p.terminal {
		fmt.Fprintf(p.w, "\r  %s\x1b[K", s)
		return
	}
	fmt.Fprintf(p.w, "fetch: %s\n", s)
}

// finish ends the progress display with the final state, if anything was
// printed.
func (p *progress) finish(s stat) {
	if !p.printed {
		return
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r  %s\x1b[K\n", s)
		return
	}
	fmt.Fprintf(p.w, "fetch: %s\n", s)
}
