package signing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Verify checks the detached signature sig (armored, as SHA256SUMS.gpg, or
// binary) of data against the armored public key(s) in publicKeyArmored
// (configs/keys/novasphere-release.asc: one or more key blocks, so a file
// can hold the old and the new key during a rotation). It returns the
// fingerprint of the primary key that made the signature.
//
// Errors: ErrNotSignature when sig holds no signature; an *OtherKeyError
// (errors.Is ErrOtherKey) naming the signer's fingerprint when no given key
// made it; ErrTampered when a given key made it but data differs from what
// was signed; ErrKeyExpired or ErrKeyRevoked for a signature by a key that is
// no longer valid; ErrMalformedKey or ErrPrivateKeyGiven for a bad key file.
func Verify(publicKeyArmored, data, sig []byte) (string, error) {
	keys, err := readPublicKeys(publicKeyArmored)
	if err != nil {
		return "", err
	}
	body, sigs, err := readSignatures(sig)
	if err != nil {
		return "", err
	}
	cfg := &packet.Config{}
	signer, err := openpgp.CheckDetachedSignature(keys, bytes.NewReader(data), bytes.NewReader(body), cfg)
	if err == nil {
		return fingerprint(signer.PrimaryKey), nil
	}
	var sigErr pgperrors.SignatureError
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return "", &OtherKeyError{Signer: issuer(sigs), Expected: fingerprints(keys)}
	case signer != nil && errors.Is(err, pgperrors.ErrKeyExpired):
		return "", fmt.Errorf("%w: the signature is by key %s, which has expired; extend the key and publish the updated public key", ErrKeyExpired, fingerprint(signer.PrimaryKey))
	case signer != nil && errors.Is(err, pgperrors.ErrKeyRevoked):
		return "", fmt.Errorf("%w: the signature is by key %s, which is revoked", ErrKeyRevoked, fingerprint(signer.PrimaryKey))
	case signer == nil && errors.As(err, &sigErr):
		return "", fmt.Errorf("%w: the signature by %s does not match the data: the file was changed after it was signed, or the signature is damaged", ErrTampered, issuer(sigs))
	default:
		return "", fmt.Errorf("the signature by %s cannot be checked: %v", issuer(sigs), err)
	}
}

// readPublicKeys reads every armored public key block of data and refuses
// private keys.
func readPublicKeys(data []byte) (openpgp.EntityList, error) {
	blocks, err := armoredBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("%w: the public key file: %v", ErrMalformedKey, err)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: the public key file holds no armored key (a line -----BEGIN PGP PUBLIC KEY BLOCK-----); write it with gpg --armor --export FINGERPRINT", ErrMalformedKey)
	}
	var keys openpgp.EntityList
	for i, b := range blocks {
		switch b.Type {
		case privateKeyBlock:
			return nil, fmt.Errorf("%w: the public key file holds a PGP PRIVATE KEY BLOCK: remove it from the repository at once, treat the key as compromised (revoke it, make a new one) and commit only the output of gpg --armor --export FINGERPRINT", ErrPrivateKeyGiven)
		case publicKeyBlock:
		default:
			return nil, fmt.Errorf("%w: block %d of the public key file is a %s, not a PGP PUBLIC KEY BLOCK", ErrMalformedKey, i+1, b.Type)
		}
		el, err := openpgp.ReadKeyRing(b.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d of the public key file cannot be read: %v", ErrMalformedKey, i+1, err)
		}
		for _, e := range el {
			if hasSecret(e) {
				return nil, fmt.Errorf("%w: the public key file holds private key material (key %s): remove it from the repository at once and treat the key as compromised", ErrPrivateKeyGiven, fingerprint(e.PrimaryKey))
			}
		}
		keys = append(keys, el...)
	}
	return keys, nil
}

// readSignatures returns the binary signature packets of sig (armored or
// not) and the parsed signatures; anything else is ErrNotSignature.
func readSignatures(sig []byte) ([]byte, []*packet.Signature, error) {
	if len(bytes.TrimSpace(sig)) == 0 {
		return nil, nil, fmt.Errorf("%w: the signature file is empty", ErrNotSignature)
	}
	body := sig
	if bytes.Contains(sig, []byte("-----BEGIN PGP ")) {
		blocks, err := armoredBlocks(sig)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrNotSignature, err)
		}
		if len(blocks) != 1 || blocks[0].Type != signatureBlock {
			var types []string
			for _, b := range blocks {
				types = append(types, b.Type)
			}
			return nil, nil, fmt.Errorf("%w: the file holds %s instead of one PGP SIGNATURE", ErrNotSignature, strings.Join(types, ", "))
		}
		raw, err := io.ReadAll(blocks[0].Body)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: the armored signature is damaged: %v", ErrNotSignature, err)
		}
		body = raw
	}
	var sigs []*packet.Signature
	pr := packet.NewReader(bytes.NewReader(body))
	for {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrNotSignature, err)
		}
		s, ok := p.(*packet.Signature)
		if !ok {
			return nil, nil, fmt.Errorf("%w: the file holds a %T packet where a signature belongs", ErrNotSignature, p)
		}
		if s.SigType != packet.SigTypeBinary && s.SigType != packet.SigTypeText {
			return nil, nil, fmt.Errorf("%w: the signature is of type 0x%02x (a key or certification signature), not a document signature", ErrNotSignature, uint8(s.SigType))
		}
		sigs = append(sigs, s)
	}
	if len(sigs) == 0 {
		return nil, nil, fmt.Errorf("%w: the file holds no signature packet", ErrNotSignature)
	}
	return body, sigs, nil
}

// Issuers names the key(s) a detached signature (armored or binary) says
// made it, for messages; "an unnamed key" when it says none, and "an
// unreadable signature" when sig is not one.
func Issuers(sig []byte) string {
	_, sigs, err := readSignatures(sig)
	if err != nil {
		return "an unreadable signature"
	}
	return issuer(sigs)
}

// issuer names the key(s) the signatures say made them.
func issuer(sigs []*packet.Signature) string {
	var ids []string
	for _, s := range sigs {
		switch {
		case len(s.IssuerFingerprint) > 0:
			ids = append(ids, fmt.Sprintf("%X", s.IssuerFingerprint))
		case s.IssuerKeyId != nil:
			ids = append(ids, fmt.Sprintf("key ID %016X", *s.IssuerKeyId))
		}
	}
	if len(ids) == 0 {
		return "an unnamed key"
	}
	return strings.Join(ids, ", ")
}

func fingerprints(el openpgp.EntityList) []string {
	fps := make([]string, 0, len(el))
	for _, e := range el {
		fps = append(fps, fingerprint(e.PrimaryKey))
	}
	return fps
}
