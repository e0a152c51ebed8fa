package images

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// Manifest is one rendered Kubernetes document.
type Manifest struct {
	// Template is the chart-relative template it came from
	// (novasphere/templates/deployment.yaml).
	Template string
	// Hook names the hook events when the document is a Helm hook
	// (pre-install, test, …); empty for the release's manifest.
	Hook string
	// Body is the YAML document.
	Body string
}

// RenderOptions say how to render a chart.
type RenderOptions struct {
	// Chart is the chart's directory.
	Chart string
	// ValuesFiles are the release's values files, in order (later ones
	// win), on top of the chart's values.yaml.
	ValuesFiles []string
	// ReleaseName and Namespace are the release's (defaults "novasphere"
	// and "default").
	ReleaseName, Namespace string
}

// Render lints and renders the chart client-side as `helm template
// --include-crds` does (helm.sh/helm/v4 pkg/cmd/template.go:
// action.Install with a client dry run), and returns every document of the
// manifest, the CRDs and every hook, test hooks included: `helm test` runs
// them on the installed system too. A chart that fails Helm's lint rules
// or does not render is refused with Helm's own message.
func Render(o RenderOptions) ([]Manifest, error) {
	vals, err := readValues(o.ValuesFiles)
	if err != nil {
		return nil, err
	}
	if err := lint(o.Chart, vals); err != nil {
		return nil, err
	}
	ch, err := loader.Load(o.Chart)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", o.Chart, err)
	}
	inst := action.NewInstall(action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler)))
	inst.DryRunStrategy = action.DryRunClient
	inst.Replace = true
	inst.IncludeCRDs = true
	inst.ReleaseName = or(o.ReleaseName, "novasphere")
	inst.Namespace = or(o.Namespace, "default")
	r, err := inst.Run(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s does not render (Helm says): %w", o.Chart, err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("chart %s: Helm returned a %T, not a v1 release", o.Chart, r)
	}
	return releaseDocuments(rel), nil
}

// releaseDocuments splits the release's manifest by "# Source:" and adds
// each hook.
func releaseDocuments(rel *release.Release) []Manifest {
	split := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(split))
	for k := range split {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var out []Manifest
	for _, k := range keys {
		body := split[k]
		out = append(out, Manifest{Template: source(body), Body: body})
	}
	for _, h := range rel.Hooks {
		ev := make([]string, len(h.Events))
		for i, e := range h.Events {
			ev[i] = string(e)
		}
		out = append(out, Manifest{Template: h.Path, Hook: strings.Join(ev, ","), Body: h.Manifest})
	}
	return out
}

// source is the template named by a document's "# Source:" line.
func source(doc string) string {
	for _, line := range strings.Split(doc, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return s
		}
	}
	return "(unknown template)"
}

// lint runs Helm's lint rules (errors only, as `helm lint` fails on).
func lint(chart string, vals map[string]any) error {
	res := action.NewLint().Run([]string{chart}, vals)
	if len(res.Errors) == 0 {
		return nil
	}
	var lines []string
	for _, m := range res.Messages {
		if m.Severity >= support.ErrorSev {
			lines = append(lines, m.Error())
		}
	}
	if len(lines) == 0 { // the chart could not be loaded
		return fmt.Errorf("chart %s fails helm lint (Helm says): %w", chart, errors.Join(res.Errors...))
	}
	return fmt.Errorf("chart %s fails helm lint (Helm says):\n%s", chart, strings.Join(lines, "\n"))
}

// readValues reads and merges the values files, later ones winning.
func readValues(files []string) (map[string]any, error) {
	vals := map[string]any{}
	for _, f := range files {
		v, err := common.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		vals = mergeMaps(vals, v)
	}
	return vals, nil
}

// mergeMaps merges b into a as helm's -f files merge: maps recursively,
// anything else replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bv, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, bv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
