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
	// trailing slash.
	Seed string
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
	if !b.Autoinstall {
		return b, nil
	}
	if b.Seed == "" {
		return b, errors.New("the kernel command line says autoinstall but has no ds=nocloud;s=<seed>")
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
	ID      string `yaml:"id"`
	Path    string `yaml:"path"`
	Type    string `yaml:"type"`
	Default bool   `yaml:"default"`
	Size    int64  `yaml:"size"`
}

// pickSource chooses the entry autoinstall's source.id names, else the
// default one, as subiquity's source controller does.
func pickSource(data []byte, id string) (installSource, error) {
	var list []installSource
	if err := yaml.Unmarshal(data, &list); err != nil {
		return installSource{}, fmt.Errorf("install-sources.yaml: %w", err)
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
