package main

import (
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// targetFile is a file the installer writes into the target.
type targetFile struct {
	path    string // inside the target
	content string
	mode    uint32
}

// userGroups are the groups subiquity gives the identity user, as far as
// the target has them: its users-and-groups resource plus sudo
// (subiquity/common/resources.py get_users_and_groups, users-and-groups at
// 23.08.1), sorted and joined by commas (subiquity/models/subiquity.py).
var userGroups = []string{"adm", "cdrom", "dip", "lpadmin", "plugdev", "sambashare", "debian-tor", "libvirtd", "users", "sudo"}

// targetGroups reads group names from an /etc/group file.
func targetGroups(etcGroup string) []string {
	var names []string
	for _, line := range strings.Split(etcGroup, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && name != "" {
			names = append(names, name)
		}
	}
	return names
}

// cloudConfig is the cloud-config subiquity hands to the target's first
// boot (subiquity/models/subiquity.py, _cloud_init_config): no growpart or
// root resize, the hostname kept, the identity user with its password hash
// (unlocked: lock_passwd false), bash, the groups, its SSH keys, and
// ssh_pwauth from allow-pw when the SSH server is installed.
func cloudConfig(ai autoinstall, groups []string) map[string]any {
	config := map[string]any{
		"growpart":      map[string]any{"mode": "off"},
		"resize_rootfs": false,
	}
	if ai.Identity != nil && ai.Identity.Hostname != "" {
		config["preserve_hostname"] = true
	}
	if id := ai.Identity; id != nil {
		var have []string
		for _, g := range groups {
			if slices.Contains(userGroups, g) && !slices.Contains(have, g) {
				have = append(have, g)
			}
		}
		sort.Strings(have)
		user := map[string]any{
			"name":        id.Username,
			"gecos":       id.Realname,
			"passwd":      id.Password,
			"shell":       "/bin/bash",
			"groups":      strings.Join(have, ","),
			"lock_passwd": false,
		}
		if len(ai.SSH.AuthorizedKeys) > 0 {
			user["ssh_authorized_keys"] = ai.SSH.AuthorizedKeys
		}
		config["users"] = []any{user}
	} else if len(ai.SSH.AuthorizedKeys) > 0 {
		config["ssh_authorized_keys"] = ai.SSH.AuthorizedKeys
	}
	if ai.SSH.InstallServer {
		config["ssh_pwauth"] = ai.allowPW()
	}
	mergeCloudConfig(config, ai.UserData)
	return config
}

// mergeCloudConfig merges autoinstall's user-data into the cloud-config as
// subiquity does (subiquity/models/subiquity.py, merge_cloud_init_config):
// mappings merge recursively, lists are appended to, anything else is
// replaced.
func mergeCloudConfig(dst, src map[string]any) {
	for k, v := range src {
		switch sv := v.(type) {
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergeCloudConfig(dv, sv)
				continue
			}
		case []any:
			switch dv := dst[k].(type) {
			case []any:
				dst[k] = append(dv, sv...)
				continue
			case []string:
				l := make([]any, 0, len(dv)+len(sv))
				for _, s := range dv {
					l = append(l, s)
				}
				dst[k] = append(l, sv...)
				continue
			}
		}
		dst[k] = v
	}
}

// newInstanceID is a random UUID, the instance-id subiquity puts in the
// metadata.
func newInstanceID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cloudInitFiles are the files subiquity writes for cloud-init
// (subiquity/models/subiquity.py, _cloud_init_files):
// /etc/cloud/cloud.cfg.d/99-installer.cfg (mode 0600: it holds the
// password hash) makes the None datasource the only one, with the
// cloud-config as its user data; /etc/cloud/ds-identify.cfg "policy:
// enabled" keeps cloud-init on without a datasource to find; hostname and
// hosts as subiquity writes them.
func cloudInitFiles(ai autoinstall, groups []string, instanceID string) ([]targetFile, error) {
	ud, err := yaml.Marshal(cloudConfig(ai, groups))
	if err != nil {
		return nil, err
	}
	cfg, err := yaml.Marshal(map[string]any{
		"datasource_list": []string{"None"},
		"datasource": map[string]any{
			"None": map[string]any{
				"userdata_raw": "#cloud-config\n" + string(ud),
				"metadata":     map[string]any{"instance-id": instanceID},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	files := []targetFile{
		{"/etc/cloud/cloud.cfg.d/99-installer.cfg", string(cfg), 0o600},
		{"/etc/cloud/ds-identify.cfg", "policy: enabled\n", 0o644},
	}
	if ai.Identity != nil && strings.TrimSpace(ai.Identity.Hostname) != "" {
		h := strings.TrimSpace(ai.Identity.Hostname)
		files = append(files,
			targetFile{"/etc/hostname", h + "\n", 0o644},
			targetFile{"/etc/hosts", fmt.Sprintf(hostsContent, h), 0o644})
	}
	return files, nil
}

// hostsContent is subiquity's /etc/hosts (subiquity/models/subiquity.py,
// HOSTS_CONTENT).
const hostsContent = `127.0.0.1 localhost
127.0.1.1 %s

# The following lines are desirable for IPv6 capable hosts
::1     ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
`

// networkFiles are the netplan configuration and cloud-init's "no network
// config" file subiquity writes (subiquity/models/network.py, render;
// subiquitycore/models/network.py, stringify_config): the autoinstall
// network section as /etc/netplan/00-installer-config.yaml under a
// "network:" key and a comment line. Without a network section subiquity
// writes what it found in the installer environment, where each NIC without
// a global address after its ~10 s DHCP wait is dropped
// (subiquitycore/controllers/network.py, update_initial_configs); the test
// installer runs no DHCP client, so every NIC is dropped: "ethernets: {}".
func networkFiles(ai autoinstall) ([]targetFile, error) {
	var doc any = map[string]any{"network": map[string]any{"version": 2, "ethernets": map[string]any{}}}
	if n := ai.netplan(); n != nil {
		doc = map[string]any{"network": n}
	}
	body, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return []targetFile{
		{"/etc/netplan/00-installer-config.yaml", "# This is the network config written by 'subiquity'\n" + string(body), 0o644},
		{"/etc/cloud/cloud.cfg.d/subiquity-disable-cloudinit-networking.cfg", "network: {config: disabled}\n", 0o644},
	}, nil
}
