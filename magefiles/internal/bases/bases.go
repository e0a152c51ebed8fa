// Package bases reads configs/bases.yaml, the Ubuntu releases the pipeline
// can remaster, and configs/bases.lock, the SHA-256 of each base ISO as it
// was first fetched from Ubuntu's signed SHA256SUMS (committed like go.sum).
//
// A base is data: its ISO's name, where to download it, the SHA256SUMS and
// the key that signs it, the names the SBOM gives it, and the few quirks in
// which releases really differ (the form of casper/install-sources.yaml,
// where autoinstall may be read from, the autoinstall schema, the kernel
// layers and the GRUB menu's HWE entries). Every problem in the file is
// reported with file:line. The package reads files only; fetch records
// the lock.
package bases

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

// File and LockFile are the repository paths of the two files.
const (
	File     = "configs/bases.yaml"
	LockFile = "configs/bases.lock"
)

// Quirk names and their values. A base without a quirk has the first value
// listed for it (the behaviour of 22.04, the seed's base).
const (
	// QuirkInstallSources is the form of casper/install-sources.yaml:
	// SourcesList (a YAML list, 21.10 to 24.04) or SourcesCatalogV2
	// ({version: 2, sources: [...], kernel: {...}}, livecd-rootfs 25.04 on).
	QuirkInstallSources = "install-sources"
	// QuirkRootAutoinstall says whether the installer reads the wrapped
	// form of autoinstall.yaml at the medium's root: AutoinstallNocloud
	// (nocloud user-data only; 22.04's subiquity reads /cdrom/autoinstall.yaml
	// only without the `autoinstall:` wrapper) or AutoinstallWrapped (24.04
	// on: /cdrom/autoinstall.yaml with `autoinstall:` as its only key).
	QuirkRootAutoinstall = "root-autoinstall"
	// QuirkAutoinstallSchema names the release whose autoinstall schema
	// user-data is checked against: "22.04", "24.04" or "26.04".
	QuirkAutoinstallSchema = "autoinstall-schema"
	// QuirkKernelLayers: "none" (the kernel only in casper/vmlinuz) or
	// "installer" (also the squashfs layers ...installer.generic and
	// ...installer.generic-hwe, livecd-rootfs for noble and later).
	QuirkKernelLayers = "kernel-layers"
	// QuirkHWEMenu: "yes" when the GRUB menu has HWE kernel entries
	// (casper/hwe-vmlinuz), "no" when it has none.
	QuirkHWEMenu = "hwe-menu"
)

// Values of the quirks.
const (
	SourcesList        = "list"
	SourcesCatalogV2   = "catalog-v2"
	AutoinstallNocloud = "nocloud"
	AutoinstallWrapped = "wrapped"
)

// quirks lists every quirk and its allowed values; the first is the default.
var quirks = map[string][]string{
	QuirkInstallSources:    {SourcesList, SourcesCatalogV2},
	QuirkRootAutoinstall:   {AutoinstallNocloud, AutoinstallWrapped},
	QuirkAutoinstallSchema: {"22.04", "24.04", "26.04"},
	QuirkKernelLayers:      {"none", "installer"},
	QuirkHWEMenu:           {"yes", "no"},
}

// Base is one entry of bases.yaml.
type Base struct {
	// ID names the base (BASE=ubuntu-24.04.3), its outputs and its lock line.
	ID string
	// Version is Ubuntu's point release ("24.04.3"), Codename its series
	// ("noble").
	Version, Codename string
	// ISO is the ISO's file name, as SHA256SUMS lists it.
	ISO string
	// URLs are the ISO's download locations, tried in order.
	URLs []string
	// SumsURLs are the SHA256SUMS beside each of URLs (same order); its
	// detached signature is the same URL plus ".gpg".
	SumsURLs []string
	// Keyring is the repository path of the key that signs SHA256SUMS.
	Keyring string
	// SBOMDistro is the SBOM's distro and the purls' distro qualifier
	// ("ubuntu-24.04").
	SBOMDistro string
	// Release marks a base the release workflow builds and publishes.
	Release bool
	// Line is the entry's line in the file, for messages.
	Line int

	quirks map[string]string
}

// Quirk is the value of a quirk (its default when the entry does not set
// it).
func (b Base) Quirk(name string) string {
	if v, ok := b.quirks[name]; ok {
		return v
	}
	if vs, ok := quirks[name]; ok {
		return vs[0]
	}
	return ""
}

