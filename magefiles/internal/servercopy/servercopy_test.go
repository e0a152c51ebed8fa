package servercopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy/sshdtest"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func hexSHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestServerTargetParsing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target, host, dir, err string
	}{
		{"deploy@files.example.com:/srv/releases/", "deploy@files.example.com", "/srv/releases", ""},
		{"files:releases", "files", "releases", ""},
		{"deploy@files:/", "deploy@files", "/", ""},
		{"files.example.com", "", "", "is not user@host:/path/"},
		{"deploy@files:/srv/my releases/", "", "", "may only hold"},
		{"deploy@files:~/releases", "", "", "may only hold"},
		{"-oProxyCommand=x:/tmp", "", "", "is not user@host:/path/"},
		{"-oProxyCommand=x@files:/tmp", "", "", "is not user@host:/path/"},
	} {
		got, err := ParseTarget(tc.target)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.target, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.target, err)
		case got.Host != tc.host || got.Dir != tc.dir:
			t.Errorf("%s: host %q dir %q, want %q %q", tc.target, got.Host, got.Dir, tc.host, tc.dir)
		}
	}
}

func TestParseTool(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "rsync", "scp"} {
		if got, err := ParseTool(s); err != nil || got != s {
			t.Errorf("ParseTool(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseTool("sftp"); err == nil || err.Error() != `"sftp": use rsync or scp` {
		t.Errorf("ParseTool(sftp): %v", err)
	}
	if _, err := New(Options{Target: Target{Host: "files", Dir: "/srv"}, Tool: "ftp"}); err == nil {
		t.Error("New accepted the tool ftp")
	}
}

// A copy that never arrived in the staging directory is reported as
// missing (not as a checksum mismatch), and nothing is renamed.
func TestServerCheckReportsMissingCopies(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	stage := "releases/.incoming-v1.0.0"
	must(t, os.MkdirAll(filepath.Join(home, stage), 0o755))
	here := File{Name: "SHA256SUMS", SHA256: hexSHA256([]byte("sums\n"))}
	must(t, os.WriteFile(filepath.Join(home, stage, here.Name), []byte("sums\n"), 0o644))
	gone := File{Name: "novasphere-installer-v1.0.0.iso", SHA256: strings.Repeat("0", 64)}
	files := []File{gone, here}
	sh := exec.Command("sh", "-c", checkAndRename("releases", stage, files))
	sh.Dir = home
	out, err := sh.Output()
	must(t, err)
	err = mismatches(string(out), "files", stage, files)
	want := "the copies of novasphere-installer-v1.0.0.iso are missing from releases/.incoming-v1.0.0 on files"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	entries, err := os.ReadDir(filepath.Join(home, "releases"))
	must(t, err)
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Errorf("the target holds %v, want only the staging directory", entries)
	}
}

// TestCopyToARealServer copies three files to a real sshd with each tool:
// they arrive with their digests, renamed out of the staging directory,
// and a second Probe finds them all, so nothing is pending.
func TestCopyToARealServer(t *testing.T) {
	t.Parallel()
	for _, copyTool := range []string{Rsync, SCP} {
		t.Run(copyTool, func(t *testing.T) {
			t.Parallel()
			srv := sshdtest.Start(t, "")
			local := t.TempDir()
			var files []File
			for i, name := range []string{"novasphere-installer-v1.0.0.iso", "SHA256SUMS", "verify-report.json"} {
				data := []byte(strings.Repeat(name, (i+1)*20000))
				path := filepath.Join(local, name)
				must(t, os.WriteFile(path, data, 0o644))
				files = append(files, File{Name: name, Path: path, Size: int64(len(data)), SHA256: hexSHA256(data)})
			}
			target, err := ParseTarget(srv.Target)
			must(t, err)
			var out strings.Builder
			c, err := New(Options{Target: target, SSHArgs: strings.Fields(srv.SSHArgs), Tool: copyTool, Out: &out})
			must(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			must(t, c.Probe(ctx, []string{files[0].Name, files[1].Name, files[2].Name}))
			if n := len(c.Pending(files)); n != 3 {
				t.Fatalf("%d pending before the copy, want 3", n)
			}
			must(t, c.CopyAll(ctx, "v1.0.0", files))
			for _, f := range files {
				data, err := os.ReadFile(filepath.Join(srv.Dir, f.Name))
				if err != nil || hexSHA256(data) != f.SHA256 {
					t.Errorf("server's %s: %v, sha256 %s; want %s", f.Name, err, hexSHA256(data), f.SHA256)
				}
			}
			if _, err := os.Stat(filepath.Join(srv.Dir, ".incoming-v1.0.0")); !os.IsNotExist(err) {
				t.Errorf("the staging directory is left: %v", err)
			}
			if !strings.Contains(out.String(), "copied 3 file(s)") || !strings.Contains(out.String(), "with "+copyTool) {
				t.Errorf("progress:\n%s", out.String())
			}
			again, err := New(Options{Target: target, SSHArgs: strings.Fields(srv.SSHArgs), Out: &out})
			must(t, err)
			must(t, again.Probe(ctx, []string{files[0].Name, files[1].Name, files[2].Name}))
			if p := again.Pending(files); len(p) != 0 {
				t.Errorf("after the copy %v are pending", p)
			}
			if again.Tool != Rsync {
				t.Errorf("chose %q with rsync on both ends, want rsync", again.Tool)
			}
		})
	}
}

// TestHiddenVariablesAreEmptiedForTheTools: a secret in this process's
// environment does not reach ssh, scp or rsync.
func TestHiddenVariablesAreEmptiedForTheTools(t *testing.T) {
	t.Setenv("NOVASPHERE_TEST_SECRET", "ghp_mustNotReachSSH")
	c, err := New(Options{Target: Target{Host: "files", Dir: "/srv"}, HideEnv: []string{"NOVASPHERE_TEST_SECRET"}})
	must(t, err)
	out, err := c.command("sh", "-c", `printf %s "$NOVASPHERE_TEST_SECRET"`).Output(context.Background())
	must(t, err)
	if len(out) != 0 {
		t.Errorf("the tool saw %q", out)
	}
}
