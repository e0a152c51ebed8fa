package installproof

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/novasphere/novasphere-iso/magefiles/internal/servercopy/sshdtest"
)

// TestAcceptsKeyAgainstRealSSHD asks a real OpenSSH server on loopback,
// without any private key, which public keys it accepts for a user: its
// authorized ed25519 key and an authorized RSA key (queried with SHA-2
// algorithms, as OpenSSH refuses ssh-rsa) are accepted; a key it does not
// list, and a listed key for another user, are refused. A login with the
// private key then runs a command.
func TestAcceptsKeyAgainstRealSSHD(t *testing.T) {
	srv := sshdtest.Start(t, "")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	strangerPub, _, _ := ed25519.GenerateKey(rand.Reader)
	stranger, _ := ssh.NewPublicKey(strangerPub)
	f, err := os.OpenFile(srv.AuthorizedKeys, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(ssh.MarshalAuthorizedKey(rsaPub)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pemKey, err := os.ReadFile(srv.UserKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		user string
		key  ssh.PublicKey
		want bool
	}{
		{"authorized ed25519 key", srv.User, signer.PublicKey(), true},
		{"authorized RSA key", srv.User, rsaPub, true},
		{"key not listed", srv.User, stranger, false},
		{"listed key, another user", "novasphere-nobody", signer.PublicKey(), false},
	} {
		ok, err := AcceptsKey(ctx, srv.Addr, tc.user, tc.key)
		if err != nil || ok != tc.want {
			t.Errorf("%s: accepted %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}
	r, err := loginSSH(ctx, srv.Addr, srv.User, signer)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	out, err := r.run(ctx, "echo logged-in; id -un")
	if err != nil || !strings.HasPrefix(out, "logged-in\n"+srv.User) {
		t.Errorf("command over SSH: %q, %v", out, err)
	}
	if _, err := r.run(ctx, "exit 3"); err == nil || !strings.Contains(err.Error(), "exited with status 3") {
		t.Errorf("a failing command: %v", err)
	}
}
