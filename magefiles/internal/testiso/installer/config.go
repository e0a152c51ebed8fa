package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// command is one entry of early-commands or late-commands. Subiquity runs a
// string with `sh -c` and a list as the program and its arguments.
type command struct {
	Shell string
	Argv  []string
}

// UnmarshalYAML accepts a string or a list of strings.
func (c *command) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Decode(&c.Shell)
	case yaml.SequenceNode:
		if err := n.Decode(&c.Argv); err != nil {
			return err
		}
		if len(c.Argv) == 0 {
			return fmt.Errorf("line %d: an empty command list", n.Line)
		}
		return nil
	}
	return fmt.Errorf("line %d: a command must be a string or a list of strings", n.Line)
}

// argv is what is executed.
func (c command) argv() []string {
	if c.Argv != nil {
		return c.Argv
	}
	return []string{"sh", "-c", c.Shell}
}

func (c command) String() string {
	if c.Argv != nil {
		return strings.Join(c.Argv, " ")
	}
	return c.Shell
}

// autoinstall is the part of the autoinstall configuration the test
// installer acts on. Every other documented key is accepted and ignored (see
// the package documentation).
type autoinstall struct {
	Version       int       `yaml:"version"`
	EarlyCommands []command `yaml:"early-commands"`
	LateCommands  []command `yaml:"late-commands"`
	Identity      struct {
		Hostname string `yaml:"hostname"`
	} `yaml:"identity"`
	Source struct {
		ID string `yaml:"id"`
	} `yaml:"source"`
	Shutdown string `yaml:"shutdown"`
}

