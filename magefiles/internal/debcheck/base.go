package debcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"pault.ag/go/debian/version"
)

// ISO paths of the files ReadBase reads (without a leading slash).
const (
	// InstallSourcesPath lists the install sources of a subiquity ISO
	// (Ubuntu 21.10 and later).
	InstallSourcesPath = "casper/install-sources.yaml"
	// LegacyManifestPath is the manifest of the one casper/filesystem.squashfs
	// of ISOs without install-sources.yaml, which subiquity installs whole.
	LegacyManifestPath = "casper/filesystem.manifest"
)

// File is one file of the base ISO: its path on the ISO ("casper/x.manifest";
// a leading slash is allowed) and its content. Callers read it from an
// extracted tree or straight from the ISO.
type File struct {
	Path string
	Data []byte
}

// IsBaseFile reports whether ReadBase may need the ISO file at p:
// casper/install-sources.yaml and every casper/*.manifest. Pass all of them;
// ReadBase picks the ones that count.
func IsBaseFile(p string) bool {
	p = cleanISOPath(p)
	return p == InstallSourcesPath ||
		(path.Dir(p) == "casper" && strings.HasSuffix(p, ".manifest"))
}

// Installed is one package of the base system, from a manifest line.
type Installed struct {
	// Name is the package name without an architecture qualifier.
	Name string `json:"name"`
	// Arch is the manifest's qualifier ("amd64" in "libc6:amd64"), empty
	// when the line has none (dpkg-query prints one only for Multi-Arch:
	// same and foreign-architecture packages).
	Arch string `json:"arch,omitempty"`
	// Version is the installed version.
	Version string `json:"version"`
	// Manifest is the ISO path of the manifest that lists this version.
	Manifest string `json:"manifest"`
	// Provides lists virtual packages it provides, as Debian relations
	// ("awk", "foo (= 1.2)"). Manifests do not say; see KnownProvides.
	Provides []string `json:"provides,omitempty"`
}

// String is "name version (manifest)", the form used in messages.
func (p Installed) String() string {
	return fmt.Sprintf("%s %s (%s)", p.displayName(), p.Version, p.Manifest)
}

func (p Installed) displayName() string {
	if p.Arch == "" {
		return p.Name
	}
	return p.Name + ":" + p.Arch
}

// Base is the package set the base ISO's default install source puts on the
// disk: what the offline packages are installed on top of.
type Base struct {
	// Source says in one sentence how the manifests were chosen, for the
	// build log and the record.
	Source string `json:"source"`
	// Manifests are the manifests read, bottom layer first.
	Manifests []string `json:"manifests"`
	// Layout is the form of casper/install-sources.yaml: FormList or
	// FormCatalogV2 ("" without the file); Kernel is a version 2
	// catalog's kernel entry.
	Layout string  `json:"layout,omitempty"`
	Kernel *Kernel `json:"kernel,omitempty"`
	// Packages are the installed packages, sorted by name and architecture.
	Packages []Installed `json:"-"`
	// Snaps counts the manifests' snap lines ("snap:lxd ..."), which are
	// not Debian packages and are left out.
	Snaps int `json:"snaps,omitempty"`
}

// KnownProvides lists virtual packages that packages of the Ubuntu 22.04
// base provide, for ReadBase to add (a manifest names packages and versions
// only). It holds only long-standing, unversioned Provides of Debian and
// Ubuntu alike; a dependency on another virtual package needs its provider
// in packages/ or a Depends on the real package.
var KnownProvides = map[string][]string{
	"mawk":    {"awk"},
	"gawk":    {"awk"},
	"debconf": {"debconf-2.0"},
}

// installSource is one entry of casper/install-sources.yaml (subiquity's
// CatalogEntry; unknown fields are ignored as subiquity does).
type installSource struct {
	ID         string `yaml:"id"`
	Path       string `yaml:"path"`
	Type       string `yaml:"type"`
	Default    bool   `yaml:"default"`
	Variations map[string]struct {
		Path string `yaml:"path"`
	} `yaml:"variations"`
}

