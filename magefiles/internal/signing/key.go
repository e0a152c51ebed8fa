package signing

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Signer signs with one OpenPGP private key held in memory.
type Signer struct {
	entity *openpgp.Entity
	key    openpgp.Key
	// now is the clock of the signature creation time (replaced in tests).
	now func() time.Time
}

// exportHint says how to produce what LoadSigningKey wants.
const exportHint = "export it with `gpg --armor --export-secret-keys FINGERPRINT` and store the whole output, BEGIN and END lines included, in RELEASE_SIGNING_KEY"

// LoadSigningKey reads an armored OpenPGP private key (the output of
// `gpg --armor --export-secret-keys FINGERPRINT`) and unlocks its signing key
// with passphrase, which may be empty for an unprotected key. It refuses,
// each with its own error class: malformed input (ErrMalformedKey), a public
// key (ErrPublicKeyGiven), a protected key without passphrase
// (ErrPassphraseRequired), a wrong passphrase (ErrWrongPassphrase), an
// expired or revoked key or signing subkey (ErrKeyExpired, ErrKeyRevoked), a
// key without a usable signing key (ErrCannotSign), and key types GnuPG 2.2
// cannot verify or that are too weak (ErrUnsupportedKey). The key is checked
// by signing a probe and verifying it.
func LoadSigningKey(armored []byte, passphrase []byte) (*Signer, error) {
	e, err := readPrivateEntity(armored)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	key, err := signingKey(e, now)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithm(key.PublicKey); err != nil {
		return nil, err
	}
	if err := unlock(key, passphrase); err != nil {
		return nil, err
	}
	s := &Signer{entity: e, key: key, now: time.Now}
	if err := s.selfTest(); err != nil {
		return nil, err
	}
	return s, nil
}

// readPrivateEntity finds the private key block in armored and parses the one
// key it must hold.
func readPrivateEntity(armored []byte) (*openpgp.Entity, error) {
	if len(bytes.TrimSpace(armored)) == 0 {
		return nil, fmt.Errorf("%w: the signing key is empty; %s", ErrMalformedKey, exportHint)
	}
	blocks, err := armoredBlocks(armored)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	var private *armor.Block
	var types []string
	for _, b := range blocks {
		types = append(types, b.Type)
		if b.Type == privateKeyBlock && private == nil {
			private = b
		}
	}
	switch {
	case private != nil:
	case len(blocks) == 0:
		return nil, fmt.Errorf("%w: no armored block (a line -----BEGIN PGP PRIVATE KEY BLOCK-----) in the signing key; %s", ErrMalformedKey, exportHint)
	case contains(types, publicKeyBlock):
		return nil, fmt.Errorf("%w: the signing key holds a PGP PUBLIC KEY BLOCK only; the private key is needed: %s", ErrPublicKeyGiven, exportHint)
	default:
		return nil, fmt.Errorf("%w: the signing key holds a %s, not a PGP PRIVATE KEY BLOCK; %s", ErrMalformedKey, strings.Join(types, ", "), exportHint)
	}
	el, err := openpgp.ReadKeyRing(private.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: the PGP PRIVATE KEY BLOCK cannot be read (%v); %s", ErrMalformedKey, err, exportHint)
	}
	var secret []*openpgp.Entity
	for _, e := range el {
		if hasSecret(e) {
			secret = append(secret, e)
		}
	}
	switch len(secret) {
	case 0:
		return nil, fmt.Errorf("%w: the key block holds no secret key material; %s", ErrPublicKeyGiven, exportHint)
	case 1:
		return secret[0], nil
	default:
		var fps []string
		for _, e := range secret {
			fps = append(fps, fingerprint(e.PrimaryKey))
		}
		return nil, fmt.Errorf("%w: the key block holds %d private keys (%s); export only the release key: gpg --armor --export-secret-keys FINGERPRINT", ErrMalformedKey, len(secret), strings.Join(fps, ", "))
	}
}

