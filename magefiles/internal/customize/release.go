package customize

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// RootAutoinstallPath is the autoinstall file at the medium's root that
// Ubuntu 24.04's installer and later read as /cdrom/autoinstall.yaml, after
// the kernel's subiquity.autoinstallpath=, the live root's
// /autoinstall.yaml and the cloud-config (our NoCloud user-data): subiquity
// 24.04.1 and 26.04.1 subiquity/server/server.py, select_autoinstall.
const RootAutoinstallPath = "/autoinstall.yaml"

// Schema releases: the values of the autoinstall-schema quirk of
// configs/bases.yaml.
const (
	Schema2204 = "22.04"
	Schema2404 = "24.04"
	Schema2604 = "26.04"
)

// notIn lists the autoinstall keys (dotted paths) that a release's
// installer does not know, with the source that says so. The embedded
// schema is the union of all releases; a key of a later release is refused
// on an earlier one instead of being dropped (22.04) or warned about
// (24.04) by its installer.
var notIn = map[string][]string{
	// subiquity 23.04.2 and 23.08.1 autoinstall-schema.json (22.04.3 shipped
	// between them): no interactive-sections, oem, kernel-crash-dumps,
	// zdevs; identity has additionalProperties false and no groups.
	Schema2204: {"identity.groups", "interactive-sections", "oem", "kernel-crash-dumps", "zdevs"},
	// subiquity 24.04.1 autoinstall-schema.json.
	Schema2404: {"identity.groups", "kernel-crash-dumps", "zdevs"},
	// subiquity 26.04.1 autoinstall-schema.json has them all.
	Schema2604: nil,
}

// schemaSource names where each release's schema was read.
var schemaSource = map[string]string{
	Schema2204: "subiquity 23.04.2/23.08.1 autoinstall-schema.json",
	Schema2404: "subiquity 24.04.1 autoinstall-schema.json",
	Schema2604: "subiquity 26.04.1 autoinstall-schema.json",
}

// ValidateUserDataFor is ValidateUserData, then refuses every key the
// installer of release (Schema2204, ...) does not know. An empty release
// checks against the union of all releases only.
func ValidateUserDataFor(path string, data []byte, release string) error {
	if err := ValidateUserData(path, data); err != nil {
		return err
	}
	if release == "" {
		return nil
	}
	unknown, ok := notIn[release]
	if !ok {
		return fmt.Errorf("autoinstall schema of Ubuntu %q is not known (known: 22.04, 24.04, 26.04)", release)
	}
	doc, err := parseYAML(path, data)
	if err != nil {
		return err
	}
	var errs []error
	for _, key := range unknown {
		loc := append([]string{"autoinstall"}, strings.Split(key, ".")...)
		if !has(doc, loc) {
			continue
		}
		errs = append(errs, &UserDataError{Path: path, Line: lineOf(doc, loc), Key: "autoinstall." + key,
			Problem: fmt.Sprintf("Ubuntu %s's installer does not know it (%s): remove it, or build on a base that has it (BASE)", release, schemaSource[release])})
	}
	return errors.Join(errs...)
}

// has reports whether doc has the key path loc.
func has(doc *yaml.Node, loc []string) bool {
	n := root(doc)
	for _, seg := range loc {
		if n == nil {
			return false
		}
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		n, _ = child(n, seg)
	}
	return n != nil
}

// rootAutoinstallHeader starts /autoinstall.yaml.
const rootAutoinstallHeader = "# NovaSphere's autoinstall configuration, the `autoinstall:` mapping of\n" +
	"# /nocloud/user-data (configs/autoinstall/user-data), for Ubuntu 24.04 and later:\n" +
	"# their installer reads /cdrom/autoinstall.yaml when no other source has one.\n" +
	"# `autoinstall:` must stay the only top-level key.\n"

// RootAutoinstall is the content of /autoinstall.yaml made from user-data:
// its `autoinstall:` mapping as the file's only top-level key, the form
// subiquity 24.04's _read_config accepts with the wrapper.
func RootAutoinstall(path string, userData []byte) ([]byte, error) {
	doc, err := parseYAML(path, userData)
	if err != nil {
		return nil, err
	}
	r := root(doc)
	ai, _ := child(r, "autoinstall")
	if ai == nil {
		return nil, &UserDataError{Path: path, Line: lineOf(doc, nil), Key: "autoinstall", Problem: "missing"}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "autoinstall"}, ai}}
	var buf bytes.Buffer
	buf.WriteString(rootAutoinstallHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CheckRootAutoinstall checks /autoinstall.yaml the way subiquity 24.04's
// _read_config reads it (`autoinstall:` the only top-level key) and that it
// holds the same configuration as user-data.
func CheckRootAutoinstall(data, userData []byte) error {
	var file, ud map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("%s: not YAML: %w", RootAutoinstallPath, err)
	}
	if _, ok := file["autoinstall"]; !ok || len(file) != 1 {
		keys := make([]string, 0, len(file))
		for k := range file {
			keys = append(keys, k)
		}
		return fmt.Errorf("%s: the installer accepts the `autoinstall:` wrapper only as the file's one top-level key; it has %s", RootAutoinstallPath, strings.Join(keys, ", "))
	}
	if err := yaml.Unmarshal(userData, &ud); err != nil {
		return fmt.Errorf("%s: not YAML: %w", UserDataPath, err)
	}
	if !reflect.DeepEqual(file["autoinstall"], ud["autoinstall"]) {
		return fmt.Errorf("%s and %s hold different autoinstall configurations: the installer would use one or the other depending on the boot arguments", RootAutoinstallPath, UserDataPath)
	}
	return nil
}
