package debcheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// spec describes a .deb for dpkg-deb to build.
type spec struct {
	Package, Version, Arch string
	// Fields are more control fields: "Depends: a, b".
	Fields []string
	// Compress is dpkg-deb's -Z type (xz when empty).
	Compress string
	// Payload is the size of a generated text file in the package, bytes.
	Payload int
}

// fileName is Debian's name for the .deb, without the epoch.
func (s spec) fileName() string {
	v := s.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return fmt.Sprintf("%s_%s_%s.deb", s.Package, v, s.Arch)
}

// specs are the test packages. Keys name them in scenarios.
var specs = map[string]spec{
	// A chain a -> b -> c, each compressed differently, c on the base.
	"chain-a": {Package: "chain-a", Version: "1.0", Arch: "amd64", Fields: []string{"Depends: chain-b"}},
	"chain-b": {Package: "chain-b", Version: "1.0", Arch: "all", Fields: []string{"Depends: chain-c (>= 1.0)"}, Compress: "gzip"},
	"chain-c": {Package: "chain-c", Version: "1.0-2", Arch: "amd64", Fields: []string{"Depends: libc6 (>= 2.34)"}, Compress: "zstd"},
	// The same chain whose last link needs what nobody has.
	"bchain-a": {Package: "bchain-a", Version: "1.0", Arch: "all", Fields: []string{"Depends: bchain-b"}},
	"bchain-b": {Package: "bchain-b", Version: "1.0", Arch: "all", Fields: []string{"Depends: bchain-c"}, Compress: "none"},
	"bchain-c": {Package: "bchain-c", Version: "1.0", Arch: "all", Fields: []string{"Depends: libmissing9"}},
	// Alternatives, versions (epochs, ~).
	"alt":              {Package: "alt", Version: "1", Arch: "all", Fields: []string{"Depends: libnotthere | libfoo1 (>= 2.0)"}},
	"alt-none":         {Package: "alt-none", Version: "1", Arch: "all", Fields: []string{"Depends: libnotthere | libfoo1 (>= 3)"}},
	"vok":              {Package: "vok", Version: "1", Arch: "amd64", Fields: []string{"Depends: libfoo1 (>= 2.0), libfoo1 (<< 2.1)"}},
	"novasphere-agent": {Package: "novasphere-agent", Version: "1.2.0", Arch: "amd64", Fields: []string{"Depends: libfoo1 (>= 2.1)"}},
	"epoch-user":       {Package: "epoch-user", Version: "1", Arch: "all", Fields: []string{"Depends: libbar2 (>= 2.0)"}},
	"tilde-user":       {Package: "tilde-user", Version: "1", Arch: "all", Fields: []string{"Depends: libbaz1 (>= 1.0)"}},
	"tilde-ok":         {Package: "tilde-ok", Version: "1", Arch: "all", Fields: []string{"Depends: libbaz1 (>= 1.0~), libbaz1 (<< 1.0)"}},
	"pre":              {Package: "pre", Version: "1", Arch: "all", Fields: []string{"Pre-Depends: libmissing8"}},
	"pre-ok":           {Package: "pre-ok", Version: "1", Arch: "all", Fields: []string{"Pre-Depends: adduser (= 3.118ubuntu5)"}},
	// Virtual packages.
	"tiny-mta":     {Package: "tiny-mta", Version: "0.5", Arch: "amd64", Fields: []string{"Provides: mail-transport-agent"}},
	"mta-user":     {Package: "mta-user", Version: "1", Arch: "all", Fields: []string{"Depends: mail-transport-agent"}},
	"mta-user-v":   {Package: "mta-user-v", Version: "1", Arch: "all", Fields: []string{"Depends: mail-transport-agent (>= 1)"}},
	"abi-provider": {Package: "abi-provider", Version: "7", Arch: "amd64", Fields: []string{"Provides: foo-abi (= 2.1)"}},
	"abi-user":     {Package: "abi-user", Version: "1", Arch: "amd64", Fields: []string{"Depends: foo-abi (>= 2)"}},
	"abi-user3":    {Package: "abi-user3", Version: "1", Arch: "amd64", Fields: []string{"Depends: foo-abi (>= 3)"}},
	"awk-user":     {Package: "awk-user", Version: "1", Arch: "all", Fields: []string{"Depends: awk"}},
	"mta-alt": {Package: "mta-alt", Version: "1", Arch: "amd64",
		Fields: []string{"Provides: mail-transport-agent", "Conflicts: mail-transport-agent", "Replaces: mail-transport-agent"}},
	// Conflicts and Breaks.
	"conf-base":   {Package: "conf-base", Version: "1", Arch: "all", Fields: []string{"Conflicts: vim-tiny"}},
	"breaks-old":  {Package: "breaks-old", Version: "1", Arch: "all", Fields: []string{"Breaks: vim-tiny (<< 2:8.2.3995-1ubuntu2.12)"}},
	"breaks-base": {Package: "breaks-base", Version: "1", Arch: "all", Fields: []string{"Breaks: vim (<< 3:0)"}},
	"breaks-foo":  {Package: "breaks-foo", Version: "1", Arch: "all", Fields: []string{"Breaks: libfoo1 (<< 2.2)"}},
	"c1":          {Package: "c1", Version: "1", Arch: "all", Fields: []string{"Conflicts: c2"}},
	"c2":          {Package: "c2", Version: "1", Arch: "all"},
	// Architectures and qualifiers.
	"ia32":        {Package: "ia32", Version: "1", Arch: "i386"},
	"any-user":    {Package: "any-user", Version: "1", Arch: "amd64", Fields: []string{"Depends: python3:any (>= 3.10)"}},
	"helper-noma": {Package: "helper-noma", Version: "1", Arch: "amd64"},
	"helper-ma":   {Package: "helper-ma", Version: "1", Arch: "amd64", Fields: []string{"Multi-Arch: allowed"}},
	"any-noma":    {Package: "any-noma", Version: "1", Arch: "amd64", Fields: []string{"Depends: helper-noma:any"}},
	"any-ma":      {Package: "any-ma", Version: "1", Arch: "amd64", Fields: []string{"Depends: helper-ma:any"}},
	"q-amd64":     {Package: "q-amd64", Version: "1", Arch: "amd64", Fields: []string{"Depends: libc6:amd64 (>= 2.35)"}},
	"q-i386":      {Package: "q-i386", Version: "1", Arch: "amd64", Fields: []string{"Depends: libc6:i386"}},
	// Same names as base packages: upgrade, downgrade; two versions.
	"libfoo1-new": {Package: "libfoo1", Version: "2.2-1", Arch: "amd64", Fields: []string{"Multi-Arch: same", "Depends: libc6 (>= 2.34)"}},
	"libfoo1-old": {Package: "libfoo1", Version: "1.9-1", Arch: "amd64", Fields: []string{"Multi-Arch: same"}},
	"libbar2-new": {Package: "libbar2", Version: "1:1.1-1", Arch: "amd64"},
	"libbar2-low": {Package: "libbar2", Version: "9.0-1", Arch: "amd64"},
	"dup-1":       {Package: "dup", Version: "1.0", Arch: "all"},
	"dup-2":       {Package: "dup", Version: "2.0", Arch: "all"},
	// What the layers removed, or only the installer has.
	"needs-removed":   {Package: "needs-removed", Version: "1", Arch: "all", Fields: []string{"Depends: libremoved1"}},
	"needs-installer": {Package: "needs-installer", Version: "1", Arch: "all", Fields: []string{"Depends: subiquity-only"}},
}

