package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/signing"
	"github.com/novasphere/novasphere-iso/magefiles/internal/sums"
	"github.com/novasphere/novasphere-iso/magefiles/internal/verify"
)

// remoteState is what GitHub holds for the version.
type remoteState struct {
	// Release is nil when there is none, draft or published.
	Release *github.Release
	// Assets are the release's assets, failed uploads included.
	Assets []github.Asset
	// Releases are all the repository's releases, drafts included: they
	// decide whether the version becomes latest.
	Releases []github.Release
	sums     map[string]map[string]string
}

// readRemote reads every release and, when there is one for tag, its
// assets.
func readRemote(ctx context.Context, gh *github.Client, tag string) (*remoteState, error) {
	all, err := gh.ListReleases(ctx)
	if err != nil {
		return nil, err
	}
	rel, err := gh.FindRelease(ctx, tag)
	if err != nil || rel == nil {
		return &remoteState{Releases: all}, err
	}
	assets, err := gh.ListAssets(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	return &remoteState{Release: rel, Assets: assets, Releases: all}, nil
}

func (s *remoteState) describe(tag string) string {
	switch {
	case s.Release == nil:
		return "no release for " + tag + " yet"
	case s.Release.Draft:
		return fmt.Sprintf("draft release for %s with %d asset(s)", tag, len(s.Assets))
	}
	return fmt.Sprintf("published release for %s with %d asset(s)", tag, len(s.Assets))
}

func (s *remoteState) asset(name string) *github.Asset {
	for i := range s.Assets {
		if s.Assets[i].Name == name {
			return &s.Assets[i]
		}
	}
	return nil
}

// assetState is how a local file compares with GitHub's copy.
type assetState int

const (
	stateMissing    assetState = iota // not on GitHub
	stateSame                         // same size and SHA-256
	stateIncomplete                   // a failed upload left it behind
	stateDiffers                      // a complete asset with other content
	stateEquivalent                   // other bytes, same meaning: kept
)

// assetCheck is the comparison of one file.
type assetCheck struct {
	Local  asset
	Remote *github.Asset
	State  assetState
	Why    string
}

// smallAsset is the size up to which an asset without a digest is
// downloaded to compare it.
const smallAsset = 16 << 20

// comparer compares the local files with the release on GitHub.
type comparer struct {
	gh     *github.Client
	remote *remoteState
	local  *localBuild
	// releaseKey is the committed release public key (empty when there is
	// none): a published signature it verifies over this SHA256SUMS is kept.
	releaseKey []byte
}

// compare compares every GitHub asset of this build with the release's.
func compare(ctx context.Context, gh *github.Client, remote *remoteState, local *localBuild, releaseKey []byte) ([]assetCheck, error) {
	c := comparer{gh: gh, remote: remote, local: local, releaseKey: releaseKey}
	var checks []assetCheck
	for _, a := range local.gitHubAssets() {
		ra := remote.asset(a.Name)
		state, why, err := c.compareOne(ctx, a, ra)
		if err == nil && state == stateDiffers && a.Name == dist.VerifyReportName {
			state, why, err = c.compareReports(ctx, ra, why)
		}
		if err == nil && state == stateDiffers && a.Name == dist.SignatureName {
			state, why, err = c.compareSignatures(ctx, ra, why)
		}
		if err != nil {
			return nil, err
		}
		checks = append(checks, assetCheck{Local: a, Remote: ra, State: state, Why: why})
	}
	return checks, nil
}

func (c comparer) compareOne(ctx context.Context, a asset, ra *github.Asset) (assetState, string, error) {
	switch {
	case ra == nil:
		return stateMissing, "", nil
	case ra.State != "uploaded":
		return stateIncomplete, fmt.Sprintf("a failed upload left it in state %q", ra.State), nil
	case ra.Size != a.Size:
		return stateDiffers, fmt.Sprintf("%d bytes on GitHub, %d bytes here", ra.Size, a.Size), nil
	}
	if d, ok := strings.CutPrefix(ra.Digest, "sha256:"); ok {
		if strings.EqualFold(d, a.SHA256) {
			return stateSame, "", nil
		}
		return stateDiffers, fmt.Sprintf("sha256 %s on GitHub, %s here", d, a.SHA256), nil
	}
	// No digest (older GitHub Enterprise Server): small files are
	// downloaded and hashed, the ISO and its parts are looked up in the
	// checksum file of the release itself.
	if a.Size <= smallAsset {
		data, err := c.gh.DownloadAsset(ctx, *ra, smallAsset)
		if err != nil {
			return 0, "", err
		}
		sum := sha256.Sum256(data)
		if d := hex.EncodeToString(sum[:]); d != a.SHA256 {
			return stateDiffers, fmt.Sprintf("sha256 %s on GitHub, %s here", d, a.SHA256), nil
		}
		return stateSame, "", nil
	}
	version := c.local.Layout.Version
	sumsName := dist.SHA256SumsName
	if strings.HasPrefix(a.Name, dist.ISOName(version)+".part") {
		sumsName = dist.PartsSumsName(version)
	}
	listed, err := c.remoteSums(ctx, sumsName)
	if err != nil {
		return 0, "", err
	}
	d, ok := listed[a.Name]
	switch {
	case !ok:
		return stateDiffers, fmt.Sprintf("same size, but GitHub gives no digest and the release's %s does not list it", sumsName), nil
	case d != a.SHA256:
		return stateDiffers, fmt.Sprintf("sha256 %s in the release's %s, %s here", d, sumsName, a.SHA256), nil
	}
	return stateSame, "", nil
}

// compareReports decides whether GitHub's verify-report.json, whose bytes
// differ from the local one, is about the same ISO: every verify run writes
// a new report (its time, the boot durations), so re-running the release
// after verify ran again must not count as different content. GitHub's
// report is kept when it is for this version and this exact ISO digest,
// says passed and records verify's default boot marker (a report the
// checklist would refuse is not kept in place of a trusted one).
func (c comparer) compareReports(ctx context.Context, ra *github.Asset, why string) (assetState, string, error) {
	data, err := c.gh.DownloadAsset(ctx, *ra, smallAsset)
	if err != nil {
		return 0, "", err
	}
	var rep verify.Report
	if json.Unmarshal(data, &rep) != nil {
		return stateDiffers, why, nil
	}
	if !rep.Passed || rep.Version != c.local.Layout.Version || rep.ISO != c.local.ISO.Name || !strings.EqualFold(rep.SHA256, c.local.ISO.SHA256) {
		return stateDiffers, why, nil
	}
	if p := bootMarkerProblem(rep); p != "" {
		return stateDiffers, "GitHub's copy is for this exact ISO, but " + p, nil
	}
	return stateEquivalent, fmt.Sprintf("GitHub's copy reports verify passed for this exact ISO (%s)", rep.Time), nil
}

// compareSignatures decides whether GitHub's SHA256SUMS.gpg, whose bytes
// differ from the local one, is a signature of the same SHA256SUMS by the
// release key. Each sign makes new bytes (the signature's creation time; an
// ECDSA key's random nonce), so a re-run on the same commit with the same
// key must not count that as different content: GitHub's copy is kept when
// it verifies over this build's SHA256SUMS with the committed release key,
// exactly as the checklist's signature line verifies the local one.
func (c comparer) compareSignatures(ctx context.Context, ra *github.Asset, why string) (assetState, string, error) {
	sumsFile, ok := c.local.Files[dist.SHA256SumsName]
	if len(c.releaseKey) == 0 || !ok {
		return stateDiffers, why, nil
	}
	data, err := c.gh.DownloadAsset(ctx, *ra, smallAsset)
	if err != nil {
		return 0, "", err
	}
	fpr, err := signing.Verify(c.releaseKey, sumsFile.Data, data)
	if err != nil {
		return stateDiffers, fmt.Sprintf("%s, and GitHub's copy does not verify over this %s with %s: %v", why, dist.SHA256SumsName, config.ReleaseKeyPath, err), nil
	}
	return stateEquivalent, fmt.Sprintf("GitHub's copy is a valid signature of this %s by the release key %s", dist.SHA256SumsName, fpr), nil
}

// remoteSums downloads and parses a checksum file of the release (empty
// when the release has no complete copy of it).
func (c comparer) remoteSums(ctx context.Context, name string) (map[string]string, error) {
	if s, ok := c.remote.sums[name]; ok {
		return s, nil
	}
	if c.remote.sums == nil {
		c.remote.sums = map[string]map[string]string{}
	}
	ra := c.remote.asset(name)
	if ra == nil || ra.State != "uploaded" {
		c.remote.sums[name] = map[string]string{}
		return c.remote.sums[name], nil
	}
	data, err := c.gh.DownloadAsset(ctx, *ra, 1<<20)
	if err != nil {
		return nil, err
	}
	c.remote.sums[name] = sums.Map(data, sums.SHA256)
	return c.remote.sums[name], nil
}