// parseUserData reads a nocloud user-data file as subiquity does: cloud-config
// with the autoinstall configuration under the top-level key "autoinstall".
func parseUserData(data []byte) (autoinstall, error) {
	var ai autoinstall
	if !bytes.HasPrefix(data, []byte("#cloud-config")) {
		return ai, errors.New("user-data does not start with #cloud-config")
	}
	var doc struct {
		Autoinstall *autoinstall `yaml:"autoinstall"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return ai, fmt.Errorf("user-data: %w", err)
	}
	if doc.Autoinstall == nil {
		return ai, errors.New("user-data has no autoinstall: section")
	}
	ai = *doc.Autoinstall
	if ai.Version != 1 {
		return ai, fmt.Errorf("autoinstall version is %d; only version 1 exists", ai.Version)
	}
	switch ai.Shutdown {
	case "", "reboot", "poweroff":
	default:
		return ai, fmt.Errorf("autoinstall shutdown is %q; want reboot or poweroff", ai.Shutdown)
	}
	return ai, nil
}

// bootArgs is what the installer learns from its kernel command line.
type bootArgs struct {
	// Autoinstall is set by the "autoinstall" argument.
	Autoinstall bool
	// Seed is the nocloud seed directory (s= of ds=nocloud), with a
	// trailing slash; "" without ds=nocloud.
	Seed string
	// AutoinstallPath is subiquity.autoinstallpath= (24.04 and later).
	AutoinstallPath string
	// Persist are the arguments after "---", which the installed system's
	// kernel command line gets.
	Persist []string
}

// parseCmdline reads /proc/cmdline. GRUB has already turned the "\;" of
// grub.cfg into ";".
func parseCmdline(cmdline string) (bootArgs, error) {
	var b bootArgs
	fields := strings.Fields(cmdline)
	for i, f := range fields {
		if f == "---" {
			b.Persist = append([]string(nil), fields[i+1:]...)
			break
		}
		switch {
		case f == "autoinstall":
			b.Autoinstall = true
		case strings.HasPrefix(f, "subiquity.autoinstallpath="):
			b.AutoinstallPath = strings.TrimPrefix(f, "subiquity.autoinstallpath=")
		case strings.HasPrefix(f, "ds=nocloud"):
			for _, part := range strings.Split(strings.TrimPrefix(f, "ds=nocloud"), ";") {
				if v, ok := strings.CutPrefix(part, "s="); ok {
					b.Seed = v
				} else if v, ok := strings.CutPrefix(part, "seedfrom="); ok {
					b.Seed = v
				}
			}
		}
	}
	if !b.Autoinstall || b.Seed == "" {
		return b, nil
	}
	if !strings.HasPrefix(b.Seed, "/") {
		return b, fmt.Errorf("nocloud seed %q: the test installer reads only a local directory (such as /cdrom/nocloud/), not a network seed", b.Seed)
	}
	if !strings.HasSuffix(b.Seed, "/") {
		b.Seed += "/"
	}
	return b, nil
}

// installSource is an entry of /casper/install-sources.yaml.
type installSource struct {
	ID         string `yaml:"id"`
	Path       string `yaml:"path"`
	Type       string `yaml:"type"`
	Default    bool   `yaml:"default"`
	Size       int64  `yaml:"size"`
	Variations map[string]struct {
		Path string `yaml:"path"`
	} `yaml:"variations"`
}

// parseSources reads install-sources.yaml in either form.
func parseSources(data []byte) ([]installSource, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("install-sources.yaml: not YAML: %v", err)
	}
	var list []installSource
	switch n := doc.Content[0]; n.Kind {
	case yaml.SequenceNode:
		if err := n.Decode(&list); err != nil {
			return nil, fmt.Errorf("install-sources.yaml: %w", err)
		}
	case yaml.MappingNode:
		var cat struct {
			Version int             `yaml:"version"`
			Sources []installSource `yaml:"sources"`
		}
		if err := n.Decode(&cat); err != nil {
			return nil, fmt.Errorf("install-sources.yaml: %w", err)
		}
		if cat.Version != 2 {
			return nil, fmt.Errorf("install-sources.yaml: a catalog of version %d; this installer reads version 2", cat.Version)
		}
		list = cat.Sources
	default:
		return nil, errors.New("install-sources.yaml: neither a list nor a catalog")
	}
	for i := range list {
		if v, ok := list[i].Variations["default"]; ok && list[i].Path == "" {
			list[i].Path = v.Path
		}
	}
	return list, nil
}

// Where autoinstall configuration is looked for.
const (
	cdromAutoinstall = "/cdrom/autoinstall.yaml"
	rootAutoinstall  = "/autoinstall.yaml"
)

// mediumRelease is the medium's Ubuntu release as major*100+minor (2404)
// from the first line of /.disk/info ("Ubuntu-Server 24.04.4 LTS ..."); 0
// when unknown.
func mediumRelease(info []byte) int {
	f := strings.Fields(string(info))
	if len(f) < 2 {
		return 0
	}
	var major, minor int
	if _, err := fmt.Sscanf(f[1], "%d.%d", &major, &minor); err != nil {
		return 0
	}
	return major*100 + minor
}

// selectConfig finds the autoinstall configuration as the medium's
// release's subiquity does (subiquity/server/server.py select_autoinstall)
// and returns it and where it came from. 24.04 and later (subiquity 24.04.1,
// 26.04.1): subiquity.autoinstallpath=, /autoinstall.yaml of the live
// system, the cloud-config (the NoCloud seed's user-data), then
// /cdrom/autoinstall.yaml; a file may wrap the configuration in
// `autoinstall:` only as its one top-level key (_read_config). 22.04
// (subiquity 23.04.2): /autoinstall.yaml, the cloud-config, then
// /cdrom/autoinstall.yaml, each file the configuration itself (no wrapper).
func selectConfig(args bootArgs, release int, read func(string) ([]byte, error)) (autoinstall, string, error) {
	var files []string
	if release >= 2404 && args.AutoinstallPath != "" {
		files = append(files, args.AutoinstallPath)
	}
	files = append(files, rootAutoinstall)
	for _, f := range files {
		if data, err := read(f); err == nil {
			ai, err := parseAutoinstallFile(data, release)
			return ai, f, err
		}
	}
	if args.Seed != "" {
		data, err := read(args.Seed + "user-data")
		if err != nil {
			return autoinstall{}, "", err
		}
		if _, err := read(args.Seed + "meta-data"); err != nil {
			return autoinstall{}, "", fmt.Errorf("nocloud needs meta-data beside user-data: %w", err)
		}
		ai, err := parseUserData(data)
		if err != nil {
			err = fmt.Errorf("%suser-data: %w", args.Seed, err)
		}
		return ai, args.Seed + "user-data", err
	}
	if data, err := read(cdromAutoinstall); err == nil {
		ai, err := parseAutoinstallFile(data, release)
		return ai, cdromAutoinstall, err
	}
	return autoinstall{}, "", fmt.Errorf("no autoinstall configuration: no ds=nocloud;s=<seed> on the kernel command line and no %s", cdromAutoinstall)
}

// parseAutoinstallFile reads an autoinstall.yaml as the release's subiquity
// does.
func parseAutoinstallFile(data []byte, release int) (autoinstall, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return autoinstall{}, fmt.Errorf("autoinstall.yaml: %w", err)
	}
	body := data
	if wrapped, ok := top["autoinstall"]; ok && release >= 2404 {
		if len(top) != 1 {
			return autoinstall{}, errors.New("autoinstall.yaml is not a valid cloud config datasource: no other keys may be present alongside 'autoinstall' at the top level")
		}
		out, err := yaml.Marshal(&wrapped)
		if err != nil {
			return autoinstall{}, err
		}
		body = out
	}
	var ai autoinstall
	if err := yaml.Unmarshal(body, &ai); err != nil {
		return ai, fmt.Errorf("autoinstall.yaml: %w", err)
	}
	if ai.Version != 1 {
		return ai, fmt.Errorf("autoinstall.yaml: version is %d; only version 1 exists (22.04's installer reads the file without the autoinstall: wrapper)", ai.Version)
	}
	return ai, nil
}

// pickSource chooses the entry autoinstall's source.id names, else the
// default one, as subiquity's source controller does. The file is the list
// of 22.04 and 24.04 or the {version: 2, sources: [...]} catalog of later
// releases (subiquity 26.04.1 models/source.py load_from_file); an entry
// without a path takes its default variation's.
func pickSource(data []byte, id string) (installSource, error) {
	list, err := parseSources(data)
	if err != nil {
		return installSource{}, err
	}
	if len(list) == 0 {
		return installSource{}, errors.New("install-sources.yaml lists no source")
	}
	for _, s := range list {
		if id != "" && s.ID == id || id == "" && s.Default {
			return s, nil
		}
	}
	if id != "" {
		return installSource{}, fmt.Errorf("autoinstall source id %q is not in install-sources.yaml", id)
	}
	return list[0], nil
}

// layerStack lists the squashfs images a source path stands for, bottom
// first: "a.b.c.squashfs" is a.squashfs, a.b.squashfs, a.b.c.squashfs
// (subiquity's mount-layered-fs, curtin's _get_image_stack).
func layerStack(path string) []string {
	base := strings.TrimSuffix(path, ".squashfs")
	parts := strings.Split(base, ".")
	var stack []string
	for i := range parts {
		stack = append(stack, strings.Join(parts[:i+1], ".")+".squashfs")
	}
	return stack
}
