package iso

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// rssSampleInterval is how often runSampled reads the peak RSS of a running
// tool.
const rssSampleInterval = 50 * time.Millisecond

// runSampled runs cmd to completion and returns the peak resident set size
// (VmHWM) it reached, sampled from /proc while it ran (0 where /proc is
// unavailable).
func runSampled(ctx context.Context, cmd *tool.Cmd) (int64, error) {
	proc, err := cmd.Start(ctx)
	if err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	var peak int64
	tick := time.NewTicker(rssSampleInterval)
	defer tick.Stop()
	for {
		if hwm := peakRSS(proc.PID()); hwm > peak {
			peak = hwm
		}
		select {
		case err := <-done:
			return peak, err
		case <-tick.C:
		}
	}
}

// peakRSS reads VmHWM of a process in bytes, or 0.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				n, _ := strconv.ParseInt(fields[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
