package verify

import (
	"context"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/config"
	"github.com/novasphere/novasphere-iso/magefiles/internal/customize"
)

// checkAutoinstall: /nocloud/user-data passes Customize's validation,
// /nocloud/meta-data exists, and every kernel line of grub.cfg and
// loopback.cfg carries the autoinstall arguments before "---".
func checkAutoinstall(_ context.Context, in *inputs) (string, error) {
	im, err := in.iso.get()
	if err != nil {
		return "", err
	}
	var p problems
	warning := ""
	userData, err := im.readFile(userDataPath)
	if err != nil {
		p.add("%s: %v", userDataPath, missingOr(err))
	} else if err := customize.ValidateUserDataFor(userDataPath, userData, in.o.AutoinstallSchema); err != nil {
		p.add("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		warning = checkLoginAndGuard(&p, userData)
	}
	rootFile := checkRootAutoinstall(im, userData, in.o.RootAutoinstall, &p)
	if !im.exists(metaDataPath) {
		p.add("%s: missing from the ISO (the NoCloud datasource needs it, even empty)", metaDataPath)
	}
	kernels := 0
	for _, cfg := range []string{grubCfgPath, loopbackCfgPth} {
		if cfg == loopbackCfgPth && !im.exists(cfg) {
			continue // optional: only some Ubuntu releases have it
		}
		data, err := im.readFile(cfg)
		if err != nil {
			p.add("%s: %v", cfg, missingOr(err))
			continue
		}
		n, missing := kernelLinesWithoutArgs(string(data))
		kernels += n
		if n == 0 {
			p.add("%s has no kernel line (linux .../vmlinuz)", cfg)
		}
		for _, m := range missing {
			p.add("%s line %d lacks %q before \"---\": %s", cfg, m.line, customize.AutoinstallArgs, m.text)
		}
		if cfg == grubCfgPath {
			checkEraseEntry(&p, cfg, string(data))
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s valid%s; %d kernel lines carry %q; the default entry is guarded, the erasing one says so",
		warning, userDataPath, rootFile, kernels, customize.AutoinstallArgs), nil
}

// checkRootAutoinstall checks /autoinstall.yaml when the ISO has it or the
// base requires it, and says so for the summary.
func checkRootAutoinstall(im *isoImage, userData []byte, required bool, p *problems) string {
	path := customize.RootAutoinstallPath
	if !im.exists(path) {
		if required {
			p.add("%s: missing; this base's installer reads it at the medium's root (root-autoinstall: wrapped in configs/bases.yaml)", path)
		}
		return ""
	}
	data, err := im.readFile(path)
	if err != nil {
		p.add("%s: %v", path, err)
		return ""
	}
	if userData != nil {
		if err := customize.CheckRootAutoinstall(data, userData); err != nil {
			p.add("%v", err)
		}
	}
	return ", and " + path + " holds the same configuration"
}

// checkLoginAndGuard: the first early-command is the reinstall guard (a
// problem otherwise: the medium would erase the machine it installed when
// it boots again), and someone can log in (only a warning: a release
// refuses it, a test build may not need it). It returns the warning.
func checkLoginAndGuard(p *problems, data []byte) string {
	guard := "sh /cdrom/novasphere/scripts/reinstall-guard.sh"
	if early := firstEarlyCommand(data); early != guard {
		p.add("%s: the first early-command is %q, not %q: booting the medium again would erase the installed machine", userDataPath, early, guard)
	}
	l, err := customize.ReadLogin(userDataPath, data)
	if err != nil {
		p.add("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		return ""
	}
	if !l.CanLogIn() {
		return "WARNING: " + customize.NoLoginHint(config.EnvAdminAuthorizedKeys) + ". "
	}
	return l.Summary() + "; "
}

// firstEarlyCommand is the first autoinstall early-command as a string.
func firstEarlyCommand(data []byte) string {
	var doc struct {
		Autoinstall struct {
			Early []any `yaml:"early-commands"`
		} `yaml:"autoinstall"`
	}
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Autoinstall.Early) == 0 {
		return ""
	}
	return fmt.Sprint(doc.Autoinstall.Early[0])
}

// checkEraseEntry: the first kernel line (GRUB's default entry) lacks
// customize.EraseArg and some other kernel line has it.
func checkEraseEntry(p *problems, cfg, data string) {
	first, erasing := true, false
	for i, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "linux" && f[0] != "linuxefi") {
			continue
		}
		has := containsAll(f[2:], []string{customize.EraseArg})
		if first && has {
			p.add("%s line %d: the default menu entry carries %s: booting the medium would erase an installed NovaSphere unasked", cfg, i+1, customize.EraseArg)
		}
		erasing = erasing || (!first && has)
		first = false
	}
	if !erasing {
		p.add("%s has no menu entry with %s: a deliberate reinstall is impossible", cfg, customize.EraseArg)
	}
}

type grubLine struct {
	line int
	text string
}

// kernelLinesWithoutArgs counts the "linux"/"linuxefi" lines whose kernel is
// a vmlinuz and returns those that lack any autoinstall argument before
// "---" (or at all, when there is no "---").
func kernelLinesWithoutArgs(cfg string) (int, []grubLine) {
	want := strings.Fields(customize.AutoinstallArgs)
	var n int
	var missing []grubLine
	for i, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "linux" && f[0] != "linuxefi") || !strings.Contains(f[1][strings.LastIndex(f[1], "/")+1:], "vmlinuz") {
			continue
		}
		n++
		args := f[2:]
		for k, a := range args {
			if a == "---" {
				args = args[:k]
				break
			}
		}
		if !containsAll(args, want) {
			missing = append(missing, grubLine{line: i + 1, text: strings.TrimSpace(line)})
		}
	}
	return n, missing
}

func containsAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}
