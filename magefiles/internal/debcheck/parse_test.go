package debcheck

import (
	"testing"

	"pault.ag/go/debian/dependency"
)

// TestQualifier: the fast path gives what the library's tuple table gives.
func TestQualifier(t *testing.T) {
	for rel, want := range map[string]string{
		"foo": "", "foo:any": "any", "foo:native": "", "foo:amd64": "amd64", "foo:i386": "i386",
		"foo:x32": "x32", "foo:arm64": "arm64", "foo:armhf": "armhf",
	} {
		d, err := dependency.Parse(rel)
		if err != nil {
			t.Fatal(err)
		}
		p := d.Relations[0].Possibilities[0]
		if got := qualifier(p); got != want {
			t.Errorf("qualifier(%s) = %q, want %q", rel, got, want)
		}
		if p.Arch != nil && want != "" && p.Arch.String() != want {
			t.Errorf("%s: the library calls it %q", rel, p.Arch.String())
		}
	}
}
