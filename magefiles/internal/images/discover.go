package images

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Use is one image a rendered document names.
type Use struct {
	// Template and Hook are the document's (see Manifest).
	Template, Hook string
	// Kind and Object are the document's kind and metadata.name.
	Kind, Object string
	// Container is the container's name with its list
	// ("initContainers/migrate"), or the field's path for an image found
	// by the field scan ("spec.agent.image").
	Container string
	// Image is the reference as rendered.
	Image string
}

// String names the use as messages do.
func (u Use) String() string {
	where := u.Template
	if u.Hook != "" {
		where += " (hook " + u.Hook + ")"
	}
	return fmt.Sprintf("%s: %s %s, container %s: image %q", where, u.Kind, u.Object, u.Container, u.Image)
}

// podSpecPaths are where each workload kind keeps its pod spec, as Zarf's
// find-images reads them (zarf-dev/zarf src/pkg/packager/find_images.go).
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containerLists are the pod spec's lists of containers.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// Discover lists every image the documents name: each container, init
// container and ephemeral container of every workload kind, and every
// string field called `image` anywhere in any document (CRDs' custom
// resources, operators' settings), `kind: List` items included. A
// document that is not YAML is refused with its template.
func Discover(docs []Manifest) ([]Use, error) {
	var uses []Use
	for _, m := range docs {
		dec := yaml.NewDecoder(bytes.NewBufferString(m.Body))
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: rendered document is not YAML: %w", m.Template, err)
			}
			uses = append(uses, discoverObject(m, obj)...)
		}
	}
	return uses, nil
}

func discoverObject(m Manifest, obj map[string]any) []Use {
	if obj == nil {
		return nil
	}
	kind, _ := obj["kind"].(string)
	if kind == "List" || strings.HasSuffix(kind, "List") {
		if items, ok := obj["items"].([]any); ok {
			var out []Use
			for _, it := range items {
				if o, ok := it.(map[string]any); ok {
					out = append(out, discoverObject(m, o)...)
				}
			}
			return out
		}
	}
	base := Use{Template: m.Template, Hook: m.Hook, Kind: kind, Object: objectName(obj)}
	var out []Use
	found := map[string]bool{} // field paths already reported
	if path, ok := podSpecPaths[kind]; ok {
		spec, _ := dig(obj, path).(map[string]any)
		for _, list := range containerLists {
			cs, _ := spec[list].([]any)
			for i, c := range cs {
				cm, _ := c.(map[string]any)
				img, _ := cm["image"].(string)
				name, _ := cm["name"].(string)
				if name == "" {
					name = fmt.Sprintf("#%d", i+1)
				}
				u := base
				u.Container, u.Image = list+"/"+name, img
				out = append(out, u)
				found[fmt.Sprintf("%s.%s[%d].image", strings.Join(path, "."), list, i)] = true
			}
		}
	}
	scan(obj, "", func(path, img string) {
		if found[path] || img == "" {
			return
		}
		u := base
		u.Container, u.Image = path, img
		out = append(out, u)
	})
	return out
}

// scan calls f for every string field named image, with its path.
func scan(v any, path string, f func(path, img string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := x[k].(string); ok && k == "image" {
				f(p, s)
				continue
			}
			scan(x[k], p, f)
		}
	case []any:
		for i, e := range x {
			scan(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

func dig(obj map[string]any, path []string) any {
	var cur any = obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func objectName(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	n, _ := meta["name"].(string)
	return n
}