// ReadBase reads the base system from the ISO's casper files (pass every
// file IsBaseFile accepts; others are ignored).
//
// With casper/install-sources.yaml (Ubuntu 21.10 and later; version 1, a
// list, or version 2, a map with "sources"), the default source is the entry
// with "default: true", else the first entry, as subiquity chooses. A source
// of type fsimage-layered installs the stack of squashfs layers named by the
// dotted prefixes of its path (ubuntu-server-minimal.ubuntu-server.squashfs
// = ubuntu-server-minimal, then ubuntu-server-minimal.ubuntu-server), type
// fsimage the one image; each layer's package list is
// casper/<layer>.manifest. Without install-sources.yaml, the single
// casper/filesystem.manifest is used (the one-squashfs casper layout).
//
// A manifest is either dpkg-query's "name<TAB>version" list or, as
// livecd-rootfs writes layer manifests, a unified diff against the layer
// below ("+name<TAB>version" added, "-name<TAB>version" removed, "---",
// "+++" and "@@" lines ignored). Every malformed line is reported, each
// with file:line.
func ReadBase(files []File) (Base, error) {
	byPath := map[string][]byte{}
	for _, f := range files {
		if p := cleanISOPath(f.Path); IsBaseFile(p) {
			byPath[p] = f.Data
		}
	}
	var b Base
	if data, ok := byPath[InstallSourcesPath]; ok {
		src, err := defaultSource(data)
		if err != nil {
			return Base{}, fmt.Errorf("%s: %w", InstallSourcesPath, err)
		}
		b.Source, b.Manifests, b.Layout = src.describe(), src.manifests(), src.form
		if src.kernel.Default != "" {
			k := src.kernel
			b.Kernel = &k
		}
	} else {
		b.Source = fmt.Sprintf("no %s: the single %s (one-squashfs casper layout)", InstallSourcesPath, LegacyManifestPath)
		b.Manifests = []string{LegacyManifestPath}
	}
	var problems Problems
	for _, m := range b.Manifests {
		if _, ok := byPath[m]; !ok {
			problems = append(problems, fmt.Sprintf("%s: missing; %s needs it", m, b.Source))
		}
	}
	if len(problems) > 0 {
		return Base{}, problems
	}
	pkgs := map[string]Installed{}
	for _, m := range b.Manifests {
		snaps, errs := applyManifest(pkgs, m, byPath[m])
		b.Snaps += snaps
		problems = append(problems, errs...)
	}
	if len(problems) > 0 {
		return Base{}, problems
	}
	b.Packages = make([]Installed, 0, len(pkgs))
	for _, p := range pkgs {
		p.Provides = append([]string(nil), KnownProvides[p.Name]...)
		b.Packages = append(b.Packages, p)
	}
	sortInstalled(b.Packages)
	return b, nil
}

// ReadBaseFiles reads, from a copy of the ISO's files under root (an
// extracted tree, root/casper/...), every file IsBaseFile accepts, named by
// its ISO path. A tree without casper/ gives no files (ReadBase then says
// which manifest it misses).
func ReadBaseFiles(root string) ([]File, error) {
	entries, err := os.ReadDir(filepath.Join(root, "casper"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var files []File
	for _, e := range entries {
		p := "casper/" + e.Name()
		if !e.Type().IsRegular() || !IsBaseFile(p) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, "casper", e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: p, Data: data})
	}
	return files, nil
}

// cleanISOPath turns "/casper/x" and "./casper/x" into "casper/x".
func cleanISOPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func sortInstalled(pkgs []Installed) {
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
}

// chosenSource is the default install source and why it was chosen.
type chosenSource struct {
	installSource
	why    string // "default: true" or "first entry, none is default"
	layers []string
	form   string
	kernel Kernel
}

func (s chosenSource) describe() string {
	return fmt.Sprintf("%s default source %s (%s, %s, type %s): layers %s",
		InstallSourcesPath, s.ID, s.why, s.Path, s.Type, strings.Join(s.layers, " + "))
}

func (s chosenSource) manifests() []string {
	out := make([]string, len(s.layers))
	for i, l := range s.layers {
		out[i] = path.Join("casper", l+".manifest")
	}
	return out
}

// defaultSource parses install-sources.yaml and returns its default entry.
func defaultSource(data []byte) (chosenSource, error) {
	cat, err := parseInstallSources(data)
	if err != nil {
		return chosenSource{}, err
	}
	entries := cat.Sources
	if len(entries) == 0 {
		return chosenSource{}, errors.New("lists no install source")
	}
	s := chosenSource{installSource: entries[0], why: "the first entry; none says default: true"}
	for _, e := range entries {
		if e.Default {
			s = chosenSource{installSource: e, why: "default: true"}
			break
		}
	}
	s.form, s.kernel = cat.Form, cat.Kernel
	if s.Path == "" {
		if v, ok := s.Variations["default"]; ok {
			s.Path = v.Path
		}
	}
	if s.Path == "" {
		return chosenSource{}, fmt.Errorf("default source %q has no path", s.ID)
	}
	name := path.Base(s.Path)
	stem, ok := strings.CutSuffix(name, ".squashfs")
	if !ok || stem == "" {
		return chosenSource{}, fmt.Errorf("default source %q: path %q is not a .squashfs image", s.ID, s.Path)
	}
	dir := path.Dir(s.Path)
	switch s.Type {
	case "fsimage-layered":
		parts := strings.Split(stem, ".")
		for i := range parts {
			s.layers = append(s.layers, path.Join(dir, strings.Join(parts[:i+1], ".")))
		}
	case "fsimage":
		s.layers = []string{path.Join(dir, stem)}
	default:
		return chosenSource{}, fmt.Errorf("default source %q has type %q; only fsimage and fsimage-layered are understood", s.ID, s.Type)
	}
	return s, nil
}

