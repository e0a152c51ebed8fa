package images_test

import (
	"slices"
	"testing"

	"github.com/novasphere/novasphere-iso/magefiles/internal/images"
)

// Discover finds a CronJob's containers, a StatefulSet's init containers
// and images in any field called image of other kinds, once each; a
// document that is not YAML is refused with its template.
func TestDiscover(t *testing.T) {
	docs := []images.Manifest{
		{Template: "c/templates/cron.yaml", Body: `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: backup, image: "reg/backup:1"}]
`},
		{Template: "c/templates/sts.yaml", Body: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "reg/init:1"}]
      containers: [{name: db, image: "reg/db:1"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {image: "reg/in-configmap:1"}
`},
	}
	uses, err := images.Discover(docs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.Kind+" "+u.Object+" "+u.Container+" "+u.Image)
	}
	want := []string{
		"CronJob nightly containers/backup reg/backup:1",
		"StatefulSet db initContainers/init reg/init:1",
		"StatefulSet db containers/db reg/db:1",
		"ConfigMap settings data.image reg/in-configmap:1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Discover found\n%q\nwant\n%q", got, want)
	}
	if _, err := images.Discover([]images.Manifest{{Template: "c/templates/bad.yaml", Body: "a: [\n"}}); err == nil {
		t.Error("a document that is not YAML was accepted")
	}
}
