package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Problems are every reason a chart's images are refused, one a line.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Match pins every declared image and checks that every image a rendered
// document names is one of them: the same repository and digest, or the
// same repository and tag when the document names a tag only. It returns
// the pinned images in declaration order, or Problems naming each template,
// container and image refused.
func Match(decl []Declared, uses []Use) ([]Pinned, error) {
	var probs Problems
	var pinned []Pinned
	for _, d := range decl {
		p, err := Pin(d)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		pinned = append(pinned, p)
	}
	for _, u := range uses {
		if err := matchUse(u, decl, pinned); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return pinned, nil
}

// matchUse finds u's image among the pinned ones.
func matchUse(u Use, decl []Declared, pinned []Pinned) error {
	if strings.TrimSpace(u.Image) == "" {
		return fmt.Errorf("%s: the image is empty (a value the chart needs is not set)", u)
	}
	ref, err := name.ParseReference(u.Image)
	if err != nil {
		return fmt.Errorf("%s: not an image reference: %w", u, err)
	}
	repo := repository(ref.Context())
	digest, tag := "", ""
	switch r := ref.(type) {
	case name.Digest:
		digest = r.DigestStr()
		if at := strings.LastIndex(u.Image, "@"); at >= 0 && strings.Contains(lastPart(u.Image[:at]), ":") {
			if t, err := name.NewTag(u.Image[:at]); err == nil {
				tag = t.TagStr()
			}
		}
	case name.Tag:
		tag = r.TagStr()
	}
	for _, p := range pinned {
		if p.Repository() != repo {
			continue
		}
		if digest != "" && p.Ref.DigestStr() == digest {
			return nil
		}
		if digest == "" && p.Tag == tag {
			return nil
		}
	}
	return fmt.Errorf("%s is not declared in Chart.yaml's %s annotation (declared: %s): add it pinned by digest, or fix the values that chose it", u, AnnotationKey, declaredList(decl))
}

func declaredList(decl []Declared) string {
	if len(decl) == 0 {
		return "none"
	}
	s := make([]string, len(decl))
	for i, d := range decl {
		s[i] = d.Image
	}
	return strings.Join(s, ", ")
}