// Base ISO files: Ubuntu 22.04's install-sources.yaml and layer manifests
// as livecd-rootfs writes them (unified diffs against the layer below).
const installSourcesV1 = `- description:
    en: This version has been customized to have a small runtime footprint in environments
      where humans are not expected to log in.
  id: ubuntu-server-minimal
  locale_support: none
  name:
    en: Ubuntu Server (minimized)
  path: ubuntu-server-minimal.squashfs
  size: 530485248
  type: fsimage
  variant: server
- default: true
  description:
    en: The default install contains a curated set of packages that provide a comfortable
      experience for operating your server.
  id: ubuntu-server
  locale_support: locale-only
  name:
    en: Ubuntu Server
  path: ubuntu-server-minimal.ubuntu-server.squashfs
  size: 1066115072
  type: fsimage-layered
  variant: server
`

const minimalManifest = "--- /build/livecd.ubuntu-server..manifest.full\t1970-01-01 00:00:00.000000000 +0000\n" +
	"+++ /build/livecd.ubuntu-server.ubuntu-server-minimal.manifest.full\t2023-08-10 14:00:31.389289535 +0000\n" +
	"+adduser\t3.118ubuntu5\n" +
	"+debconf\t1.5.79ubuntu1\n" +
	"+libbar2:amd64\t1:1.0-1\n" +
	"+libbaz1:amd64\t1.0~rc1-1\n" +
	"+libc6:amd64\t2.35-0ubuntu3.1\n" +
	"+libfoo1:amd64\t2.0-1\n" +
	"+libremoved1\t1.0-1\n" +
	"+mawk\t1.3.4.20200120-3\n" +
	"+python3\t3.10.6-1~22.04\n" +
	"+vim-tiny\t2:8.2.3995-1ubuntu2.11\n"

