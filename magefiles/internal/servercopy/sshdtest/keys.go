package sshdtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// PublicKeyFile writes a file holding one new Ed25519 OpenSSH public key
// (its private half is thrown away) and returns its path: a configuration
// someone can log in to, for ADMIN_AUTHORIZED_KEYS in tests that are not
// about logging in.
func PublicKeyFile(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.pub")
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
