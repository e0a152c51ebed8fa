package fetch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// A keyring made with `cat a.asc b.asc > both.asc` holds both keys: a
// SHA256SUMS signed by the second key verifies, and when no key matches the
// error names every key the file holds. A binary keyring works the same.
func TestFetchUsesEveryKeyOfAConcatenatedKeyring(t *testing.T) {
	t.Parallel()
	good, other := testSigners(t)
	stranger := strangerSigner(t)
	for _, armored := range []bool{true, false} {
		keyring := keyringFileOf(t, armored, other, good)

		m := newMirror(t, 1<<20)
		m.options.KeyringPath = keyring
		res, err := Fetch(context.Background(), m.options)
		if err != nil {
			t.Fatalf("armored=%v: Fetch with the signing key second in the keyring: %v", armored, err)
		}
		assertCached(t, m, res)
		if res.SignedBy != good.fingerprint() {
			t.Errorf("armored=%v: SignedBy = %s, want the second key %s", armored, res.SignedBy, good.fingerprint())
		}

		m = newMirror(t, 1<<20)
		m.options.KeyringPath = keyring
		m.srv.put(m.dir+"SHA256SUMS.gpg", stranger.sign(t, m.sums))
		_, err = Fetch(context.Background(), m.options)
		if err == nil {
			t.Fatalf("armored=%v: Fetch accepted a signature by a key outside the keyring", armored)
		}
		assertContains(t, "error", err.Error(), "not signed by any key in "+keyring, stranger.fingerprint(), other.fingerprint(), good.fingerprint())
		assertNothingCached(t, m)
	}
}

// The committed Ubuntu key followed by another armored key (with text
// around them, as hand-made key files have) loads both, in file order.
func TestLoadKeyringReadsEveryArmoredBlock(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ubuntu, err := os.ReadFile(filepath.Join(root, config.DefaultKeyringPath))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := testSigners(t)
	second, err := os.ReadFile(keyringFileOf(t, true, good))
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	file.WriteString("Keys allowed to sign SHA256SUMS\n\n")
	file.Write(ubuntu)
	file.WriteString("\n# our mirror's key\n")
	file.Write(second)
	path := writeTemp(t, file.String())

	kr, err := loadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{config.UbuntuSigningKeyFingerprint, good.fingerprint()}
	if got := kr.describe(); got != strings.Join(want, ", ") {
		t.Errorf("keys = %s, want %s", got, strings.Join(want, ", "))
	}
}

// A block that is not a key (here a signature) is reported with its place
// in the file instead of being skipped.
func TestLoadKeyringRejectsBlockThatIsNotAKey(t *testing.T) {
	t.Parallel()
	good, _ := testSigners(t)
	key, err := os.ReadFile(keyringFileOf(t, true, good))
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, string(key)+string(good.sign(t, []byte("data"))))
	_, err = loadKeyring(path)
	if err == nil {
		t.Fatal("loadKeyring accepted a file whose second block is a signature")
	}
	assertContains(t, "error", err.Error(), path, "not a usable OpenPGP public key file", "armored block 2 of 2", "SIGNATURE")
}