// hasSecret reports whether the entity carries any private key packet, even
// a stub.
func hasSecret(e *openpgp.Entity) bool {
	if e.PrivateKey != nil {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// signingKey picks the key that signs, as GnuPG does (the newest valid
// signing subkey, else the primary key when it may sign), and explains why
// there is none.
func signingKey(e *openpgp.Entity, now time.Time) (openpgp.Key, error) {
	fpr := fingerprint(e.PrimaryKey)
	if err := primaryUsable(e, now); err != nil {
		return openpgp.Key{}, err
	}
	key, ok := e.SigningKey(now)
	if !ok {
		return openpgp.Key{}, noSigningKey(e, now)
	}
	kfpr := fingerprint(key.PublicKey)
	if key.PrivateKey == nil {
		return openpgp.Key{}, fmt.Errorf("%w: the private part of signing key %s is missing from the export (key %s); export the private key with gpg --armor --export-secret-keys %s", ErrCannotSign, kfpr, fpr, fpr)
	}
	if key.PrivateKey.Dummy() {
		return openpgp.Key{}, fmt.Errorf("%w: signing key %s of key %s is only a stub in this export (its private part is on a smartcard or was left out); export a key whose signing key is present", ErrCannotSign, kfpr, fpr)
	}
	return key, nil
}

// primaryUsable checks that the primary key is not expired or revoked and
// carries a valid self-signature.
func primaryUsable(e *openpgp.Entity, now time.Time) error {
	fpr := fingerprint(e.PrimaryKey)
	self, _ := e.PrimarySelfSignature()
	if self == nil {
		return fmt.Errorf("%w: key %s has no valid self-signature (user ID binding)", ErrMalformedKey, fpr)
	}
	if e.Revoked(now) {
		return fmt.Errorf("%w: key %s is revoked; generate a new release key (see magefiles/internal/signing/README.md)", ErrKeyRevoked, fpr)
	}
	if e.PrimaryKey.CreationTime.After(now) {
		return fmt.Errorf("%w: key %s is created in the future (%s); check the clock", ErrMalformedKey, fpr, timeString(e.PrimaryKey.CreationTime))
	}
	if until, ok := expiry(e.PrimaryKey, self); ok && !now.Before(until) {
		return fmt.Errorf("%w: key %s expired on %s; extend it (gpg --quick-set-expire %s 2y), then update the RELEASE_SIGNING_KEY secret and configs/keys/novasphere-release.asc", ErrKeyExpired, fpr, timeString(until), fpr)
	}
	if self.SigExpired(now) {
		return fmt.Errorf("%w: the self-signature of key %s expired; extend it (gpg --quick-set-expire %s 2y), then update the RELEASE_SIGNING_KEY secret and configs/keys/novasphere-release.asc", ErrKeyExpired, fpr, fpr)
	}
	return nil
}

// noSigningKey explains why a valid primary key has no signing key: its
// signing subkeys expired or were revoked, or nothing may sign.
func noSigningKey(e *openpgp.Entity, now time.Time) error {
	fpr := fingerprint(e.PrimaryKey)
	for _, s := range e.Subkeys {
		if s.Sig == nil || !s.Sig.FlagsValid || !s.Sig.FlagSign {
			continue
		}
		sfpr := fingerprint(s.PublicKey)
		if s.Revoked(now) {
			return fmt.Errorf("%w: the signing subkey %s of key %s is revoked and the key has no other signing key; add one (gpg --quick-add-key %s ed25519 sign 2y)", ErrKeyRevoked, sfpr, fpr, fpr)
		}
		if until, ok := expiry(s.PublicKey, s.Sig); ok && !now.Before(until) {
			return fmt.Errorf("%w: the signing subkey %s of key %s expired on %s; extend it (gpg --quick-set-expire %s 2y %s), then update the RELEASE_SIGNING_KEY secret and configs/keys/novasphere-release.asc", ErrKeyExpired, sfpr, fpr, timeString(until), fpr, sfpr)
		}
	}
	return fmt.Errorf("%w: key %s has no key allowed to sign (its usage flags allow certification or encryption only); add a signing subkey (gpg --quick-add-key %s ed25519 sign 2y) or generate the release key as described in magefiles/internal/signing/README.md", ErrCannotSign, fpr, fpr)
}

// checkAlgorithm refuses signing keys GnuPG 2.2 (Ubuntu 22.04) cannot
// verify, and weak ones.
func checkAlgorithm(pk *packet.PublicKey) error {
	fpr := fingerprint(pk)
	const fix = "generate an ed25519 or rsa4096 key as described in magefiles/internal/signing/README.md"
	if pk.Version != 4 {
		return fmt.Errorf("%w: signing key %s is a version %d key; GnuPG 2.2 (Ubuntu 22.04) verifies version 4 keys only: %s", ErrUnsupportedKey, fpr, pk.Version, fix)
	}
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoECDSA:
		return nil
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := pk.BitLength()
		if err != nil {
			return fmt.Errorf("%w: signing key %s: %v", ErrMalformedKey, fpr, err)
		}
		if bits < minRSABits {
			return fmt.Errorf("%w: signing key %s is RSA with %d bits, below the %d accepted: %s", ErrUnsupportedKey, fpr, bits, minRSABits, fix)
		}
		return nil
	case packet.PubKeyAlgoDSA:
		return fmt.Errorf("%w: signing key %s is DSA, which is obsolete: %s", ErrUnsupportedKey, fpr, fix)
	default:
		return fmt.Errorf("%w: signing key %s uses public-key algorithm %d, which GnuPG 2.2 (Ubuntu 22.04) cannot verify: %s", ErrUnsupportedKey, fpr, pk.PubKeyAlgo, fix)
	}
}

// unlock decrypts the signing key's private part.
func unlock(key openpgp.Key, passphrase []byte) error {
	pk := key.PrivateKey
	if !pk.Encrypted {
		return nil
	}
	fpr := fingerprint(key.PublicKey)
	if len(passphrase) == 0 {
		return fmt.Errorf("%w: signing key %s is protected by a passphrase: set RELEASE_SIGNING_PASSPHRASE", ErrPassphraseRequired, fpr)
	}
	// A secret pasted or piped with a trailing newline is tried without it
	// too. The library's error text is not used: only "wrong passphrase"
	// is said, never anything derived from the passphrase.
	for _, p := range [][]byte{passphrase, bytes.TrimRight(passphrase, "\r\n")} {
		if len(p) > 0 && pk.Decrypt(p) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: RELEASE_SIGNING_PASSPHRASE does not unlock signing key %s; check the secret", ErrWrongPassphrase, fpr)
}

// selfTest signs a probe and verifies it with the key's own public part, so
// a damaged key fails here rather than in a customer's gpg.
func (s *Signer) selfTest() error {
	probe := []byte("novasphere release signing key self-test\n")
	sig, err := s.Sign(probe)
	if err != nil {
		return err
	}
	pub, err := s.PublicKey()
	if err != nil {
		return err
	}
	if _, err := Verify(pub, probe, sig); err != nil {
		return fmt.Errorf("%w: key %s makes signatures its own public key does not verify (%v); export it again", ErrMalformedKey, s.Fingerprint(), errors.Unwrap(err))
	}
	return nil
}

// Fingerprint is the primary key's fingerprint in upper-case hex without
// spaces (as `gpg --with-colons --fingerprint` prints it): the one to record
// in README.
func (s *Signer) Fingerprint() string { return fingerprint(s.entity.PrimaryKey) }

// SigningKeyFingerprint is the fingerprint of the key that makes the
// signatures: a signing subkey's, or the primary key's when it signs itself.
func (s *Signer) SigningKeyFingerprint() string { return fingerprint(s.key.PublicKey) }

// PublicKey returns the armored public key (without any private part), as
// `gpg --armor --export FINGERPRINT` would: compare it with, or write it to,
// configs/keys/novasphere-release.asc.
func (s *Signer) PublicKey() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, publicKeyBlock, nil)
	if err != nil {
		return nil, err
	}
	if err := s.entity.Serialize(w); err != nil {
		return nil, fmt.Errorf("serializing the public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Sign returns an armored detached signature of data, the content of
// SHA256SUMS.gpg for SHA256SUMS. The signature time is the current time.
func (s *Signer) Sign(data []byte) ([]byte, error) {
	deterministic := false
	cfg := &packet.Config{
		DefaultHash:  signatureHash,
		Time:         s.now,
		SigningKeyId: s.key.PublicKey.KeyId,
		// No random salt notation: GnuPG does not add one either.
		NonDeterministicSignaturesViaNotation: &deterministic,
	}
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(data), cfg); err != nil {
		return nil, fmt.Errorf("signing with key %s: %w", s.Fingerprint(), err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
