package installproof_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
)

const (
	// testVersion is the version the test ISOs are built for.
	testVersion = "v1.2.3"
	// testEpoch fixes the remaster's timestamps.
	testEpoch = int64(1767225600)
	// fixtureTimeout bounds a cold build of the installer fixture
	// (mmdebstrap, kernel download).
	fixtureTimeout = 20 * time.Minute
)

var installerFixture struct {
	once sync.Once
	f    testiso.Fixture
	err  error
}

// fixture is the test ISO with the test installer, built once per test
// binary and cached on disk across runs.
func fixture(tb testing.TB) testiso.Fixture {
	tb.Helper()
	installerFixture.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), fixtureTimeout)
		defer cancel()
		installerFixture.f, installerFixture.err = testiso.Build(ctx, testiso.Options{Installer: true})
	})
	if installerFixture.err != nil {
		tb.Fatalf("building the installer test ISO: %v", installerFixture.err)
	}
	return installerFixture.f
}

// payload is a payload root for a remaster: the repository's charts/,
// scripts/ and configs/ (copied, so a test may change them) and a packages/
// directory with the given .deb files.
type payload struct {
	root string
}

func newPayload(t testing.TB, debs ...deb) payload {
	t.Helper()
	repo, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"charts", "scripts", "configs"} {
		if err := os.CopyFS(filepath.Join(root, d), os.DirFS(filepath.Join(repo, d))); err != nil {
			t.Fatal(err)
		}
	}
	pkgs := filepath.Join(root, "packages")
	if err := os.MkdirAll(pkgs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range debs {
		d.build(t, pkgs)
	}
	return payload{root: root}
}

// write replaces a payload file.
func (p payload) write(t *testing.T, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.root, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deb is a small real Debian package (testiso.BuildDeb). It installs
// file (default /usr/share/<name>/README).
type deb struct {
	name, version, depends, file string
}

func (d deb) build(t testing.TB, dir string) {
	t.Helper()
	file := d.file
	if file == "" {
		file = "/usr/share/" + d.name + "/README"
	}
	_, err := testiso.BuildDeb(context.Background(), dir, testiso.Deb{Package: d.name, Version: d.version, Architecture: "all",
		Depends: d.depends, Files: map[string]string{file: d.name + " " + d.version + "\n"}})
	if err != nil {
		t.Fatal(err)
	}
}

// goodDebs are the happy path's offline packages: one depends on the other
// and on a package of the base system.
var goodDebs = []deb{
	{name: "novasphere-test-base", version: "1.0-1", depends: "base-files"},
	{name: "novasphere-test-app", version: "2.1-3", depends: "novasphere-test-base (>= 1.0), libc6"},
}

// remaster builds the installer ISO from the fixture through the pipeline,
// as mage pack runs it, for version, with the payload of p and, when
// userData is not empty, that autoinstall user-data instead of the
// repository's.
func remaster(t testing.TB, p payload, userData string) string {
	t.Helper()
	fx := fixture(t)
	dir := t.TempDir()
	if userData != "" {
		if err := os.WriteFile(filepath.Join(p.root, "configs", "autoinstall", "user-data"), []byte(userData), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env, err := fx.PipelineEnv(testVersion, dir, testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	m[config.EnvAdminAuthorizedKeys] = testKey(t).pubFile
	c, err := config.Load(p.root, config.MapEnv(m))
	if err != nil {
		t.Fatal(err)
	}
	b := pipeline.New(c, io.Discard, io.Discard, false)
	if err := b.Run(context.Background(), stage.Pack); err != nil {
		t.Fatalf("remastering the installer test ISO: %v", err)
	}
	return b.Packed.ISO
}

// repoUserData is the repository's autoinstall user-data.
func repoUserData(t *testing.T) string {
	t.Helper()
	repo, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repo, "configs", "autoinstall", "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// withLateCommand is the repository's user-data with one more late-command
// after the last one.
func withLateCommand(t *testing.T, cmd string) string {
	t.Helper()
	ud := repoUserData(t)
	anchor := "  shutdown: reboot"
	if !strings.Contains(ud, anchor) {
		t.Fatalf("the repository's user-data has no %q line to insert before", anchor)
	}
	return strings.Replace(ud, anchor, "    - "+cmd+"\n\n"+anchor, 1)
}

// withEarlyCommand is the repository's user-data with cmd as its first
// early-command (before the reinstall guard).
func withEarlyCommand(t *testing.T, cmd string) string {
	t.Helper()
	ud := repoUserData(t)
	anchor := "  early-commands:\n"
	if !strings.Contains(ud, anchor) {
		t.Fatalf("the repository's user-data has no %q line", anchor)
	}
	return strings.Replace(ud, anchor, anchor+"    - "+cmd+"\n", 1)
}

// runKey is the SSH key made for this test run: its public half goes into
// the test ISO's configuration through ADMIN_AUTHORIZED_KEYS, its private
// half logs in to the installed system.
type runKey struct {
	signer  ssh.Signer
	pubFile string
}

var testKeyOnce struct {
	once sync.Once
	key  runKey
	err  error
}

func testKey(tb testing.TB) runKey {
	tb.Helper()
	testKeyOnce.once.Do(func() {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			testKeyOnce.err = err
			return
		}
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			testKeyOnce.err = err
			return
		}
		sshPub, _ := ssh.NewPublicKey(pub)
		dir, err := os.MkdirTemp("", "novasphere-test-key-")
		if err != nil {
			testKeyOnce.err = err
			return
		}
		f := filepath.Join(dir, "admin.pub")
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " install-proof-test-run\n"
		testKeyOnce.err = os.WriteFile(f, []byte(line), 0o644)
		testKeyOnce.key = runKey{signer: signer, pubFile: f}
	})
	if testKeyOnce.err != nil {
		tb.Fatalf("making the test run's SSH key: %v", testKeyOnce.err)
	}
	return testKeyOnce.key
}

// remasterB is the happy path's ISO for benchmarks.
func remasterB(b *testing.B) string {
	b.Helper()
	return remaster(b, newPayload(b, goodDebs...), "")
}
