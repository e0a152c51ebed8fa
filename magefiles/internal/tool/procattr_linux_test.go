package tool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childEnv = "NOVASPHERE_TOOL_TEST_CHILD"

// TestToolDiesWithThePipeline starts a tool from a child process that then
// exits at once, as mage does after a -t timeout or Ctrl-C: the tool must not
// outlive it.
func TestToolDiesWithThePipeline(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		p, err := Command("sleep", "300").Start(context.Background())
		if err != nil {
			fmt.Println("start:", err)
			os.Exit(2)
		}
		fmt.Println(p.PID())
		os.Exit(0) // no Wait, no Kill: the pipeline is gone
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestToolDiesWithThePipeline$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("child printed %q, want the tool's PID", out)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // gone already when the test passes
	// The kernel delivers SIGKILL when the parent dies; give it a moment.
	for range 100 {
		if !running(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the tool (pid %d) is still running after its pipeline exited", pid)
}

// running reports whether pid is a live process (a zombie is not).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndex(s, ")")
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}
