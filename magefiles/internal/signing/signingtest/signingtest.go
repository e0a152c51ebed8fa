// Package signingtest makes throw-away OpenPGP keys for tests of the
// packages that sign or check release signatures. Only tests import it.
package signingtest

import (
	"bytes"
	"crypto"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is a generated Ed25519 key (as gpg makes by default) in armored form.
type Key struct {
	// Private is the armored private key, unprotected; Public its public
	// key.
	Private, Public []byte
}

// NewKey generates a signing key for name.
func NewKey(t testing.TB, name string) Key {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA256,
		Time: func() time.Time { return time.Now().Add(-time.Minute) }}
	e, err := openpgp.NewEntity(name, "test only", "test@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Key{
		Public:  armored(t, openpgp.PublicKeyType, func(w *bytes.Buffer) error { return e.Serialize(w) }),
		Private: armored(t, openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return e.SerializePrivate(w, nil) }),
	}
}

func armored(t testing.TB, block string, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var raw bytes.Buffer
	if err := write(&raw); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, block, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}