const serverManifest = "--- /build/livecd.ubuntu-server.ubuntu-server-minimal.manifest.full\t2023-08-10 14:00:31.389289535 +0000\n" +
	"+++ /build/livecd.ubuntu-server.ubuntu-server-minimal.ubuntu-server.manifest.full\t2023-08-10 14:03:12.000000000 +0000\n" +
	"-libremoved1\t1.0-1\n" +
	"+openssh-server\t1:8.9p1-3ubuntu0.3\n" +
	"+snap:lxd\t5.0/stable/ubuntu-22.04\t24322\n" +
	"+vim\t2:8.2.3995-1ubuntu2.12\n" +
	"-vim-tiny\t2:8.2.3995-1ubuntu2.11\n" +
	"+vim-tiny\t2:8.2.3995-1ubuntu2.12\n"

// baseFiles is what a caller passes ReadBase for the fixture ISO: also the
// installer layer's and the live system's manifests, which must not count.
func baseFiles() []File {
	return []File{
		{Path: "/casper/install-sources.yaml", Data: []byte(installSourcesV1)},
		{Path: "/casper/ubuntu-server-minimal.manifest", Data: []byte(minimalManifest)},
		{Path: "/casper/ubuntu-server-minimal.ubuntu-server.manifest", Data: []byte(serverManifest)},
		{Path: "/casper/ubuntu-server-minimal.ubuntu-server.installer.manifest", Data: []byte("+subiquity-only\t1.0\n")},
		{Path: "/casper/filesystem.manifest", Data: []byte("subiquity-only\t1.0\ncasper\t1.470\n")},
		{Path: "/casper/filesystem.size", Data: []byte("123\n")},
	}
}

func fixtureBase(t testing.TB) Base {
	t.Helper()
	b, err := ReadBase(baseFiles())
	if err != nil {
		t.Fatalf("ReadBase: %v", err)
	}
	return b
}

// built holds the .debs of specs, built once per test binary.
var built struct {
	once sync.Once
	dir  string
	err  error
	// extra are more directories for TestMain to remove.
	mu    sync.Mutex
	extra []string
}

// debsDir builds every spec with dpkg-deb (once) and returns the directory.
func debsDir(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = buildAll(specs)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range append(built.extra, built.dir) {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

func requireTool(t testing.TB, tl tool.Tool) {
	t.Helper()
	if !tl.Present() {
		t.Fatalf("%s is missing: install the %s package (go run magefile.go test installs it)", tl.Name(), tl.Package)
	}
}

// buildAll builds every spec into a new temporary directory.
func buildAll(specs map[string]spec) (string, error) {
	if !tool.DpkgDeb.Present() {
		return "", fmt.Errorf("dpkg-deb is missing: install the dpkg package (go run magefile.go test installs it)")
	}
	dir, err := os.MkdirTemp("", "debcheck-debs-")
	if err != nil {
		return "", err
	}
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := buildDeb(filepath.Join(dir, "src"), filepath.Join(dir, specs[k].fileName()), specs[k]); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("building %s: %w", k, err)
		}
	}
	return dir, os.RemoveAll(filepath.Join(dir, "src"))
}

// buildDeb builds one package with dpkg-deb, with one file in it so that
// data.tar is not empty.
func buildDeb(work, out string, s spec) error {
	root := filepath.Join(work, s.Package+"_"+s.fileName())
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		return err
	}
	doc := filepath.Join(root, "usr/share/doc", s.Package)
	if err := os.MkdirAll(doc, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(doc, "README"), []byte(strings.Repeat(s.Package+" "+s.Version+"\n", 50)), 0o644); err != nil {
		return err
	}
	if s.Payload > 0 {
		var b strings.Builder
		for i := 0; b.Len() < s.Payload; i++ {
			fmt.Fprintf(&b, "%s line %d: %x\n", s.Package, i, i*2654435761)
		}
		if err := os.WriteFile(filepath.Join(doc, "data.txt"), []byte(b.String()[:s.Payload]), 0o644); err != nil {
			return err
		}
	}
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: NovaSphere Tests <tests@example.com>\n", s.Package, s.Version, s.Arch)
	for _, f := range s.Fields {
		ctl += f + "\n"
	}
	ctl += "Description: test package " + s.Package + "\n built by the debcheck tests\n"
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(ctl), 0o644); err != nil {
		return err
	}
	z := s.Compress
	if z == "" {
		z = "xz"
	}
	return tool.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "--build", root, out).Run(context.Background())
}

// debFile is the path of a built spec.
func debFile(t testing.TB, key string) string {
	t.Helper()
	s, ok := specs[key]
	if !ok {
		t.Fatalf("no spec %q", key)
	}
	return filepath.Join(debsDir(t), s.fileName())
}

// readSpecs reads the built .debs of the given specs, named packages/<file>.
func readSpecs(t testing.TB, keys ...string) []Deb {
	t.Helper()
	var out []Deb
	for _, k := range keys {
		d, err := ReadDebFile(debFile(t, k), "packages/"+specs[k].fileName())
		if err != nil {
			t.Fatalf("ReadDebFile(%s): %v", k, err)
		}
		out = append(out, d)
	}
	return out
}
