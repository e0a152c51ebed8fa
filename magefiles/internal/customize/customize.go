// Package customize makes the files that turn an Ubuntu live-server ISO into
// the NovaSphere installer: the NoCloud autoinstall seed, the patched GRUB
// menus, the version identity (/novasphere/VERSION, a line in /.disk/info,
// the volume id), and checks user-data against Ubuntu's autoinstall
// reference first.
//
// Customize writes them into a directory that mirrors the ISO; pack maps
// them into the ISO. Verify uses ValidateUserData and PatchGrub to check the
// result.
package customize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/lock"
)

// ISO paths Customize writes.
const (
	GrubCfgPath     = "/boot/grub/grub.cfg"
	LoopbackCfgPath = "/boot/grub/loopback.cfg"
	DiskInfoPath    = "/.disk/info"
	UserDataPath    = "/nocloud/user-data"
	MetaDataPath    = "/nocloud/meta-data"
	VersionPath     = "/novasphere/VERSION"
)

// Names inside the output directory.
const (
	treeDirName = "iso"
	resultFile  = "customize.json"
)

// Options configure Customize.
type Options struct {
	// Version is the installer version, already checked by
	// config.ValidateVersion when the configuration was loaded.
	Version string
	// KernelArgs are extra kernel arguments (KERNEL_ARGS), separated by
	// blanks, which the kernel receives exactly as written: ';' is escaped
	// for GRUB, and what GRUB would alter is refused with ErrBadKernelArgs
	// ('$', quotes, a backslash other than in "\;", '{', '}', '|', '&',
	// '<', '>', a leading '#'). On a base that is itself an installer they
	// replace the previous build's arguments.
	KernelArgs string
	// GrubTitle is the menu entry title template (GRUB_TITLE; default
	// DefaultGrubTitle).
	GrubTitle string
	// GrubTimeout is the menu timeout in whole seconds (GRUB_TIMEOUT), or
	// KeepTimeout ("") to keep the base's.
	GrubTimeout string
	// UserData and MetaData are the NoCloud seed files
	// (configs/autoinstall/user-data and meta-data).
	UserData, MetaData string
	// AuthorizedKeys is a file of OpenSSH public keys
	// (ADMIN_AUTHORIZED_KEYS) merged into user-data's
	// ssh.authorized-keys; empty for none. See MergeLogin.
	AuthorizedKeys string
	// BaseTree is a directory holding files of the base ISO at their ISO
	// paths: boot/grub/grub.cfg (required), boot/grub/loopback.cfg and
	// .disk/info when the base has them.
	BaseTree string
	// OutDir receives the result ($BUILD_DIR/customize/<version>).
	OutDir string
	// Schema is the release whose autoinstall schema user-data must
	// satisfy (Schema2204, Schema2404, Schema2604; the base's
	// autoinstall-schema quirk); "" checks the union of all releases.
	Schema string
	// RootAutoinstall also writes /autoinstall.yaml, user-data's
	// autoinstall mapping under the `autoinstall:` wrapper, for installers
	// that read it at the medium's root (24.04 and later; the base's
	// root-autoinstall quirk). The NoCloud seed and the `autoinstall`
	// kernel argument stay: without that argument the installer asks for
	// confirmation (subiquity 24.04.1 server/controllers/install.py).
	RootAutoinstall bool
	// Log receives one line per run; nil discards it.
	Log io.Writer
}

// GrubOptions are the GRUB settings of o, as PatchGrubWith takes them.
func (o Options) GrubOptions() GrubOptions {
	return GrubOptions{Version: o.Version, ExtraArgs: o.KernelArgs, Title: o.GrubTitle, Timeout: o.GrubTimeout}
}

// Result describes a customized tree; it is saved as customize.json in its
// directory.
type Result struct {
	// Dir is the output directory.
	Dir string `json:"-"`
	// Version and VolumeID identify the installer.
	Version  string `json:"version"`
	VolumeID string `json:"volume_id"`
	// KernelArgs, GrubTitle and GrubTimeout are the settings used.
	KernelArgs  string `json:"kernel_args"`
	GrubTitle   string `json:"grub_title"`
	GrubTimeout string `json:"grub_timeout"`
	// Files are the ISO paths written, sorted.
	Files []string `json:"files"`
	// Login is how an operator logs in to the installed machine, as the
	// written /nocloud/user-data says.
	Login Login `json:"login"`
}

// Path is where the customized copy of an ISO file is.
func (r Result) Path(isoPath string) string {
	return filepath.Join(r.Dir, treeDirName, filepath.FromSlash(isoPath))
}

// StatePath is the file recording the result (customize.json).
func (r Result) StatePath() string { return filepath.Join(r.Dir, resultFile) }

// Load reads the result of an earlier Customize in dir.
func Load(dir string) (Result, error) {
	var r Result
	if err := atomicfile.ReadJSON(filepath.Join(dir, resultFile), &r); err != nil {
		return Result{}, fmt.Errorf("customize output: %w (run the customize stage first)", err)
	}
	r.Dir = dir
	return r, nil
}

