// Package release publishes a verified installer ISO and withdraws a bad
// one. Run first gathers everything the release depends on, read-only, into
// one state value: dist/ (the ISO hashed once), git, CHANGELOG.md, GitHub
// and the server. It then evaluates the checklist, whose lines only read
// that state (the ISO passed verify for this exact digest, with verify's
// default boot marker; the git work tree is clean; CHANGELOG.md has release
// notes for the version; the version's git tag on GitHub is at HEAD, or
// does not exist yet and GitHub has HEAD to create it at; GitHub does not
// already hold other content for it); only when every line holds does it
// write anything. It then creates or reuses a draft GitHub release (package
// github), uploads each file the release does not already have (retrying
// on server errors and dropped connections), copies the files to the server
// over rsync or scp (package servercopy), and publishes last, so a release
// that failed halfway stays a draft. It becomes GitHub's latest release
// only when no published release has a higher version (a backport does not
// take "latest" from a newer release). Re-running it uploads nothing that
// is already there. Rollback turns a published release back into a draft
// and, when it was the latest, makes the highest published version left
// latest. The package never reads the environment: settings come as
// config.ReleaseSettings.
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/dist"
	"github.com/novasphere/novasphere-iso/magefiles/internal/github"
	"github.com/novasphere/novasphere-iso/magefiles/internal/units"
)

// Options configure Run.
type Options struct {
	// Version is the version to release (YYYYMMDD or vX.Y.Z[-rc.N], as
	// config.Load checked it); it is also the git tag.
	Version string
	// Root is the repository root (CHANGELOG.md, git); default: found from
	// the working directory.
	Root string
	// DistDir is the absolute output directory holding the ISO and the
	// files verify and pack wrote (default Root/dist).
	DistDir string
	// Settings say where and as whom the release is published: GitHub
	// token, repository, API, server copy, splitting.
	Settings config.ReleaseSettings
	// Draft leaves the release a draft instead of publishing it.
	Draft bool
	// DryRun runs the checklist, prints every action and changes nothing.
	DryRun bool
	// Force allows replacing an asset whose content differs from this build.
	Force bool
	// Out receives the checklist, the actions and the progress (default
	// os.Stdout). The GitHub token is never written to it.
	Out io.Writer
	// Transport carries the HTTP requests to GitHub (default
	// github.UploadTransport()).
	Transport http.RoundTripper
	// AssetLimit is the size every GitHub asset must stay under (default
	// github.AssetLimit); PartSize the size of the parts of a larger ISO
	// (default DefaultPartSize, and smaller than AssetLimit).
	AssetLimit, PartSize int64
	// Retry says how requests to GitHub are retried.
	Retry github.Retry
	// Login is how an operator logs in to the installed machine (the
	// customize stage's result); nil: not checked.
	Login *customize.Login
	// Artifacts are the files the build wrote that a release attaches, in
	// upload order (the pipeline's Build.Artifacts.Published()): the ISO,
	// SHA256SUMS, MD5SUMS, the SBOM, the report, the build record, the
	// signature when SHA256SUMS was signed. The release publishes these
	// and describes each in its notes by its kind. When the ISO is listed
	// with its digests (verify computed them in the same run) it is not
	// read again, unless it must be split (the parts need their own
	// digests) or its size changed.
	Artifacts []dist.Artifact
}

// DefaultPartSize is the size of each part when an ISO over the limit is
// split: 2000 MiB, safely under 2 GiB.
const DefaultPartSize int64 = 2000 << 20

// ErrChecklist is returned when a checklist line does not hold; nothing
// was written anywhere.
var ErrChecklist = errors.New("checklist failed")

func (o Options) withDefaults() (Options, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Root == "" {
		root, err := config.FindRoot()
		if err != nil {
			return o, err
		}
		o.Root = root
	}
	if o.DistDir == "" {
		o.DistDir = filepath.Join(o.Root, "dist")
	}
	if !filepath.IsAbs(o.DistDir) {
		return o, fmt.Errorf("the output directory %q is not an absolute path", o.DistDir)
	}
	if o.AssetLimit <= 0 {
		o.AssetLimit = github.AssetLimit
	}
	if o.PartSize <= 0 {
		o.PartSize = min(DefaultPartSize, o.AssetLimit-1)
	}
	if o.PartSize >= o.AssetLimit {
		return o, fmt.Errorf("part size %d is not under the asset limit %d", o.PartSize, o.AssetLimit)
	}
	return o, nil
}

// Run releases o.Version: checklist, GitHub draft, uploads, server copy,
// publish. See the package documentation.
func Run(ctx context.Context, o Options) (err error) {
	o, err = o.withDefaults()
	if err != nil {
		return err
	}
	token := o.Settings.Token
	defer func() { err = redactError(err, token) }()
	out := &redactor{w: o.Out, secret: token}
	st := gather(ctx, o, out)
	if n, total := printChecklist(out, o.Version, st.evaluate()); n > 0 {
		return fmt.Errorf("%w: %d of %d lines unmet; nothing was uploaded, copied or changed", ErrChecklist, n, total)
	}
	r := &runner{o: o, out: out, st: st}
	p := r.plan()
	p.print(r.out, r)
	if o.DryRun {
		fmt.Fprintln(r.out, "dry run: nothing was uploaded, copied or changed")
		return nil
	}
	return r.execute(ctx, p)
}

// runner makes the writes of one release run, once the checklist holds.
type runner struct {
	o   Options
	out io.Writer
	st  *state
}

func (r *runner) prerelease() bool { return strings.Contains(r.o.Version, "-rc.") }

func (r *runner) releaseName() string { return "NovaSphere installer " + r.o.Version }

// redactor replaces the token in everything written through it. Writes are
// serialised: progress may be reported from the HTTP transport's goroutine.
type redactor struct {
	mu     sync.Mutex
	w      io.Writer
	secret string
}

func (r *redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secret != "" && bytes.Contains(p, []byte(r.secret)) {
		_, err := r.w.Write(bytes.ReplaceAll(p, []byte(r.secret), []byte("***")))
		return len(p), err
	}
	return r.w.Write(p)
}

// redactedError hides the token in an error's text and keeps its chain.
type redactedError struct {
	err    error
	secret string
}

func (e redactedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.secret, "***") }
func (e redactedError) Unwrap() error { return e.err }

func redactError(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return redactedError{err, secret}
}

// progress prints an upload's progress every 10% (for files of 1 MiB or
// more) and its rate at the end. Each attempt gets its own.
type progress struct {
	out         io.Writer
	name        string
	total, next int64
	start       time.Time
}

func newProgress(out io.Writer, name string, total int64) *progress {
	return &progress{out: out, name: name, total: total, next: total / 10, start: time.Now()}
}

func (p *progress) update(n int64) {
	if p.total < 1<<20 || n < p.next || n >= p.total {
		return
	}
	fmt.Fprintf(p.out, "  upload %s: %3d%% (%s of %s)\n", p.name, n*10/p.total*10, units.Bytes(n), units.Bytes(p.total))
	for p.next <= n {
		p.next += p.total / 10
	}
}

func (p *progress) done() {
	if p.total < 1<<20 {
		fmt.Fprintf(p.out, "  uploaded %s (%s)\n", p.name, units.Bytes(p.total))
		return
	}
	d := time.Since(p.start)
	rate := float64(p.total) / max(d.Seconds(), 1e-9) / (1 << 20)
	fmt.Fprintf(p.out, "  uploaded %s (%s in %s, %.1f MiB/s)\n", p.name, units.Bytes(p.total), d.Round(time.Millisecond), rate)
}
