package signing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestLoadSigningKeyRefuses(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	now := time.Now()
	expired := newKey(t, "Expired Key", keyOptions{created: now.Add(-72 * time.Hour), lifetime: 24 * time.Hour})
	expiredSub := newKey(t, "Expired Subkey", keyOptions{
		created: now.Add(-72 * time.Hour), noSignFlag: true,
		signingSubkey: true, subkeyCreated: now.Add(-48 * time.Hour), subkeyLifetime: time.Hour,
	})
	certifyOnly := newKey(t, "Certify Only", keyOptions{noSignFlag: true})
	revoked := newKey(t, "Revoked Key", keyOptions{revoked: true})
	v6 := newKey(t, "Version Six", keyOptions{algo: packet.PubKeyAlgoEd25519, v6: true})
	weak := newKey(t, "Weak RSA", keyOptions{algo: packet.PubKeyAlgoRSA, rsaBits: 1024})
	damaged := damageArmor(ks["release"].private)
	twoKeys := twoPrivateKeys(t, ks["release"], ks["other"])

	cases := []struct {
		name       string
		key        []byte
		passphrase string
		want       error
		mentions   []string
	}{
		{"empty", nil, "", ErrMalformedKey, []string{"empty", "gpg --armor --export-secret-keys"}},
		{"not OpenPGP", []byte("this is not a key\n"), "", ErrMalformedKey, []string{"BEGIN PGP PRIVATE KEY BLOCK"}},
		{"damaged armor", damaged, "", ErrMalformedKey, nil},
		{"a signature", []byte("-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n"), "", ErrMalformedKey, []string{"PGP SIGNATURE"}},
		{"public key", ks["release"].public, "", ErrPublicKeyGiven, []string{"PUBLIC KEY", "private key is needed"}},
		{"two private keys", twoKeys, "", ErrMalformedKey, []string{"2 private keys", ks["release"].fpr, ks["other"].fpr}},
		{"protected, no passphrase", ks["locked"].private, "", ErrPassphraseRequired, []string{"RELEASE_SIGNING_PASSPHRASE", ks["locked"].fpr}},
		{"protected, wrong passphrase", ks["locked"].private, "not the passphrase", ErrWrongPassphrase, []string{"RELEASE_SIGNING_PASSPHRASE", "does not unlock"}},
		{"expired key", expired.private, "", ErrKeyExpired, []string{expired.fpr, "expired on", "gpg --quick-set-expire"}},
		{"expired signing subkey", expiredSub.private, "", ErrKeyExpired, []string{"signing subkey", "expired on", expiredSub.fpr}},
		{"key that cannot sign", certifyOnly.private, "", ErrCannotSign, []string{certifyOnly.fpr, "no key allowed to sign"}},
		{"revoked key", revoked.private, "", ErrKeyRevoked, []string{revoked.fpr, "revoked"}},
		{"version 6 key", v6.private, "", ErrUnsupportedKey, []string{"version 6", "GnuPG 2.2"}},
		{"RSA 1024", weak.private, "", ErrUnsupportedKey, []string{"1024 bits"}},
	}
	all := []error{ErrMalformedKey, ErrPublicKeyGiven, ErrPassphraseRequired, ErrWrongPassphrase, ErrKeyExpired, ErrKeyRevoked, ErrCannotSign, ErrUnsupportedKey}
	for _, c := range cases {
		s, err := LoadSigningKey(c.key, []byte(c.passphrase))
		if err == nil {
			t.Errorf("%s: LoadSigningKey accepted it (%s)", c.name, s.Fingerprint())
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %q is not %q", c.name, err, c.want)
		}
		for _, other := range all {
			if !errors.Is(other, c.want) && errors.Is(err, other) {
				t.Errorf("%s: error %q is also %q", c.name, err, other)
			}
		}
		for _, m := range c.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, m)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
		assertNoSecret(t, c.name, err.Error(), c.key, c.passphrase)
	}
}

// assertNoSecret fails if msg contains the passphrase or any line of the
// key's armored body.
func assertNoSecret(t *testing.T, name, msg string, key []byte, passphrase string) {
	t.Helper()
	if passphrase != "" && strings.Contains(msg, passphrase) {
		t.Errorf("%s: the error contains the passphrase", name)
	}
	for _, line := range strings.Split(string(key), "\n") {
		line = strings.TrimSpace(line)
		if len(line) < 16 || strings.HasPrefix(line, "-----") {
			continue
		}
		if strings.Contains(msg, line) || strings.Contains(msg, line[:16]) {
			t.Errorf("%s: the error contains key material", name)
			return
		}
	}
}

func TestLoadSigningKeyAccepts(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	// A passphrase given for an unprotected key is not needed and not an
	// error.
	if _, err := LoadSigningKey(ks["release"].private, []byte("unused")); err != nil {
		t.Errorf("unprotected key with a passphrase: %v", err)
	}
	// Text around the block (as in a file with notes) and the public block
	// before the private one (gpg --export; gpg --export-secret-keys) are
	// fine.
	mixed := append(append([]byte("release key, see README\n"), ks["release"].public...), ks["release"].private...)
	if s, err := LoadSigningKey(mixed, nil); err != nil || s.Fingerprint() != ks["release"].fpr {
		t.Errorf("public block, then private block: %v", err)
	}
	// A secret pasted with CRLF line ends (from Windows) still reads.
	crlf := bytes.ReplaceAll(ks["release"].private, []byte("\n"), []byte("\r\n"))
	if _, err := LoadSigningKey(crlf, nil); err != nil {
		t.Errorf("key with CRLF line ends: %v", err)
	}
	// A key whose primary only certifies and that signs with a valid
	// subkey (gpg's layout with a signing subkey) signs with the subkey.
	now := time.Now()
	sub := newKey(t, "Signing Subkey", keyOptions{noSignFlag: true, signingSubkey: true, subkeyCreated: now.Add(-time.Minute), subkeyLifetime: 24 * time.Hour})
	s, err := LoadSigningKey(sub.private, nil)
	if err != nil {
		t.Fatalf("key with a signing subkey: %v", err)
	}
	if s.SigningKeyFingerprint() == s.Fingerprint() {
		t.Errorf("signed with the primary key %s, want the subkey", s.Fingerprint())
	}
	sig, err := s.Sign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Verify(sub.public, []byte(sums), sig); err != nil || got != sub.fpr {
		t.Errorf("subkey signature: Verify = %s, %v; want primary fingerprint %s", got, err, sub.fpr)
	}
}

// damageArmor changes one base64 character in the middle of the key body.
func damageArmor(armored []byte) []byte {
	lines := bytes.Split(bytes.Clone(armored), []byte("\n"))
	l := lines[len(lines)/2]
	if l[5] == 'A' {
		l[5] = 'B'
	} else {
		l[5] = 'A'
	}
	return bytes.Join(lines, []byte("\n"))
}

func twoPrivateKeys(t *testing.T, a, b testKey) []byte {
	t.Helper()
	return armorOf(t, privateKeyBlock, func(w ioWriter) error {
		if err := a.entity.SerializePrivateWithoutSigning(w, nil); err != nil {
			return err
		}
		return b.entity.SerializePrivateWithoutSigning(w, nil)
	})
}
