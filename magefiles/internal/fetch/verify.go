package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/opencontainers/go-digest"

	"github.com/novasphere/novasphere-iso/magefiles/internal/bases"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
)

// expectation is the digest a download must have and where it came from.
type expectation struct {
	digest digest.Digest
	// from says where the digest came from, for error messages.
	from string
	// signedBy is the fingerprint of the key that signed SHA256SUMS, or "".
	signedBy string
}

// expected works out the digest the ISO at loc must have: the signed
// SHA256SUMS line for name, the pin, or both when they agree.
func (f *fetcher) expected(ctx context.Context, loc config.BaseLocation, name string) (expectation, error) {
	if loc.SumsURL == "" {
		f.logf("fetch: signature not checked: no SHA256SUMS is configured for %s (set BASE_ISO_SUMS_URL); only the pinned SHA-256 is checked", loc.ISOURL)
		return expectation{
			digest: digest.NewDigestFromEncoded(digest.SHA256, f.o.SHA256),
			from:   f.o.pinFrom(),
		}, nil
	}
	sums, err := readSmall(ctx, f.o.HTTPClient, loc.SumsURL, f.o.StallTimeout)
	if err != nil {
		return expectation{}, fmt.Errorf("reading SHA256SUMS: %w", err)
	}
	exp := expectation{from: "the SHA256SUMS at " + loc.SumsURL}
	if f.o.KeyringPath == "" {
		f.logf("fetch: signature not checked: no keyring is configured; %s is trusted as it is", loc.SumsURL)
	} else {
		signer, err := f.checkSignature(ctx, loc.SumsURL, sums)
		if err != nil {
			return expectation{}, err
		}
		exp.signedBy = fingerprint(signer)
		exp.from = "the signed SHA256SUMS at " + loc.SumsURL
		f.logf("fetch: %s: good signature from %s %s", loc.SumsURL, exp.signedBy, identityName(signer))
	}
	listed, err := digestFor(sums, name)
	if err != nil {
		return expectation{}, fmt.Errorf("%s: %w", loc.SumsURL, err)
	}
	exp.digest = listed
	if f.o.SHA256 != "" && listed.Encoded() != f.o.SHA256 {
		pin := digest.NewDigestFromEncoded(digest.SHA256, f.o.SHA256)
		if l := f.o.Lock; l != nil && l.Locked {
			return expectation{}, fmt.Errorf("%s now lists %s for %s, but %s locks %s: the ISO at that address changed since the base was locked; refusing it. If Ubuntu really replaced the file, add a new base to %s instead of editing the lock",
				loc.SumsURL, listed, name, l.Entry.Where(l.Name), pin, bases.File)
		}
		return expectation{}, fmt.Errorf("%s lists %s for %s, but the pinned SHA-256 is %s: the two must agree; if the new file is intended, set BASE_ISO_SHA256=%s", loc.SumsURL, listed, name, pin, listed.Encoded())
	}
	if l := f.o.Lock; l != nil && l.Locked {
		exp.from += " and " + l.Entry.Where(l.Name)
	}
	return exp, nil
}

// checkSignature verifies sums against sumsURL + ".gpg" and the keyring and
// returns the signing key's entity.
func (f *fetcher) checkSignature(ctx context.Context, sumsURL string, sums []byte) (*openpgp.Entity, error) {
	kr, err := f.loadKeyring()
	if err != nil {
		return nil, err
	}
	sigURL := sumsURL + ".gpg"
	sig, err := readSmall(ctx, f.o.HTTPClient, sigURL, f.o.StallTimeout)
	if isMissing(err) {
		return nil, fmt.Errorf("the signature of SHA256SUMS is missing (%w); it is required because a keyring is configured (%s): use a location that publishes SHA256SUMS.gpg beside SHA256SUMS", err, kr.path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the signature: %w", err)
	}
	return kr.verify(sumsURL, sigURL, sums, sig)
}

func (f *fetcher) loadKeyring() (*keyring, error) {
	if f.keyring == nil {
		kr, err := loadKeyring(f.o.KeyringPath)
		if err != nil {
			return nil, fatal(err)
		}
		f.keyring = kr
	}
	return f.keyring, nil
}

// keyring is the set of keys allowed to sign SHA256SUMS.
type keyring struct {
	path     string
	entities openpgp.EntityList
}

// loadKeyring reads an OpenPGP key file: one or more armored key blocks
// (as `cat a.asc b.asc > both.asc` makes), or a binary keyring.
func loadKeyring(path string) (*keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the keyring: %w (set BASE_ISO_KEYRING to an OpenPGP public key file)", err)
	}
	el, err := readKeys(data)
	if err == nil && len(el) == 0 {
		err = errors.New("no keys in it")
	}
	if err != nil {
		return nil, fmt.Errorf("keyring %s is not a usable OpenPGP public key file: %w", path, err)
	}
	return &keyring{path: path, entities: el}, nil
}

