package sbom

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Write writes the SBOM of in to w as CycloneDX 1.6 JSON. Nothing is written
// when the input is invalid: the error names the first bad entry.
func Write(w io.Writer, in Input) error {
	bom, err := build(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("encoding the SBOM: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing the SBOM: %w", err)
	}
	return nil
}

// build turns the input into the BOM, checking it on the way.
func build(in Input) (*cdx.BOM, error) {
	if in.Created.IsZero() {
		return nil, errors.New("no creation time: set Created from SOURCE_DATE_EPOCH")
	}
	root, err := isoComponent(in.ISO)
	if err != nil {
		return nil, err
	}
	base, err := baseComponent(in.Base)
	if err != nil {
		return nil, err
	}
	pkgs, err := basePackageComponents(in.BasePackages, in.Base.distro())
	if err != nil {
		return nil, err
	}
	debs, err := offlineDebComponents(in.OfflineDebs)
	if err != nil {
		return nil, err
	}
	chart, err := chartComponent(in.Chart)
	if err != nil {
		return nil, err
	}
	files, err := fileComponents(in.Files)
	if err != nil {
		return nil, err
	}
	imgs, err := imageComponents(in.Images)
	if err != nil {
		return nil, err
	}
	components := []cdx.Component{base}
	components = append(components, pkgs...)
	components = append(components, debs...)
	components = append(components, chart)
	components = append(components, imgs...)
	components = append(components, files...)

	bom := cdx.NewBOM()
	bom.SerialNumber = serialNumber(in.ISO.SHA256)
	bom.Version = 1
	bom.Metadata = &cdx.Metadata{
		Timestamp: in.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication,
			Name: "novasphere-iso",
		}}},
		Component: &root,
	}
	bom.Components = &components
	return bom, nil
}

func isoComponent(iso ISO) (cdx.Component, error) {
	if iso.Name == "" || iso.Version == "" {
		return cdx.Component{}, fmt.Errorf("installer ISO: name %q and version %q must both be set", iso.Name, iso.Version)
	}
	if err := validSHA256(iso.SHA256); err != nil {
		return cdx.Component{}, fmt.Errorf("installer ISO %s: %w", iso.Name, err)
	}
	return cdx.Component{
		BOMRef:      "installer-iso",
		Type:        cdx.ComponentTypeFile,
		Name:        iso.Name,
		Version:     iso.Version,
		Description: "NovaSphere offline installer ISO",
		Hashes:      sha256Hash(iso.SHA256),
	}, nil
}

func baseComponent(b BaseISO) (cdx.Component, error) {
	if b.Name == "" || b.SourceURL == "" {
		return cdx.Component{}, fmt.Errorf("base ISO: name %q and source URL %q must both be set", b.Name, b.SourceURL)
	}
	if err := validSHA256(b.SHA256); err != nil {
		return cdx.Component{}, fmt.Errorf("base ISO %s: %w", b.Name, err)
	}
	return cdx.Component{
		BOMRef:      RoleBaseISO,
		Type:        cdx.ComponentTypeFile,
		Name:        b.Name,
		Description: "Ubuntu ISO the installer is remastered from",
		Hashes:      sha256Hash(b.SHA256),
		ExternalReferences: &[]cdx.ExternalReference{{
			Type: cdx.ERTypeDistribution,
			URL:  b.SourceURL,
		}},
		Properties: props(baseProps(b)...),
	}, nil
}

// baseProps are the base ISO's properties: its role, distro and, when
// known, its id in configs/bases.yaml.
func baseProps(b BaseISO) []string {
	kv := []string{PropRole, RoleBaseISO}
	if b.ID != "" {
		kv = append(kv, PropBase, b.ID)
	}
	return append(kv, PropDistro, b.distro())
}

