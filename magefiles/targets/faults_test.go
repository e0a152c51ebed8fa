package targets_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
)

// compiledMage builds the targets once into a binary, as a user's `mage
// -compile` would, so that each run of the fault tests starts in
// milliseconds and SIGKILL reaches the process that does the work.
func compiledMage(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "novasphere-mage")
	if out, err := mage(t, nil, "-compile", bin); err != nil {
		t.Fatalf("mage -compile: %v\n%s", err, out)
	}
	return bin
}

// startMage starts the compiled targets in their own process group.
func startMage(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = root, append(os.Environ(), env...), &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// TestPackKilledAtManyPointsRecovers kills `mage pack` (SIGKILL, its whole
// process group, xorriso included) at 20 points: 5 by time from the start
// (fetch, extract, customize) and 15 by the bytes of the ISO written so far.
// Each time, the next pack must write the same ISO byte for byte as an
// undisturbed pack, and leave no temporary or lock file behind.
func TestPackKilledAtManyPointsRecovers(t *testing.T) {
	bin := compiledMage(t)
	env, dist := pipelineEnv(t, "v1.3.0")
	iso := filepath.Join(dist, "novasphere-installer-v1.3.0.iso")
	record := filepath.Join(dist, "novasphere-installer-v1.3.0.build.json")
	if out, err := runMage(t, bin, env, "pack"); err != nil {
		t.Fatalf("reference pack: %v\n%s", err, out)
	}
	want, size := digestOf(t, iso), fileSize(t, iso)

	type point struct {
		after time.Duration // kill this long after the start, or
		bytes int64         // when the temporary ISO holds this many bytes
	}
	var points []point
	for i := range 5 {
		points = append(points, point{after: time.Duration(i) * 60 * time.Millisecond})
	}
	for i := 1; i <= 15; i++ {
		points = append(points, point{bytes: size * int64(i) / 16})
	}
	killed, recovered := 0, 0
	for _, p := range points {
		for _, f := range []string{iso, record} {
			os.Remove(f)
		}
		cmd, out := startMage(t, bin, env, "pack")
		if wasKilled, err := killAt(t, cmd, dist, p.after, p.bytes); wasKilled {
			killed++
		} else if err != nil {
			t.Fatalf("pack (not killed) failed: %v\n%s", err, out)
		}
		again, err := runMage(t, bin, env, "pack")
		if err != nil {
			t.Errorf("pack after a kill at %+v failed: %v\n%s", p, err, again)
			continue
		}
		if got := digestOf(t, iso); got != want {
			t.Errorf("pack after a kill at %+v wrote an ISO with sha256 %s, want %s", p, got, want)
			continue
		}
		recovered++
		if left := leftovers(t, dist, filepath.Join(filepath.Dir(dist), "build")); len(left) > 0 {
			t.Errorf("after a kill at %+v and a new pack, left behind: %v", p, left)
		}
	}
	var rec struct {
		ISOSize int64 `json:"iso_size"`
	}
	data, _ := os.ReadFile(record)
	if err := json.Unmarshal(data, &rec); err != nil || rec.ISOSize != size {
		t.Errorf("build record iso_size %d, want %d (%v)", rec.ISOSize, size, err)
	}
	t.Logf("pack fault injection: %d points, %d killed while running, %d runs recovered to the reference ISO", len(points), killed, recovered)
	if killed < 15 {
		t.Errorf("only %d of %d points killed a running pack: the points do not cover the run", killed, len(points))
	}
}

// killAt SIGKILLs cmd's process group after d, or once a temporary ISO in
// dist holds n bytes. It reports whether it killed the run, and the run's
// error when the run ended first.
func killAt(t *testing.T, cmd *exec.Cmd, dist string, d time.Duration, n int64) (bool, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	for (n == 0 && time.Since(start) < d) || (n > 0 && tempISOSize(dist) < n) {
		select {
		case err := <-done:
			return false, err
		case <-time.After(200 * time.Microsecond):
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("pack did not reach %d bytes in 2 minutes", n)
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing pack's process group: %v", err)
	}
	<-done
	return true, nil
}

// tempISOSize is the size of the largest temporary ISO in dist.
func tempISOSize(dist string) int64 {
	matches, _ := filepath.Glob(filepath.Join(dist, ".novasphere-installer-*.iso.*.tmp"))
	var n int64
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			n = max(n, fi.Size())
		}
	}
	return n
}

// leftovers lists temporary and lock files under the directories.
func leftovers(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		// A directory that is missing or unreadable holds no leftovers.
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			name := d.Name()
			if strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".lock") || strings.HasPrefix(name, ".extract-") || strings.Contains(name, ".tmp-") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func runMage(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd, out := startMage(t, bin, env, args...)
	err := cmd.Wait()
	return out.String(), err
}

