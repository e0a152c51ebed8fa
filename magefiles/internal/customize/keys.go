package customize

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// MinRSABits is the smallest RSA key accepted: OpenSSH's ssh-keygen makes
// 3072-bit keys by default and NIST deprecates keys under 2048 bits; sshd
// 9.x refuses RSA keys under 1024 bits outright (RequiredRSASize).
const MinRSABits = 2048

// ErrBadKey marks an authorized key that cannot be used to log in: not an
// OpenSSH public key, a private key, a certificate, DSA, or RSA shorter than
// MinRSABits.
var ErrBadKey = errors.New("bad SSH public key")

// PublicKey is one checked OpenSSH public key, as an authorized_keys line.
type PublicKey struct {
	// Line is the key as the installed system's authorized_keys gets it:
	// options (if any), type, base64 blob and comment.
	Line string
	// Type is the key type ("ssh-ed25519", "ssh-rsa", ...).
	Type string
	// Bits is the key size, as `ssh-keygen -l` shows it.
	Bits int
	// Fingerprint is the SHA256 fingerprint ("SHA256:..."), as OpenSSH
	// prints it.
	Fingerprint string
	// Comment is the key's comment (often user@host).
	Comment string
	// Key is the parsed key.
	Key ssh.PublicKey
}

// String is the key as `ssh-keygen -l` prints it:
// "256 SHA256:... admin@example.com (ED25519)".
func (k PublicKey) String() string {
	comment := k.Comment
	if comment == "" {
		comment = "no comment"
	}
	return fmt.Sprintf("%d %s %s (%s)", k.Bits, k.Fingerprint, comment, keyTypeLabel(k.Type))
}

func keyTypeLabel(t string) string {
	switch t {
	case ssh.KeyAlgoED25519:
		return "ED25519"
	case ssh.KeyAlgoSKED25519:
		return "ED25519-SK"
	case ssh.KeyAlgoRSA:
		return "RSA"
	case ssh.KeyAlgoSKECDSA256:
		return "ECDSA-SK"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ECDSA"
	}
	return strings.ToUpper(t)
}

// privateKeyMarkers appear in private key files (OpenSSH, PEM, PKCS#8,
// PuTTY). A line holding one is never printed.
var privateKeyMarkers = []string{"PRIVATE KEY", "PuTTY-User-Key-File", "ENCRYPTED KEY"}

// looksPrivate reports whether a line is part of a private key.
func looksPrivate(line string) bool {
	for _, m := range privateKeyMarkers {
		if strings.Contains(line, m) {
			return true
		}
	}
	return false
}

// privateKeyError is the message for a private key; it never shows the key.
func privateKeyError(where string) error {
	return fmt.Errorf("%w: %s: this is a PRIVATE key; it must never be put on an installer ISO. Give its public half instead (the .pub file beside it, or the output of `ssh-keygen -y -f <private key file>`)", ErrBadKey, where)
}

// CheckPublicKey parses one authorized_keys line and checks it the way
// `ssh-keygen -l` reads it (type, size, fingerprint): an OpenSSH public key
// of type ed25519, ECDSA (256, 384, 521 bits), RSA of MinRSABits or more, or
// a FIDO (sk-) key. Private keys, certificates and DSA keys are refused.
// Error messages show where the key is and what is wrong, never the key
// material.
func CheckPublicKey(where, line string) (PublicKey, error) {
	line = strings.TrimSpace(line)
	if looksPrivate(line) {
		return PublicKey{}, privateKeyError(where)
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: not an OpenSSH public key (want \"ssh-ed25519 AAAA... comment\", as in a .pub file): %v", ErrBadKey, where, err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return PublicKey{}, fmt.Errorf("%w: %s: more than one key on one line: put each key on its own line", ErrBadKey, where)
	}
	k := PublicKey{Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment, Key: pub}
	if _, ok := pub.(*ssh.Certificate); ok {
		return PublicKey{}, fmt.Errorf("%w: %s: an SSH certificate (%s), not a public key: give the user's public key", ErrBadKey, where, k.Type)
	}
	if k.Bits, err = keyBits(pub); err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %v", ErrBadKey, where, err)
	}
	if k.Type == ssh.KeyAlgoRSA && k.Bits < MinRSABits {
		return PublicKey{}, fmt.Errorf("%w: %s: RSA key %s has %d bits, fewer than %d: make a new key (ssh-keygen -t ed25519)", ErrBadKey, where, k.Fingerprint, k.Bits, MinRSABits)
	}
	k.Line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if len(options) > 0 {
		k.Line = strings.Join(options, ",") + " " + k.Line
	}
	if comment != "" {
		k.Line += " " + comment
	}
	return k, nil
}

// keyBits is the key size as ssh-keygen -l reports it; DSA and unknown
// types are refused.
func keyBits(pub ssh.PublicKey) (int, error) {
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519:
		return 256, nil
	case ssh.KeyAlgoSKECDSA256:
		return 256, nil
	case ssh.KeyAlgoDSA: //nolint:staticcheck // SA1019: named to refuse DSA keys
		return 0, errors.New("a DSA key (ssh-dss): OpenSSH refuses DSA since 7.0 and Ubuntu 22.04's sshd does not accept it; make a new key (ssh-keygen -t ed25519)")
	}
	cp, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return 0, fmt.Errorf("key type %s is not supported: use ed25519, ECDSA or RSA", pub.Type())
	}
	switch k := cp.CryptoPublicKey().(type) {
	case *rsa.PublicKey:
		return k.N.BitLen(), nil
	case *ecdsa.PublicKey:
		return k.Curve.Params().BitSize, nil
	}
	return 0, fmt.Errorf("key type %s is not supported: use ed25519, ECDSA or RSA", pub.Type())
}

// ParseAuthorizedKeys reads a file of OpenSSH public keys (the format of
// authorized_keys: one key a line; blank lines and lines starting with '#'
// are ignored) and checks each with CheckPublicKey. path is for messages.
// A file holding a private key is refused without showing any of it.
func ParseAuthorizedKeys(path string, data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if looksPrivate(line) {
			// The whole file is a private key: one message, nothing shown.
			return nil, privateKeyError(fmt.Sprintf("%s:%d", path, n))
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := CheckPublicKey(fmt.Sprintf("%s:%d", path, n), line)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no public key (one OpenSSH public key a line, such as the content of ~/.ssh/id_ed25519.pub)", ErrBadKey, path)
	}
	return keys, nil
}
