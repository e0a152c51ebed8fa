// Package dist owns the layout of the output directory (DIST_DIR): the name
// of every artifact the pipeline writes there, and the list of artifacts a
// build produced, with their kinds and digests. Stages ask it for names
// and add what they write; the checksum files, the release and its notes
// select from the list by kind (see Kind).
//
//	novasphere-installer-<version>.iso          the installer ISO (pack)
//	novasphere-installer-<version>.build.json   pack's build record
//	SHA256SUMS, MD5SUMS                         checksums of the ISO and the SBOM (verify, sbom)
//	SHA256SUMS.gpg                              detached OpenPGP signature of SHA256SUMS (sign)
//	novasphere-installer-<version>.cdx.json     the SBOM, CycloneDX JSON (sbom)
//	verify-report.json                          verify's report
//	boot-<firmware>-<media>.log                 serial console of each boot (verify)
//	novasphere-installer-<version>.iso.partNN   parts of an ISO of 2 GiB or more (release)
//	novasphere-installer-<version>.parts.sha256 their checksums (release)
package dist

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// Names of the artifacts that do not depend on the version.
const (
	SHA256SumsName   = "SHA256SUMS"
	MD5SumsName      = "MD5SUMS"
	VerifyReportName = "verify-report.json"
	SignatureName    = "SHA256SUMS.gpg"
)

// filePrefix starts the name of every versioned artifact.
const filePrefix = "novasphere-installer-"

// ISOName is the installer ISO's file name for version.
func ISOName(version string) string { return filePrefix + version + ".iso" }

// SBOMName is the file name of the SBOM for version.
func SBOMName(version string) string { return filePrefix + version + ".cdx.json" }

// BuildRecordName is the file name of pack's build record for version.
func BuildRecordName(version string) string { return filePrefix + version + ".build.json" }

// PartsSumsName is the checksum file of an ISO's parts (sha256sum -c
// format). Its name must not match the parts' glob NAME.iso.part*.
func PartsSumsName(version string) string { return filePrefix + version + ".parts.sha256" }

// PartName is the name of part i (from 0) of n; numbers are zero-padded so
// that `cat NAME.part*` reads them in order.
func PartName(version string, i, n int) string {
	width := max(2, len(fmt.Sprint(n)))
	return fmt.Sprintf("%s.part%0*d", ISOName(version), width, i+1)
}

// BootLogName is the serial console log of one verify boot ("bios-cdrom").
func BootLogName(boot string) string { return "boot-" + boot + ".log" }

// Layout is the output directory of one version.
type Layout struct {
	// Dir is the output directory (absolute).
	Dir string
	// Version is the installer version.
	Version string
	// Base is the Ubuntu base's id when it is not the default one
	// (configs/bases.yaml): the versioned names then carry it,
	// novasphere-installer-<version>-<base>.iso, so that two bases built in
	// one checkout never overwrite each other. Empty for the default base.
	Base string
}

// New is the layout of dir for version.
func New(dir, version string) Layout { return Layout{Dir: dir, Version: version} }

// ForBase is l for the Ubuntu base id ("" for the default base).
func (l Layout) ForBase(id string) Layout { l.Base = id; return l }

// stem is what the versioned names are made of: the version, and the base
// when it is not the default.
func (l Layout) stem() string {
	if l.Base == "" {
		return l.Version
	}
	return l.Version + "-" + l.Base
}

// ISOName is the installer ISO's file name in this layout.
func (l Layout) ISOName() string { return ISOName(l.stem()) }

// SBOMName is the SBOM's file name in this layout.
func (l Layout) SBOMName() string { return SBOMName(l.stem()) }

// Path is the path of the artifact called name.
func (l Layout) Path(name string) string { return filepath.Join(l.Dir, name) }

// ISO is the path of the installer ISO.
func (l Layout) ISO() string { return l.Path(l.ISOName()) }

// BuildRecord is the path of pack's build record.
func (l Layout) BuildRecord() string { return l.Path(BuildRecordName(l.stem())) }

// SHA256Sums and MD5Sums are the paths of the ISO's checksum files.
func (l Layout) SHA256Sums() string { return l.Path(SHA256SumsName) }

// MD5Sums is the path of MD5SUMS.
func (l Layout) MD5Sums() string { return l.Path(MD5SumsName) }

// VerifyReport is the path of verify-report.json.
func (l Layout) VerifyReport() string { return l.Path(VerifyReportName) }

// BootLog is the path of a boot's serial log.
func (l Layout) BootLog(boot string) string { return l.Path(BootLogName(boot)) }

// SBOM is the path of the SBOM.
func (l Layout) SBOM() string { return l.Path(l.SBOMName()) }

// Signature is the path of SHA256SUMS.gpg.
func (l Layout) Signature() string { return l.Path(SignatureName) }

// Kind says what an artifact is. What a release does with an artifact
// (attach it, list it in SHA256SUMS and MD5SUMS, describe it in the notes)
// follows from its kind alone: a stage adds what it wrote to the Build's
// Artifacts with its kind, and the checksum files, the release upload, the
// release notes and the checklist select from that list by kind. A new
// kind is one constant and one entry in kinds.
type Kind string

