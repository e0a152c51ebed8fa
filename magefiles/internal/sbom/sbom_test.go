package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const minimalManifest = "adduser\t3.118ubuntu5\napt\t2.4.10\nbsdutils\t1:2.37.2-4ubuntu3\nlibc6:amd64\t2.35-0ubuntu3.4\nlibc6:i386\t2.35-0ubuntu3.4\nlibstdc++6:amd64\t12.3.0-1ubuntu1~22.04\n\n"

// The server layer's manifest repeats the minimal layer's packages and adds
// its own, as livecd-rootfs writes them.
const serverManifest = minimalManifest + "openssh-server\t1:8.9p1-3ubuntu0.4\nvim\t2:8.2.3995-1ubuntu2.13\n"

func testInput(t testing.TB) Input {
	t.Helper()
	var pkgs []BasePackage
	for name, text := range map[string]string{
		"/casper/ubuntu-server-minimal.manifest":               minimalManifest,
		"/casper/ubuntu-server-minimal.ubuntu-server.manifest": serverManifest,
	} {
		p, err := ParseManifest(strings.NewReader(text), name)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p...)
	}
	return Input{
		ISO:  ISO{Name: "novasphere-installer-v1.2.3.iso", Version: "v1.2.3", SHA256: sum("iso")},
		Base: BaseISO{Name: "ubuntu-22.04.3-live-server-amd64.iso", SHA256: sum("base"), SourceURL: "https://releases.ubuntu.com/22.04.3/ubuntu-22.04.3-live-server-amd64.iso"},
		// 8 distinct packages: 6 in both manifests, 2 in the server layer only.
		BasePackages: pkgs,
		OfflineDebs: []OfflineDeb{
			{File: "packages/novasphere-agent_1.0.0+git2_amd64.deb", Package: "novasphere-agent", Version: "1.0.0+git2", Arch: "amd64", SHA256: sum("agent")},
			{File: "packages/tzdata_2024a-0ubuntu0.22.04_all.deb", Package: "tzdata", Version: "2024a-0ubuntu0.22.04", Arch: "all", SHA256: sum("tzdata")},
		},
		Files: []PayloadFile{
			{Path: "VERSION", SHA256: sum("v")},
			{Path: "charts/novasphere/Chart.yaml", SHA256: sum("c")},
			{Path: "packages/novasphere-agent_1.0.0+git2_amd64.deb", SHA256: sum("agent")},
			{Path: "packages/tzdata_2024a-0ubuntu0.22.04_all.deb", SHA256: sum("tzdata")},
			{Path: "scripts/install.sh", SHA256: sum("s")},
		},
		Chart: Chart{Name: "novasphere", Version: "0.1.0", AppVersion: "1.0.0"},
		Images: []Image{{Repository: "docker.io/novasphere/server", Tag: "1.0.0", Digest: "sha256:" + sum("index"),
			Manifest: "sha256:" + sum("manifest"), Layers: []string{"sha256:" + sum("l1"), "sha256:" + sum("l2")}, File: "images/server.oci.tar"}},
		Created: time.Unix(1700000000, 0),
	}
}

func write(t testing.TB, in Input) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// schema compiles the published CycloneDX 1.6 JSON schema (vendored in
// testdata with the two schemas it refers to), asserting formats.
func schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"} {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource("http://cyclonedx.org/schema/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return s.Validate(v)
}

func TestOutputValidatesAgainstThePublishedSchema(t *testing.T) {
	t.Parallel()
	s := schema(t)
	doc := write(t, testInput(t))
	if err := validate(t, s, doc); err != nil {
		t.Fatalf("the SBOM does not validate against CycloneDX 1.6:\n%v", err)
	}
	// The schema is not a rubber stamp: a wrong spec field, a bad hash and
	// an unknown field all fail.
	for name, edit := range map[string][2]string{
		"bad serial number": {`"serialNumber": "urn:uuid:`, `"serialNumber": "urn:uuid:x`},
		"bad hash":          {`"alg": "SHA-256"`, `"alg": "SHA-257"`},
		"unknown field":     {`"bomFormat": "CycloneDX",`, `"bomFormat": "CycloneDX", "surprise": 1,`},
		"bad timestamp":     {`"timestamp": "2023-11-14T22:13:20Z"`, `"timestamp": "yesterday"`},
	} {
		bad := bytes.Replace(doc, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(bad, doc) {
			t.Fatalf("%s: %q not found in the document", name, edit[0])
		}
		if err := validate(t, s, bad); err == nil {
			t.Errorf("%s: the schema accepted a broken document", name)
		}
	}
}

// decoded is the document read back by the CycloneDX library.
func decoded(t *testing.T, doc []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(doc), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decoding the SBOM: %v", err)
	}
	return &bom
}

