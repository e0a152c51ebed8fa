package images

import (
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartlint "helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
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

// Render lints and renders the chart client-side, as `helm template
// --include-crds` does (helm.sh/helm/v4 pkg/action/action.go,
// renderResources: engine.Render on the chart's values coalesced with the
// release's, NOTES.txt left out, releaseutil.SortManifests splitting hooks
// from the manifest), and returns every document of the manifest, the CRDs
// and every hook, test hooks included: `helm test` runs them on the
// installed system too. It calls Helm's engine, lint rules and manifest
// sorter directly rather than pkg/action, which links Kubernetes' whole
// typed client and Helm's storage drivers (half again the code to
// compile). A chart that fails Helm's lint rules or does not render is
// refused with Helm's own message.
func Render(o RenderOptions) ([]Manifest, error) {
	vals, err := readValues(o.ValuesFiles)
	if err != nil {
		return nil, err
	}
	ns := or(o.Namespace, "default")
	if err := lint(o.Chart, vals, ns); err != nil {
		return nil, err
	}
	ch, err := loader.Load(o.Chart)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", o.Chart, err)
	}
	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, fmt.Errorf("chart %s: dependencies (Helm says): %w", o.Chart, err)
	}
	opts := common.ReleaseOptions{Name: or(o.ReleaseName, "novasphere"), Namespace: ns, Revision: 1, IsInstall: true}
	rv, err := util.ToRenderValuesWithSchemaValidation(ch, vals, opts, common.DefaultCapabilities.Copy(), false)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values (Helm says): %w", o.Chart, err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("chart %s does not render (Helm says): %w", o.Chart, err)
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("chart %s: rendered manifests (Helm says): %w", o.Chart, err)
	}
	var out []Manifest
	for _, crd := range ch.CRDObjects() {
		out = append(out, Manifest{Template: crd.Filename, Body: string(crd.File.Data)})
	}
	for _, m := range manifests {
		out = append(out, Manifest{Template: m.Name, Body: m.Content})
	}
	for _, h := range hooks {
		ev := make([]string, len(h.Events))
		for i, e := range h.Events {
			ev[i] = string(e)
		}
		out = append(out, Manifest{Template: h.Path, Hook: strings.Join(ev, ","), Body: h.Manifest})
	}
	return out, nil
}

// lint runs Helm's lint rules (pkg/chart/v2/lint, as `helm lint`): an
// error-level message refuses the chart.
func lint(chart string, vals map[string]any, namespace string) error {
	var lines []string
	for _, m := range chartlint.RunAll(chart, vals, namespace).Messages {
		if m.Severity >= support.ErrorSev {
			lines = append(lines, m.Error())
		}
	}
	if len(lines) == 0 {
		return nil
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
