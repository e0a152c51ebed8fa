// Package signing makes and checks detached OpenPGP signatures of a release's
// SHA256SUMS, in the form Ubuntu publishes SHA256SUMS.gpg: an ASCII-armored
// ("-----BEGIN PGP SIGNATURE-----") binary-document signature (class 0x00) by
// a version 4 key, so that GnuPG 2.2 (Ubuntu 22.04) checks it with
//
//	gpg --verify SHA256SUMS.gpg SHA256SUMS
//
// The private key comes in as bytes (the RELEASE_SIGNING_KEY secret) and is
// only ever held in memory. No error or output of this package contains key
// material or the passphrase; fingerprints are public and are named.
package signing

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Error classes of LoadSigningKey and Verify; test with errors.Is. The
// messages that wrap them say what is wrong and what to do.
var (
	// ErrMalformedKey: the input is not a readable OpenPGP key.
	ErrMalformedKey = errors.New("malformed OpenPGP key")
	// ErrPublicKeyGiven: a public key was given where the private key is needed.
	ErrPublicKeyGiven = errors.New("public key given instead of the private key")
	// ErrPrivateKeyGiven: a private key was given where the public key belongs
	// (a private key must never be committed).
	ErrPrivateKeyGiven = errors.New("private key given where the public key belongs")
	// ErrPassphraseRequired: the key is protected and no passphrase was given.
	ErrPassphraseRequired = errors.New("the key is passphrase-protected and no passphrase was given")
	// ErrWrongPassphrase: the passphrase does not unlock the key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrKeyExpired: the key, or its signing subkey, has expired.
	ErrKeyExpired = errors.New("key expired")
	// ErrKeyRevoked: the key, or its signing subkey, is revoked.
	ErrKeyRevoked = errors.New("key revoked")
	// ErrCannotSign: the key has no usable signing key.
	ErrCannotSign = errors.New("key cannot sign")
	// ErrUnsupportedKey: GnuPG 2.2 could not verify signatures by this key,
	// or it is too weak.
	ErrUnsupportedKey = errors.New("key type not accepted")
	// ErrNotSignature: the signature file holds no OpenPGP signature.
	ErrNotSignature = errors.New("not an OpenPGP signature")
	// ErrTampered: the signature is by a known key but does not match the
	// data: the data changed after signing (or the signature is damaged).
	ErrTampered = errors.New("data changed since signing (tampered)")
	// ErrOtherKey: the signature was made by a key that is not the given
	// public key; the error is an *OtherKeyError that names it.
	ErrOtherKey = errors.New("signed by another key")
)

// OtherKeyError is returned by Verify for a signature made by a key that is
// not among the given public keys.
type OtherKeyError struct {
	// Signer is the issuer fingerprint in the signature (upper-case hex), or
	// "key ID XXXXXXXXXXXXXXXX" when the signature names only a key ID.
	Signer string
	// Expected are the fingerprints of the public keys that were given.
	Expected []string
}

func (e *OtherKeyError) Error() string {
	return fmt.Sprintf("signed by another key (fingerprint %s), not by %s", e.Signer, strings.Join(e.Expected, ", "))
}

// Is makes errors.Is(err, ErrOtherKey) hold.
func (e *OtherKeyError) Is(target error) bool { return target == ErrOtherKey }

// Armor block types.
const (
	privateKeyBlock = "PGP PRIVATE KEY BLOCK"
	publicKeyBlock  = "PGP PUBLIC KEY BLOCK"
	signatureBlock  = "PGP SIGNATURE"
)

// signatureHash is the digest of the signatures we make: what GnuPG 2.2 uses
// with Ed25519 keys, and accepted with every key type we allow.
const signatureHash = crypto.SHA512

// minRSABits is the smallest RSA key accepted for signing releases.
const minRSABits = 2048

// fingerprint formats a key fingerprint as gpg --with-colons does: upper-case
// hex without spaces.
func fingerprint(pk *packet.PublicKey) string {
	return fmt.Sprintf("%X", pk.Fingerprint)
}

// armoredBlocks decodes every armored block of data, in file order.
func armoredBlocks(data []byte) ([]*armor.Block, error) {
	var blocks []*armor.Block
	for _, chunk := range SplitArmored(data) {
		b, err := armor.Decode(bytes.NewReader(chunk))
		if err != nil {
			return nil, fmt.Errorf("armored block %d is damaged (%v): copy the whole block, from its BEGIN line to its END line", len(blocks)+1, err)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// armorBegin starts every armored OpenPGP block.
var armorBegin = []byte("-----BEGIN PGP ")

// SplitArmored splits data into pieces that each begin with one armored
// OpenPGP block's BEGIN line (as `cat a.asc b.asc` makes); text before the
// first block is dropped. Data without armor gives none.
func SplitArmored(data []byte) [][]byte {
	var blocks [][]byte
	start := bytes.Index(data, armorBegin)
	for start >= 0 {
		next := bytes.Index(data[start+len(armorBegin):], armorBegin)
		if next < 0 {
			blocks = append(blocks, data[start:])
			break
		}
		next += start + len(armorBegin)
		blocks = append(blocks, data[start:next])
		start = next
	}
	return blocks
}

// timeString formats a key or signature time for messages.
func timeString(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// expiry returns when pk expires according to its self-signature sig, and
// false when it never does.
func expiry(pk *packet.PublicKey, sig *packet.Signature) (time.Time, bool) {
	if sig == nil || sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return time.Time{}, false
	}
	return pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second), true
}