func prop(c cdx.Component, name string) []string {
	var vs []string
	if c.Properties != nil {
		for _, p := range *c.Properties {
			if p.Name == name {
				vs = append(vs, p.Value)
			}
		}
	}
	return vs
}

func byRole(bom *cdx.BOM) map[string][]cdx.Component {
	out := map[string][]cdx.Component{}
	for _, c := range *bom.Components {
		r := prop(c, PropRole)
		if len(r) == 1 {
			out[r[0]] = append(out[r[0]], c)
		} else {
			out["?"] = append(out["?"], c)
		}
	}
	return out
}

func TestCountsMatchTheInputsExactly(t *testing.T) {
	t.Parallel()
	in := testInput(t)
	bom := decoded(t, write(t, in))
	roles := byRole(bom)
	distinct := map[string]bool{}
	for _, p := range in.BasePackages {
		distinct[p.Name+":"+p.Arch+"="+p.Version] = true
	}
	want := map[string]int{
		RoleBaseISO: 1, RoleBasePackage: len(distinct), RoleOfflineDeb: len(in.OfflineDebs),
		RoleHelmChart: 1, RolePayloadFile: len(in.Files), RoleImage: len(in.Images), "?": 0,
	}
	if len(distinct) != 8 {
		t.Fatalf("test input has %d distinct packages, want 8", len(distinct))
	}
	for role, n := range want {
		if got := len(roles[role]); got != n {
			t.Errorf("%d components with role %s, want %d", got, role, n)
		}
	}
	if got, w := len(*bom.Components), 2+len(distinct)+len(in.OfflineDebs)+len(in.Files)+len(in.Images); got != w {
		t.Errorf("%d components in all, want %d", got, w)
	}
	// Each input appears with its own values.
	files := map[string]string{}
	for _, c := range roles[RolePayloadFile] {
		files[c.Name] = (*c.Hashes)[0].Value
	}
	for _, f := range in.Files {
		if files["/novasphere/"+f.Path] != f.SHA256 {
			t.Errorf("payload file /novasphere/%s: SHA-256 %q, want %s", f.Path, files["/novasphere/"+f.Path], f.SHA256)
		}
	}
	for _, c := range roles[RoleOfflineDeb] {
		if c.Name == "tzdata" && (c.PackageURL != "pkg:deb/novasphere/tzdata@2024a-0ubuntu0.22.04?arch=all" || (*c.Hashes)[0].Value != sum("tzdata") || prop(c, PropPath)[0] != "/novasphere/packages/tzdata_2024a-0ubuntu0.22.04_all.deb") {
			t.Errorf("offline deb tzdata: %+v", c)
		}
	}
	chart := roles[RoleHelmChart][0]
	if chart.Name != "novasphere" || chart.Version != "0.1.0" || prop(chart, PropChartApp)[0] != "1.0.0" {
		t.Errorf("chart component %+v", chart)
	}
	base := roles[RoleBaseISO][0]
	if base.Name != in.Base.Name || (*base.Hashes)[0].Value != in.Base.SHA256 || (*base.ExternalReferences)[0].URL != in.Base.SourceURL {
		t.Errorf("base ISO component %+v", base)
	}
	root := bom.Metadata.Component
	if root == nil || root.Name != in.ISO.Name || root.Version != in.ISO.Version || (*root.Hashes)[0].Value != in.ISO.SHA256 {
		t.Errorf("metadata.component %+v, want the installer ISO", root)
	}
}