// Kinds of artifacts.
const (
	KindISO       Kind = "iso"
	KindPart      Kind = "iso-part"
	KindPartSums  Kind = "part-checksums"
	KindChecksums Kind = "checksums"
	KindSignature Kind = "signature"
	KindSBOM      Kind = "sbom"
	KindReport    Kind = "verify-report"
	KindRecord    Kind = "build-record"
	KindLog       Kind = "log"
	KindPicture   Kind = "picture"
)

// kindInfo is what a kind of artifact is for.
type kindInfo struct {
	kind Kind
	// published: a release attaches it (GitHub and the server copy).
	published bool
	// summed: SHA256SUMS and MD5SUMS list it; title names it in the
	// checksum files' release note ("the ISO").
	summed bool
	title  string
	// note describes it in the release notes ("" for none of its own).
	note string
}

// kinds are every kind, in the order a release uploads and describes
// them: the ISO and its parts first, then the checksum files that
// describe them.
var kinds = []kindInfo{
	{kind: KindISO, published: true, summed: true, title: "the ISO"},
	{kind: KindPart, published: true},
	{kind: KindPartSums, published: true},
	{kind: KindChecksums, published: true, note: "checksums of %s (`sha256sum -c --ignore-missing " + SHA256SumsName + "`)"},
	{kind: KindSignature, published: true, note: "OpenPGP signature of `" + SHA256SumsName + "` by the release key (`" + config.ReleaseKeyPath + "` in the repository and on the ISO)"},
	{kind: KindSBOM, published: true, summed: true, title: "the SBOM",
		note: "SBOM (CycloneDX JSON): the base ISO, its installed packages, the offline packages, every payload file, the Helm chart"},
	{kind: KindReport, published: true, note: "every check verify ran on this exact ISO"},
	{kind: KindRecord, published: true, note: "build record (base ISO digest, payload manifest digest, git commit, xorriso version, SOURCE_DATE_EPOCH)"},
	{kind: KindLog},
	{kind: KindPicture},
}

// info is k's entry in kinds and its place there (len(kinds) for a kind
// not in it).
func (k Kind) info() (kindInfo, int) {
	for i, info := range kinds {
		if info.kind == k {
			return info, i
		}
	}
	return kindInfo{kind: k}, len(kinds)
}

// Published reports whether a release attaches artifacts of kind k.
func (k Kind) Published() bool { i, _ := k.info(); return i.published }

// Summed reports whether SHA256SUMS and MD5SUMS list artifacts of kind k.
func (k Kind) Summed() bool { i, _ := k.info(); return i.summed }

// Title names the kind in prose ("the SBOM"); only summed kinds have one.
func (k Kind) Title() string { i, _ := k.info(); return i.title }

// Note describes artifacts of kind k in the release notes ("" for none).
// The checksums' note has one %s: the titles of what they list.
func (k Kind) Note() string { i, _ := k.info(); return i.note }

// Compare orders kinds as a release uploads them.
func (k Kind) Compare(o Kind) int {
	_, a := k.info()
	_, b := o.info()
	return a - b
}

// ChecksumFile is one of the checksum files of the summed artifacts.
type ChecksumFile struct {
	// Name is its file name.
	Name string
	// HexLen is the length in hex digits of the digest it lists.
	HexLen int
	// Digest is that digest of a.
	Digest func(a Artifact) string
}

// ChecksumFiles are SHA256SUMS and MD5SUMS.
var ChecksumFiles = []ChecksumFile{
	{Name: SHA256SumsName, HexLen: 64, Digest: func(a Artifact) string { return a.SHA256 }},
	{Name: MD5SumsName, HexLen: 32, Digest: func(a Artifact) string { return a.MD5 }},
}

// Artifact is one file a stage wrote to the output directory.
type Artifact struct {
	// Name is the file name in the output directory, Path its full path.
	Name, Path string
	// Kind says what it is.
	Kind Kind
	// SHA256 and MD5 are its digests (lowercase hex) once a stage
	// computed them; Size its length then.
	SHA256, MD5 string
	Size        int64
}

// Artifacts is the list of what a build wrote, in the order it was added.
// A name added again replaces the earlier entry.
type Artifacts struct {
	list []Artifact
}

// Add records a, replacing an artifact of the same name.
func (as *Artifacts) Add(a Artifact) {
	if i := slices.IndexFunc(as.list, func(b Artifact) bool { return b.Name == a.Name }); i >= 0 {
		as.list[i] = a
		return
	}
	as.list = append(as.list, a)
}

// Get returns the artifact called name.
func (as *Artifacts) Get(name string) (Artifact, bool) {
	for _, a := range as.list {
		if a.Name == name {
			return a, true
		}
	}
	return Artifact{}, false
}

// Published are the artifacts a release attaches, in upload order: by
// kind, then in the order they were added.
func (as *Artifacts) Published() []Artifact {
	var out []Artifact
	for _, a := range as.list {
		if a.Kind.Published() {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b Artifact) int { return a.Kind.Compare(b.Kind) })
	return out
}

// Summed are the artifacts SHA256SUMS and MD5SUMS list, in the order
// they were added.
func (as *Artifacts) Summed() []Artifact {
	var out []Artifact
	for _, a := range as.list {
		if a.Kind.Summed() {
			out = append(out, a)
		}
	}
	return out
}

// List returns every artifact, or those of the given kinds.
func (as *Artifacts) List(kinds ...Kind) []Artifact {
	var out []Artifact
	for _, a := range as.list {
		if len(kinds) == 0 || slices.Contains(kinds, a.Kind) {
			out = append(out, a)
		}
	}
	return out
}
