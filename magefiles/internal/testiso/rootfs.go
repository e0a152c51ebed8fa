package testiso

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// The installer fixture's root file system: Debian 12 built by mmdebstrap
// from Debian's packages. It is both the live layer the test installer takes
// its tools from (sfdisk, mkfs.ext4, mkfs.vfat, blkid, lvm) and the system it
// installs.
const (
	// RootfsSuite is the Debian release of the root file system.
	RootfsSuite = "bookworm"
	// rootfsCompressor compresses the squashfs layer. lz4 decompresses
	// fastest under QEMU's TCG, where the installer's copy runs.
	rootfsCompressor = "lz4"
	// rootfsVersion is part of the root file system's cache key: bump it
	// when this file changes the output.
	rootfsVersion = "rootfs-2"
)

// RootfsPackages are installed on top of mmdebstrap's minbase variant
// (mmdebstrap installs no Recommends, as --no-install-recommends):
//   - systemd as init (the first-boot unit runs under it) and udev;
//   - the storage tools the test installer runs from the live layer, as
//     curtin does: fdisk (sfdisk), e2fsprogs (mkfs.ext4), dosfstools
//     (mkfs.vfat for the ESP) and lvm2 (pvcreate, vgcreate, lvcreate; also
//     copied into the installed system's initramfs to activate its root);
//   - what an installed Ubuntu server has for its first boot: cloud-init
//     (creates the identity user from the installer's config), netplan.io
//     (renders 00-installer-config.yaml for systemd-networkd, part of
//     systemd), iproute2, openssh-server (ssh.install-server) and dbus (the
//     system bus: systemctl, networkctl and hostnamectl need it for a user
//     who is not root, as on Ubuntu).
var RootfsPackages = []string{"systemd-sysv", "udev", "e2fsprogs", "fdisk", "dosfstools", "lvm2",
	"cloud-init", "netplan.io", "iproute2", "openssh-server", "dbus"}

// rootfsHooks run in the finished root file system ("$1"), as mmdebstrap
// --customize-hook. They make the Debian system behave where the install
// proof looks as the Ubuntu 22.04 server it stands in for:
//   - no SSH host keys in the image: every installed system makes its own at
//     first boot (cloud-init's ssh module, as on Ubuntu), instead of sharing
//     the ones openssh-server's postinst made in the build;
//   - the en_US.UTF-8 locale generated and set, as on an installed Ubuntu
//     server: cloud-init's locale module otherwise fails at first boot
//     (Debian's locale-gen ignores the locale cloud-init names, and
//     update-locale then refuses it);
//   - systemd-networkd-wait-online returns at once when no link is required
//     for online (every netplan interface "optional: true"), as Ubuntu
//     22.04's systemd does with its patch
//     UBUNTU-wait-online-exit-if-no-links-are-managed.patch (its later loss
//     is Launchpad bug 2036358); Debian 12's waits its 2-minute timeout
//     instead, and cloud-init, and with it the whole boot, waits for it;
//   - cloud-init makes only the ECDSA and Ed25519 SSH host keys (Ubuntu's
//     makes RSA too): an RSA key costs about 10 s of the first boot under
//     TCG, in the cloud-init stage every other unit waits for.
var rootfsHooks = []string{
	`rm -f "$1"/etc/ssh/ssh_host_*`,
	`echo 'en_US.UTF-8 UTF-8' >"$1"/etc/locale.gen && chroot "$1" locale-gen && echo 'LANG=en_US.UTF-8' >"$1"/etc/default/locale`,
	`mkdir -p "$1"/etc/systemd/system/systemd-networkd-wait-online.service.d "$1"/usr/local/lib/novasphere-testiso && ` +
		`printf '%s\n' '#!/bin/sh' ` +
		`'# Ubuntu 22.04 wait-online: nothing to wait for when every netplan link is optional (RequiredForOnline=no).' ` +
		`'for f in /run/systemd/network/*.network; do' ` +
		`'	[ -e "$f" ] || continue' ` +
		`'	grep -qx "RequiredForOnline=no" "$f" || exec /lib/systemd/systemd-networkd-wait-online "$@"' ` +
		`'done' ` +
		`'echo "systemd-networkd-wait-online: no link is required for online, not waiting"' ` +
		`>"$1"/usr/local/lib/novasphere-testiso/wait-online && chmod 755 "$1"/usr/local/lib/novasphere-testiso/wait-online && ` +
		`printf '%s\n' '[Service]' 'ExecStart=' 'ExecStart=/usr/local/lib/novasphere-testiso/wait-online' ` +
		`>"$1"/etc/systemd/system/systemd-networkd-wait-online.service.d/10-ubuntu-jammy.conf`,
	`printf '%s\n' '# NovaSphere test ISO: no RSA host key (slow to make under TCG)' 'ssh_genkeytypes: [ecdsa, ed25519]' ` +
		`>"$1"/etc/cloud/cloud.cfg.d/90-novasphere-testiso.cfg`,
}

