package installproof

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// errQueryOnly is what a querySigner's Sign returns: it has no private key.
var errQueryOnly = errors.New("public key accepted; no private key to sign with (query only)")

// querySigner is an ssh.Signer with only a public key. golang.org/x/crypto/
// ssh's client first sends the key without a signature (RFC 4252 section 7,
// the "publickey" query; client_auth.go validateKey) and asks the Signer to
// sign only when the server answered SSH_MSG_USERAUTH_PK_OK, that is, when
// the server would accept that key for that user. So a call of Sign means
// "accepted", and no call means "refused".
type querySigner struct {
	pub ssh.PublicKey

	mu     sync.Mutex
	signed bool
}

func (q *querySigner) PublicKey() ssh.PublicKey { return q.pub }

func (q *querySigner) Sign(io.Reader, []byte) (*ssh.Signature, error) {
	return q.SignWithAlgorithm(nil, nil, "")
}

func (q *querySigner) SignWithAlgorithm(io.Reader, []byte, string) (*ssh.Signature, error) {
	q.mu.Lock()
	q.signed = true
	q.mu.Unlock()
	return nil, errQueryOnly
}

// Algorithms are the signature algorithms of the key's format: for RSA the
// SHA-2 ones first, as OpenSSH 8.8 and later refuse ssh-rsa (SHA-1)
// signatures, and so queries for them.
func (q *querySigner) Algorithms() []string {
	if q.pub.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{q.pub.Type()}
}

func (q *querySigner) accepted() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.signed
}

// sshTimeout bounds one SSH connection's handshake.
const sshTimeout = 30 * time.Second

// dialSSH opens an SSH connection to addr as user. The host key is not
// checked: the server is the guest the proof booted, reached through a
// forward from 127.0.0.1 that only this process knows.
func dialSSH(ctx context.Context, addr, user string, auth ssh.AuthMethod) (*ssh.Client, error) {
	d := net.Dialer{Timeout: sshTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetDeadline(time.Now().Add(sshTimeout)); err != nil {
		conn.Close()
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: sshTimeout}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// AcceptsKey asks the SSH server at addr whether it accepts key for user,
// without the private key: it sends the publickey query and reports whether
// the server answered that it would accept a signature (see querySigner).
// The connection ends there, unauthenticated.
func AcceptsKey(ctx context.Context, addr, user string, key ssh.PublicKey) (bool, error) {
	q := &querySigner{pub: key}
	c, err := dialSSH(ctx, addr, user, ssh.PublicKeys(q))
	if c != nil {
		c.Close()
		return false, errors.New("the server let the query in without a signature")
	}
	if q.accepted() {
		return true, nil
	}
	if err != nil && strings.Contains(err.Error(), "unable to authenticate") {
		return false, nil
	}
	return false, err
}

// sshRunner runs commands on the installed system over one SSH connection.
type sshRunner struct {
	client *ssh.Client
}

// loginSSH logs in to addr as user with the private key signer.
func loginSSH(ctx context.Context, addr, user string, signer ssh.Signer) (*sshRunner, error) {
	c, err := dialSSH(ctx, addr, user, ssh.PublicKeys(signer))
	if err != nil {
		return nil, err
	}
	return &sshRunner{client: c}, nil
}

// run runs cmd with sh -c and returns its standard output; a non-zero exit
// is an error holding its standard error.
func (r *sshRunner) run(ctx context.Context, cmd string) (string, error) {
	s, err := r.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL) // best effort: the session is closed next either way
		return "", ctx.Err()
	case <-time.After(2 * time.Minute):
		return "", fmt.Errorf("%q did not end within 2 minutes", cmd)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%q: %v: %s", cmd, err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

func (r *sshRunner) close() { r.client.Close() }
