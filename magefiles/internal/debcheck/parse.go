package debcheck

import (
	"errors"
	"fmt"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// NativeArch is the architecture of the installed system.
const NativeArch = "amd64"

// parsedDeb is a Deb with its fields parsed.
type parsedDeb struct {
	Deb
	version    version.Version
	depends    dependency.Dependency
	preDepends dependency.Dependency
	conflicts  dependency.Dependency
	breaks     dependency.Dependency
	provides   []provision
	// refused says why the package cannot be installed at all (wrong
	// architecture); it then satisfies nothing.
	refused string
}

// provision is one entry of a Provides field.
type provision struct {
	name    string
	version *version.Version // nil: unversioned
}

// parseDeb parses the fields of d. Errors name the field.
func parseDeb(d Deb) (*parsedDeb, error) {
	p := &parsedDeb{Deb: d}
	var errs []string
	if !validPackageName(d.Package) {
		errs = append(errs, fmt.Sprintf("Package %q is not a valid package name", d.Package))
	}
	v, err := version.Parse(d.Version)
	if err != nil {
		errs = append(errs, fmt.Sprintf("Version %q: %v", d.Version, err))
	}
	p.version = v
	switch d.MultiArch {
	case "", "no", "same", "foreign", "allowed":
	default:
		errs = append(errs, fmt.Sprintf("Multi-Arch %q is none of same, foreign, allowed", d.MultiArch))
	}
	for _, f := range []struct {
		name string
		text string
		dst  *dependency.Dependency
	}{
		{"Depends", d.Depends, &p.depends},
		{"Pre-Depends", d.PreDepends, &p.preDepends},
		{"Conflicts", d.Conflicts, &p.conflicts},
		{"Breaks", d.Breaks, &p.breaks},
	} {
		dep, err := parseRelations(f.text)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %q: %v", f.name, clip(f.text), err))
			continue
		}
		*f.dst = dep
	}
	prov, err := parseProvides(d.Provides)
	if err != nil {
		errs = append(errs, fmt.Sprintf("Provides %q: %v", clip(d.Provides), err))
	}
	p.provides = prov
	if len(errs) > 0 {
		return p, errors.New(strings.Join(errs, "; "))
	}
	return p, nil
}

// parseRelations parses a relation field and checks what the parser lets
// through: names, version numbers and substitution variables left in.
func parseRelations(text string) (dependency.Dependency, error) {
	if strings.TrimSpace(text) == "" {
		return dependency.Dependency{}, nil
	}
	dep, err := dependency.Parse(text)
	if err != nil {
		return dependency.Dependency{}, err
	}
	for _, rel := range dep.Relations {
		for _, p := range rel.Possibilities {
			if p.Substvar {
				return dependency.Dependency{}, fmt.Errorf("unsubstituted variable ${%s}", p.Name)
			}
			if !validPackageName(p.Name) {
				return dependency.Dependency{}, fmt.Errorf("invalid package name %q", p.Name)
			}
			if p.Version != nil {
				if _, err := version.Parse(p.Version.Number); err != nil {
					return dependency.Dependency{}, fmt.Errorf("%s: version %q: %v", p.Name, p.Version.Number, err)
				}
			}
		}
	}
	return *dep, nil
}

// parseProvides reads "name [(= version)], ...".
func parseProvides(text string) ([]provision, error) {
	dep, err := parseRelations(text)
	if err != nil {
		return nil, err
	}
	var out []provision
	for _, rel := range dep.Relations {
		if len(rel.Possibilities) != 1 {
			return nil, fmt.Errorf("alternatives (%s) are not allowed in Provides", rel)
		}
		p := rel.Possibilities[0]
		if p.Arch != nil {
			return nil, fmt.Errorf("%s: an architecture qualifier is not allowed in Provides", p.Name)
		}
		pr := provision{name: p.Name}
		if p.Version != nil {
			if p.Version.Operator != "=" {
				return nil, fmt.Errorf("%s: a provided version must be (= version), not (%s ...)", p.Name, p.Version.Operator)
			}
			v, _ := version.Parse(p.Version.Number) // checked by parseRelations
			pr.version = &v
		}
		out = append(out, pr)
	}
	return out, nil
}

// qualifier is the architecture part of a relation: "" (none or :native),
// "any", or an architecture name.
func qualifier(p dependency.Possibility) string {
	if p.Arch == nil {
		return ""
	}
	// Arch.String searches dpkg's tuple table; Linux GNU names are the CPU.
	a := *p.Arch
	if a == dependency.Any {
		return "any"
	}
	q := a.CPU
	if a.ABI != "base" || a.Libc != "gnu" || a.OS != "linux" {
		q = a.String()
	}
	if q == "native" {
		return ""
	}
	return q
}

// satisfiesVersion reports whether v meets the possibility's version
// relation (always when it has none).
func satisfiesVersion(p dependency.Possibility, v version.Version) bool {
	if p.Version == nil {
		return true
	}
	return p.Version.SatisfiedBy(v)
}

// appliesHere reports whether a possibility's architecture restriction list
// ("foo [amd64]", rare outside source packages) includes the native one.
func appliesHere(p dependency.Possibility) bool {
	if p.Architectures == nil || len(p.Architectures.Architectures) == 0 {
		return true
	}
	return p.Architectures.Matches(&nativeArch)
}

var nativeArch = dependency.Arch{ABI: "base", Libc: "gnu", OS: "linux", CPU: NativeArch}
