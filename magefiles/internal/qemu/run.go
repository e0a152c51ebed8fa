package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// pollInterval is how often the serial log is read while QEMU runs.
const pollInterval = 100 * time.Millisecond

// tailLines is how much of the serial log an error shows.
const tailLines = 25

// kvmSilence is how long the serial console may stay silent under an
// automatically chosen KVM before the boot is taken as stalled. Under a KVM
// that works, firmware, GRUB's menu countdown and the kernel write to it
// every second or so.
const kvmSilence = 30 * time.Second

// errKVMStalled: the guest went silent under KVM; Boot retries under TCG.
var errKVMStalled = errors.New("qemu: the guest stalled under KVM")

// run starts QEMU and watches the serial log until the marker, the guest's
// end, the timeout or ctx. With watchKVM, a console silent for kvmSilence
// stops the boot with errKVMStalled and makes TCG the accelerator of every
// later boot of this process.
func run(ctx context.Context, o Options, qemuArgs []string, res Result, watchKVM bool) (Result, error) {
	what := fmt.Sprintf("booting %s (%s, %s, %s)", o.ISO, o.Firmware, o.Media, res.Accel)
	cmd := tool.Command(o.Binary, qemuArgs...)
	start := time.Now()
	p, err := cmd.Start(ctx)
	if err != nil {
		return res, fmt.Errorf("qemu: %s: %w", what, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Wait() }()
	// stop kills QEMU by its PID and waits for it.
	stop := func() {
		_ = p.Kill()
		<-exited
	}

	w := &watcher{path: o.LogPath, marker: o.Marker}
	lastOutput, lastOffset := time.Now(), int64(0)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	for {
		select {
		case <-ticker.C:
			if m, ok := w.poll(false); ok {
				res.Duration = time.Since(start)
				stop()
				res.Matched, res.Match = true, m
				return res, nil
			}
			if w.offset != lastOffset {
				lastOutput, lastOffset = time.Now(), w.offset
			} else if watchKVM && time.Since(lastOutput) > kvmSilence {
				stop()
				useTCG(fmt.Sprintf("KVM stalled: the serial console was silent for %s while %s", kvmSilence, what))
				return res, errKVMStalled
			}
		case qerr := <-exited:
			res.Duration = time.Since(start)
			if m, ok := w.poll(true); ok {
				res.Matched, res.Match = true, m
				return res, nil
			}
			how := "QEMU exited normally (the guest powered off or rebooted)"
			if qerr != nil {
				how = qerr.Error()
			}
			return res, fmt.Errorf("%w: %s after %s: no line matched %q; %s\n%s",
				ErrNoMarker, what, res.Duration.Round(time.Millisecond), o.Marker, how, w.tail())
		case <-deadline.C:
			stop()
			res.Duration = time.Since(start)
			if m, ok := w.poll(true); ok {
				res.Matched, res.Match = true, m
				return res, nil
			}
			return res, fmt.Errorf("%w: %s: no line matched %q within %s\n%s",
				ErrTimeout, what, o.Marker, o.Timeout, w.tail())
		case <-ctx.Done():
			stop()
			res.Duration = time.Since(start)
			return res, fmt.Errorf("qemu: %s: %w\n%s", what, ctx.Err(), w.tail())
		}
	}
}

// watcher reads a growing serial log and matches the marker against each
// complete line (and, at the end, the unterminated last one too).
type watcher struct {
	path    string
	marker  *regexp.Regexp
	offset  int64
	partial []byte   // an unterminated last line
	lines   []string // every complete line so far, for the tail
}

// poll reads what was appended since the last call and returns the first
// match in it. final also matches the unterminated last line.
func (w *watcher) poll(final bool) (string, bool) {
	f, err := os.Open(w.path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if _, err := f.Seek(w.offset, io.SeekStart); err != nil {
		return "", false
	}
	data, _ := io.ReadAll(f)
	w.offset += int64(len(data))
	data = append(w.partial, data...)
	var found string
	var ok bool
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := clean(data[:i])
		data = data[i+1:]
		w.lines = append(w.lines, line)
		if !ok {
			found, ok = w.match(line)
		}
	}
	w.partial = append([]byte(nil), data...)
	if !ok && final && len(w.partial) > 0 {
		found, ok = w.match(clean(w.partial))
	}
	return found, ok
}

func (w *watcher) match(line string) (string, bool) {
	loc := w.marker.FindStringIndex(line)
	if loc == nil {
		return "", false
	}
	return line[loc[0]:loc[1]], true
}

// ansi matches the terminal escape sequences GRUB and the kernel write.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])`)

func clean(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r", "")
	return ansi.ReplaceAllString(s, "")
}

// tail is the end of the serial log, for error messages.
func (w *watcher) tail() string {
	lines := w.lines
	if len(w.partial) > 0 {
		lines = append(lines, clean(w.partial))
	}
	var kept []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return fmt.Sprintf("serial log %s is empty", w.path)
	}
	if len(kept) > tailLines {
		kept = kept[len(kept)-tailLines:]
	}
	return fmt.Sprintf("serial log %s ends with:\n  %s", w.path, strings.Join(kept, "\n  "))
}
