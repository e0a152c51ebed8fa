package signing

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Real GnuPG (the gnupg package, installed by `go run magefile.go test`):
// what a customer runs must accept what we write, and keys made by the
// maintainer procedure in README.md must load.

// gnupg is a throw-away GnuPG home directory.
type gnupg struct {
	t    *testing.T
	home string
}

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is not installed (package gnupg; `go run magefile.go test` installs it): %v", err)
	}
	// A short path: gpg-agent's socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	g := &gnupg{t: t, home: home}
	t.Cleanup(func() {
		// Stop the agent gpg started for this home, if any.
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = g.env()
		_ = kill.Run()
		os.RemoveAll(home)
	})
	return g
}

func (g *gnupg) env() []string {
	return append(os.Environ(), "GNUPGHOME="+g.home, "LC_ALL=C")
}

// run runs gpg with --batch and returns stdout+status output, stderr and
// the exit code.
func (g *gnupg) run(stdin []byte, args ...string) (stdout, stderr string, code int) {
	g.t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty"}, args...)...)
	cmd.Env = g.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		g.t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

func (g *gnupg) must(stdin []byte, args ...string) string {
	g.t.Helper()
	out, errOut, code := g.run(stdin, args...)
	if code != 0 {
		g.t.Fatalf("gpg %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// verify runs `gpg --verify SHA256SUMS.gpg SHA256SUMS` as a customer would,
// with --status-fd for machine-readable results.
func (g *gnupg) verify(sums, sig []byte) (status string, code int) {
	g.t.Helper()
	dir := g.t.TempDir()
	must(g.t, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644))
	must(g.t, os.WriteFile(filepath.Join(dir, "SHA256SUMS.gpg"), sig, 0o644))
	out, errOut, code := g.run(nil, "--status-fd", "1", "--verify", filepath.Join(dir, "SHA256SUMS.gpg"), filepath.Join(dir, "SHA256SUMS"))
	return out + errOut, code
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// validsig finds gpg's VALIDSIG status line and returns the primary key
// fingerprint it names (its last field).
func validsig(status string) string {
	m := regexp.MustCompile(`(?m)^\[GNUPG:\] VALIDSIG .* ([0-9A-F]{40})$`).FindStringSubmatch(status)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestGnuPGVerifiesOurSignatures(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	g := newGnuPG(t)
	for _, name := range []string{"release", "rsa"} {
		g.must(ks[name].public, "--import")
	}
	for _, name := range []string{"release", "rsa"} {
		k := ks[name]
		sig, err := mustLoad(t, k, "").Sign([]byte(sums))
		if err != nil {
			t.Fatal(err)
		}
		status, code := g.verify([]byte(sums), sig)
		if code != 0 || !strings.Contains(status, "[GNUPG:] GOODSIG") || validsig(status) != k.fpr {
			t.Errorf("%s key: gpg --verify exit %d, want 0 with GOODSIG and VALIDSIG %s:\n%s", name, code, k.fpr, status)
		}
		// A tampered SHA256SUMS fails in gpg too.
		status, code = g.verify([]byte(strings.Replace(sums, "a4ac", "b4ac", 1)), sig)
		if code == 0 || !strings.Contains(status, "[GNUPG:] BADSIG") {
			t.Errorf("%s key: gpg --verify of a tampered SHA256SUMS: exit %d, want BADSIG:\n%s", name, code, status)
		}
	}
	// A signature by a key the customer does not have is not good.
	sig, err := mustLoad(t, ks["other"], "").Sign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	status, code := g.verify([]byte(sums), sig)
	if code == 0 || !strings.Contains(status, "NO_PUBKEY") {
		t.Errorf("signature by an unknown key: gpg --verify exit %d, want NO_PUBKEY:\n%s", code, status)
	}
}

// A key made with gpg the way README.md tells the maintainer (ed25519 or
// rsa4096, passphrase-protected, exported armored) loads, signs what gpg
// verifies, and gpg's own signatures verify here.
func TestGnuPGMadeKeys(t *testing.T) {
	t.Parallel()
	const pass = "a long test passphrase"
	for _, algo := range []string{"ed25519", "rsa4096"} {
		g := newGnuPG(t)
		uid := "NovaSphere Release Test " + algo + " <release@example.invalid>"
		g.must(nil, "--pinentry-mode", "loopback", "--passphrase", pass, "--quick-gen-key", uid, algo, "sign", "2y")
		colons := g.must(nil, "--with-colons", "--list-keys", uid)
		m := regexp.MustCompile(`(?m)^fpr:+([0-9A-F]{40}):`).FindStringSubmatch(colons)
		if m == nil {
			t.Fatalf("%s: no fingerprint in\n%s", algo, colons)
		}
		fpr := m[1]
		public := []byte(g.must(nil, "--armor", "--export", fpr))
		private := []byte(g.must(nil, "--pinentry-mode", "loopback", "--passphrase", pass, "--armor", "--export-secret-keys", fpr))

		if _, err := LoadSigningKey(private, nil); !errors.Is(err, ErrPassphraseRequired) {
			t.Errorf("%s: without the passphrase: %v, want ErrPassphraseRequired", algo, err)
		}
		if _, err := LoadSigningKey(private, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s: wrong passphrase: %v, want ErrWrongPassphrase", algo, err)
		}
		if _, err := LoadSigningKey(public, []byte(pass)); !errors.Is(err, ErrPublicKeyGiven) {
			t.Errorf("%s: public key: %v, want ErrPublicKeyGiven", algo, err)
		}
		// A secret stored with a trailing newline still unlocks.
		s, err := LoadSigningKey(private, []byte(pass+"\n"))
		if err != nil {
			t.Fatalf("%s: LoadSigningKey: %v", algo, err)
		}
		if s.Fingerprint() != fpr {
			t.Errorf("%s: Fingerprint() = %s, gpg says %s", algo, s.Fingerprint(), fpr)
		}
		sig, err := s.Sign([]byte(sums))
		if err != nil {
			t.Fatal(err)
		}
		if status, code := g.verify([]byte(sums), sig); code != 0 || validsig(status) != fpr {
			t.Errorf("%s: gpg --verify of our signature: exit %d\n%s", algo, code, status)
		}
		// gpg's own detached signature, as `gpg --armor --detach-sign`.
		gpgSig := []byte(g.must([]byte(sums), "--pinentry-mode", "loopback", "--passphrase", pass, "--armor", "--detach-sign", "--local-user", fpr))
		if got, err := Verify(public, []byte(sums), gpgSig); err != nil || got != fpr {
			t.Errorf("%s: Verify of gpg's signature = %s, %v; want %s", algo, got, err, fpr)
		}
		if _, err := Verify(public, []byte(sums+"extra line\n"), gpgSig); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Verify of gpg's signature over changed data: %v, want ErrTampered", algo, err)
		}
	}
}
