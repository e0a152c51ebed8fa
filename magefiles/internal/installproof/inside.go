package installproof

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// isoLogin reads /nocloud/user-data of the ISO (xorriso, nothing mounted):
// the user the installed machine gets and its authorized keys.
func isoLogin(ctx context.Context, iso, work string) (customize.Login, error) {
	local := filepath.Join(work, "user-data")
	if err := tool.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", customize.UserDataPath, local).Run(ctx); err != nil {
		return customize.Login{}, fmt.Errorf("reading %s from %s: %w", customize.UserDataPath, iso, err)
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return customize.Login{}, err
	}
	l, err := customize.ReadLogin(customize.UserDataPath+" on the ISO", data)
	if err != nil {
		return customize.Login{}, err
	}
	return l, nil
}

// login proves someone can log in over SSH as the configured user: with
// Options.PrivateKey by logging in; without, by asking the server whether
// it accepts each configured public key (AcceptsKey). It retries until the
// server answers for the user or the first-boot timeout passes again
// (cloud-init makes the host keys and the user at first boot, around the
// time the first-boot unit reports; under TCG that takes a while).
func (p *proof) login(ctx context.Context, s *Step) error {
	l := p.res.Login
	if !l.CanLogIn() || len(l.Keys) == 0 {
		return fmt.Errorf("%w: %s", ErrFailed, customize.NoLoginHint("ADMIN_AUTHORIZED_KEYS"))
	}
	wait := p.t.FirstBoot
	deadline := time.Now().Add(wait)
	var last error
	for {
		done, err := p.tryLogin(ctx, s)
		if done {
			return err
		}
		last = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w: the installed system's SSH server (127.0.0.1 port forwarded to the guest's 22) did not let %s in within %s: %v\n%s",
				ErrFailed, l.Username, wait, last, p.running.console.describeTail())
		}
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

// tryLogin makes one attempt: it asks the server about every configured
// public key (what a release can prove), then, with Options.PrivateKey,
// logs in. done says the answer is final.
func (p *proof) tryLogin(ctx context.Context, s *Step) (done bool, err error) {
	l := p.res.Login
	var refused []string
	for _, k := range l.Keys {
		ok, err := AcceptsKey(ctx, p.sshAddr, l.Username, k.Key)
		if err != nil {
			return false, err
		}
		if !ok {
			refused = append(refused, k.String())
		}
	}
	if len(refused) > 0 {
		return false, fmt.Errorf("the server refuses %s for %s", strings.Join(refused, ", "), l.Username)
	}
	s.Detail = fmt.Sprintf("the server accepts each of the %d configured keys for %s (publickey query, no private key)", len(l.Keys), l.Username)
	if p.o.PrivateKey == nil {
		return true, nil
	}
	r, err := loginSSH(ctx, p.sshAddr, l.Username, p.o.PrivateKey)
	if err != nil {
		return true, fmt.Errorf("the server accepts the key %s but the login with it failed: %w", ssh.FingerprintSHA256(p.o.PrivateKey.PublicKey()), err)
	}
	p.shell = r
	s.Detail += fmt.Sprintf("; logged in as %s with %s", l.Username, ssh.FingerprintSHA256(p.o.PrivateKey.PublicKey()))
	return true, nil
}

// inside wraps a check that runs commands over the SSH login; without a
// private key it is skipped, saying so.
func (p *proof) inside(check func(context.Context) (string, error)) func(context.Context, *Step) error {
	return func(ctx context.Context, s *Step) error {
		if p.shell == nil {
			return skipped{"no private key (a release): the server's acceptance of every key was proven in " + StepLogin}
		}
		detail, err := check(ctx)
		s.Detail = detail
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFailed, err)
		}
		return nil
	}
}

func (p *proof) checkVersion(ctx context.Context) (string, error) {
	out, err := p.shell.run(ctx, "cat /opt/novasphere/VERSION")
	if err != nil {
		return "", err
	}
	if got := strings.TrimSpace(out); got != p.o.Version {
		return "", fmt.Errorf("/opt/novasphere/VERSION is %q, want %s", got, p.o.Version)
	}
	return "/opt/novasphere/VERSION is " + p.o.Version, nil
}

func (p *proof) checkUserKeys(ctx context.Context) (string, error) {
	id, err := p.shell.run(ctx, "id -un")
	if err != nil {
		return "", err
	}
	keys, err := p.shell.run(ctx, "cat ~/.ssh/authorized_keys")
	if err != nil {
		return "", err
	}
	return judgeUserKeys(strings.TrimSpace(id), keys, *p.res.Login)
}