// rootfsDpkgOptions leave documentation and translations out, as Ubuntu's
// minimized images do (copyright files are kept).
var rootfsDpkgOptions = []string{
	"path-exclude=/usr/share/doc/*",
	"path-include=/usr/share/doc/*/copyright",
	"path-exclude=/usr/share/man/*",
	"path-exclude=/usr/share/locale/*",
	"path-exclude=/usr/share/info/*",
}

// Rootfs describes a built root file system in the cache.
type Rootfs struct {
	// Squashfs is the layer image; Manifest its package list
	// ("name<TAB>version" a line, as Ubuntu's casper/*.manifest).
	Squashfs string `json:"-"`
	Manifest string `json:"-"`
	// Mode is the mmdebstrap mode that built it: "unshare" (rootless) or
	// "root" when user namespaces are not available.
	Mode string `json:"mode"`
	// Packages is how many packages are installed in it.
	Packages int `json:"packages"`
	// Size is the total size of its files, install-sources.yaml's size.
	Size int64 `json:"size"`
	// Key is the hash of its inputs that names the cache entry.
	Key string `json:"key"`
}

const (
	rootfsSquashfsName = "rootfs.squashfs"
	rootfsManifestName = "rootfs.manifest"
	rootfsJSONName     = "rootfs.json"
)

// rootfsTools are what ensureRootfs runs.
var rootfsTools = []tool.Tool{tool.Mmdebstrap, tool.Tar2sqfs, tool.DpkgQuery}

