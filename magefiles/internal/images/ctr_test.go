package images_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// containerd is Debian's containerd started by the test with its own root,
// state and socket, and only the plugins an import needs (no CRI, no
// snapshotters that need kernel support): nothing of this machine's
// containerd, if it has one, is touched.
type containerd struct {
	address string
	log     string
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	for _, tl := range []tool.Tool{tool.Containerd, tool.Ctr} {
		if !tl.Present() {
			t.Fatalf("%s is missing: the test command installs it (apt-get install %s)", tl.Name(), tl.Package)
		}
	}
	// A short directory: a unix socket's path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ctrd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &containerd{address: filepath.Join(dir, "c.sock"), log: filepath.Join(dir, "containerd.log")}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.overlayfs"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.address, c.address+".ttrpc", filepath.Join(dir, "opt"))
	cfg := filepath.Join(dir, "config.toml")
	writeFile(t, cfg, config)
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its exit status says only that
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.ctr(t.Context(), "version"); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(c.log)
			t.Fatalf("containerd did not answer on %s within 30s:\n%s", c.address, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctr runs Debian's ctr against the test's containerd.
func (c *containerd) ctr(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", c.address}, args...)...).CombinedOutput()
	return string(out), err
}

// The archives the stage writes are imported as they are by a real ctr
// into containerd's k8s.io namespace (unpacked for linux/amd64 with the
// native snapshotter), under both names a pod may use, at the declared
// digest: a multi-platform index shipped with its amd64 image only, and a
// single-platform image.
func TestCtrImportsTheArchives(t *testing.T) {
	reg := newRegistry(t)
	ref := reg.pushIndex(t, "novasphere/server:1.0.0", testIndex(t, "amd64", "arm64"))
	tool1 := reg.push(t, "novasphere/migrate:1.0.0", testImage(t, "amd64", 2))
	c := serverChart(ref)
	c.templates["hook.yaml"], c.values["migrateImage"] = hookJob, tool1
	c.decl = append(c.decl, declared("migrate", tool1))
	res, log, err := run(t, c.write(t), t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	ctrd := startContainerd(t)
	for _, rec := range res.Images {
		out, err := ctrd.ctr(t.Context(), "-n", "k8s.io", "images", "import", "--snapshotter", "native", res.Path(rec))
		if err != nil {
			data, _ := os.ReadFile(ctrd.log)
			t.Fatalf("ctr images import %s: %v\n%s\ncontainerd:\n%s", rec.File, err, out, data)
		}
	}
	out, err := ctrd.ctr(t.Context(), "-n", "k8s.io", "images", "ls")
	if err != nil {
		t.Fatalf("ctr images ls: %v\n%s", err, out)
	}
	for _, rec := range res.Images {
		for _, n := range rec.Names {
			if !hasImage(out, n, rec.Digest) {
				t.Errorf("ctr images ls does not list %s at %s:\n%s", n, rec.Digest, out)
			}
		}
	}
	t.Logf("ctr images ls:\n%s", out)
	// Unpacked: the layers became snapshots the runtime can start from.
	snaps, err := ctrd.ctr(t.Context(), "-n", "k8s.io", "snapshots", "--snapshotter", "native", "ls")
	t.Logf("ctr snapshots ls:\n%s", snaps)
	if err != nil || strings.Count(snaps, "\n") < 1+1+2 {
		t.Errorf("ctr snapshots ls: %v, want one snapshot per layer (3):\n%s", err, snaps)
	}
}

// hasImage says whether `ctr images ls` lists name at digest.
func hasImage(ls, name, digest string) bool {
	for _, line := range strings.Split(ls, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == name && f[2] == digest {
			return true
		}
	}
	return false
}