// Quirks are the quirks the entry sets, sorted by name, as "name=value".
func (b Base) Quirks() []string {
	out := make([]string, 0, len(b.quirks))
	for k, v := range b.quirks {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Set is the whole file.
type Set struct {
	// Path is the file read, as messages name it.
	Path string
	// Default is the base used when BASE is unset.
	Default string
	// Bases are the entries in file order.
	Bases []Base
}

// Get returns the base called id, or an error naming the file and the ids
// it has.
func (s Set) Get(id string) (Base, error) {
	for _, b := range s.Bases {
		if b.ID == id {
			return b, nil
		}
	}
	ids := make([]string, 0, len(s.Bases))
	for _, b := range s.Bases {
		ids = append(ids, b.ID)
	}
	return Base{}, fmt.Errorf("BASE=%q is not in %s (it has %s): pick one of them or add an entry", id, s.Path, strings.Join(ids, ", "))
}

// Latest returns the base called id or, when id names a series
// ("ubuntu-24.04"), the last entry of the file in that series.
func (s Set) Latest(id string) (Base, error) {
	var found *Base
	for i, b := range s.Bases {
		if b.ID == id {
			return b, nil
		}
		if strings.HasPrefix(b.ID, id+".") {
			found = &s.Bases[i]
		}
	}
	if found != nil {
		return *found, nil
	}
	return s.Get(id)
}

// IsDefault reports whether b is the file's default base (its outputs
// then keep their names without the base's id).
func (s Set) IsDefault(b Base) bool { return b.ID == s.Default }

// Load reads the file at path; name is how messages call it
// (configs/bases.yaml).
func Load(path, name string) (Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Set{}, fmt.Errorf("reading the list of Ubuntu bases: %w", err)
	}
	return Parse(data, name)
}

// LoadIn reads root's configs/bases.yaml.
func LoadIn(root string) (Set, error) { return Load(filepath.Join(root, File), File) }

// Parse reads bases.yaml from data; name is how messages call the file.
func Parse(data []byte, name string) (Set, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Set{}, fmt.Errorf("%s: %w", name, err)
	}
	p := parser{name: name}
	s := p.set(&doc)
	if len(p.errs) > 0 {
		return Set{}, errors.Join(p.errs...)
	}
	return s, nil
}

// parser collects every problem of the file, each with file:line.
type parser struct {
	name string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...)))
}

func (p *parser) set(doc *yaml.Node) Set {
	s := Set{Path: p.name}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.errs = append(p.errs, fmt.Errorf("%s:1: expected a mapping with the keys default and bases", p.name))
		return s
	}
	top := doc.Content[0]
	var defaultNode *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "default":
			s.Default, defaultNode = p.scalar(v, "default"), v
		case "bases":
			s.Bases = p.entries(v)
		default:
			p.errorf(k, "unknown key %q (the file has default and bases)", k.Value)
		}
	}
	switch {
	case defaultNode == nil:
		p.errorf(top, "no default: name the base used when BASE is unset")
	case s.Default != "" && !slices.ContainsFunc(s.Bases, func(b Base) bool { return b.ID == s.Default }):
		p.errorf(defaultNode, "default %q is not one of the bases", s.Default)
	}
	return s
}

func (p *parser) entries(n *yaml.Node) []Base {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "bases must be a list of entries")
		return nil
	}
	var out []Base
	seen := map[string]int{}
	for _, e := range n.Content {
		b, ok := p.entry(e)
		if !ok {
			continue
		}
		if line, dup := seen[b.ID]; dup {
			p.errorf(e, "id %q is used twice (first at line %d): every base needs its own id", b.ID, line)
			continue
		}
		seen[b.ID] = b.Line
		out = append(out, b)
	}
	return out
}

// required are the fields every entry must have.
var required = []string{"id", "version", "codename", "iso", "urls", "keyring", "sbom-distro"}

func (p *parser) entry(n *yaml.Node) (Base, bool) {
	b := Base{Line: n.Line, quirks: map[string]string{}}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "a base must be a mapping (id, version, codename, iso, urls, ...)")
		return b, false
	}
	before := len(p.errs)
	have := map[string]bool{}
	sums := "SHA256SUMS"
	var sumsNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		have[k.Value] = true
		switch k.Value {
		case "id":
			b.ID = p.scalar(v, k.Value)
		case "version":
			b.Version = p.scalar(v, k.Value)
		case "codename":
			b.Codename = p.scalar(v, k.Value)
		case "iso":
			b.ISO = p.scalar(v, k.Value)
		case "urls":
			b.URLs = p.urls(v)
		case "sha256sums":
			sums, sumsNode = p.scalar(v, k.Value), v
		case "keyring":
			b.Keyring = p.scalar(v, k.Value)
		case "sbom-distro":
			b.SBOMDistro = p.scalar(v, k.Value)
		case "release":
			b.Release = p.boolean(v, k.Value)
		case "quirks":
			p.quirks(v, b.quirks)
		default:
			p.errorf(k, "unknown field %q (fields: %s, sha256sums, release, quirks)", k.Value, strings.Join(required, ", "))
		}
	}
	for _, f := range required {
		if !have[f] {
			p.errorf(n, "base %s has no %s", orUnnamed(b.ID), f)
		}
	}
	for _, u := range b.URLs {
		if path.Base(u) != b.ISO && b.ISO != "" {
			p.errorf(n, "base %s: URL %s does not end in its iso %s", orUnnamed(b.ID), u, b.ISO)
		}
		s, err := sumsURL(u, sums)
		if err != nil {
			if sumsNode == nil {
				sumsNode = n
			}
			p.errorf(sumsNode, "sha256sums: %v", err)
			break
		}
		b.SumsURLs = append(b.SumsURLs, s)
	}
	return b, len(p.errs) == before
}

