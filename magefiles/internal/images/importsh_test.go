package images_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// importSh is the repository's scripts/import-images.sh.
const importSh = "../../../scripts/import-images.sh"

// payloadWithImages runs the stage on a chart of one index image and lays
// out /opt/novasphere as the installer copies it: images/ and the script.
func payloadWithImages(t *testing.T) (string, []byte, string) {
	t.Helper()
	reg := newRegistry(t)
	ref := reg.pushIndex(t, "novasphere/server:1.0.0", testIndex(t, "amd64", "arm64"))
	res, log, err := run(t, serverChart(ref).write(t), t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	payload := filepath.Join(t.TempDir(), "opt", "novasphere")
	data, _ := archive(t, res, 0)
	script, err := os.ReadFile(importSh)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(payload, "images", "server.oci.tar"), string(data))
	writeFile(t, filepath.Join(payload, "scripts", "import-images.sh"), string(script))
	return payload, data, res.Images[0].Digest
}

func runImportSh(t *testing.T, payload string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join(payload, "scripts", "import-images.sh"))
	cmd.Env = append(os.Environ(), append([]string{"NOVASPHERE_DIR=" + payload, "LC_ALL=C"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// With containerd running, import-images.sh imports every archive into
// k8s.io, where both names are listed at the declared digest and pinned
// against the kubelet's garbage collection; an archive containerd cannot
// read stops it with ctr's message.
func TestImportShImportsIntoContainerd(t *testing.T) {
	payload, data, digest := payloadWithImages(t)
	ctrd := startContainerd(t)
	env := []string{"CONTAINERD_ADDRESS=" + ctrd.address, "CONTAINERD_SNAPSHOTTER=native"}
	// Cut short (into an empty store), the archive is refused and the
	// script says so.
	writeFile(t, filepath.Join(payload, "images", "server.oci.tar"), string(data[:len(data)/2]))
	out, err := runImportSh(t, payload, env...)
	if err == nil || !strings.Contains(out, "ctr could not import "+filepath.Join(payload, "images", "server.oci.tar")) {
		t.Fatalf("import of a cut archive: %v, want a failure naming it:\n%s", err, out)
	}

	writeFile(t, filepath.Join(payload, "images", "server.oci.tar"), string(data))
	out, err = runImportSh(t, payload, env...)
	if err != nil {
		t.Fatalf("import-images.sh: %v\n%s", err, out)
	}
	ls, err := ctrd.ctr(t.Context(), "-n", "k8s.io", "images", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{":1.0.0", "@" + digest} {
		var line string
		for _, l := range strings.Split(ls, "\n") {
			if f := strings.Fields(l); len(f) > 2 && strings.HasSuffix(f[0], "/novasphere/server"+want) && f[2] == digest {
				line = l
			}
		}
		if !strings.Contains(line, "io.cri-containerd.pinned=pinned") {
			t.Errorf("no pinned image named …%s at %s:\n%s\nscript:\n%s", want, digest, ls, out)
		}
	}
}

// Without a running containerd, the archives go whole to k3s's and RKE2's
// agent/images/ directories.
func TestImportShPlacesImagesForK3sAndRKE2(t *testing.T) {
	payload, data, _ := payloadWithImages(t)
	rancher := t.TempDir()
	out, err := runImportSh(t, payload, "CONTAINERD_ADDRESS="+filepath.Join(t.TempDir(), "none.sock"), "NOVASPHERE_RANCHER_DIR="+rancher)
	if err != nil {
		t.Fatalf("import-images.sh: %v\n%s", err, out)
	}
	for _, k := range []string{"k3s", "rke2"} {
		dir := filepath.Join(rancher, k, "agent", "images")
		got, err := os.ReadFile(filepath.Join(dir, "novasphere-server.oci.tar"))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v (equal: %v)\n%s", k, err, bytes.Equal(got, data), out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s holds %d files, want only the archive", dir, len(entries))
		}
	}
	// A directory that cannot be made stops the script.
	blocker := filepath.Join(t.TempDir(), "file")
	writeFile(t, blocker, "")
	out, err = runImportSh(t, payload, "CONTAINERD_ADDRESS=/nonexistent", "NOVASPHERE_RANCHER_DIR="+blocker)
	if err == nil || !strings.Contains(out, "cannot create "+blocker+"/k3s/agent/images") {
		t.Fatalf("placing under a file: %v, want a failure:\n%s", err, out)
	}
}
