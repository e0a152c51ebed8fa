package images

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"
)

// AnnotationKey is the Chart.yaml annotation that declares the images a
// chart may run: Artifact Hub's convention, a YAML list of name, image and
// optional platforms (artifacthub.io/docs/topics/annotations/helm).
const AnnotationKey = "artifacthub.io/images"

// Required is the platform every image must have: the installed system is
// Ubuntu on amd64.
const Required = "linux/amd64"

// Declared is one entry of the annotation.
type Declared struct {
	// Name is the entry's name; the image's archive on the ISO is
	// <Name>.oci.tar.
	Name string `yaml:"name" json:"name"`
	// Image is the reference as written: repo/name:tag@sha256:….
	Image string `yaml:"image" json:"image"`
	// Platforms are the platforms the entry says the image has (optional).
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`
}

// validName is what an entry's name may be: it names a file on the ISO.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ReadDeclared reads the annotation from chartDir/Chart.yaml. A chart
// without the annotation declares no image (and then may run none).
func ReadDeclared(chartDir string) ([]Declared, error) {
	path := filepath.Join(chartDir, "Chart.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Annotations map[string]string `yaml:"annotations"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	text, ok := meta.Annotations[AnnotationKey]
	if !ok {
		return nil, nil
	}
	var decl []Declared
	if err := yaml.Unmarshal([]byte(text), &decl); err != nil {
		return nil, fmt.Errorf("%s: annotation %s is not a YAML list of name/image/platforms: %w", path, AnnotationKey, err)
	}
	seen := map[string]bool{}
	for i, d := range decl {
		if !validName.MatchString(d.Name) {
			return nil, fmt.Errorf("%s: %s entry %d: name %q must be lowercase letters, digits, '.', '_' or '-' (it names the image's file on the ISO)", path, AnnotationKey, i+1, d.Name)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("%s: %s: name %q is declared twice", path, AnnotationKey, d.Name)
		}
		seen[d.Name] = true
		if d.Image == "" {
			return nil, fmt.Errorf("%s: %s entry %q has no image", path, AnnotationKey, d.Name)
		}
	}
	return decl, nil
}

// Pinned is a declared image parsed: its repository, tag and digest.
type Pinned struct {
	Declared
	// Ref is the reference by digest the image is fetched with.
	Ref name.Digest
	// Tag is the tag written before the digest ("" when none).
	Tag string
}

// Repository is the image's full repository as containerd and Kubernetes
// name it (docker.io/library/x: go-containerregistry says index.docker.io).
func (p Pinned) Repository() string { return repository(p.Ref.Context()) }

// repository is r's name in containerd's normalized form.
func repository(r name.Repository) string {
	n := r.Name()
	if rest, ok := strings.CutPrefix(n, name.DefaultRegistry+"/"); ok {
		return "docker.io/" + rest
	}
	return n
}

// TagName is repository:tag, or "" without a tag.
func (p Pinned) TagName() string {
	if p.Tag == "" {
		return ""
	}
	return p.Repository() + ":" + p.Tag
}

// DigestName is repository@sha256:….
func (p Pinned) DigestName() string { return p.Repository() + "@" + p.Ref.DigestStr() }

// Pin parses d's image; an image not pinned by a sha256 digest, or one whose
// declared platforms leave out linux/amd64, is refused.
func Pin(d Declared) (Pinned, error) {
	at := strings.LastIndex(d.Image, "@")
	if at < 0 {
		return Pinned{}, fmt.Errorf("declared image %q (%s) is not pinned: write it as repo/name:tag@sha256:<digest> (crane digest repo/name:tag prints the digest)", d.Image, d.Name)
	}
	ref, err := name.NewDigest(d.Image, name.StrictValidation)
	if err != nil {
		// StrictValidation refuses implicit registries; accept them like
		// Kubernetes does, but still check the digest.
		ref, err = name.NewDigest(d.Image)
	}
	if err != nil {
		return Pinned{}, fmt.Errorf("declared image %q (%s): %w", d.Image, d.Name, err)
	}
	if !strings.HasPrefix(ref.DigestStr(), "sha256:") {
		return Pinned{}, fmt.Errorf("declared image %q (%s) is pinned with %s: only sha256 digests are accepted", d.Image, d.Name, ref.DigestStr())
	}
	p := Pinned{Declared: d, Ref: ref}
	if t, err := name.NewTag(d.Image[:at]); err == nil && strings.Contains(lastPart(d.Image[:at]), ":") {
		p.Tag = t.TagStr()
	}
	if len(d.Platforms) > 0 && !hasPlatform(d.Platforms, Required) {
		return Pinned{}, fmt.Errorf("declared image %q (%s) lists platforms %s without %s: the installed system runs %s only", d.Image, d.Name, strings.Join(d.Platforms, ", "), Required, Required)
	}
	return p, nil
}

// lastPart is what follows the last '/' of a reference.
func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

func hasPlatform(list []string, want string) bool {
	for _, p := range list {
		if p == want || strings.HasPrefix(p, want+"/") {
			return true
		}
	}
	return false
}