func digestOf(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// An ISO cut short after pack wrote it (the broken ISO of issue 13) is not
// up to date: the next pack writes it again, whole.
func TestTruncatedISOIsNotUpToDate(t *testing.T) {
	env, dist := pipelineEnv(t, "v1.3.1")
	iso := filepath.Join(dist, "novasphere-installer-v1.3.1.iso")
	if out, err := mage(t, env, "pack"); err != nil {
		t.Fatalf("pack: %v\n%s", err, out)
	}
	want := digestOf(t, iso)
	if err := os.Truncate(iso, 98304); err != nil {
		t.Fatal(err)
	}
	out, err := mage(t, env, "pack")
	if err != nil {
		t.Fatalf("second pack: %v\n%s", err, out)
	}
	if strings.Contains(out, "(newer than every input); nothing to do") || !strings.Contains(out, "pack: wrote ") {
		t.Errorf("pack kept a truncated ISO:\n%s", out)
	}
	if got := digestOf(t, iso); got != want {
		t.Errorf("the rebuilt ISO differs from the first: %s, want %s", got, want)
	}
}

// inTmpfs runs script with sh in a private mount namespace (nothing stays
// mounted) after mounting a tmpfs of size bytes on $DIST_DIR. It needs root,
// as CI runs: without it the test says why it cannot run.
func inTmpfs(t *testing.T, env []string, dist string, size int64, script string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs for DIST_DIR needs root (CI runs as root)")
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := config.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	full := "mount -t tmpfs -o size=" + strconv.FormatInt(size, 10) + " tmpfs \"$DIST\" && " + script
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", full)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), env...), "DIST="+dist)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// A DIST_DIR too small for the ISO is refused before xorriso starts, in
// bytes, and nothing is left in it.
func TestPackRefusesAFullDisk(t *testing.T) {
	bin := compiledMage(t)
	env, dist := pipelineEnv(t, "v1.3.3")
	out := inTmpfs(t, append(env, "MAGE="+bin), dist, 4<<20,
		`"$MAGE" pack; echo "exit=$?"; ls -A "$DIST"`)
	if !regexp.MustCompile(`has 4\.0 MiB free, pack needs 1\d\.\d MiB`).MatchString(out) || !strings.Contains(out, "exit=1") {
		t.Errorf("want a refusal that says both sizes:\n%s", out)
	}
	if after := out[strings.Index(out, "exit="):]; strings.Contains(after, ".iso") || strings.Contains(after, ".tmp") {
		t.Errorf("files left in dist:\n%s", out)
	}
}

// The disk fills while pack writes (another program takes the space after
// the check: pack is stopped right after it, the disk filled, pack resumed): pack fails saying so, and leaves no ISO and no
// temporary file; with the space back, pack succeeds.
func TestPackSurvivesTheDiskFillingDuringTheWrite(t *testing.T) {
	bin := compiledMage(t)
	env, dist := pipelineEnv(t, "v1.3.4")
	out := inTmpfs(t, append(env, "MAGE="+bin), dist, 64<<20, `
setsid "$MAGE" pack > "$DIST/../pack.log" 2>&1 &
pid=$!
while ! ls "$DIST"/.novasphere-installer-*.iso.*.tmp >/dev/null 2>&1; do sleep 0.005; done
kill -STOP -$pid   # the space check has passed; hold pack while the disk fills
dd if=/dev/zero of="$DIST/filler" bs=1M count=64 2>/dev/null
kill -CONT -$pid
wait $pid; echo "exit=$?"
cat "$DIST/../pack.log"
rm "$DIST/filler"
echo "after:"; ls -A "$DIST"
"$MAGE" pack >/dev/null 2>&1; echo "second exit=$?"
`)
	if !strings.Contains(out, "exit=1") || !regexp.MustCompile(`Error: pack: \S+/dist filled up while pack wrote the ISO \(\S+ \S+ free now; the ISO needs about 1\d\.\d MiB\): no ISO written`).MatchString(out) {
		t.Errorf("want pack to say in one line that the disk filled up:\n%s", out)
	}
	after := out[strings.Index(out, "after:"):]
	if strings.Contains(after[:strings.Index(after, "second exit")], ".iso") {
		t.Errorf("an ISO or temporary file was left:\n%s", out)
	}
	if !strings.Contains(out, "second exit=0") {
		t.Errorf("pack did not succeed once the space was back:\n%s", out)
	}
}