// parseInstallSources reads version 1 (a list of sources) or version 2 (a
// map with "version" and "sources").
func parseInstallSources(data []byte) (sourceCatalog, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return sourceCatalog{}, fmt.Errorf("not YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return sourceCatalog{}, errors.New("empty")
	}
	root := doc.Content[0]
	cat := sourceCatalog{Form: FormList}
	switch root.Kind {
	case yaml.SequenceNode:
		if err := root.Decode(&cat.Sources); err != nil {
			return sourceCatalog{}, fmt.Errorf("not a list of install sources: %w", err)
		}
		return cat, nil
	case yaml.MappingNode:
		var v2 struct {
			Version *int            `yaml:"version"`
			Sources []installSource `yaml:"sources"`
			Kernel  Kernel          `yaml:"kernel"`
		}
		if err := root.Decode(&v2); err != nil {
			return sourceCatalog{}, fmt.Errorf("not an install-sources catalog: %w", err)
		}
		found := "no version"
		if v2.Version != nil {
			found = fmt.Sprintf("version %d", *v2.Version)
		}
		if v2.Version == nil || *v2.Version != 2 || v2.Sources == nil {
			return sourceCatalog{}, fmt.Errorf("unknown layout: %s, %s: %s", expectedLayouts, found, mapKeys(root))
		}
		return sourceCatalog{Form: FormCatalogV2, Sources: v2.Sources, Kernel: v2.Kernel}, nil
	}
	return sourceCatalog{}, fmt.Errorf("unknown layout: %s, found a YAML scalar %q", expectedLayouts, root.Value)
}

// expectedLayouts are the forms of install-sources.yaml subiquity reads
// (subiquity 26.04.1 subiquity/models/source.py, SourceModel.load_from_file).
const expectedLayouts = `expected the list of sources (Ubuntu 21.10 to 24.04) or the mapping {version: 2, sources: [...], kernel: {...}} (livecd-rootfs 25.04 and later)`

// mapKeys describes a mapping's keys, for messages.
func mapKeys(n *yaml.Node) string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	if len(keys) == 0 {
		return "found an empty mapping"
	}
	return "found a mapping with the keys " + strings.Join(keys, ", ")
}

// Forms of casper/install-sources.yaml, as Base.Layout names them.
const (
	FormList      = "list"
	FormCatalogV2 = "catalog-v2"
)

// Kernel is the kernel entry of a version 2 catalog: the kernel package
// subiquity installs, and the bridge kernel it falls back to for the
// listed reasons (subiquity 26.04.1 models/source.py KernelInfo).
type Kernel struct {
	Default       string   `yaml:"default" json:"default,omitempty"`
	Bridge        string   `yaml:"bridge" json:"bridge,omitempty"`
	BridgeReasons []string `yaml:"bridge_reasons" json:"bridge_reasons,omitempty"`
}

// sourceCatalog is install-sources.yaml read in either form.
type sourceCatalog struct {
	Form    string
	Sources []installSource
	Kernel  Kernel
}

// applyManifest adds one layer's manifest to pkgs (keyed by name:arch) and
// returns the number of snap lines and the problems of malformed lines.
func applyManifest(pkgs map[string]Installed, file string, data []byte) (snaps int, problems Problems) {
	var removed, added []Installed
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSuffix(raw, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "--- ") ||
			strings.HasPrefix(line, "+++ ") || strings.HasPrefix(line, "@@") {
			continue
		}
		op := byte(0)
		if line[0] == '+' || line[0] == '-' {
			op, line = line[0], line[1:]
		}
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.HasPrefix(fields[0], "snap:") {
			snaps++
			continue
		}
		p, err := parseManifestLine(fields)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %v: %q", file, i+1, err, clip(strings.TrimSuffix(raw, "\r"))))
			continue
		}
		p.Manifest = file
		if op == '-' {
			removed = append(removed, p)
		} else {
			added = append(added, p)
		}
	}
	// A diff lists a changed version as "-old" then "+new": apply every
	// removal of the layer before its additions.
	for _, p := range removed {
		delete(pkgs, p.displayName())
	}
	for _, p := range added {
		pkgs[p.displayName()] = p
	}
	return snaps, problems
}

// parseManifestLine reads "name[:arch] version".
func parseManifestLine(fields []string) (Installed, error) {
	if len(fields) != 2 {
		return Installed{}, fmt.Errorf("want \"name<TAB>version\", got %d fields", len(fields))
	}
	name, arch, _ := strings.Cut(fields[0], ":")
	if !validPackageName(name) {
		return Installed{}, fmt.Errorf("invalid package name %q", name)
	}
	if _, err := version.Parse(fields[1]); err != nil {
		return Installed{}, fmt.Errorf("invalid version %q: %v", fields[1], err)
	}
	return Installed{Name: name, Arch: arch, Version: fields[1]}, nil
}

// validPackageName applies Debian policy 5.6.1: at least two characters,
// lower case letters, digits, '+', '-' and '.', starting alphanumeric.
func validPackageName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// clip shortens s for a message.
func clip(s string) string {
	const maxShown = 80
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + "…"
}
