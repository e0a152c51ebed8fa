package customize

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Login is how an operator gets into a machine the installer installed, as
// the autoinstall configuration says. Subiquity hands identity and ssh to
// the installed system's first boot as cloud-init config (users: name,
// passwd, lock_passwd: false, ssh_authorized_keys; ssh_pwauth from
// allow-pw), which creates the user (subiquity/models/subiquity.py,
// _cloud_init_config, tag 23.08.1).
type Login struct {
	// Username is identity.username.
	Username string `json:"username"`
	// Keys are ssh.authorized-keys, each checked.
	Keys []PublicKey `json:"-"`
	// Fingerprints are the keys' SHA256 fingerprints, for reports.
	Fingerprints []string `json:"fingerprints"`
	// Password is true when identity.password is a crypt(3) hash that
	// allows a console login (not locked with "!" or "*").
	Password bool `json:"password"`
	// InstallServer is ssh.install-server: without it, keys do not help.
	InstallServer bool `json:"install_server"`
}

// CanLogIn reports whether anyone can log in: a key with an SSH server, or
// a password.
func (l Login) CanLogIn() bool { return l.Password || (len(l.Keys) > 0 && l.InstallServer) }

// NoLoginHint says what to set so that someone can log in.
func NoLoginHint(envKeys string) string {
	return fmt.Sprintf("nobody can log in to the installed machine: set %s to a file of OpenSSH public keys (one a line, e.g. ~/.ssh/id_ed25519.pub), or list keys under ssh.authorized-keys in configs/autoinstall/user-data (with ssh.install-server: true); a password hash in identity.password (mkpasswd -m sha-512) also works but is readable by anyone who has the ISO", envKeys)
}

// Summary is "user novasphere: 2 SSH keys (SHA256:..., SHA256:...), no password".
func (l Login) Summary() string {
	keys := "no SSH key"
	if len(l.Keys) > 0 {
		keys = fmt.Sprintf("%d SSH key(s) (%s)", len(l.Keys), strings.Join(l.Fingerprints, ", "))
		if !l.InstallServer {
			keys += " but no SSH server (ssh.install-server is not true)"
		}
	}
	pw := "no password (locked)"
	if l.Password {
		pw = "a password hash, expired at first login"
	}
	return fmt.Sprintf("user %s: %s, %s", l.Username, keys, pw)
}

// lockedPassword reports whether a crypt field allows no password login:
// empty, "!" or "*" (optionally followed by a hash, as passwd -l writes).
func lockedPassword(p string) bool {
	return p == "" || strings.HasPrefix(p, "!") || strings.HasPrefix(p, "*")
}

// looksLikeCrypt reports whether p is a crypt(3) hash as mkpasswd writes
// it: "$id$..." (yescrypt $y$, SHA-512 $6$, SHA-256 $5$, bcrypt $2b$).
func looksLikeCrypt(p string) bool {
	if !strings.HasPrefix(p, "$") || strings.ContainsAny(p, " \t\n:") {
		return false
	}
	f := strings.Split(p, "$")
	return len(f) >= 4 && f[1] != "" && f[len(f)-1] != ""
}

// ReadLogin reads identity and ssh from a user-data file and checks every
// authorized key (CheckPublicKey, with file:line). A password that is
// neither locked nor a crypt hash is refused (never shown): it would be a
// plain-text password on the ISO.
func ReadLogin(path string, data []byte) (Login, error) {
	doc, err := parseYAML(path, data)
	if err != nil {
		return Login{}, err
	}
	ai := mapGet(root(doc), "autoinstall")
	if ai == nil {
		return Login{}, &UserDataError{Path: path, Key: "autoinstall", Problem: "missing"}
	}
	var l Login
	id := mapGet(ai, "identity")
	if u := mapGet(id, "username"); u != nil {
		l.Username = u.Value
	}
	if p := mapGet(id, "password"); p != nil && !lockedPassword(p.Value) {
		if !looksLikeCrypt(p.Value) {
			return Login{}, &UserDataError{Path: path, Line: p.Line, Key: "autoinstall.identity.password",
				Problem: "not a crypt(3) password hash (value not shown): put the output of `mkpasswd -m sha-512` here, or \"!\" for no password"}
		}
		l.Password = true
	}
	ssh := mapGet(ai, "ssh")
	if s := mapGet(ssh, "install-server"); s != nil {
		l.InstallServer = scalarValue(s) == true // PyYAML's booleans, as subiquity reads them
	}
	var errs []error
	if ks := mapGet(ssh, "authorized-keys"); ks != nil && ks.Kind == yaml.SequenceNode {
		for i, n := range ks.Content {
			k, err := CheckPublicKey(fmt.Sprintf("%s:%d: autoinstall.ssh.authorized-keys[%d]", path, n.Line, i), n.Value)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l.add(k)
		}
	}
	return l, errors.Join(errs...)
}