func TestBasePackagePURLs(t *testing.T) {
	t.Parallel()
	bom := decoded(t, write(t, testInput(t)))
	purls := map[string][]string{}
	for _, c := range byRole(bom)[RoleBasePackage] {
		purls[c.PackageURL] = prop(c, PropManifest)
	}
	both := []string{"/casper/ubuntu-server-minimal.manifest", "/casper/ubuntu-server-minimal.ubuntu-server.manifest"}
	server := []string{"/casper/ubuntu-server-minimal.ubuntu-server.manifest"}
	want := map[string][]string{
		"pkg:deb/ubuntu/adduser@3.118ubuntu5?distro=ubuntu-22.04":                            both,
		"pkg:deb/ubuntu/libc6@2.35-0ubuntu3.4?arch=amd64&distro=ubuntu-22.04":                both,
		"pkg:deb/ubuntu/libc6@2.35-0ubuntu3.4?arch=i386&distro=ubuntu-22.04":                 both,
		"pkg:deb/ubuntu/bsdutils@1:2.37.2-4ubuntu3?distro=ubuntu-22.04":                      both,
		"pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04?arch=amd64&distro=ubuntu-22.04": both,
		"pkg:deb/ubuntu/openssh-server@1:8.9p1-3ubuntu0.4?distro=ubuntu-22.04":               server,
		"pkg:deb/ubuntu/vim@2:8.2.3995-1ubuntu2.13?distro=ubuntu-22.04":                      server,
		"pkg:deb/ubuntu/apt@2.4.10?distro=ubuntu-22.04":                                      both,
	}
	for p, ms := range want {
		got, ok := purls[p]
		if !ok {
			t.Errorf("no component with purl %s (have %v)", p, keys(purls))
			continue
		}
		if strings.Join(got, ",") != strings.Join(ms, ",") {
			t.Errorf("%s: manifests %v, want %v", p, got, ms)
		}
		// Every purl parses back to the package's own name and version.
		u, err := packageurl.FromString(p)
		if err != nil {
			t.Errorf("%s does not parse: %v", p, err)
		} else if u.Type != "deb" || u.Namespace != "ubuntu" || u.Qualifiers.Map()["distro"] != DefaultDistro {
			t.Errorf("%s parses to %+v", p, u)
		}
	}
	if len(purls) != len(want) {
		t.Errorf("%d base packages, want %d: %v", len(purls), len(want), keys(purls))
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestSameInputsSameBytes(t *testing.T) {
	t.Parallel()
	in := testInput(t)
	first := write(t, in)
	// The same inputs in another order (maps, directory walks) give the
	// same document.
	shuffled := testInput(t)
	r := rand.New(rand.NewPCG(1, 0))
	r.Shuffle(len(shuffled.BasePackages), func(i, j int) {
		shuffled.BasePackages[i], shuffled.BasePackages[j] = shuffled.BasePackages[j], shuffled.BasePackages[i]
	})
	r.Shuffle(len(shuffled.Files), func(i, j int) { shuffled.Files[i], shuffled.Files[j] = shuffled.Files[j], shuffled.Files[i] })
	r.Shuffle(len(shuffled.OfflineDebs), func(i, j int) {
		shuffled.OfflineDebs[i], shuffled.OfflineDebs[j] = shuffled.OfflineDebs[j], shuffled.OfflineDebs[i]
	})
	for i := 0; i < 2; i++ {
		if again := write(t, shuffled); !bytes.Equal(first, again) {
			t.Fatalf("run %d: different bytes for the same inputs", i+2)
		}
	}
	// The time is SOURCE_DATE_EPOCH's, the serial number the ISO's.
	text := string(first)
	if !strings.Contains(text, `"timestamp": "2023-11-14T22:13:20Z"`) {
		t.Errorf("timestamp is not the given epoch 1700000000:\n%.400s", text)
	}
	serial := regexp.MustCompile(`"serialNumber": "(urn:uuid:[0-9a-f-]{36})"`).FindStringSubmatch(text)
	if serial == nil || serial[1] != serialNumber(in.ISO.SHA256) {
		t.Fatalf("serial number %v, want the one derived from the ISO digest %s", serial, serialNumber(in.ISO.SHA256))
	}
	other := testInput(t)
	other.ISO.SHA256 = sum("another iso")
	if serialNumber(other.ISO.SHA256) == serial[1] {
		t.Error("two ISO digests give the same serial number")
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(serial[1]) {
		t.Errorf("serial number %s is not a version 5 UUID", serial[1])
	}
	later := testInput(t)
	later.Created = later.Created.Add(time.Second)
	if bytes.Equal(write(t, later), first) {
		t.Error("a different SOURCE_DATE_EPOCH gives the same document")
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		edit   func(*Input)
		saying string
	}{
		{"no time", func(in *Input) { in.Created = time.Time{} }, "SOURCE_DATE_EPOCH"},
		{"bad ISO digest", func(in *Input) { in.ISO.SHA256 = "abc" }, "installer ISO"},
		{"upper-case digest", func(in *Input) { in.Base.SHA256 = strings.ToUpper(sum("base")) }, "lower-case"},
		{"no source URL", func(in *Input) { in.Base.SourceURL = "" }, "source URL"},
		{"package without version", func(in *Input) { in.BasePackages[3].Version = "" }, "base package 4"},
		{"file listed twice", func(in *Input) { in.Files = append(in.Files, in.Files[0]) }, "/novasphere/VERSION is listed twice"},
		{"absolute file path", func(in *Input) { in.Files[1].Path = "/novasphere/x" }, "absolute"},
		{"path escaping the payload", func(in *Input) { in.Files[1].Path = "../etc/passwd" }, "not a clean path"},
		{"deb without arch", func(in *Input) { in.OfflineDebs[0].Arch = "" }, "dpkg-deb"},
		{"no chart", func(in *Input) { in.Chart = Chart{} }, "Chart.yaml"},
	}
	for _, c := range cases {
		in := testInput(t)
		c.edit(&in)
		var buf bytes.Buffer
		err := Write(&buf, in)
		if err == nil {
			t.Errorf("%s: Write accepted it", c.name)
			continue
		}
		// The pipeline prefixes the stage's name once; the package does not.
		if !strings.Contains(err.Error(), c.saying) || strings.HasPrefix(err.Error(), "sbom: ") {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.saying)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written despite the error", c.name, buf.Len())
		}
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName("v1.2.3"))
	if err := WriteFile(path, testInput(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(data, write(t, testInput(t))) {
		t.Fatalf("WriteFile wrote something else (%v)", err)
	}
	bad := testInput(t)
	bad.Created = time.Time{}
	if err := WriteFile(filepath.Join(dir, "bad.cdx.json"), bad); err == nil {
		t.Fatal("WriteFile accepted bad input")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after a failed WriteFile the directory holds %v, want only the first SBOM", names)
	}
}

func TestFileName(t *testing.T) {
	if got := FileName("20240102"); got != "novasphere-installer-20240102.cdx.json" {
		t.Errorf("FileName = %s", got)
	}
}

func ExampleFileName() {
	fmt.Println(FileName("v1.0.0"))
	// Output: novasphere-installer-v1.0.0.cdx.json
}

func BenchmarkWrite(b *testing.B) {
	in := testInput(b)
	// A base system the size of Ubuntu 22.04 server's (about 600
	// packages in each of two manifests) and a few hundred payload files.
	in.BasePackages = nil
	for i := 0; i < 600; i++ {
		for _, m := range []string{"/casper/a.manifest", "/casper/a.b.manifest"} {
			in.BasePackages = append(in.BasePackages, BasePackage{Name: fmt.Sprintf("pkg%03d", i), Version: "1.0-1ubuntu1", Manifest: m})
		}
	}
	for i := 0; i < 300; i++ {
		in.Files = append(in.Files, PayloadFile{Path: fmt.Sprintf("charts/f%03d", i), SHA256: sum(fmt.Sprint(i))})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := Write(&buf, in); err != nil {
			b.Fatal(err)
		}
	}
}

// Each image is a container component with its oci package URL, its
// digest, and its manifest's and layers' digests.
func TestImageComponents(t *testing.T) {
	t.Parallel()
	in := testInput(t)
	bom := decoded(t, write(t, in))
	imgs := byRole(bom)[RoleImage]
	if len(imgs) != 1 {
		t.Fatalf("%d image components, want 1", len(imgs))
	}
	c, im := imgs[0], in.Images[0]
	want := "pkg:oci/server@sha256:" + sum("index") + "?repository_url=docker.io%2Fnovasphere%2Fserver&tag=1.0.0"
	if c.Type != cdx.ComponentTypeContainer || c.Name != im.Repository || c.Version != "1.0.0" || c.PackageURL != want ||
		(*c.Hashes)[0].Value != sum("index") {
		t.Errorf("image component %+v\nwant purl %s", c, want)
	}
	if got := prop(c, PropImageLayer); !slices.Equal(got, im.Layers) {
		t.Errorf("layers %v, want %v", got, im.Layers)
	}
	if got := prop(c, PropImageManifest); len(got) != 1 || got[0] != im.Manifest {
		t.Errorf("manifest %v, want %s", got, im.Manifest)
	}
	if got := prop(c, PropPath); len(got) != 1 || got[0] != "/novasphere/images/server.oci.tar" {
		t.Errorf("path %v", got)
	}
	bad := testInput(t)
	bad.Images[0].Digest = "server:1.0.0"
	if err := Write(io.Discard, bad); err == nil || !strings.Contains(err.Error(), "sha256 digest must be set") {
		t.Errorf("an image without a digest: %v", err)
	}
}

// TestDistroFollowsTheBase: a 24.04 base names itself on the base ISO and
// gives every base package's purl its distro (the offline debs are ours:
// pkg:deb/novasphere, no distro).
func TestDistroFollowsTheBase(t *testing.T) {
	in := testInput(t)
	in.Base.ID, in.Base.Distro = "ubuntu-24.04.4", "ubuntu-24.04"
	bom := decoded(t, write(t, in))
	roles := byRole(bom)
	base := roles[RoleBaseISO][0]
	if got := prop(base, PropBase); len(got) != 1 || got[0] != "ubuntu-24.04.4" {
		t.Errorf("base ISO %s = %v", PropBase, got)
	}
	if got := prop(base, PropDistro); len(got) != 1 || got[0] != "ubuntu-24.04" {
		t.Errorf("base ISO %s = %v", PropDistro, got)
	}
	n := 0
	for _, c := range roles[RoleBasePackage] {
		u, err := packageurl.FromString(c.PackageURL)
		if err != nil || u.Qualifiers.Map()["distro"] != "ubuntu-24.04" {
			t.Errorf("purl %s (%v), want distro=ubuntu-24.04", c.PackageURL, err)
		}
		n++
	}
	if n != 8 {
		t.Errorf("%d base packages, want 8", n)
	}
}