// basePackageComponents makes one component per distinct package (name,
// arch, version), sorted, each naming every manifest that lists it.
func basePackageComponents(pkgs []BasePackage, distro string) ([]cdx.Component, error) {
	type key struct{ name, arch, version string }
	manifests := map[key][]string{}
	for i, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Manifest == "" {
			return nil, fmt.Errorf("base package %d (%q): name, version and manifest must all be set", i+1, p.Name)
		}
		if strings.ContainsAny(p.Name+p.Version+p.Arch, " \t\n") {
			return nil, fmt.Errorf("base package %d (%q from %s): name, version or arch contains white space", i+1, p.Name, p.Manifest)
		}
		k := key{p.Name, p.Arch, p.Version}
		if !contains(manifests[k], p.Manifest) {
			manifests[k] = append(manifests[k], p.Manifest)
		}
	}
	keys := make([]key, 0, len(manifests))
	for k := range manifests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.name != b.name {
			return a.name < b.name
		}
		if a.arch != b.arch {
			return a.arch < b.arch
		}
		return a.version < b.version
	})
	out := make([]cdx.Component, 0, len(keys))
	for _, k := range keys {
		purl := debPURL(k.name, k.version, k.arch, distro)
		ms := manifests[k]
		sort.Strings(ms)
		kv := []string{PropRole, RoleBasePackage}
		for _, m := range ms {
			kv = append(kv, PropManifest, m)
		}
		out = append(out, cdx.Component{
			BOMRef:     purl,
			Type:       cdx.ComponentTypeLibrary,
			Name:       k.name,
			Version:    k.version,
			PackageURL: purl,
			Properties: props(kv...),
		})
	}
	return out, nil
}

func offlineDebComponents(debs []OfflineDeb) ([]cdx.Component, error) {
	sorted := append([]OfflineDeb(nil), debs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].File < sorted[j].File })
	out := make([]cdx.Component, 0, len(sorted))
	for i, d := range sorted {
		isoPath, err := payloadPath(d.File)
		if err != nil {
			return nil, fmt.Errorf("offline .deb %q: %w", d.File, err)
		}
		if i > 0 && sorted[i-1].File == d.File {
			return nil, fmt.Errorf("offline .deb %s is listed twice", isoPath)
		}
		if d.Package == "" || d.Version == "" || d.Arch == "" {
			return nil, fmt.Errorf("offline .deb %s: package %q, version %q and arch %q must all be set (read them with dpkg-deb --field)", isoPath, d.Package, d.Version, d.Arch)
		}
		if err := validSHA256(d.SHA256); err != nil {
			return nil, fmt.Errorf("offline .deb %s: %w", isoPath, err)
		}
		out = append(out, cdx.Component{
			BOMRef:     RoleOfflineDeb + ":" + isoPath,
			Type:       cdx.ComponentTypeLibrary,
			Name:       d.Package,
			Version:    d.Version,
			Hashes:     sha256Hash(d.SHA256),
			PackageURL: offlinePURL(d.Package, d.Version, d.Arch),
			Properties: props(PropRole, RoleOfflineDeb, PropPath, isoPath, PropArch, d.Arch),
		})
	}
	return out, nil
}

func chartComponent(c Chart) (cdx.Component, error) {
	if c.Name == "" || c.Version == "" {
		return cdx.Component{}, fmt.Errorf("Helm chart: name %q and version %q must both be set (from Chart.yaml)", c.Name, c.Version) //nolint:staticcheck // ST1005: "Helm" is a name
	}
	kv := []string{PropRole, RoleHelmChart}
	if c.AppVersion != "" {
		kv = append(kv, PropChartApp, c.AppVersion)
	}
	return cdx.Component{
		BOMRef:     RoleHelmChart + ":" + c.Name + "@" + c.Version,
		Type:       cdx.ComponentTypeApplication,
		Name:       c.Name,
		Version:    c.Version,
		Properties: props(kv...),
	}, nil
}

func fileComponents(files []PayloadFile) ([]cdx.Component, error) {
	sorted := append([]PayloadFile(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	out := make([]cdx.Component, 0, len(sorted))
	for i, f := range sorted {
		isoPath, err := payloadPath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("payload file: %w", err)
		}
		if i > 0 && sorted[i-1].Path == f.Path {
			return nil, fmt.Errorf("payload file %s is listed twice", isoPath)
		}
		if err := validSHA256(f.SHA256); err != nil {
			return nil, fmt.Errorf("payload file %s: %w", isoPath, err)
		}
		out = append(out, cdx.Component{
			BOMRef:     RolePayloadFile + ":" + isoPath,
			Type:       cdx.ComponentTypeFile,
			Name:       isoPath,
			Hashes:     sha256Hash(f.SHA256),
			Properties: props(PropRole, RolePayloadFile),
		})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