// add appends k unless a key with its fingerprint is there already.
func (l *Login) add(k PublicKey) bool {
	for _, f := range l.Fingerprints {
		if f == k.Fingerprint {
			return false
		}
	}
	l.Keys = append(l.Keys, k)
	l.Fingerprints = append(l.Fingerprints, k.Fingerprint)
	return true
}

// MergeLogin returns user-data with extra keys (ADMIN_AUTHORIZED_KEYS)
// appended to autoinstall.ssh.authorized-keys (keys already listed are not
// repeated) and, when identity.password is a hash, a cloud-init
// `runcmd: [[passwd, --expire, <user>]]` in autoinstall.user-data, which
// subiquity merges into the installed system's cloud-init config
// (merge_cloud_init_config in subiquity/models/subiquity.py): cloud-init
// creates the user with the hash, then (cloud-final, once) expires it, so the
// first login must choose a new password. Not `chpasswd: {expire: true}`:
// Ubuntu 22.04's cloud-init is patched not to expire hashed passwords
// (debian/patches/expire-on-hashed-users.patch, EXPIRE_APPLIES_TO_HASHED_USERS
// = False, canonical/cloud-init branch ubuntu/jammy-23.2.x), and it ignores
// users[].passwd anyway. It returns the login the result gives. Data comes
// back unchanged when there is nothing to add.
func MergeLogin(path string, data []byte, extra []PublicKey) ([]byte, Login, error) {
	l, err := ReadLogin(path, data)
	if err != nil {
		return nil, Login{}, err
	}
	var added []PublicKey
	for _, k := range extra {
		if l.add(k) {
			added = append(added, k)
		}
	}
	if len(added) == 0 && !l.Password {
		return data, l, nil
	}
	doc, err := parseYAML(path, data)
	if err != nil {
		return nil, Login{}, err
	}
	ai := mapGet(root(doc), "autoinstall")
	if len(added) > 0 {
		seq := ensure(ensure(ai, "ssh", yaml.MappingNode), "authorized-keys", yaml.SequenceNode)
		seq.Style = 0 // "authorized-keys: []" becomes a block list
		for _, k := range added {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.Line,
				LineComment: "from ADMIN_AUTHORIZED_KEYS"})
		}
	}
	if l.Password {
		if err := expirePassword(path, ai); err != nil {
			return nil, Login{}, err
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, Login{}, fmt.Errorf("%s: writing the merged user-data: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, Login{}, err
	}
	merged := out.Bytes()
	if !bytes.HasPrefix(merged, []byte(CloudConfigHeader+"\n")) {
		merged = append([]byte(CloudConfigHeader+"\n"), merged...)
	}
	return merged, l, nil
}

// expirePassword adds `passwd --expire <user>` to autoinstall.user-data's
// runcmd (see MergeLogin), unless it is there already.
func expirePassword(path string, ai *yaml.Node) error {
	id := mapGet(ai, "identity")
	user, pw := mapGet(id, "username"), mapGet(id, "password")
	if user == nil || pw == nil {
		return nil
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	runcmd := ensure(ensure(ai, "user-data", yaml.MappingNode), "runcmd", yaml.SequenceNode)
	want := []string{"passwd", "--expire", user.Value}
	for _, c := range runcmd.Content {
		var argv []string
		if c.Decode(&argv) == nil && slices.Equal(argv, want) {
			return nil
		}
	}
	cmd := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, a := range want {
		cmd.Content = append(cmd.Content, str(a))
	}
	cmd.LineComment = "added by customize: the password hash on the ISO must be changed at first login"
	runcmd.Content = append(runcmd.Content, cmd)
	return nil
}

// mapGet is the value of key in a mapping node, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// ensure returns the value of key in m, adding an empty one of kind when
// it is missing or null.
func ensure(m *yaml.Node, key string, kind yaml.Kind) *yaml.Node {
	if v := mapGet(m, key); v != nil && v.Kind == kind {
		return v
	}
	v := &yaml.Node{Kind: kind}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return v
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}
