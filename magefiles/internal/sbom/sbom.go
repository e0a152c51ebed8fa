// Package sbom writes the software bill of materials of the installer ISO:
// a CycloneDX 1.6 JSON document, made with the OWASP CycloneDX Go library
// (github.com/CycloneDX/cyclonedx-go), that lists
//
//   - the installer ISO itself (metadata.component: name, version, SHA-256);
//   - the Ubuntu base ISO it is remastered from (name, SHA-256, source URL);
//   - every Debian package of the installed base system, from the ISO's
//     casper/*.manifest files, with its package URL
//     (pkg:deb/ubuntu/NAME@VERSION?distro=ubuntu-22.04, with arch=... only
//     when the manifest line names one: dpkg-query qualifies only Multi-Arch:
//     same packages, so an unqualified line may be amd64 or all, and the
//     SBOM does not guess);
//   - every offline .deb under /novasphere/packages (package, version, arch,
//     SHA-256 of the file), as pkg:deb/novasphere/NAME@VERSION?arch=ARCH:
//     we ship those files, not Ubuntu;
//   - the Helm chart (name and version from Chart.yaml);
//   - every payload file under /novasphere with its SHA-256.
//
// The same Input gives the same bytes: components are sorted, the time is
// the given SOURCE_DATE_EPOCH, and the serial number is derived from the
// ISO's SHA-256, never random.
package sbom

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"

	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// SpecVersion is the CycloneDX version written.
const SpecVersion = "1.6"

// DefaultDistro is the purl distro qualifier of the base system's
// packages when Input.Base.Distro is empty (the seed's Ubuntu 22.04).
const DefaultDistro = "ubuntu-22.04"

// OfflineNamespace is the purl namespace of the offline .deb files: they
// are NovaSphere's files, whoever built the package first.
const OfflineNamespace = "novasphere"

// PayloadRoot is where the payload lives on the ISO.
const PayloadRoot = "/novasphere"

// FileName is the SBOM's name beside the ISO:
// novasphere-installer-<version>.cdx.json.
func FileName(version string) string { return dist.SBOMName(version) }

// Input is everything the SBOM lists, as plain values.
type Input struct {
	// ISO is the installer ISO the document describes.
	ISO ISO
	// Base is the Ubuntu ISO the installer is remastered from.
	Base BaseISO
	// BasePackages are the packages of the installed base system, read
	// from the ISO's casper manifests (see ParseManifest). The same
	// package listed by several manifests becomes one component that
	// names every manifest.
	BasePackages []BasePackage
	// OfflineDebs are the .deb files shipped under /novasphere/packages.
	OfflineDebs []OfflineDeb
	// Files are the payload files under /novasphere.
	Files []PayloadFile
	// Chart is the Helm chart (see ReadChart).
	Chart Chart
	// Created is the document's time: SOURCE_DATE_EPOCH, for
	// reproducibility. It must be set.
	Created time.Time
}

// ISO is the installer ISO.
type ISO struct {
	Name    string // file name, novasphere-installer-<version>.iso
	Version string
	SHA256  string // lower-case hex
}

// BaseISO is the Ubuntu ISO the installer is built from.
type BaseISO struct {
	Name      string // file name, ubuntu-22.04.3-live-server-amd64.iso
	SHA256    string
	SourceURL string // where it was downloaded from
	// ID is the base's id in configs/bases.yaml ("ubuntu-24.04.4").
	ID string
	// Distro is the SBOM's distro ("ubuntu-24.04"): the base ISO's
	// property and the distro qualifier of every deb purl; empty means
	// DefaultDistro.
	Distro string
}

// distro is b's Distro or DefaultDistro.
func (b BaseISO) distro() string {
	if b.Distro == "" {
		return DefaultDistro
	}
	return b.Distro
}

// BasePackage is one line of a casper manifest.
type BasePackage struct {
	Name    string
	Version string
	// Arch is the manifest's architecture qualifier ("libc6:i386"); empty
	// when the line has none (the purl then has no arch qualifier).
	Arch string
	// Manifest is the manifest that lists it, as a path on the ISO
	// ("/casper/ubuntu-server-minimal.manifest").
	Manifest string
}

// OfflineDeb is a .deb file of the payload.
type OfflineDeb struct {
	// File is the path under /novasphere ("packages/foo_1.0_amd64.deb").
	File    string
	Package string
	Version string
	Arch    string
	SHA256  string
}

// PayloadFile is one file under /novasphere.
type PayloadFile struct {
	// Path is the path under /novasphere, as MANIFEST.sha256 lists it
	// ("scripts/install.sh").
	Path   string
	SHA256 string
}

// Chart is a Helm chart's identity.
type Chart struct {
	Name       string
	Version    string
	AppVersion string // optional
}

// Property names the document uses (CycloneDX properties, namespaced).
const (
	PropRole     = "novasphere:role"
	PropManifest = "novasphere:manifest"
	PropPath     = "novasphere:path"
	PropArch     = "novasphere:arch"
	PropChartApp = "novasphere:helm-app-version"
	PropBase     = "novasphere:base"
	PropDistro   = "novasphere:distro"
)

// Roles, the value of PropRole on every component.
const (
	RoleBaseISO     = "base-iso"
	RoleBasePackage = "base-package"
	RoleOfflineDeb  = "offline-deb"
	RoleHelmChart   = "helm-chart"
	RolePayloadFile = "payload-file"
)

// WriteFile writes the SBOM to path through a temporary file in the same
// directory, renamed into place only when complete.
func WriteFile(path string, in Input) (err error) {
	f, err := lock.CreateTemp(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = Write(f, in); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// debPURL is the package URL of a package of the base, an Ubuntu release
// distro ("ubuntu-24.04"); arch "" leaves the qualifier out.
func debPURL(name, version, arch, distro string) string {
	q := packageurl.Qualifiers{{Key: "distro", Value: distro}}
	if arch != "" {
		q = append(packageurl.Qualifiers{{Key: "arch", Value: arch}}, q...)
	}
	return packageurl.NewPackageURL(packageurl.TypeDebian, "ubuntu", name, version, q, "").ToString()
}

// offlinePURL is the package URL of an offline .deb we ship.
func offlinePURL(name, version, arch string) string {
	return packageurl.NewPackageURL(packageurl.TypeDebian, OfflineNamespace, name, version,
		packageurl.Qualifiers{{Key: "arch", Value: arch}}, "").ToString()
}

// serialNumber is a name-based (version 5, RFC 4122) UUID URN of the ISO's
// digest: the same ISO always gets the same serial number.
func serialNumber(isoSHA256 string) string {
	// The RFC 4122 URL namespace.
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte("urn:novasphere:installer-iso:sha256:" + isoSHA256))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// payloadPath turns a path under /novasphere into the absolute ISO path,
// refusing absolute paths and "..".
func payloadPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q is absolute; give it relative to %s, as MANIFEST.sha256 lists it", p, PayloadRoot)
	}
	clean := path.Clean(p)
	if clean != p || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
		return "", fmt.Errorf("path %q is not a clean path under %s", p, PayloadRoot)
	}
	return PayloadRoot + "/" + clean, nil
}

// validSHA256 checks a lower-case hex SHA-256.
func validSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("SHA-256 %q is not 64 hex digits", s)
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("SHA-256 %q is not lower-case hex", s)
		}
	}
	return nil
}

func sha256Hash(s string) *[]cdx.Hash {
	return &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: s}}
}

func props(kv ...string) *[]cdx.Property {
	var ps []cdx.Property
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, cdx.Property{Name: kv[i], Value: kv[i+1]})
	}
	return &ps
}
