// Package sshdtest runs a real OpenSSH server on 127.0.0.1 for tests of
// copies to a server (openssh-server, and rsync for rsync copies, must be
// installed). Only tests import it.
package sshdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// Server is a real OpenSSH server on 127.0.0.1 run by a test, as the
// current user, with a temporary host key and an authorized user key.
type Server struct {
	// Dir is the directory releases are copied to (not created yet).
	Dir string
	// Target is user@127.0.0.1:Dir/ for RELEASE_SCP_TARGET.
	Target string
	// SSHArgs are the client options for RELEASE_SSH_ARGS: the user key,
	// the known_hosts file holding the host key, and the port.
	SSHArgs string
	// Addr is 127.0.0.1:<port>, User the user to log in as (the current
	// one), AuthorizedKeys the file sshd reads the user's keys from (a
	// test may add keys to it) and UserKey the private key it holds.
	Addr, User, AuthorizedKeys, UserKey string
}

// Start starts /usr/sbin/sshd -D on a free port with a temporary
// configuration; extraConfig is appended to it. The server is killed (by
// its own PID) when the test ends; its log is shown when the test failed.
func Start(t *testing.T, extraConfig string) *Server {
	t.Helper()
	dir := t.TempDir()
	for _, key := range []string{"host_ed25519", "user_ed25519"} {
		run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "release-test", "-f", filepath.Join(dir, key))
	}
	userPub, err := os.ReadFile(filepath.Join(dir, "user_ed25519.pub"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), userPub, 0o600))
	port := freePort(t)
	config := fmt.Sprintf(`ListenAddress 127.0.0.1
HostKey %[1]s/host_ed25519
AuthorizedKeysFile %[1]s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
%[2]s
`, dir, extraConfig)
	must(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600))
	ensurePrivsepDir(t)

	ctx, cancel := context.WithCancel(context.Background())
	logPath := filepath.Join(dir, "sshd.log")
	logFile, err := os.Create(logPath)
	must(t, err)
	proc, err := tool.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"), "-p", fmt.Sprint(port)).Stream(logFile).Start(ctx)
	if err != nil {
		cancel()
		logFile.Close()
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = proc.Kill()
		_ = proc.Wait()
		cancel()
		logFile.Close()
		if t.Failed() {
			t.Logf("sshd log:\n%s", readLog(logPath))
		}
	})
	waitForPort(t, port, logPath)

	hostPub, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	must(t, err)
	knownHosts := filepath.Join(dir, "known_hosts")
	must(t, os.WriteFile(knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub)), 0o600))
	u, err := user.Current()
	must(t, err)
	releases := filepath.Join(dir, "srv", "releases")
	return &Server{
		Dir:     releases,
		Target:  u.Username + "@127.0.0.1:" + releases + "/",
		SSHArgs: fmt.Sprintf("-F none -i %s/user_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o Port=%d", dir, knownHosts, port),
		Addr:    fmt.Sprintf("127.0.0.1:%d", port), User: u.Username,
		AuthorizedKeys: filepath.Join(dir, "authorized_keys"), UserKey: filepath.Join(dir, "user_ed25519"),
	}
}

// ensurePrivsepDir creates /run/sshd when running as root: sshd refuses to
// start without its privilege separation directory, which the Debian
// package normally creates when the system's sshd service starts.
func ensurePrivsepDir(t *testing.T) {
	if os.Geteuid() != 0 {
		return
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd needs /run/sshd: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitForPort(t *testing.T, port int, logPath string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd did not listen on port %d:\n%s", port, readLog(logPath))
}

// readLog is what sshd wrote so far.
func readLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
