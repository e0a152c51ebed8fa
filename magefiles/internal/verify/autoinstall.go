package verify

import (
	"context"
	"fmt"
	"strings"

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
	if data, err := im.readFile(userDataPath); err != nil {
		p.add("%s: %v", userDataPath, missingOr(err))
	} else if err := customize.ValidateUserData(userDataPath, data); err != nil {
		p.add("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
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
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s valid; %d kernel lines carry %q", userDataPath, kernels, customize.AutoinstallArgs), nil
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
