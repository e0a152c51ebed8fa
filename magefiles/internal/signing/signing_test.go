package signing

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const sums = "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd *novasphere-installer-v1.0.0.iso\n"

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"release", "rsa", "locked"} {
		k := keys(t)[name]
		pass := ""
		if name == "locked" {
			pass = "correct horse battery staple"
		}
		s := mustLoad(t, k, pass)
		if s.Fingerprint() != k.fpr {
			t.Errorf("%s: Fingerprint() = %s, want %s", name, s.Fingerprint(), k.fpr)
		}
		sig, err := s.Sign([]byte(sums))
		if err != nil {
			t.Fatalf("%s: Sign: %v", name, err)
		}
		got, err := Verify(k.public, []byte(sums), sig)
		if err != nil {
			t.Fatalf("%s: Verify with the exported public key: %v", name, err)
		}
		if got != k.fpr {
			t.Errorf("%s: Verify returned %s, want %s", name, got, k.fpr)
		}
		pub, err := s.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(pub, []byte("PRIVATE")) {
			t.Errorf("%s: PublicKey() holds a private block", name)
		}
		if got, err := Verify(pub, []byte(sums), sig); err != nil || got != k.fpr {
			t.Errorf("%s: Verify with Signer.PublicKey() = %s, %v; want %s", name, got, err, k.fpr)
		}
	}
}

// The signature has Ubuntu's SHA256SUMS.gpg form: one armored block holding
// one version 4 binary-document signature with the issuer's fingerprint.
func TestSignatureHasUbuntuForm(t *testing.T) {
	t.Parallel()
	k := keys(t)["release"]
	sig, err := mustLoad(t, k, "").Sign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	text := string(sig)
	if !strings.HasPrefix(text, "-----BEGIN PGP SIGNATURE-----\n") || !strings.HasSuffix(text, "-----END PGP SIGNATURE-----\n") {
		t.Fatalf("signature is not one armored block ending in a newline:\n%s", text)
	}
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		t.Fatal(err)
	}
	if len(block.Header) != 0 {
		t.Errorf("armor headers %v, want none", block.Header)
	}
	pr := packet.NewReader(block.Body)
	var n int
	for {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s, ok := p.(*packet.Signature)
		if !ok {
			t.Fatalf("packet %T in the signature", p)
		}
		n++
		if s.Version != 4 || s.SigType != packet.SigTypeBinary {
			t.Errorf("signature version %d type 0x%02x, want version 4 type 0x00", s.Version, uint8(s.SigType))
		}
		if got := strings.ToUpper(string(hexOf(s.IssuerFingerprint))); got != k.fpr {
			t.Errorf("issuer fingerprint %s, want %s", got, k.fpr)
		}
		if len(s.Notations) != 0 {
			t.Errorf("signature carries %d notations, want none (GnuPG adds none)", len(s.Notations))
		}
		if d := time.Since(s.CreationTime); d < -time.Minute || d > time.Minute {
			t.Errorf("signature time %s is not now", s.CreationTime)
		}
	}
	if n != 1 {
		t.Errorf("%d signature packets, want 1", n)
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	release, other := ks["release"], ks["other"]
	sig, err := mustLoad(t, release, "").Sign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	otherSig, err := mustLoad(t, other, "").Sign([]byte(sums))
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(sums, "a4ac", "b4ac", 1)
	// A damaged signature: one base64 character of the signature value
	// changed keeps the armor readable (the CRC is not checked) but not
	// the signature.
	damaged := damageSignature(t, sig)

	cases := []struct {
		name      string
		keys      []byte
		data      string
		sig       []byte
		want      error
		mentions  []string
		otherFprs string
	}{
		{"changed data", release.public, tampered, sig, ErrTampered, []string{"tampered", release.fpr}, ""},
		{"damaged signature", release.public, sums, damaged, ErrTampered, []string{"tampered"}, ""},
		{"signed by another key", release.public, sums, otherSig, ErrOtherKey, []string{"another key", other.fpr, release.fpr}, other.fpr},
		{"empty signature", release.public, sums, nil, ErrNotSignature, []string{"empty"}, ""},
		{"random bytes", release.public, sums, []byte("\x8a\x01\x02 not a signature at all"), ErrNotSignature, nil, ""},
		{"text", release.public, sums, []byte("hello\n"), ErrNotSignature, nil, ""},
		{"a public key as signature", release.public, sums, release.public, ErrNotSignature, []string{"PGP PUBLIC KEY BLOCK"}, ""},
		{"private key in the public key file", release.private, sums, sig, ErrPrivateKeyGiven, []string{"remove it"}, ""},
		{"no key in the key file", []byte("nothing here\n"), sums, sig, ErrMalformedKey, []string{"gpg --armor --export"}, ""},
	}
	for _, c := range cases {
		fpr, err := Verify(c.keys, []byte(c.data), c.sig)
		if err == nil {
			t.Errorf("%s: Verify accepted it (fingerprint %s)", c.name, fpr)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %q is not %q", c.name, err, c.want)
		}
		for _, m := range c.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, m)
			}
		}
		if c.otherFprs != "" {
			var oe *OtherKeyError
			if !errors.As(err, &oe) || oe.Signer != c.otherFprs {
				t.Errorf("%s: error %v does not carry signer %s", c.name, err, c.otherFprs)
			}
		}
		for _, bad := range []error{ErrTampered, ErrOtherKey, ErrNotSignature} {
			if !errors.Is(bad, c.want) && errors.Is(err, bad) {
				t.Errorf("%s: error %q is also %q", c.name, err, bad)
			}
		}
	}
}

// damageSignature flips one bit of the signature value, inside the armor.
func damageSignature(t *testing.T, sig []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(block.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-5] ^= 0x01
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, signatureBlock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// During a key rotation the key file holds the old and the new key: a
// signature by either verifies and names its own key.
func TestVerifyWithSeveralKeys(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	both := append(append([]byte("old and new release keys\n"), ks["other"].public...), ks["release"].public...)
	for _, name := range []string{"release", "other"} {
		sig, err := mustLoad(t, ks[name], "").Sign([]byte(sums))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify(both, []byte(sums), sig)
		if err != nil || got != ks[name].fpr {
			t.Errorf("signature by %s: Verify = %s, %v; want %s", name, got, err, ks[name].fpr)
		}
	}
}

// A signature made while the key was valid, checked after the key expired,
// is refused with ErrKeyExpired.
func TestVerifyRefusesAKeyThatHasExpiredSince(t *testing.T) {
	t.Parallel()
	created := time.Now().Add(-2 * time.Hour)
	k := newKey(t, "Short Lived", keyOptions{created: created, lifetime: time.Hour})
	var buf bytes.Buffer
	signedAt := created.Add(30 * time.Minute)
	if err := openpgp.ArmoredDetachSign(&buf, k.entity, strings.NewReader(sums), &packet.Config{Time: func() time.Time { return signedAt }}); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(k.public, []byte(sums), buf.Bytes())
	if !errors.Is(err, ErrKeyExpired) || !strings.Contains(err.Error(), k.fpr) {
		t.Fatalf("Verify after the key expired: %v, want ErrKeyExpired naming %s", err, k.fpr)
	}
}
