package installproof

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
)

// The failing cases of the inside checks, each at the cheapest level that
// proves it: the step's own judgement of what the installed system
// printed. The full proof (TestInstallProof) runs the same functions on a
// real installed system.

// TestLoginStepFailsWithNoWayIn: an ISO whose user-data lets nobody in
// fails the ssh-login step at once (no boot needed to know), naming what to
// set.
func TestLoginStepFailsWithNoWayIn(t *testing.T) {
	p := &proof{res: Result{Login: &customize.Login{Username: "novasphere", InstallServer: true}}}
	err := p.login(context.Background(), &Step{Name: StepLogin})
	if err == nil || !strings.Contains(err.Error(), "nobody can log in to the installed machine: set ADMIN_AUTHORIZED_KEYS") {
		t.Fatalf("login step: %v", err)
	}
	// Without a private key the inside checks are skipped, saying why.
	err = p.inside(func(context.Context) (string, error) { return "", nil })(context.Background(), &Step{})
	var sk skipped
	if !errors.As(err, &sk) || !strings.Contains(sk.why, "no private key") {
		t.Errorf("inside check without a login: %v", err)
	}
}

func TestJudgeNetwork(t *testing.T) {
	dhcp := "2: enp0s3    inet 10.0.2.15/24 metric 1024 brd 10.0.2.255 scope global dynamic enp0s3\\       valid_lft 86391sec preferred_lft 86391sec\n"
	if d, err := judgeNetwork(dhcp); err != nil || d != "10.0.2.15/24 on enp0s3 by DHCP" {
		t.Errorf("DHCP lease: %q, %v", d, err)
	}
	// A network section without DHCP (a static address): refused.
	static := "2: enp0s3    inet 192.168.1.10/24 brd 192.168.1.255 scope global enp0s3\\       valid_lft forever preferred_lft forever\n"
	if _, err := judgeNetwork(static); err == nil || !strings.Contains(err.Error(), "no address from DHCP, only static ones (192.168.1.10/24 on enp0s3)") {
		t.Errorf("static address: %v", err)
	}
	// No network configuration at all (the NIC dropped by the installer).
	if _, err := judgeNetwork(""); err == nil || !strings.Contains(err.Error(), "no NIC has an IPv4 address") {
		t.Errorf("no address: %v", err)
	}
}

func TestJudgeRootSize(t *testing.T) {
	const gib = int64(1) << 30
	disk := 40 * gib
	// sizing-policy all on 40 GiB: / is the VG (about 37 GiB) less ext4's
	// metadata.
	if d, err := judgeRootSize(36*gib, disk, "/dev/mapper/ubuntu--vg-ubuntu--lv"); err != nil {
		t.Errorf("all: %s: %v", d, err)
	}
	// sizing-policy scaled: half of the VG of a disk under 200 GiB
	// (subiquity/common/filesystem/sizes.py, scaled_rootfs_size), about
	// 18.9 GiB here: refused.
	vg := disk - 2*gib - 1*gib - 2<<20
	scaled := vg / 2
	if _, err := judgeRootSize(scaled, disk, "/dev/mapper/ubuntu--vg-ubuntu--lv"); err == nil || !strings.Contains(err.Error(), `is storage.layout.sizing-policy "all"?`) {
		t.Errorf("scaled: %v", err)
	}
}

func TestJudgeUnits(t *testing.T) {
	if d, err := judgeUnits("● systemd-networkd-wait-online.service loaded failed failed Wait for Network\n"); err != nil || !strings.Contains(d, "systemd-networkd-wait-online.service") {
		t.Errorf("a failed unit not ours: %q, %v", d, err)
	}
	if _, err := judgeUnits("novasphere-firstboot.service loaded failed failed NovaSphere first boot\n"); err == nil || !strings.Contains(err.Error(), "failed NovaSphere units: novasphere-firstboot.service") {
		t.Errorf("our unit failed: %v", err)
	}
	if d, err := judgeUnits(""); err != nil || d != "no failed NovaSphere unit" {
		t.Errorf("none failed: %q, %v", d, err)
	}
}

func TestJudgeUserKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " ci"
	ck, err := customize.CheckPublicKey("k", line)
	if err != nil {
		t.Fatal(err)
	}
	want := customize.Login{Username: "novasphere", Keys: []customize.PublicKey{ck}, Fingerprints: []string{ck.Fingerprint}}
	if _, err := judgeUserKeys("novasphere", "# cloud-init\n"+line+"\n", want); err != nil {
		t.Error(err)
	}
	if _, err := judgeUserKeys("novasphere", "", want); err == nil || !strings.Contains(err.Error(), ck.Fingerprint) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := judgeUserKeys("root", line, want); err == nil {
		t.Error("another user accepted")
	}
}

// TestJudgeGuardBoot: the reinstall step fails when the medium reinstalls
// itself, changes the disk, or ends without the guard's stop.
func TestJudgeGuardBoot(t *testing.T) {
	found := "NOVASPHERE-REINSTALL-GUARD: this machine already has NovaSphere installed: NovaSphere v1.2.3 (marker /novasphere-installed on /dev/sda2)."
	if d, err := (guardBoot{found: found, stopped: true}).judge(); err != nil || !strings.HasPrefix(d, "this machine already has NovaSphere installed: NovaSphere v1.2.3") {
		t.Errorf("guarded: %q, %v", d, err)
	}
	for name, g := range map[string]struct {
		g    guardBoot
		want string
	}{
		"reinstalls itself": {guardBoot{reinstalling: "NOVASPHERE-INSTALL-STEP early-commands done in 10ms"}, "the medium reinstalls itself"},
		"disk changed":      {guardBoot{found: found, stopped: true, diskChanged: true}, "changed the installed disk"},
		"no guard":          {guardBoot{timedOut: true}, "time ran out without the reinstall guard stopping the install"},
	} {
		if _, err := g.g.judge(); err == nil || !strings.Contains(err.Error(), g.want) {
			t.Errorf("%s: %v, want %q", name, err, g.want)
		}
	}
}

// TestSparseDigest: content decides the digest, not how the file system
// stores it (a hole or written zeros), and reading a large sparse file
// reads only its data.
func TestSparseDigest(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, writes map[int64]string, zeros bool) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(40 << 30); err != nil {
			t.Fatal(err)
		}
		if zeros {
			if _, err := f.WriteAt(make([]byte, 1<<20), 8<<20); err != nil {
				t.Fatal(err)
			}
		}
		for off, s := range writes {
			if _, err := f.WriteAt([]byte(s), off); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	a := mk("a", map[int64]string{1 << 20: "GPT", 20 << 30: "root"}, false)
	b := mk("b", map[int64]string{1 << 20: "GPT", 20 << 30: "root"}, true)
	c := mk("c", map[int64]string{1 << 20: "GPT", 20 << 30: "rooT"}, false)
	da, err := sparseDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := sparseDigest(b)
	dc, _ := sparseDigest(c)
	if da != db {
		t.Errorf("a hole and written zeros give different digests")
	}
	if da == dc {
		t.Errorf("a changed byte at 20 GiB gives the same digest")
	}
}
