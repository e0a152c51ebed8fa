package iso_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/pipeline"
	"github.com/novasphere/novasphere-iso/magefiles/internal/stage"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/payload"
	"github.com/novasphere/novasphere-iso/magefiles/internal/testiso"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// benchSquashfsBytes makes the benchmark's base ISO about 1.5 GB.
const benchSquashfsBytes = 1_500_000_000

// BenchmarkPack compares, on a ~1.5 GB test ISO with incompressible data,
// the time of Pack with a bare `xorriso -indev … -outdev … -map …
// -boot_image any replay` making the same change and with a plain cp of the
// ISO, and reports xorriso's peak RSS during Pack. Run it with
//
//	go test -run '^$' -bench Pack -benchtime 3x ./magefiles/internal/iso/
//
// The first run builds the large fixture (cached on disk afterwards).
func BenchmarkPack(b *testing.B) {
	ctx := context.Background()
	f, err := testiso.Build(ctx, testiso.Options{SquashfsBytes: benchSquashfsBytes})
	if err != nil {
		b.Fatal(err)
	}
	root, err := config.FindRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	o := RemasterOptions{Base: f.ISO, Root: root, BuildDir: filepath.Join(dir, "build"), DistDir: filepath.Join(dir, "dist"),
		Version: testVersion, KernelArgs: testKernelArgs, SourceDateEpoch: testEpoch}
	// Extract, customize and one pack, untimed: they also warm the page
	// cache with the base ISO for every contender alike.
	o.BaseSHA256 = pinOf(f.ISO)
	build, err := remasterBuild(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	first := *build.Packed
	bareArgs, err := bareReplayArgs(o, build, filepath.Join(dir, "bare.iso"))
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(f.ISO)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("base ISO %s: %.2f GB", f.ISO, float64(fi.Size())/1e9)

	var packTime, bareTime, cpTime time.Duration
	var packRSS, bareRSS int64
	runPack := func() {
		if err := os.Remove(first.ISO); err != nil {
			b.Fatal(err)
		}
		// The whole pipeline runs, as `mage pack` after a change: fetch
		// and extract find their caches, customize renders, pack writes.
		res, err := Remaster(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		packRSS = max(packRSS, res.XorrisoPeakRSS)
	}
	runBare := func() {
		os.Remove(filepath.Join(dir, "bare.iso"))
		cmd := exec.CommandContext(ctx, "xorriso", bareArgs...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		// The kernel's peak RSS of the process, in KiB.
		bareRSS = max(bareRSS, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
	}
	runCp := func() {
		os.Remove(filepath.Join(dir, "copy.iso"))
		if err := tool.Command("cp", f.ISO, filepath.Join(dir, "copy.iso")).Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
	contenders := []struct {
		run   func()
		total *time.Duration
	}{{runPack, &packTime}, {runBare, &bareTime}, {runCp, &cpTime}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Rotate the order, and flush earlier writes before each timed
		// run, so that no contender pays for another's write-back.
		for k := range contenders {
			c := contenders[(i+k)%len(contenders)]
			syscall.Sync()
			start := time.Now()
			c.run()
			*c.total += time.Since(start)
		}
	}
	b.StopTimer()
	// A pack with nothing changed: the whole pipeline up to pack finds
	// every output up to date.
	noopStart := time.Now()
	again, err := Remaster(ctx, o)
	if err != nil || !again.UpToDate {
		b.Fatalf("a second pack with no change was not up to date: %v", err)
	}
	noop := time.Since(noopStart)
	n := float64(b.N)
	b.ReportMetric(noop.Seconds(), "noop-pack-s")
	b.ReportMetric(noop.Seconds()/(packTime.Seconds()/n), "noop/pack")
	b.ReportMetric(packTime.Seconds()/n, "pack-s/op")
	b.ReportMetric(bareTime.Seconds()/n, "bare-xorriso-s/op")
	b.ReportMetric(cpTime.Seconds()/n, "cp-s/op")
	b.ReportMetric(packTime.Seconds()/bareTime.Seconds(), "pack/bare-xorriso")
	b.ReportMetric(packTime.Seconds()/cpTime.Seconds(), "pack/cp")
	b.ReportMetric(float64(packRSS)/(1<<20), "xorriso-peak-RSS-MiB")
	b.ReportMetric(float64(bareRSS)/(1<<20), "bare-xorriso-peak-RSS-MiB")
}

// bareReplayArgs is the plain xorriso command for the same change pack makes:
// the same files mapped, the boot equipment replayed, nothing else.
func bareReplayArgs(o RemasterOptions, b *pipeline.Build, out string) ([]string, error) {
	args := []string{"-indev", "stdio:" + o.Base, "-outdev", "stdio:" + out, "-boot_image", "any", "replay"}
	tree, err := payload.WalkSources(b.Payload)
	if err != nil {
		return nil, err
	}
	for _, s := range tree.Sources {
		args = append(args, "-map", s.Path, "/novasphere/"+s.Rel)
	}
	c := b.Customized
	for _, p := range c.Files {
		args = append(args, "-map", c.Path(p), p)
	}
	return append(args,
		"-map", filepath.Join(b.Dir(stage.Pack), "MANIFEST.sha256"), "/novasphere/MANIFEST.sha256",
		"-map", filepath.Join(b.Dir(stage.Pack), "md5sum.txt"), "/md5sum.txt"), nil
}