// rootfsKey hashes the inputs of the root file system.
func (b *builder) rootfsKey(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nsuite %s\nvariant minbase\ninclude %s\ndpkgopt %s\nhooks %q\ncompressor %s\nepoch %d\n",
		rootfsVersion, RootfsSuite, strings.Join(RootfsPackages, ","), strings.Join(rootfsDpkgOptions, ","),
		rootfsHooks, rootfsCompressor, b.opts.SourceDateEpoch)
	for _, v := range [][]string{{"mmdebstrap", "--version"}, {"tar2sqfs", "--version"}} {
		out, err := tool.Command(v[0], v[1:]...).Output(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", firstLine(string(out)))
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// ensureRootfs returns the cached root file system, building it first when
// the cache has none for these inputs. The Debian packages are whatever the
// archive holds at build time; the manifest records their versions, and
// removing the cache entry builds it anew.
func (b *builder) ensureRootfs(ctx context.Context) (Rootfs, error) {
	key, err := b.rootfsKey(ctx)
	if err != nil {
		return Rootfs{}, err
	}
	dir := filepath.Join(b.opts.CacheDir, "testiso", "rootfs-"+key)
	_, err = cached(ctx, dir, func(tmp string) error {
		fmt.Fprintf(b.log, "testiso: building the Debian %s root file system with mmdebstrap in %s\n", RootfsSuite, dir)
		return b.buildRootfs(ctx, key, tmp)
	})
	if err != nil {
		return Rootfs{}, fmt.Errorf("root file system: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, rootfsJSONName))
	if err != nil {
		return Rootfs{}, err
	}
	var r Rootfs
	if err := json.Unmarshal(data, &r); err != nil {
		return Rootfs{}, fmt.Errorf("%s: %w", filepath.Join(dir, rootfsJSONName), err)
	}
	r.Squashfs = filepath.Join(dir, rootfsSquashfsName)
	r.Manifest = filepath.Join(dir, rootfsManifestName)
	return r, nil
}

func (b *builder) buildRootfs(ctx context.Context, key, out string) error {
	tarball := filepath.Join(out, "rootfs.tar")
	mode, err := b.mmdebstrap(ctx, tarball)
	if err != nil {
		return err
	}
	size, status, err := scanRootfsTar(tarball)
	if err != nil {
		return err
	}
	admin := filepath.Join(out, "dpkg")
	if err := os.MkdirAll(filepath.Join(admin, "info"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(admin, "status"), status, 0o644); err != nil {
		return err
	}
	manifest, n, err := packageManifest(ctx, admin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, rootfsManifestName), manifest, 0o644); err != nil {
		return err
	}
	if err := b.tar2sqfs(ctx, tarball, filepath.Join(out, rootfsSquashfsName)); err != nil {
		return err
	}
	r := Rootfs{Mode: mode, Packages: n, Size: size, Key: key}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, rootfsJSONName), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(admin); err != nil {
		return err
	}
	return os.Remove(tarball)
}

// mmdebstrap builds the root file system as a tarball, rootless
// (--mode=unshare) when user namespaces work, else in root mode when running
// as root. It returns the mode used.
func (b *builder) mmdebstrap(ctx context.Context, tarball string) (string, error) {
	args := []string{"--variant=minbase", "--include=" + strings.Join(RootfsPackages, ","), "--quiet"}
	for _, o := range rootfsDpkgOptions {
		args = append(args, "--dpkgopt="+o)
	}
	for _, h := range rootfsHooks {
		args = append(args, "--customize-hook="+h)
	}
	args = append(args, RootfsSuite, tarball)
	epoch := "SOURCE_DATE_EPOCH=" + strconv.FormatInt(b.opts.SourceDateEpoch, 10)
	run := func(mode string) error {
		fmt.Fprintf(b.log, "testiso: mmdebstrap --mode=%s %s\n", mode, strings.Join(args, " "))
		return tool.Command("mmdebstrap", append([]string{"--mode=" + mode}, args...)...).Env(epoch).Run(ctx)
	}
	err := run("unshare")
	if err == nil {
		return "unshare", nil
	}
	if os.Geteuid() != 0 || ctx.Err() != nil {
		return "", fmt.Errorf("mmdebstrap --mode=unshare (rootless) failed; it needs user namespaces and the uidmap package, or run as root for --mode=root: %w", err)
	}
	fmt.Fprintf(b.log, "testiso: mmdebstrap --mode=unshare failed (%v); running as root, so using --mode=root\n", err)
	os.Remove(tarball)
	if err := run("root"); err != nil {
		return "", err
	}
	return "root", nil
}

// scanRootfsTar sums the sizes of the tarball's files and returns dpkg's
// status file from it.
func scanRootfsTar(path string) (int64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var size int64
	var status []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			size += h.Size
		}
		if strings.TrimPrefix(h.Name, "./") == "var/lib/dpkg/status" {
			if status, err = io.ReadAll(tr); err != nil {
				return 0, nil, err
			}
		}
	}
	if status == nil {
		return 0, nil, fmt.Errorf("%s has no var/lib/dpkg/status: not a Debian root file system", path)
	}
	return size, status, nil
}

// packageManifest lists the installed packages of a dpkg database as
// "name<TAB>version" lines, the format of Ubuntu's casper/*.manifest.
func packageManifest(ctx context.Context, admindir string) ([]byte, int, error) {
	out, err := tool.Command("dpkg-query", "--admindir="+admindir, "-W",
		"-f=${db:Status-Abbrev}\t${binary:Package}\t${Version}\n").Output(ctx)
	if err != nil {
		return nil, 0, err
	}
	var b strings.Builder
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || strings.TrimSpace(f[0]) != "ii" {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", f[1], f[2])
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("dpkg-query lists no installed package in %s", admindir)
	}
	return []byte(b.String()), n, nil
}

// tar2sqfs turns the tarball into a squashfs image without root.
func (b *builder) tar2sqfs(ctx context.Context, tarball, out string) error {
	in, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer in.Close()
	// -x: no extended attributes (squashfs cannot hold the POSIX ACL ones
	// some tar writers add; the installer's cp -a would not copy them).
	return tool.Command("tar2sqfs", "--quiet", "--force", "--no-xattr", "--compressor", rootfsCompressor, out).
		Stdin(in).Run(ctx)
}
