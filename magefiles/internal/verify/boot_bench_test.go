package verify

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkBoots boots the remastered fixture in all four ways, first one
// at a time and then BootParallel=2 at a time, and reports each boot's time
// to the marker and the wall time of the boot stage.
//
//	go test -run '^$' -bench Boots -benchtime 1x ./magefiles/internal/verify
func BenchmarkBoots(b *testing.B) {
	iso, base := happy(b)
	for range b.N {
		for _, parallel := range []int{1, 2} {
			o := Options{ISO: iso, BaseISO: base.ISO, Version: testVersion, Images: repoImages, DistDir: b.TempDir(),
				Boot: BootOn, BootTimeout: 5 * time.Minute, BootParallel: parallel}
			o, err := o.withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			checks := runBoots(b.Context(), o)
			wall := time.Since(start)
			for _, c := range checks {
				if !c.Passed {
					b.Fatalf("%s: %s", c.Name, c.Detail)
				}
				b.ReportMetric(c.duration.Seconds(), fmt.Sprintf("%s-p%d-s", c.Name, parallel))
			}
			b.ReportMetric(wall.Seconds(), fmt.Sprintf("all-four-p%d-s", parallel))
		}
	}
}
