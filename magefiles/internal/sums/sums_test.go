package sums

import (
	"strings"
	"testing"
)

const a = "a4acfda10b18da50e2ec50ccaf860d7f20b389df8765611142305c0e911d16fd"

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line, sum, name string
		ok              bool
	}{
		{a + "  x.iso", a, "x.iso", true},
		{a + " *x.iso\r", a, "x.iso", true},
		{strings.ToUpper(a) + "  dir/with space", a, "dir/with space", true},
		{a + "  *star", a, "*star", true}, // coreutils: the name is "*star"
		{a + " x.iso", "", "", false},     // one blank and no marker
		{a + "  ", "", "", false},         // no name
		{a[:63] + "  x.iso", "", "", false},
		{strings.Replace(a, "a", "g", 1) + "  x.iso", "", "", false},
		{"not a checksum line", "", "", false},
	} {
		sum, name, ok := ParseLine(tc.line, SHA256)
		if sum != tc.sum || name != tc.name || ok != tc.ok {
			t.Errorf("ParseLine(%q) = %q %q %v, want %q %q %v", tc.line, sum, name, ok, tc.sum, tc.name, tc.ok)
		}
	}
}

func TestLinesNumbersAndReportsBadLines(t *testing.T) {
	md5 := strings.Repeat("0f", 16)
	lines := Lines([]byte(md5+"  ./a\n\n"+"garbage\r\n"+md5+" *./b\n"), MD5)
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %+v", len(lines), lines)
	}
	if lines[0].N != 1 || lines[0].Name != "./a" || lines[0].Err != nil {
		t.Errorf("line 1 = %+v", lines[0])
	}
	if lines[1].N != 3 || lines[1].Err == nil || !strings.Contains(lines[1].Err.Error(), `"garbage"`) {
		t.Errorf("line 3 = %+v, want an error quoting it", lines[1])
	}
	if lines[2].N != 4 || lines[2].Name != "./b" {
		t.Errorf("line 4 = %+v", lines[2])
	}
}

func TestMapKeepsWellFormedLines(t *testing.T) {
	m := Map([]byte(a+"  x.iso\nbad\n"+a+" *y.iso\n"), SHA256)
	if len(m) != 2 || m["x.iso"] != a || m["y.iso"] != a {
		t.Errorf("Map = %v", m)
	}
}
