package customize

import (
	"crypto/dsa" //nolint:staticcheck // SA1019: a DSA key proves DSA is refused
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// pubLine is the authorized_keys line of a public key with a comment.
func pubLine(t *testing.T, pub any, comment string) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment
}

func TestCheckPublicKeyLikeSSHKeygen(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaOK, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	var dsaKey dsa.PrivateKey
	if err := dsa.GenerateParameters(&dsaKey.Parameters, rand.Reader, dsa.L1024N160); err != nil {
		t.Fatal(err)
	}
	if err := dsa.GenerateKey(&dsaKey, rand.Reader); err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(edPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	private := string(pem.EncodeToMemory(block))

	good := []struct {
		line, want string
	}{
		{pubLine(t, edPub, "admin@example.com"), "256 SHA256:"},
		{pubLine(t, &rsaOK.PublicKey, "ops"), "2048 SHA256:"},
		{pubLine(t, &ec.PublicKey, "ec"), "384 SHA256:"},
		{`from="10.0.0.0/8",no-agent-forwarding ` + pubLine(t, edPub, "restricted"), "256 SHA256:"},
	}
	for _, g := range good {
		k, err := CheckPublicKey("keys:1", g.line)
		if err != nil {
			t.Errorf("%q refused: %v", g.line, err)
			continue
		}
		if !strings.HasPrefix(k.String(), g.want) || k.Line != g.line {
			t.Errorf("%q: got %q (line %q), want %q...", g.line, k.String(), k.Line, g.want)
		}
	}
	edKey, _ := ssh.NewPublicKey(edPub)
	if k, _ := CheckPublicKey("k", good[0].line); k.String() != "256 "+ssh.FingerprintSHA256(edKey)+" admin@example.com (ED25519)" {
		t.Errorf("ssh-keygen -l form: %q", k.String())
	}

	bad := map[string]struct{ line, want string }{
		"RSA 1024":           {pubLine(t, &rsaSmall.PublicKey, "old"), "has 1024 bits, fewer than 2048"},
		"DSA":                {pubLine(t, &dsaKey.PublicKey, "dsa"), "a DSA key (ssh-dss)"},
		"garbage":            {"ssh-ed25519 not-base64 x", "not an OpenSSH public key"},
		"private key":        {private, "this is a PRIVATE key"},
		"private first line": {"-----BEGIN OPENSSH PRIVATE KEY-----", "this is a PRIVATE key"},
	}
	for name, b := range bad {
		_, err := CheckPublicKey("keys:3", b.line)
		if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "keys:3") {
			t.Errorf("%s: got %v, want ErrBadKey mentioning keys:3 and %q", name, err, b.want)
		}
	}
	// A private key file given as ADMIN_AUTHORIZED_KEYS: refused, and no
	// line of it is in the message.
	_, err = ParseAuthorizedKeys("/secrets/id_ed25519", []byte(private))
	if err == nil || !strings.Contains(err.Error(), "/secrets/id_ed25519:1: this is a PRIVATE key") {
		t.Fatalf("private key file: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(private), "\n")[1:] {
		if strings.Contains(err.Error(), l) {
			t.Fatalf("the message shows the private key: %v", err)
		}
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	file := "# operators\n\n" + pubLine(t, edPub, "a@x") + "\n" + pubLine(t, &rsaSmall.PublicKey, "b@y") + "\nnonsense\n"
	_, err := ParseAuthorizedKeys("keys.pub", []byte(file))
	if err == nil || !strings.Contains(err.Error(), "keys.pub:4:") || !strings.Contains(err.Error(), "keys.pub:5:") {
		t.Fatalf("want errors at lines 4 and 5, got %v", err)
	}
	keys, err := ParseAuthorizedKeys("keys.pub", []byte("# operators\n"+pubLine(t, edPub, "a@x")+"\n"))
	if err != nil || len(keys) != 1 || keys[0].Comment != "a@x" {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if _, err := ParseAuthorizedKeys("empty.pub", []byte("# none yet\n")); err == nil || !strings.Contains(err.Error(), "holds no public key") {
		t.Fatalf("an empty key file: %v", err)
	}
}

// repoUserData is the repository's configs/autoinstall/user-data.
func repoUserData(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMergeLoginAddsKeysAndExpiresAPassword(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	extra, err := ParseAuthorizedKeys("admin.pub", []byte(pubLine(t, edPub, "ci@example.com")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ud := repoUserData(t)
	l, err := ReadLogin("user-data", ud)
	if err != nil || l.CanLogIn() || l.Username != "novasphere" || !l.InstallServer {
		t.Fatalf("the shipped user-data: %+v, %v: want user novasphere, an SSH server, and no way in yet", l, err)
	}
	merged, l, err := MergeLogin("user-data", ud, extra)
	if err != nil {
		t.Fatal(err)
	}
	if !l.CanLogIn() || len(l.Keys) != 1 || l.Password {
		t.Fatalf("login after the merge: %+v", l)
	}
	if err := ValidateUserData("merged", merged); err != nil {
		t.Fatalf("the merged user-data is invalid: %v\n%s", err, merged)
	}
	var doc struct {
		Autoinstall struct {
			SSH struct {
				Keys []string `yaml:"authorized-keys"`
			} `yaml:"ssh"`
			Early []string `yaml:"early-commands"`
			Late  []string `yaml:"late-commands"`
		} `yaml:"autoinstall"`
	}
	if err := yaml.Unmarshal(merged, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Autoinstall.SSH.Keys) != 1 || doc.Autoinstall.SSH.Keys[0] != extra[0].Line {
		t.Errorf("authorized-keys %q, want the key of admin.pub", doc.Autoinstall.SSH.Keys)
	}
	if len(doc.Autoinstall.Late) != 3 || len(doc.Autoinstall.Early) != 1 || !strings.HasPrefix(string(merged), "#cloud-config\n") {
		t.Errorf("the merge lost parts of user-data:\n%s", merged)
	}
	// The same key again is not listed twice.
	again, l2, err := MergeLogin("user-data", merged, extra)
	if err != nil || len(l2.Keys) != 1 || string(again) != string(merged) {
		t.Errorf("merging a listed key again: %d keys, changed %v, %v", len(l2.Keys), string(again) != string(merged), err)
	}

	// A password hash: kept, and expired at first login through cloud-init.
	hash := "$6$rounds=4096$saltsalt$" + strings.Repeat("x", 86)
	withPw := strings.Replace(string(ud), `password: "!"`, "password: '"+hash+"'", 1)
	merged, l, err = MergeLogin("user-data", []byte(withPw), nil)
	if err != nil || !l.Password || !l.CanLogIn() {
		t.Fatalf("password hash: %+v, %v", l, err)
	}
	var pw struct {
		Autoinstall struct {
			UserData struct {
				Runcmd [][]string `yaml:"runcmd"`
			} `yaml:"user-data"`
			Identity struct {
				Password string `yaml:"password"`
			} `yaml:"identity"`
		} `yaml:"autoinstall"`
	}
	if err := yaml.Unmarshal(merged, &pw); err != nil {
		t.Fatal(err)
	}
	if r := pw.Autoinstall.UserData.Runcmd; len(r) != 1 || strings.Join(r[0], " ") != "passwd --expire novasphere" || pw.Autoinstall.Identity.Password != hash {
		t.Errorf("runcmd %q, password %q: want the hash kept and passwd --expire novasphere\n%s", r, pw.Autoinstall.Identity.Password, merged)
	}
	if err := ValidateUserData("merged", merged); err != nil {
		t.Errorf("invalid: %v", err)
	}
	if again, _, err := MergeLogin("user-data", merged, nil); err != nil || strings.Count(string(again), "--expire") != 1 {
		t.Errorf("merging twice: %v\n%s", err, again)
	}

	// A plain-text password is refused and not shown.
	plain := strings.Replace(string(ud), `password: "!"`, "password: hunter2secret", 1)
	if _, _, err := MergeLogin("user-data", []byte(plain), nil); err == nil || strings.Contains(err.Error(), "hunter2secret") || !strings.Contains(err.Error(), "not a crypt(3) password hash") {
		t.Errorf("plain password: %v", err)
	}
	// A bad key in user-data itself is named with its line.
	badKey := strings.Replace(string(ud), "authorized-keys: []", "authorized-keys:\n      - ssh-rsa AAAAB3Nza-broken", 1)
	if _, err := ReadLogin("user-data", []byte(badKey)); err == nil || !strings.Contains(err.Error(), "autoinstall.ssh.authorized-keys[0]") {
		t.Errorf("bad key in user-data: %v", err)
	}
}

// Customize merges ADMIN_AUTHORIZED_KEYS into the ISO's /nocloud/user-data
// and records the login; a private key file stops it before anything is
// written.
func TestCustomizeMergesAuthorizedKeys(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	keys := filepath.Join(dir, "admin.pub")
	if err := os.WriteFile(keys, []byte(pubLine(t, edPub, "ci")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	o.AuthorizedKeys = keys
	r, err := Customize(o)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := os.ReadFile(r.Path(UserDataPath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ud), pubLine(t, edPub, "ci")) || !r.Login.CanLogIn() || len(r.Login.Fingerprints) != 1 {
		t.Errorf("login %+v; user-data:\n%s", r.Login, ud)
	}
	block, _ := ssh.MarshalPrivateKey(edPriv, "")
	if err := os.WriteFile(keys, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	o.OutDir = filepath.Join(dir, "out2")
	if _, err := Customize(o); err == nil || !strings.Contains(err.Error(), "ADMIN_AUTHORIZED_KEYS: ") || !strings.Contains(err.Error(), "PRIVATE key") {
		t.Errorf("a private key file: %v", err)
	}
	if _, err := os.Stat(o.OutDir); err == nil {
		t.Errorf("customize wrote %s after refusing the key file", o.OutDir)
	}
}
