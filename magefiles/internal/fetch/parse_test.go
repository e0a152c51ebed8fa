package fetch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// The committed Ubuntu key must be the one whose fingerprint the issue
// names, and nothing else.
func TestCommittedUbuntuKeyFingerprint(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := loadKeyring(filepath.Join(root, config.DefaultKeyringPath))
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.entities) != 1 {
		t.Fatalf("%s holds %d keys, want exactly the Ubuntu CD image key", config.DefaultKeyringPath, len(kr.entities))
	}
	if got := fingerprint(kr.entities[0]); got != config.UbuntuSigningKeyFingerprint {
		t.Errorf("fingerprint = %s, want %s", got, config.UbuntuSigningKeyFingerprint)
	}
	if id := identityName(kr.entities[0]); !strings.Contains(id, "Ubuntu CD Image Automatic Signing Key (2012)") {
		t.Errorf("identity = %q, want the Ubuntu CD Image Automatic Signing Key (2012)", id)
	}
}

func TestDigestForFindsExactName(t *testing.T) {
	const (
		a = "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd"
		b = "5e38b55d57d94ff029719342357325ed3bda38fa80054f9330dc789cd2d43931"
	)
	sums := "" +
		b + " *ubuntu-22.04.3-desktop-amd64.iso\n" +
		b + " *ubuntu-22.04.3-live-server-amd64.iso.zsync\n" +
		strings.ToUpper(a) + " *ubuntu-22.04.3-live-server-amd64.iso\r\n" +
		"not a checksum line\n"
	for _, tc := range []struct {
		name, sums, file, want, err string
	}{
		{"binary marker, CRLF, upper-case hex", sums, "ubuntu-22.04.3-live-server-amd64.iso", "sha256:" + a, ""},
		{"text marker", a + "  x.iso\n", "x.iso", "sha256:" + a, ""},
		{"prefix of another name does not match", b + " *x.iso.zsync\n", "x.iso", "", `no line for "x.iso" (it lists x.iso.zsync)`},
		{"digest is not grepped", a + " *other.iso\n", a, "", "no line for"},
		{"listed twice, same digest", a + " *x.iso\n" + a + " *x.iso\n", "x.iso", "sha256:" + a, ""},
		{"listed twice, different digests", a + " *x.iso\n" + b + " *x.iso\n", "x.iso", "", "listed twice"},
		{"empty file", "", "x.iso", "", "it lists no files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := digestFor([]byte(tc.sums), tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("digestFor = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"bytes 100-199/150", 0, 0, false},
		{"bytes 9-5/20", 0, 0, false},
		{"bytes */200", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, total, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (start != tc.start || total != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, start, total, err, tc.start, tc.total, tc.ok)
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in, path, url, err string
	}{
		{in: "https://releases.ubuntu.com/22.04.3/x.iso", url: "https://releases.ubuntu.com/22.04.3/x.iso"},
		{in: "http://127.0.0.1:8000/x.iso", url: "http://127.0.0.1:8000/x.iso"},
		{in: "file:///srv/isos/x.iso", path: "/srv/isos/x.iso"},
		{in: "file://localhost/srv/x%20y.iso", path: "/srv/x y.iso"},
		{in: "/srv/isos/x.iso", path: "/srv/isos/x.iso"},
		{in: "isos/x.iso", path: "isos/x.iso"},
		{in: "file://server/share/x.iso", err: "must name a local file"},
		{in: "ftp://example.org/x.iso", err: "unsupported scheme"},
	} {
		src, err := parseSource(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSource(%q) err = %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("parseSource(%q): %v", tc.in, err)
		case src.path != tc.path || src.url != tc.url || src.local != (tc.path != ""):
			t.Errorf("parseSource(%q) = %+v, want path %q url %q", tc.in, src, tc.path, tc.url)
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		s    stat
		want string
	}{
		{stat{done: 512 << 20, total: 2 << 30, bps: 8 << 20}, "512.0 MiB of 2.0 GiB   25.0%  8.0 MiB/s  ETA 3m12s"},
		{stat{done: 1 << 30, total: -1, bps: 1 << 20}, "1.0 GiB  1.0 MiB/s"},
		{stat{done: 100, total: 1000, bps: 0}, "100 B of 1000 B   10.0%  -- B/s  ETA --"},
		{stat{done: 1000, total: 1000, bps: 10}, "1000 B of 1000 B  100.0%  10 B/s  ETA 0s"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("stat%+v = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestProgressOnTerminalRewritesOneLineAtMostOncePerSecond(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	p := &progress{w: &buf, terminal: true, every: time.Second, last: start}
	for i := 1; i <= 25; i++ { // 2.5 s of updates every 100 ms
		p.update(stat{done: int64(i), total: 100}, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	p.finish(stat{done: 100, total: 100})
	out := buf.String()
	if n := strings.Count(out, "\r"); n != 3 { // at 1 s, 2 s, and the final state
		t.Errorf("%d line rewrites, want 3:\n%q", n, out)
	}
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d newlines, want only the final one:\n%q", n, out)
	}
	if !strings.HasSuffix(out, "100 B of 100 B  100.0%  -- B/s  ETA 0s\x1b[K\n") {
		t.Errorf("final line missing:\n%q", out)
	}
}

func TestProgressInLogsPrintsFullLinesEveryInterval(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	p := &progress{w: &buf, every: 5 * time.Second, last: start}
	for i := 1; i <= 120; i++ { // 12 s of updates every 100 ms
		p.update(stat{done: int64(i), total: 200, bps: 10}, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	p.finish(stat{done: 200, total: 200, bps: 10})
	out := buf.String()
	if strings.Contains(out, "\r") || strings.Contains(out, "\x1b") {
		t.Errorf("log output contains terminal control characters:\n%q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 { // at 5 s, 10 s, and the final state
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "fetch: ") || !strings.Contains(l, "%") || !strings.Contains(l, "B/s") || !strings.Contains(l, "ETA") {
			t.Errorf("progress line %q lacks bytes, percent, rate or ETA", l)
		}
	}
}

func TestFromConfigUsesConfiguredLocationsAndKeyring(t *testing.T) {
	c := config.Config{
		BaseISOName:   "ubuntu-22.04.3-live-server-amd64.iso",
		BaseLocations: []config.BaseLocation{{ISOURL: "https://a/x.iso", SumsURL: "https://a/SHA256SUMS"}, {ISOURL: "https://b/x.iso", SumsURL: "https://b/SHA256SUMS"}},
		BaseISOSHA256: "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd",
		KeyringPath:   "/k.asc",
		CacheDir:      "/cache",
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := FromConfig(c, f)
	if o.Name != c.BaseISOName || len(o.Locations) != 2 || o.SHA256 != c.BaseISOSHA256 || o.KeyringPath != "/k.asc" || o.CacheDir != "/cache" {
		t.Errorf("FromConfig = %+v", o)
	}
	if o.Terminal {
		t.Error("a regular file was taken for a terminal")
	}
}

func TestRateMeterIsRightFromTheFirstSecondAndFollowsChanges(t *testing.T) {
	var m rateMeter
	start := time.Now()
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	m.add(at(0), 1000) // resumed at 1000 bytes: not part of the rate
	if m.rate() != 0 {
		t.Errorf("rate with one sample = %v, want 0 (unknown)", m.rate())
	}
	m.add(at(1), 1000+10<<20)
	if got := m.rate(); got != 10<<20 {
		t.Errorf("rate after 1 s at 10 MiB/s = %v, want %v", got, 10<<20)
	}
	n := int64(1000 + 10<<20)
	for s := 2; s <= 12; s++ { // the link slows to 1 MiB/s
		n += 1 << 20
		m.add(at(float64(s)), n)
	}
	if got := m.rate(); got != 1<<20 {
		t.Errorf("rate 10 s after slowing to 1 MiB/s = %v, want %v", got, 1<<20)
	}
	if len(m.samples) > 7 {
		t.Errorf("%d samples kept, want only the last %s", len(m.samples), rateWindow)
	}
}