// Customize checks user-data, then writes under o.OutDir
// every file the installer ISO gets from this stage: the patched grub.cfg
// (and loopback.cfg), /.disk/info with the version line, the NoCloud seed
// in /nocloud and /novasphere/VERSION. Nothing is written when a check
// fails; KERNEL_ARGS that GRUB would not pass to the kernel as written
// (see Options.KernelArgs) fail with ErrBadKernelArgs. Files whose content
// is unchanged are not rewritten, so their modification times tell pack
// whether anything changed.
func Customize(o Options) (Result, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	volid := config.VolumeID(o.Version)
	files, login, err := o.render()
	if err != nil {
		return Result{}, err
	}
	r := Result{Dir: o.OutDir, Version: o.Version, VolumeID: volid, KernelArgs: o.KernelArgs,
		GrubTitle: o.GrubTitle, GrubTimeout: o.GrubTimeout, Login: login}
	for p := range files {
		r.Files = append(r.Files, p)
	}
	sort.Strings(r.Files)
	changed, err := r.write(files)
	if err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", o.OutDir, err)
	}
	fmt.Fprintf(log, "customize: %s: %d files, %d changed (volume id %q)\n", o.OutDir, len(files), changed, volid)
	if login.CanLogIn() {
		fmt.Fprintf(log, "customize: the installed machine's login: %s\n", login.Summary())
	} else {
		fmt.Fprintf(log, "customize: WARNING: %s\n", NoLoginHint(config.EnvAdminAuthorizedKeys))
	}
	return r, nil
}

// render computes every output file (ISO path -> content), checking inputs,
// and the login the user-data gives.
func (o Options) render() (map[string][]byte, Login, error) {
	userData, login, err := o.userData()
	if err != nil {
		return nil, Login{}, err
	}
	metaData, err := os.ReadFile(o.MetaData)
	if err != nil {
		return nil, Login{}, fmt.Errorf("autoinstall meta-data: %w (NoCloud needs the file; it may be empty)", err)
	}
	if err := ValidateMetaData(o.MetaData, metaData); err != nil {
		return nil, Login{}, err
	}
	files := map[string][]byte{
		UserDataPath: userData,
		MetaDataPath: metaData,
		VersionPath:  VersionFile(o.Version),
	}
	if o.RootAutoinstall {
		if files[RootAutoinstallPath], err = RootAutoinstall(o.UserData, userData); err != nil {
			return nil, Login{}, err
		}
	}
	if err := o.renderGrub(files); err != nil {
		return nil, Login{}, err
	}
	info, err := o.readBase(DiskInfoPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, Login{}, err
	}
	files[DiskInfoPath] = DiskInfo(info, o.Version)
	return files, login, nil
}

// userData is the checked user-data with the keys of o.AuthorizedKeys
// merged in (MergeLogin), checked again as the ISO will carry it.
func (o Options) userData() ([]byte, Login, error) {
	data, err := os.ReadFile(o.UserData)
	if err != nil {
		return nil, Login{}, fmt.Errorf("autoinstall user-data: %w", err)
	}
	if err := ValidateUserDataFor(o.UserData, data, o.Schema); err != nil {
		return nil, Login{}, err
	}
	var extra []PublicKey
	if o.AuthorizedKeys != "" {
		keys, err := os.ReadFile(o.AuthorizedKeys)
		if err != nil {
			return nil, Login{}, fmt.Errorf("%s: %w", config.EnvAdminAuthorizedKeys, err)
		}
		if extra, err = ParseAuthorizedKeys(o.AuthorizedKeys, keys); err != nil {
			return nil, Login{}, fmt.Errorf("%s: %w", config.EnvAdminAuthorizedKeys, err)
		}
	}
	merged, login, err := MergeLogin(o.UserData, data, extra)
	if err != nil {
		return nil, Login{}, err
	}
	if err := ValidateUserDataFor(o.UserData+" (with "+config.EnvAdminAuthorizedKeys+" merged)", merged, o.Schema); err != nil {
		return nil, Login{}, err
	}
	return merged, login, nil
}

func (o Options) renderGrub(files map[string][]byte) error {
	grub, err := o.readBase(GrubCfgPath)
	if err != nil {
		return fmt.Errorf("base %s: %w", GrubCfgPath, err)
	}
	if files[GrubCfgPath], err = PatchGrubWith(grub, o.GrubOptions()); err != nil {
		return fmt.Errorf("base %s: %w", GrubCfgPath, err)
	}
	loop, err := o.readBase(LoopbackCfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	patched, err := PatchGrubWith(loop, o.GrubOptions())
	if errors.Is(err, ErrNoCasperEntry) {
		// A loopback.cfg without casper entries boots nothing we change.
		patched, err = loop, nil
	}
	if err != nil {
		return fmt.Errorf("base %s: %w", LoopbackCfgPath, err)
	}
	files[LoopbackCfgPath] = patched
	return nil
}

func (o Options) readBase(isoPath string) ([]byte, error) {
	return os.ReadFile(filepath.Join(o.BaseTree, filepath.FromSlash(isoPath)))
}

// write stores the files and the result, leaving unchanged files alone and
// removing files of earlier runs that are no longer produced.
func (r Result) write(files map[string][]byte) (changed int, err error) {
	tree := filepath.Join(r.Dir, treeDirName)
	for _, p := range r.Files {
		n, err := writeIfChanged(r.Path(p), files[p])
		if err != nil {
			return 0, err
		}
		changed += n
	}
	if err := removeStale(tree, r); err != nil {
		return 0, err
	}
	state, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return 0, err
	}
	if _, err := writeIfChanged(r.StatePath(), append(state, '\n')); err != nil {
		return 0, err
	}
	return changed, nil
}

// writeIfChanged writes data to path through a temporary file unless path
// already holds exactly data; it returns 1 when it wrote.
func writeIfChanged(path string, data []byte) (int, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return 0, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := lock.CreateTemp(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	return 1, os.Rename(tmp.Name(), path)
}

// removeStale deletes files under tree that r does not list.
func removeStale(tree string, r Result) error {
	keep := map[string]bool{}
	for _, p := range r.Files {
		keep[r.Path(p)] = true
	}
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !keep[p] && !strings.HasPrefix(d.Name(), ".") {
			return os.Remove(p)
		}
		return nil
	})
}