func orUnnamed(id string) string {
	if id == "" {
		return "(without id)"
	}
	return id
}

func (p *parser) scalar(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
		p.errorf(n, "%s must be a non-empty string", field)
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node, field string) bool {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		p.errorf(n, "%s must be true or false", field)
	}
	return v
}

func (p *parser) urls(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "urls must be a list of at least one https:// URL of the ISO")
		return nil
	}
	var out []string
	for _, u := range n.Content {
		s := p.scalar(u, "a URL")
		if pu, err := url.Parse(s); s != "" && (err != nil || pu.Scheme != "https" || pu.Host == "") {
			p.errorf(u, "%q is not an https:// URL", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) quirks(n *yaml.Node, into map[string]string) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "quirks must be a mapping of quirk: value")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		allowed, ok := quirks[k.Value]
		if !ok {
			p.errorf(k, "unknown quirk %q (known: %s)", k.Value, strings.Join(knownQuirks(), ", "))
			continue
		}
		val := p.scalar(v, k.Value)
		if val != "" && !slices.Contains(allowed, val) {
			p.errorf(v, "quirk %s: %q is not one of %s", k.Value, val, strings.Join(allowed, ", "))
			continue
		}
		into[k.Value] = val
	}
}

func knownQuirks() []string {
	out := make([]string, 0, len(quirks))
	for k := range quirks {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sumsURL resolves sums (a file name beside the ISO, or an https:// URL)
// against the ISO's URL.
func sumsURL(isoURL, sums string) (string, error) {
	if strings.Contains(sums, "://") {
		if !strings.HasPrefix(sums, "https://") {
			return "", fmt.Errorf("%q is not an https:// URL", sums)
		}
		return sums, nil
	}
	if sums == "" || strings.Contains(sums, "/") {
		return "", fmt.Errorf("%q: give a file name beside the ISO (SHA256SUMS) or an https:// URL", sums)
	}
	i := strings.LastIndex(isoURL, "/")
	return isoURL[:i+1] + sums, nil
}

// WriteTable writes the list `mage bases` prints: every base, its release,
// whether the release workflow publishes it, and its lock state in l.
func (s Set) WriteTable(w io.Writer, l Lock) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BASE\tUBUNTU\tRELEASED\tLOCK\tQUIRKS")
	for _, b := range s.Bases {
		id := b.ID
		if s.IsDefault(b) {
			id += " (default)"
		}
		rel := "no"
		if b.Release {
			rel = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\n", id, b.Version, b.Codename, rel, lockState(l, b), strings.Join(b.Quirks(), " "))
	}
	return tw.Flush()
}

// lockState says how l pins b.
func lockState(l Lock, b Base) string {
	e, ok, err := l.Find(b)
	switch {
	case err != nil:
		return fmt.Sprintf("MISMATCH at %s:%d (locks %s)", l.Name, e.Line, e.ISO)
	case !ok:
		return "unlocked: the first fetch locks it"
	}
	return fmt.Sprintf("sha256:%s… (%s:%d)", e.SHA256[:12], l.Name, e.Line)
}

// Listed is one base as `mage bases -json` prints it, for workflows.
type Listed struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Codename string `json:"codename"`
	ISO      string `json:"iso"`
	Release  bool   `json:"release"`
	Default  bool   `json:"default"`
	// Suffix is what the base adds to the versioned output names ("" for
	// the default base, "-<id>" otherwise).
	Suffix string `json:"suffix"`
	// SHA256 is the locked digest, "" while the base is unlocked.
	SHA256 string `json:"sha256"`
}

// WriteJSON writes List as one line of JSON.
func (s Set) WriteJSON(w io.Writer, l Lock) error {
	return json.NewEncoder(w).Encode(s.List(l))
}

// List is every base with its lock state, in file order.
func (s Set) List(l Lock) []Listed {
	out := make([]Listed, 0, len(s.Bases))
	for _, b := range s.Bases {
		e := Listed{ID: b.ID, Version: b.Version, Codename: b.Codename, ISO: b.ISO, Release: b.Release, Default: s.IsDefault(b)}
		if !e.Default {
			e.Suffix = "-" + b.ID
		}
		if le, ok, err := l.Find(b); ok && err == nil {
			e.SHA256 = le.SHA256
		}
		out = append(out, e)
	}
	return out
}
