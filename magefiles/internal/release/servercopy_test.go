package release

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy/sshdtest"
)

// remoteFiles returns the SHA-256 of every file in the server's directory
// ("directory" for a directory).
func remoteFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	files := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			files[e.Name()] = "directory"
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(t, err)
		sum := sha256.Sum256(data)
		files[e.Name()] = hex.EncodeToString(sum[:])
	}
	return files
}

// wantOnServer is what the server must hold after a release: the whole ISO
// and the four small files, with their local digests.
func wantOnServer(t *testing.T, fx *fixture) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, name := range append(fx.published(), dist.ISOName(fx.version)) {
		data, err := os.ReadFile(filepath.Join(fx.dist, name))
		must(t, err)
		sum := sha256.Sum256(data)
		want[name] = hex.EncodeToString(sum[:])
	}
	return want
}

func assertServerHolds(t *testing.T, got, want map[string]string) {
	t.Helper()
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(got) != len(want) {
		t.Errorf("server holds %v, want exactly %d files", names, len(want))
	}
	for name, digest := range want {
		if got[name] != digest {
			t.Errorf("server's %s has sha256 %q, want %s", name, got[name], digest)
		}
	}
}

func TestServerCopyArrivesWithTheRightDigests(t *testing.T) {
	t.Parallel()
	for _, copyTool := range []string{"rsync", "scp"} {
		t.Run(copyTool, func(t *testing.T) {
			t.Parallel()
			srv := sshdtest.Start(t, "")
			fx := newFixture(t, "v1.0.0", 3<<20)
			fx.env[config.EnvSCPTarget], fx.env[config.EnvSSHArgs], fx.env[config.EnvCopyTool] = srv.Target, srv.SSHArgs, copyTool
			out, err := fx.run()
			if err != nil {
				t.Fatalf("release: %v\n%s", err, out)
			}
			assertPublished(t, fx)
			assertServerHolds(t, remoteFiles(t, srv.Dir), wantOnServer(t, fx))
			for _, want := range []string{"✓ server copy to " + srv.Target, "copies with " + copyTool + "; 0 of 7 files already there",
				"copied 7 file(s), 3.0 MiB, to " + srv.Target, "sha256 checked on the server"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}

			out, err = fx.run()
			if err != nil {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			if strings.Contains(out, "  copy novasphere") || !strings.Contains(out, "7 of 7 files already there") {
				t.Errorf("re-run copied again:\n%s", out)
			}
			assertServerHolds(t, remoteFiles(t, srv.Dir), wantOnServer(t, fx))
		})
	}
}

// RELEASE_SCP_TARGET=user@host:releases/ is relative to the ssh user's
// home (sshd starts the remote commands there). The test makes its own
// directory in the home of the user it runs as, the user sshd logs in, and
// removes it at the end.
func TestServerCopyToARelativePath(t *testing.T) {
	t.Parallel()
	for _, copyTool := range []string{"rsync", "scp"} {
		t.Run(copyTool, func(t *testing.T) {
			t.Parallel()
			srv := sshdtest.Start(t, "")
			u, err := user.Current()
			must(t, err)
			home, err := os.MkdirTemp(u.HomeDir, ".novasphere-release-test-")
			must(t, err)
			t.Cleanup(func() { must(t, os.RemoveAll(home)) })
			relDir := filepath.Base(home) + "/srv/releases"
			fx := newFixture(t, "v1.0.0", 1<<20)
			target := u.Username + "@127.0.0.1:" + relDir + "/"
			fx.env[config.EnvSCPTarget], fx.env[config.EnvSSHArgs], fx.env[config.EnvCopyTool] = target, srv.SSHArgs, copyTool
			out, err := fx.run()
			if err != nil {
				t.Fatalf("release to %s: %v\n%s", target, err, out)
			}
			assertPublished(t, fx)
			assertServerHolds(t, remoteFiles(t, filepath.Join(u.HomeDir, relDir)), wantOnServer(t, fx))

			out, err = fx.run()
			if err != nil {
				t.Fatalf("re-run: %v\n%s", err, out)
			}
			if !strings.Contains(out, "7 of 7 files already there") {
				t.Errorf("re-run does not find the copies under the home:\n%s", out)
			}
		})
	}
}

// corruptingWrapper is a ForceCommand for sshd: it runs the client's
// command, then appends bytes to every temporary release file, as a failing
// disk or a broken transfer would.
const corruptingWrapper = `#!/bin/sh
/bin/sh -c "$SSH_ORIGINAL_COMMAND"
status=$?
for f in %s/.incoming-*/*; do
	[ -f "$f" ] && printf 'corrupted' >> "$f"
done
exit $status
`

func TestServerChecksumMismatchIsReported(t *testing.T) {
	t.Parallel()
	wrapper := filepath.Join(t.TempDir(), "corrupt.sh")
	srv := sshdtest.Start(t, "ForceCommand "+wrapper)
	must(t, os.WriteFile(wrapper, []byte(strings.Replace(corruptingWrapper, "%s", srv.Dir, 1)), 0o755))
	fx := newFixture(t, "v1.0.0", 1<<20)
	fx.env[config.EnvSCPTarget], fx.env[config.EnvSSHArgs] = srv.Target, srv.SSHArgs
	out, err := fx.run()
	if err == nil {
		t.Fatalf("release succeeded although the server's copy is corrupt:\n%s", out)
	}
	for _, want := range []string{"remote checksum mismatch on ", "for novasphere-installer-v1.0.0.iso: expected sha256 " + hex.EncodeToString(sum256(fx.iso)),
		"the bad copies were deleted and nothing was renamed", "stays a draft"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if files := remoteFiles(t, srv.Dir); len(files) != 1 {
		t.Errorf("the server holds %v, want only the staging directory", files)
	}
	if files := remoteFiles(t, filepath.Join(srv.Dir, ".incoming-v1.0.0")); len(files) != 0 {
		t.Errorf("corrupt copies were kept: %v", files)
	}
	if rel := fx.gh.Release("v1.0.0"); rel == nil || !rel.Draft {
		t.Errorf("the GitHub release was published although the server copy failed: %+v", rel)
	}
}

func TestServerDryRunCopiesNothing(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, "")
	fx := newFixture(t, "v1.0.0", 64<<10)
	fx.env[config.EnvSCPTarget], fx.env[config.EnvSSHArgs] = srv.Target, srv.SSHArgs
	out, err := fx.run(dryRun)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "copy novasphere-installer-v1.0.0.iso (64.0 KiB) to "+srv.Target+" with rsync") {
		t.Errorf("dry run does not list the copy:\n%s", out)
	}
	if _, err := os.Stat(srv.Dir); !os.IsNotExist(err) {
		t.Errorf("dry run touched the server: %v", err)
	}
}
