package tool

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunReportsCommandLineExitCodeAndStderr(t *testing.T) {
	err := Command("sh", "-c", "printf 'pro%s' gress; echo 'disk full' >&2; exit 3").Run(context.Background())
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want *tool.Error, got %T %v", err, err)
	}
	if te.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", te.ExitCode)
	}
	msg := err.Error()
	for _, want := range []string{`sh -c 'printf '\''pro%s'\'' gress; echo '\''disk full'\'' >&2; exit 3'`, "exit status 3", "disk full"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "progress") {
		t.Errorf("stdout leaked into the error message: %q", msg)
	}
}

func TestOutputKeepsStdoutApartFromStderr(t *testing.T) {
	out, err := Command("sh", "-c", "echo out; echo err >&2").Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "out\n" {
		t.Errorf("Output = %q, want only stdout", out)
	}
}

func TestStreamCopiesBothStreamsLive(t *testing.T) {
	var live bytes.Buffer
	if err := Command("sh", "-c", "echo one; echo two >&2").Stream(&live).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(live.String(), "one") || !strings.Contains(live.String(), "two") {
		t.Errorf("streamed %q, want both stdout and stderr", live.String())
	}
}

func TestMissingCommandIsNamed(t *testing.T) {
	err := Command("novasphere-no-such-tool", "--x").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "novasphere-no-such-tool is not installed") {
		t.Fatalf("error = %v, want it to name the missing tool", err)
	}
	var te *Error
	if !errors.As(err, &te) || te.ExitCode != -1 {
		t.Errorf("a command that never ran must not report an exit status: %+v", te)
	}
}

func TestCancelStopsTheCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := Command("sleep", "30").Run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want deadline exceeded", err)
	}
}

func TestStartAndKillByPID(t *testing.T) {
	p, err := Command("sleep", "30").Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.PID() <= 0 {
		t.Fatalf("pid = %d", p.PID())
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err == nil {
		t.Fatal("a killed process must report an error")
	}
}
