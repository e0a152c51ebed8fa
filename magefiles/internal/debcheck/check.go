package debcheck

import (
	"fmt"
	"sort"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Problems is every reason the packages cannot be installed offline, one a
// line, each starting with the file it is about.
type Problems []string

// Error joins the problems with newlines.
func (p Problems) Error() string { return strings.Join(p, "\n") }

// Plan is the resolved installation: every package, and for each of its
// dependencies what satisfies it. It is JSON for the build record and the
// verify report.
type Plan struct {
	Base     PlanBase         `json:"base"`
	Packages []PlannedPackage `json:"packages"`
	// BasePackages are the packages the base system has installed, as
	// read from its manifests (the SBOM lists them); not recorded.
	BasePackages []Installed `json:"-"`
}

// PlanBase says what the packages were resolved against.
type PlanBase struct {
	Source    string   `json:"source"`
	Manifests []string `json:"manifests"`
	Packages  int      `json:"packages"`
}

// PlannedPackage is one .deb of the plan.
type PlannedPackage struct {
	Package      string `json:"package"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	File         string `json:"file"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	// Base says how the package relates to the base system's package of
	// the same name, if any: "upgrades 2.0-1 (casper/x.manifest)" or
	// "same version as casper/x.manifest (apt keeps it)".
	Base string `json:"base,omitempty"`
	// Dependencies are its Pre-Depends and Depends, in that order.
	Dependencies []Resolution `json:"dependencies,omitempty"`
}

// Resolution is one dependency and what satisfies it.
type Resolution struct {
	// Field is "Pre-Depends" or "Depends".
	Field string `json:"field"`
	// Relation is the relation as parsed, with its alternatives
	// ("libfoo1 (>= 2.1) | libfoo2").
	Relation    string    `json:"relation"`
	SatisfiedBy Satisfier `json:"satisfied_by"`
}

// Satisfier is the package that satisfies a dependency: a .deb of
// packages/ (File set) or a package of the base system (Manifest set).
type Satisfier struct {
	Package  string `json:"package"`
	Version  string `json:"version"`
	File     string `json:"file,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	// Via is the virtual package, when it is satisfied through Provides.
	Via string `json:"via,omitempty"`
}

// String is "packages/foo_1_amd64.deb" or "base foo 1 (casper/x.manifest)",
// with " providing <virtual>" when through Provides.
func (s Satisfier) String() string {
	out := s.File
	if out == "" {
		out = fmt.Sprintf("base %s %s (%s)", s.Package, s.Version, s.Manifest)
	}
	if s.Via != "" {
		out += " providing " + s.Via
	}
	return out
}

// Summary is one line for the build log: how many packages, and where their
// dependencies come from.
func (p Plan) Summary() string {
	fromBase, fromDebs := 0, 0
	for _, pkg := range p.Packages {
		for _, d := range pkg.Dependencies {
			if d.SatisfiedBy.File != "" {
				fromDebs++
			} else {
				fromBase++
			}
		}
	}
	return fmt.Sprintf("%d package(s) install offline on %d base packages (%s); dependencies satisfied: %d by the base, %d by packages/",
		len(p.Packages), p.Base.Packages, strings.Join(p.Base.Manifests, " + "), fromBase, fromDebs)
}

// Resolve is the whole check for a caller holding the base ISO's casper
// files (see IsBaseFile, ReadBaseFiles) and the .debs (ReadDebDir,
// ReadDeb): with no .debs there is nothing to resolve and the base is not
// read; otherwise ReadBase, then Check.
func Resolve(files []File, debs []Deb) (Plan, error) {
	if len(debs) == 0 {
		return Plan{Base: PlanBase{Source: "no packages: nothing to resolve"}}, nil
	}
	base, err := ReadBase(files)
	if err != nil {
		return Plan{}, err
	}
	plan, err := Check(base, debs)
	plan.BasePackages = base.Packages
	return plan, err
}

// Check proves that debs, installed together in one apt transaction on the
// base system, need nothing else, with Debian's rules:
//
//   - Architecture must be amd64 or all (the installed system is amd64).
//   - Every Pre-Depends and Depends relation needs one alternative
//     satisfied by a .deb or a base package: the name, or a Provides of it
//     (a versioned relation needs a versioned Provides), with its version
//     relation (<<, <=, =, >=, >>) compared by Debian's version ordering.
//     A .deb replaces the base package of the same name. "pkg:any" needs a
//     Multi-Arch: allowed .deb (base packages are accepted, their
//     Multi-Arch is unknown); "pkg:arch" needs that architecture.
//   - Conflicts and Breaks must match nothing that ends up installed:
//     the other .debs, their Provides, and the base packages they do not
//     replace.
//   - One version per package name in debs, and none older than the base
//     system's (apt-get refuses downgrades).
//
// Every problem is reported, one a line, naming the file and, for a package
// that others need, the chain that pulls it in. The plan is complete only
// when the error is nil.
func Check(base Base, debs []Deb) (Plan, error) {
	w := newWorld(base)
	var problems Problems
	for _, d := range debs {
		pd, err := parseDeb(d)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: control file: %v", d.File, err))
			continue
		}
		if d.Architecture != NativeArch && d.Architecture != "all" {
			pd.refused = fmt.Sprintf("Architecture %s", d.Architecture)
			problems = append(problems, fmt.Sprintf("%s: Architecture %s: the installed system is %s; only %s and all packages install",
				d.File, d.Architecture, NativeArch, NativeArch))
		}
		w.add(pd)
	}
	problems = append(problems, w.duplicates()...)

	plan := Plan{Base: PlanBase{Source: base.Source, Manifests: base.Manifests, Packages: len(base.Packages)}}
	var pending []pendingProblem
	for _, d := range w.order {
		if d.refused != "" {
			continue
		}
		pp, downgrade, unmet := w.plan(d)
		if downgrade != "" {
			problems = append(problems, downgrade)
		}
		pending = append(pending, unmet...)
		pending = append(pending, w.conflicts(d)...)
		plan.Packages = append(plan.Packages, pp)
	}
	chains := w.chains()
	for _, p := range pending {
		problems = append(problems, fmt.Sprintf("%s%s: %s", p.deb.File, chains[p.deb], p.text))
	}
	if len(problems) > 0 {
		return plan, problems
	}
	return plan, nil
}

// plan resolves d's Pre-Depends and Depends: the satisfied ones go into
// the plan (and record which .debs need which, for the chains), the others
// into unmet. downgrade is a problem line when d is older than the base
// package of the same name.
func (w *world) plan(d *parsedDeb) (pp PlannedPackage, downgrade string, unmet []pendingProblem) {
	pp = PlannedPackage{Package: d.Package, Version: d.Version, Architecture: d.Architecture,
		File: d.File, SHA256: d.SHA256, Size: d.Size}
	pp.Base, downgrade = w.againstBase(d)
	for _, f := range []field{{"Pre-Depends", d.preDepends}, {"Depends", d.depends}} {
		for _, rel := range f.dep.Relations {
			sat, why, ok := w.resolve(rel)
			if !ok {
				unmet = append(unmet, pendingProblem{d, fmt.Sprintf("%s %s: %s", f.name, rel, why)})
				continue
			}
			if sat.deb != nil {
				w.neededBy[sat.deb] = append(w.neededBy[sat.deb], d)
			}
			pp.Dependencies = append(pp.Dependencies, Resolution{Field: f.name, Relation: rel.String(), SatisfiedBy: sat.Satisfier})
		}
	}
	return pp, downgrade, unmet
}

// conflicts lists what d's Conflicts and Breaks match.
func (w *world) conflicts(d *parsedDeb) []pendingProblem {
	var out []pendingProblem
	for _, f := range []field{{"Conflicts", d.conflicts}, {"Breaks", d.breaks}} {
		for _, rel := range f.dep.Relations {
			for _, poss := range rel.Possibilities {
				for _, hit := range w.clashes(d, poss) {
					out = append(out, pendingProblem{d, fmt.Sprintf("%s %s: %s", f.name, poss, hit)})
				}
			}
		}
	}
	return out
}

// field is a named relation field.
type field struct {
	name string
	dep  dependency.Dependency
}

// pendingProblem waits for the chains, which need every edge.
type pendingProblem struct {
	deb  *parsedDeb
	text string
}

// world is what is installed once the .debs are: the .debs, the base
// packages they do not replace, and everyone's Provides.
type world struct {
	debs      map[string][]*parsedDeb // usable .debs by package name
	refused   map[string][]*parsedDeb // refused .debs by package name
	order     []*parsedDeb            // every parsed .deb, in input order
	base      map[string][]*Installed // by package name
	baseVer   map[*Installed]version.Version
	providers map[string][]provider // by virtual package name
	neededBy  map[*parsedDeb][]*parsedDeb
}

// provider is a .deb or base package providing a virtual package.
type provider struct {
	deb     *parsedDeb
	base    *Installed
	version *version.Version
}

func newWorld(base Base) *world {
	w := &world{
		debs: map[string][]*parsedDeb{}, refused: map[string][]*parsedDeb{},
		base: map[string][]*Installed{}, baseVer: map[*Installed]version.Version{},
		providers: map[string][]provider{}, neededBy: map[*parsedDeb][]*parsedDeb{},
	}
	for i := range base.Packages {
		b := &base.Packages[i]
		v, err := version.Parse(b.Version)
		if err != nil {
			continue // ReadBase refuses these; a caller's own list may not
		}
		w.base[b.Name] = append(w.base[b.Name], b)
		w.baseVer[b] = v
		for _, text := range b.Provides {
			provs, err := parseProvides(text)
			if err != nil {
				continue // KnownProvides and callers' entries are plain names
			}
			for _, pr := range provs {
				w.providers[pr.name] = append(w.providers[pr.name], provider{base: b, version: pr.version})
			}
		}
	}
	return w
}

func (w *world) add(d *parsedDeb) {
	w.order = append(w.order, d)
	if d.refused != "" {
		w.refused[d.Package] = append(w.refused[d.Package], d)
		return
	}
	w.debs[d.Package] = append(w.debs[d.Package], d)
	for _, pr := range d.provides {
		w.providers[pr.name] = append(w.providers[pr.name], provider{deb: d, version: pr.version})
	}
}

// duplicates reports package names shipped more than once.
func (w *world) duplicates() Problems {
	byName := map[string][]*parsedDeb{}
	var names []string
	for _, d := range w.order {
		if len(byName[d.Package]) == 0 {
			names = append(names, d.Package)
		}
		byName[d.Package] = append(byName[d.Package], d)
	}
	var out Problems
	for _, n := range names {
		ds := byName[n]
		if len(ds) < 2 {
			continue
		}
		var files []string
		for _, d := range ds {
			files = append(files, fmt.Sprintf("%s (%s %s)", d.File, d.Version, d.Architecture))
		}
		out = append(out, fmt.Sprintf("%s: packages/ has %d versions of %s: %s; keep one",
			ds[1].File, len(ds), n, strings.Join(files, ", ")))
	}
	return out
}

// replaces reports whether installing a .deb of this name replaces base
// package b (same name, native or unqualified architecture).
func (w *world) replaces(b *Installed) bool {
	return len(w.debs[b.Name]) > 0 && isNativeArch(b.Arch)
}

func isNativeArch(a string) bool { return a == "" || a == NativeArch || a == "all" }

// againstBase compares a .deb with the base package of the same name: the
// plan note, and a problem when it would be a downgrade.
func (w *world) againstBase(d *parsedDeb) (note, problem string) {
	for _, b := range w.base[d.Package] {
		if !isNativeArch(b.Arch) {
			continue
		}
		switch c := version.Compare(d.version, w.baseVer[b]); {
		case c > 0:
			return fmt.Sprintf("upgrades %s (%s)", b.Version, b.Manifest), ""
		case c == 0:
			return fmt.Sprintf("same version as %s (apt keeps the installed one)", b.Manifest), ""
		default:
			return "", fmt.Sprintf("%s: %s %s is older than the base system's %s: apt-get refuses to downgrade; ship %s or newer, or leave it out",
				d.File, d.Package, d.Version, b, b.Version)
		}
	}
	return "", ""
}

// found is a satisfier and, for .debs, the package behind it.
type found struct {
	Satisfier
	deb *parsedDeb
}

// resolve finds what satisfies one relation (any of its alternatives), or
// says why nothing does.
func (w *world) resolve(rel dependency.Relation) (found, string, bool) {
	var whys []string
	for _, p := range rel.Possibilities {
		if !appliesHere(p) {
			continue
		}
		if f, ok := w.satisfy(p); ok {
			return f, "", true
		}
		why := w.explain(p)
		if len(rel.Possibilities) > 1 {
			why = p.String() + ": " + why
		}
		whys = append(whys, why)
	}
	if len(whys) == 0 {
		return found{}, fmt.Sprintf("no alternative applies to %s", NativeArch), false
	}
	return found{}, strings.Join(whys, "; "), false
}

// satisfy looks for one possibility: a .deb of that name, a base package
// it does not replace, then Provides of .debs and base packages.
func (w *world) satisfy(p dependency.Possibility) (found, bool) {
	q := qualifier(p)
	for _, d := range w.debs[p.Name] {
		if debArchOK(d, q) == "" && satisfiesVersion(p, d.version) {
			return found{Satisfier{Package: d.Package, Version: d.Version, File: d.File}, d}, true
		}
	}
	for _, b := range w.base[p.Name] {
		if w.replaces(b) || !baseArchOK(b.Arch, q) {
			continue
		}
		if satisfiesVersion(p, w.baseVer[b]) {
			return found{Satisfier{Package: b.Name, Version: b.Version, Manifest: b.Manifest}, nil}, true
		}
	}
	for _, pr := range w.providers[p.Name] {
		if !w.providerOK(pr, p, q) {
			continue
		}
		if pr.deb != nil {
			return found{Satisfier{Package: pr.deb.Package, Version: pr.deb.Version, File: pr.deb.File, Via: p.Name}, pr.deb}, true
		}
		return found{Satisfier{Package: pr.base.Name, Version: pr.base.Version, Manifest: pr.base.Manifest, Via: p.Name}, nil}, true
	}
	return found{}, false
}

// providerOK reports whether a Provides entry satisfies the possibility:
// an unversioned relation takes any provider, a versioned one only a
// versioned Provides that meets it.
func (w *world) providerOK(pr provider, p dependency.Possibility, q string) bool {
	if pr.base != nil && w.replaces(pr.base) {
		return false
	}
	if p.Version != nil && (pr.version == nil || !p.Version.SatisfiedBy(*pr.version)) {
		return false
	}
	if pr.deb != nil {
		return debArchOK(pr.deb, q) == ""
	}
	return baseArchOK(pr.base.Arch, q)
}

// debArchOK says why a usable .deb (amd64 or all) cannot satisfy a
// relation with qualifier q, or "" when it can.
func debArchOK(d *parsedDeb, q string) string {
	switch q {
	case "":
		return ""
	case "any":
		if d.MultiArch != "allowed" {
			return fmt.Sprintf("%s is not Multi-Arch: allowed, which :any needs", d.File)
		}
		return ""
	default:
		if d.Architecture == q || (d.Architecture == "all" && q == NativeArch) {
			return ""
		}
		return fmt.Sprintf("%s is %s, not %s", d.File, d.Architecture, q)
	}
}

// baseArchOK reports whether a base package with manifest qualifier arch
// can satisfy qualifier q. For :any it is accepted: manifests do not say
// whether a package is Multi-Arch: allowed.
func baseArchOK(arch, q string) bool {
	switch q {
	case "":
		return isNativeArch(arch)
	case "any":
		return true
	default:
		return arch == q || (arch == "" && q == NativeArch)
	}
}

// explain says what the base and packages/ hold for an unsatisfied
// possibility.
func (w *world) explain(p dependency.Possibility) string {
	q := qualifier(p)
	var inBase, replaced, inDebs, extra []string
	for _, b := range w.base[p.Name] {
		if w.replaces(b) {
			replaced = append(replaced, b.String())
		} else {
			inBase = append(inBase, b.String())
		}
	}
	for _, d := range w.debs[p.Name] {
		s := fmt.Sprintf("%s %s (%s)", d.Package, d.Version, d.File)
		if why := debArchOK(d, q); why != "" {
			s = fmt.Sprintf("%s %s, but %s", d.Package, d.Version, why)
		}
		inDebs = append(inDebs, s)
	}
	for _, d := range w.refused[p.Name] {
		inDebs = append(inDebs, fmt.Sprintf("%s %s (%s, refused: %s)", d.Package, d.Version, d.File, d.refused))
	}
	for _, pr := range w.providers[p.Name] {
		var who string
		if pr.deb != nil {
			who = pr.deb.File
		} else {
			who = "the base system's " + pr.base.String()
		}
		switch {
		case p.Version != nil && pr.version == nil:
			extra = append(extra, fmt.Sprintf("%s provides %s without a version, which a versioned dependency cannot use", who, p.Name))
		case p.Version != nil:
			extra = append(extra, fmt.Sprintf("%s provides %s (= %s)", who, p.Name, pr.version))
		default:
			extra = append(extra, fmt.Sprintf("%s provides %s", who, p.Name))
		}
	}
	var parts []string
	if len(inBase) > 0 {
		parts = append(parts, "the base system has "+strings.Join(inBase, ", "))
	} else if len(replaced) == 0 && len(inDebs) > 0 {
		parts = append(parts, "the base system has none")
	}
	switch {
	case len(inDebs) > 0 && len(replaced) > 0:
		parts = append(parts, fmt.Sprintf("packages/ has %s, which replaces the base system's %s", strings.Join(inDebs, ", "), strings.Join(replaced, ", ")))
	case len(inDebs) > 0:
		parts = append(parts, "packages/ has "+strings.Join(inDebs, ", "))
	case len(inBase) > 0:
		parts = append(parts, "packages/ has none")
	}
	s := strings.Join(parts, " and ")
	if len(parts) == 0 {
		s = fmt.Sprintf("neither the base system nor packages/ has %s", p.Name)
	}
	if len(extra) > 0 {
		s += "; " + strings.Join(extra, "; ")
	}
	return s
}

// clashes lists what a Conflicts or Breaks possibility of d matches among
// what ends up installed. Without a qualifier it matches every
// architecture (multiarch rule). A package never conflicts with itself.
func (w *world) clashes(d *parsedDeb, p dependency.Possibility) []string {
	if !appliesHere(p) {
		return nil
	}
	q := qualifier(p)
	var out []string
	for _, o := range w.debs[p.Name] {
		if o.Package == d.Package || (q != "" && debArchOK(o, q) != "") || !satisfiesVersion(p, o.version) {
			continue
		}
		out = append(out, fmt.Sprintf("packages/ has %s %s (%s)", o.Package, o.Version, o.File))
	}
	for _, b := range w.base[p.Name] {
		if b.Name == d.Package || w.replaces(b) || (q != "" && !baseArchOK(b.Arch, q)) {
			continue
		}
		if satisfiesVersion(p, w.baseVer[b]) {
			out = append(out, fmt.Sprintf("the base system has %s; apt would remove it", b))
		}
	}
	for _, pr := range w.providers[p.Name] {
		if pr.deb == d || (pr.deb != nil && pr.deb.Package == d.Package) || !w.providerOK(pr, p, q) {
			continue
		}
		if pr.deb != nil {
			out = append(out, fmt.Sprintf("%s provides %s", pr.deb.File, p.Name))
		} else {
			out = append(out, fmt.Sprintf("the base system's %s provides %s", pr.base, p.Name))
		}
	}
	return out
}

// chains returns, for each .deb that other .debs need, " (required by a ->
// b)": the shortest path from a .deb nothing needs.
func (w *world) chains() map[*parsedDeb]string {
	parent := map[*parsedDeb]*parsedDeb{}
	var queue []*parsedDeb
	for _, d := range w.order {
		if len(w.neededBy[d]) == 0 {
			parent[d] = nil
			queue = append(queue, d)
		}
	}
	needs := map[*parsedDeb][]*parsedDeb{}
	for dep, users := range w.neededBy {
		for _, u := range users {
			needs[u] = append(needs[u], dep)
		}
	}
	for _, ds := range needs {
		sort.Slice(ds, func(i, j int) bool { return ds[i].File < ds[j].File })
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, n := range needs[d] {
			if _, seen := parent[n]; !seen {
				parent[n] = d
				queue = append(queue, n)
			}
		}
	}
	out := map[*parsedDeb]string{}
	for d, p := range parent {
		if p == nil {
			continue
		}
		var names []string
		for x := d; x != nil; x = parent[x] {
			names = append(names, x.Package)
		}
		for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
			names[i], names[j] = names[j], names[i]
		}
		out[d] = " (required by " + strings.Join(names[:len(names)-1], " -> ") + ")"
	}
	return out
}
