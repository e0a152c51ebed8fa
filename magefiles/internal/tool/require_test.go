package tool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var absent = Tool{Command: "novasphere-absent-tool", Package: "novasphere-absent"}

func osRelease(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "os-release")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnsurePresentToolsDoesNothing(t *testing.T) {
	in := NewProvisioner(false, &bytes.Buffer{})
	in.run = func(context.Context, *Cmd) error { t.Fatal("nothing must be installed"); return nil }
	if err := in.Ensure(context.Background(), "pack", Tool{Command: "sh", Package: "dash"}); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureNoInstallPrintsTheAptLine(t *testing.T) {
	in := NewProvisioner(true, &bytes.Buffer{})
	in.osRelease = osRelease(t, "ID=debian\n")
	in.run = func(context.Context, *Cmd) error { t.Fatal("NOVASPHERE_NO_INSTALL must not install"); return nil }
	err := in.Ensure(context.Background(), "pack", absent, Tool{Command: "sh", Package: "dash"})
	if err == nil {
		t.Fatal("want an error for a missing tool")
	}
	for _, want := range []string{"pack:", "novasphere-absent-tool", "apt-get install -y novasphere-absent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "dash") {
		t.Errorf("present tools must not be listed: %q", err)
	}
}

func TestEnsureOnOtherSystemsNamesThePackage(t *testing.T) {
	in := NewProvisioner(false, &bytes.Buffer{})
	in.osRelease = osRelease(t, "ID=fedora\nID_LIKE=\"rhel centos\"\n")
	in.run = func(context.Context, *Cmd) error { t.Fatal("must not run apt-get on Fedora"); return nil }
	err := in.Ensure(context.Background(), "verify", absent)
	if err == nil || !strings.Contains(err.Error(), "novasphere-absent") || strings.Contains(err.Error(), "apt-get") {
		t.Fatalf("error = %v, want the package name and no apt-get line", err)
	}
}

func TestEnsureInstallsWithAptAndSaysSo(t *testing.T) {
	var log bytes.Buffer
	in := NewProvisioner(false, &log)
	in.osRelease = osRelease(t, "ID=ubuntu\nID_LIKE=debian\n")
	var ran []string
	in.run = func(_ context.Context, c *Cmd) error { ran = append(ran, c.String()); return nil }
	err := in.Ensure(context.Background(), "fetch", absent)
	// The fake run installs nothing, so the tool is still missing afterwards.
	if err == nil || !strings.Contains(err.Error(), "still missing novasphere-absent-tool") {
		t.Fatalf("error = %v, want 'still missing'", err)
	}
	if !strings.Contains(log.String(), "fetch: installing novasphere-absent") {
		t.Errorf("log %q does not say what is installed", log.String())
	}
	if len(ran) != 2 || !strings.Contains(ran[0], "apt-get update") ||
		!strings.Contains(ran[1], "apt-get install -y -q --no-install-recommends novasphere-absent") {
		t.Errorf("ran %q, want apt-get update then install", ran)
	}
	if os.Geteuid() != 0 && !strings.HasPrefix(ran[1], "sudo ") {
		t.Errorf("not root: install must go through sudo: %q", ran[1])
	}
}
