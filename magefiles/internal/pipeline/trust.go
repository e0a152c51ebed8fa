package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sbom"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
)

// sbomStage writes the SBOM of the verified ISO (CycloneDX JSON) beside it
// and lists it in SHA256SUMS and MD5SUMS with the ISO.
type sbomStage struct{}

func (sbomStage) Name() stage.Name { return stage.SBOM }

// Outputs is the SBOM (the checksum files go with it).
func (sbomStage) Outputs(b *Build) []string { return []string{b.Dist.SBOM()} }

func (sbomStage) Run(ctx context.Context, b *Build) error {
	in, err := b.sbomInput()
	if err != nil {
		return err
	}
	path := b.Dist.SBOM()
	if err := sbom.WriteFile(path, in); err != nil {
		return err
	}
	if err := b.addFile(ctx, dist.KindSBOM, path); err != nil {
		return err
	}
	if err := b.writeSums(ctx); err != nil {
		return err
	}
	fmt.Fprintf(b.Log, "sbom: wrote %s: %d base packages, %d offline packages, %d payload files; listed in %s\n",
		b.show(path), len(in.BasePackages), len(in.OfflineDebs), len(in.Files), dist.SHA256SumsName)
	return nil
}

// sbomInput gathers what the SBOM lists from the stages' results: the ISO's
// digest from verify, the base from fetch, its installed packages and the
// offline packages from the packages stage, the payload from pack's
// manifest, and the chart from the repository.
func (b *Build) sbomInput() (sbom.Input, error) {
	c := b.Config
	in := sbom.Input{
		ISO: sbom.ISO{Name: b.Dist.ISOName(), Version: c.Version, SHA256: b.isoDigests().SHA256},
		Base: sbom.BaseISO{Name: c.BaseISOName, SHA256: b.Base.Digest.Encoded(), SourceURL: b.baseSource(),
			ID: c.Base.ID, Distro: c.Base.SBOMDistro},
		Created: time.Unix(c.SourceDateEpoch, 0).UTC(),
	}
	if b.basePackagesErr != nil {
		return in, b.basePackagesErr
	}
	for _, p := range b.Packages.BasePackages {
		in.BasePackages = append(in.BasePackages, sbom.BasePackage{Name: p.Name, Version: p.Version, Arch: p.Arch, Manifest: "/" + strings.TrimLeft(p.Manifest, "/")})
	}
	for _, d := range b.Packages.Packages {
		in.OfflineDebs = append(in.OfflineDebs, sbom.OfflineDeb{File: d.File, Package: d.Package, Version: d.Version, Arch: d.Architecture, SHA256: d.SHA256})
	}
	for _, l := range sums.Lines(b.Packed.Manifest, sums.SHA256) {
		if l.Err != nil {
			return in, fmt.Errorf("%s line %d: %w", payload.ManifestName, l.N, l.Err)
		}
		in.Files = append(in.Files, sbom.PayloadFile{Path: l.Name, SHA256: l.Sum})
	}
	// MANIFEST.sha256 cannot list itself; the SBOM lists it too.
	in.Files = append(in.Files, sbom.PayloadFile{Path: payload.ManifestName, SHA256: sha256Hex(b.Packed.Manifest)})
	chart, err := sbom.ReadChart(filepath.Join(c.Root, "charts", "novasphere", "Chart.yaml"))
	in.Chart = chart
	return in, err
}

// sha256Hex is the SHA-256 of data, lowercase hex.
func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// baseSource is where the base ISO came from: the location fetch used, or
// the first configured one after a cache hit.
func (b *Build) baseSource() string {
	if b.Base.Source != "" {
		return b.Base.Source
	}
	return b.Config.BaseLocations[0].ISOURL
}

// signStage signs SHA256SUMS with RELEASE_SIGNING_KEY (SHA256SUMS.gpg, a
// detached armored signature as Ubuntu's) and checks the signature against
// the committed release key, configs/keys/novasphere-release.asc.
type signStage struct{}

func (signStage) Name() stage.Name { return stage.Sign }

// Outputs is SHA256SUMS.gpg.
func (signStage) Outputs(b *Build) []string { return []string{b.Dist.Signature()} }

func (signStage) Run(ctx context.Context, b *Build) error {
	// A signature of an older SHA256SUMS must not stay beside this one,
	// whether this run signs, has no key, or fails.
	if err := os.Remove(b.Dist.Signature()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	data, err := os.ReadFile(b.Dist.SHA256Sums())
	if err != nil {
		return err
	}
	s := b.Config.Signing
	if s.Key == "" {
		fmt.Fprintf(b.Log, "sign: %s is not set: %s is not signed (a release of a non-prerelease version needs the signature)\n", config.EnvSigningKey, dist.SHA256SumsName)
		return nil
	}
	signer, err := signing.LoadSigningKey([]byte(s.Key), []byte(s.Passphrase))
	if err != nil {
		return fmt.Errorf("%s: %w", config.EnvSigningKey, err)
	}
	sig, err := signer.Sign(data)
	if err != nil {
		return err
	}
	if err := b.checkSignature(data, sig); err != nil {
		return err
	}
	if err := atomicfile.Write(b.Dist.Signature(), sig, 0o644); err != nil {
		return err
	}
	if err := b.addFile(ctx, dist.KindSignature, b.Dist.Signature()); err != nil {
		return err
	}
	fmt.Fprintf(b.Log, "sign: wrote %s, signed by %s\n", b.show(b.Dist.Signature()), signer.Fingerprint())
	return nil
}

// checkSignature verifies sig against the committed release key, when the
// repository has one: a key that is not the release key is refused here,
// before anything is published.
func (b *Build) checkSignature(data, sig []byte) error {
	pub, err := os.ReadFile(filepath.Join(b.Config.Root, config.ReleaseKeyPath))
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(b.Log, "sign: note: %s is not committed yet: the signature is not checked against the release key\n", config.ReleaseKeyPath)
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := signing.Verify(pub, data, sig); err != nil {
		return fmt.Errorf("the signature does not verify with %s: %w", config.ReleaseKeyPath, err)
	}
	return nil
}