// judgeUserKeys: the user is the configured one and its authorized_keys
// holds every configured key.
func judgeUserKeys(user, authorizedKeys string, want customize.Login) (string, error) {
	if user != want.Username {
		return "", fmt.Errorf("logged in as %q, want %s", user, want.Username)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(authorizedKeys, "\n") {
		if k, err := customize.CheckPublicKey("authorized_keys", line); err == nil {
			have[k.Fingerprint] = true
		}
	}
	var missing []string
	for _, f := range want.Fingerprints {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("~%s/.ssh/authorized_keys lacks %s (it has %d keys)", user, strings.Join(missing, ", "), len(have))
	}
	return fmt.Sprintf("user %s with its %d configured keys in ~/.ssh/authorized_keys", user, len(want.Fingerprints)), nil
}

func (p *proof) checkNetwork(ctx context.Context) (string, error) {
	out, err := p.shell.run(ctx, "ip -4 -o addr show scope global")
	if err != nil {
		return "", err
	}
	return judgeNetwork(out)
}

// ipAddrLine is one line of `ip -4 -o addr show`: index, interface, inet
// address, then flags (systemd-networkd's DHCP leases are "dynamic").
var ipAddrLine = regexp.MustCompile(`^\d+:\s+(\S+)\s+inet\s+(\S+)\s.*$`)

// judgeNetwork: some NIC other than lo has an IPv4 address from DHCP (the
// kernel marks leased addresses "dynamic").
func judgeNetwork(ipOutput string) (string, error) {
	var static []string
	for _, line := range strings.Split(ipOutput, "\n") {
		m := ipAddrLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || m[1] == "lo" {
			continue
		}
		if strings.Contains(line, " dynamic ") {
			return fmt.Sprintf("%s on %s by DHCP", m[2], m[1]), nil
		}
		static = append(static, m[2]+" on "+m[1])
	}
	if len(static) > 0 {
		return "", fmt.Errorf("no address from DHCP, only static ones (%s): does the network: section of user-data set dhcp4: true on every ethernet NIC?", strings.Join(static, ", "))
	}
	return "", fmt.Errorf("no NIC has an IPv4 address (ip -4 addr: %q): does the network: section of user-data configure the NICs by DHCP?", strings.TrimSpace(ipOutput))
}

func (p *proof) checkRootSize(ctx context.Context) (string, error) {
	out, err := p.shell.run(ctx, "df -B1 --output=size,source / | tail -n 1")
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return "", fmt.Errorf("df printed %q", out)
	}
	size, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return "", fmt.Errorf("df printed %q: %v", out, err)
	}
	return judgeRootSize(size, p.o.DiskBytes, f[1])
}

// Room the guided layouts leave outside the root file system, at most:
// /boot (subiquity's bootfs scale tops at 2 GiB) and an ESP (1075 MiB), plus
// ext4's own metadata (inode tables, journal: under 10 %).
const (
	layoutReserve = 2<<30 + 1075<<20
	rootFSShare   = 0.9
)

// judgeRootSize: the root file system uses the whole disk but for /boot and
// the ESP (sizing-policy all). The "scaled" policy gives it half of a disk
// under 200 GiB and at most 100 GiB (subiquity/common/filesystem/sizes.py),
// which this refuses.
func judgeRootSize(rootBytes, diskBytes int64, source string) (string, error) {
	want := int64(float64(diskBytes-layoutReserve) * rootFSShare)
	gib := func(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
	detail := fmt.Sprintf("/ (%s) is %s of a %s disk", source, gib(rootBytes), gib(diskBytes))
	if rootBytes < want {
		return detail, fmt.Errorf("%s: want at least %s (the disk less /boot and the ESP): is storage.layout.sizing-policy \"all\"? (\"scaled\" gives / half of a disk under 200 GiB)", detail, gib(want))
	}
	return detail, nil
}

func (p *proof) checkUnits(ctx context.Context) (string, error) {
	out, err := p.shell.run(ctx, "systemctl list-units --failed --all --no-legend --plain")
	if err != nil {
		return "", err
	}
	detail, err := judgeUnits(out)
	// How long the first boot took to reach its default target, as systemd
	// says (the figure of "boots without a network-online wait").
	if took, aerr := p.shell.run(ctx, "systemd-analyze time 2>/dev/null | head -n 1"); aerr == nil && strings.TrimSpace(took) != "" {
		detail += "; " + strings.TrimSpace(took)
	}
	return detail, err
}

// judgeUnits: no failed unit is NovaSphere's (novasphere-*); other failed
// units are named in the detail.
func judgeUnits(failedList string) (string, error) {
	var ours, others []string
	for _, line := range strings.Split(failedList, "\n") {
		f := strings.Fields(strings.TrimLeft(strings.TrimSpace(line), "●* "))
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "novasphere") {
			ours = append(ours, f[0])
		} else {
			others = append(others, f[0])
		}
	}
	detail := "no failed NovaSphere unit"
	if len(others) > 0 {
		detail += fmt.Sprintf(" (failed units not NovaSphere's: %s)", strings.Join(others, ", "))
	}
	if len(ours) > 0 {
		return detail, fmt.Errorf("failed NovaSphere units: %s (journalctl -u %s on the installed system says why)", strings.Join(ours, ", "), ours[0])
	}
	return detail, nil
}