// readKeys returns the keys of every armored block in data, in file order;
// data without armor is read as a binary keyring.
func readKeys(data []byte) (openpgp.EntityList, error) {
	blocks := signing.SplitArmored(data)
	if len(blocks) == 0 {
		return openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	var el openpgp.EntityList
	for i, block := range blocks {
		// ReadArmoredKeyRing decodes only the first block of its input,
		// so each block is given to it on its own.
		keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(block))
		if err != nil {
			return nil, fmt.Errorf("armored block %d of %d: %w", i+1, len(blocks), err)
		}
		el = append(el, keys...)
	}
	return el, nil
}

// verify checks the detached signature sig (armored or binary) over sums.
func (kr *keyring) verify(sumsURL, sigURL string, sums, sig []byte) (*openpgp.Entity, error) {
	var signer *openpgp.Entity
	var err error
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP SIGNATURE")) {
		signer, err = openpgp.CheckArmoredDetachedSignature(kr.entities, bytes.NewReader(sums), bytes.NewReader(sig), nil)
	} else {
		signer, err = openpgp.CheckDetachedSignature(kr.entities, bytes.NewReader(sums), bytes.NewReader(sig), nil)
	}
	if err == nil {
		return signer, nil
	}
	if errors.Is(err, pgperrors.ErrUnknownIssuer) {
		return nil, fmt.Errorf("%s is not signed by any key in %s (it is signed by %s; the keyring has %s): this SHA256SUMS cannot be trusted; check BASE_ISO_SUMS_URL and BASE_ISO_KEYRING", sigURL, kr.path, signing.Issuers(sig), kr.describe())
	}
	return nil, fmt.Errorf("%s does not verify %s with %s (%v): the file was altered or the two do not belong together; do not use this location", sigURL, sumsURL, kr.path, err)
}

// describe lists the keyring's fingerprints.
func (kr *keyring) describe() string {
	fps := make([]string, 0, len(kr.entities))
	for _, e := range kr.entities {
		fps = append(fps, fingerprint(e))
	}
	return strings.Join(fps, ", ")
}

// fingerprint is the entity's primary key fingerprint in upper-case hex.
func fingerprint(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return ""
	}
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

// identityName is the entity's primary user ID in parentheses, or "".
func identityName(e *openpgp.Entity) string {
	if id := e.PrimaryIdentity(); id != nil {
		return "(" + id.Name + ")"
	}
	return ""
}

// digestFor returns the digest that a sha256sum-format file lists for
// exactly the file name name. Lines for other files are ignored; a name
// listed twice with different digests is an error.
func digestFor(list []byte, name string) (digest.Digest, error) {
	var found digest.Digest
	var names []string
	for _, l := range sums.Lines(list, sums.SHA256) {
		if l.Err != nil {
			continue
		}
		names = append(names, l.Name)
		if l.Name != name {
			continue
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, l.Sum)
		if found != "" && found != d {
			return "", fmt.Errorf("%s is listed twice with different digests (%s and %s): refusing to choose", name, found, d)
		}
		found = d
	}
	if found == "" {
		sort.Strings(names)
		return "", fmt.Errorf("no line for %q (it lists %s): set BASE_ISO_URL to a file it lists, or BASE_ISO_SUMS_URL to the SHA256SUMS beside the ISO", name, listOrNone(names))
	}
	return found, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no files"
	}
	const maxShown = 8
	if len(names) > maxShown {
		return strings.Join(names[:maxShown], ", ") + fmt.Sprintf(" and %d more", len(names)-maxShown)
	}
	return strings.Join(names, ", ")
}
