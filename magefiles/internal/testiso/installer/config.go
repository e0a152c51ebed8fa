package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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
	ErrorCommands []command `yaml:"error-commands"`
	// UserData is autoinstall's user-data: cloud-config merged into what
	// the target's first boot gets (mergeCloudConfig).
	UserData map[string]any `yaml:"user-data"`
	Storage  struct {
		Layout *struct {
			Name         string `yaml:"name"`
			SizingPolicy string `yaml:"sizing-policy"`
		} `yaml:"layout"`
		Config yaml.Node `yaml:"config"`
	} `yaml:"storage"`
	Identity *identity `yaml:"identity"`
	SSH      struct {
		InstallServer  bool     `yaml:"install-server"`
		AuthorizedKeys []string `yaml:"authorized-keys"`
		AllowPW        *bool    `yaml:"allow-pw"`
	} `yaml:"ssh"`
	// Network is the network: section as written, netplan's
	// {version: 2, ethernets: ...}; zero when there is none.
	Network yaml.Node `yaml:"network"`
	Source  struct {
		ID string `yaml:"id"`
	} `yaml:"source"`
	Shutdown string `yaml:"shutdown"`
}

// identity is autoinstall's identity section (autoinstall-schema.json at
// 23.08.1: username, hostname and password required, no other key).
type identity struct {
	Realname string `yaml:"realname"`
	Username string `yaml:"username"`
	Hostname string `yaml:"hostname"`
	Password string `yaml:"password"`
}

// UnmarshalYAML refuses what subiquity's schema refuses.
func (id *identity) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: identity must be a mapping", n.Line)
	}
	known := map[string]bool{"realname": true, "username": true, "hostname": true, "password": true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !known[k] {
			return fmt.Errorf("line %d: identity has the unknown key %q (subiquity's schema allows realname, username, hostname, password)", n.Content[i].Line, k)
		}
	}
	type plain identity
	if err := n.Decode((*plain)(id)); err != nil {
		return err
	}
	for k, v := range map[string]string{"username": id.Username, "hostname": id.Hostname, "password": id.Password} {
		if v == "" {
			return fmt.Errorf("line %d: identity needs %s (subiquity's schema requires username, hostname and password)", n.Line, k)
		}
	}
	return nil
}

// layoutName is the guided layout asked for: storage.layout.name, or lvm
// when there is no storage section (subiquity/server/controllers/
// filesystem.py, apply_autoinstall_config).
func (ai autoinstall) layoutName() string {
	if ai.Storage.Layout == nil {
		return "lvm"
	}
	return ai.Storage.Layout.Name
}

// allowPW is ssh.allow-pw, by default true unless authorized-keys are given
// (subiquity/server/controllers/ssh.py, load_autoinstall_data).
func (ai autoinstall) allowPW() bool {
	if ai.SSH.AllowPW != nil {
		return *ai.SSH.AllowPW
	}
	return len(ai.SSH.AuthorizedKeys) == 0
}

// netplan is the network section as netplan's document body: subiquity
// accepts it as written or nested once more under network: (the 20.04
// form; subiquity/server/controllers/network.py, load_autoinstall_data).
func (ai autoinstall) netplan() *yaml.Node {
	if ai.Network.IsZero() {
		return nil
	}
	n := &ai.Network
	if n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "network" {
			return n.Content[i+1]
		}
	}
	return n
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
	return ai, ai.check()
}

// check refuses what subiquity refuses in the sections the test installer
// acts on.
func (ai autoinstall) check() error {
	switch ai.Shutdown {
	case "", "reboot", "poweroff":
	default:
		return fmt.Errorf("autoinstall shutdown is %q; want reboot or poweroff", ai.Shutdown)
	}
	if ai.Storage.Layout == nil && !ai.Storage.Config.IsZero() {
		return errors.New("storage: the test installer follows subiquity's guided layouts only (storage.layout), not storage.config actions")
	}
	if l := ai.Storage.Layout; l != nil {
		if l.Name != "lvm" && l.Name != "direct" {
			return fmt.Errorf("storage layout name is %q; the test installer knows subiquity's guided lvm and direct", l.Name)
		}
		if p := l.SizingPolicy; p != "" && p != "scaled" && p != "all" {
			// subiquity/common/types.py SizingPolicy.from_string
			return fmt.Errorf("storage layout sizing-policy is %q; subiquity knows scaled (the default) and all", p)
		}
	}
	if n := ai.netplan(); n != nil && n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: network must be a netplan mapping (version: 2, ethernets: ...)", n.Line)
	}
	return nil
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
	// Carry are the arguments the installed system's kernel command line
	// gets (carryOver).
	Carry []string
}

// parseCmdline reads /proc/cmdline. GRUB has already turned the "\;" of
// grub.cfg into ";". Only arguments before "---" are the installer's.
func parseCmdline(cmdline string) (bootArgs, error) {
	b := bootArgs{Carry: carryOver(cmdline)}
	for _, f := range strings.Fields(cmdline) {
		if f == "---" {
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

// carryOver is what curtin copies from the installer's kernel command line
// to the installed system's GRUB_CMDLINE_LINUX_DEFAULT
// (curtin/commands/install_grub.py, get_carryover_params, in the curtin
// subiquity 23.08.1 pins): the line is split at " --- " (else at the legacy
// " -- "); every argument after it except BOOTIF=, initrd= and BOOT_IMAGE=,
// preceded by every console= argument before it that is not also after it.
// Without a separator surrounded by spaces (a "---" that ends the line, as
// /proc/cmdline's newline is not a space) only the console= arguments carry
// over.
func carryOver(cmdline string) []string {
	lead, extra := cmdline, ""
	for _, sep := range []string{" --- ", " -- "} {
		if sections := strings.Split(cmdline, sep); len(sections) > 1 {
			lead, extra = sections[0], strings.Join(sections[1:], " ")
			break
		}
	}
	var carryExtra []string
	for _, tok := range strings.Fields(extra) {
		if strings.HasPrefix(tok, "BOOTIF=") || strings.HasPrefix(tok, "initrd=") || strings.HasPrefix(tok, "BOOT_IMAGE=") {
			continue
		}
		carryExtra = append(carryExtra, tok)
	}
	var carryLead []string
	for _, tok := range strings.Fields(lead) {
		if slices.Contains(carryExtra, tok) {
			continue
		}
		if strings.HasPrefix(tok, "console=") {
			carryLead = append(carryLead, tok)
		}
	}
	return append(carryLead, carryExtra...)
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
	if err := ai.check(); err != nil {
		return ai, fmt.Errorf("autoinstall.yaml: %w", err)
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
