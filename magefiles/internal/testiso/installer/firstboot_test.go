package main

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCarryOver follows curtin's get_carryover_params case by case.
func TestCarryOver(t *testing.T) {
	for _, c := range []struct {
		cmdline string
		want    []string
	}{
		// the pipeline's default KERNEL_ARGS sit before ---: the console=
		// arguments carry over, the installer's own do not
		{"BOOT_IMAGE=/casper/vmlinuz autoinstall ds=nocloud;s=/cdrom/nocloud/ console=ttyS0,115200n8 console=tty0 --- quiet\n",
			[]string{"console=ttyS0,115200n8", "console=tty0", "quiet"}},
		// a console= given on both sides is not repeated
		{"console=ttyS0 autoinstall --- console=ttyS0 nomodeset", []string{"console=ttyS0", "nomodeset"}},
		// BOOTIF=, initrd= and BOOT_IMAGE= after --- are dropped
		{"autoinstall --- BOOTIF=01-aa initrd=/x BOOT_IMAGE=/y net.ifnames=0", []string{"net.ifnames=0"}},
		// "---" ending the line is not " --- ": only console= carries over
		{"BOOT_IMAGE=/casper/vmlinuz autoinstall console=ttyS0 ---\n", []string{"console=ttyS0"}},
		// the legacy separator
		{"autoinstall console=tty1 -- quiet", []string{"console=tty1", "quiet"}},
		// a second --- joins the sections after the first
		{"a --- b --- c", []string{"b", "c"}},
		{"autoinstall ds=nocloud", nil},
	} {
		if got := carryOver(c.cmdline); !reflect.DeepEqual(got, c.want) {
			t.Errorf("carryOver(%q) = %q, want %q", c.cmdline, got, c.want)
		}
	}
}

func userData(t *testing.T, body string) autoinstall {
	t.Helper()
	ai, err := parseUserData([]byte("#cloud-config\nautoinstall:\n  version: 1\n" + body))
	if err != nil {
		t.Fatal(err)
	}
	return ai
}

// TestCloudInitFiles: the identity and ssh sections reach cloud-init as
// subiquity hands them over.
func TestCloudInitFiles(t *testing.T) {
	ai := userData(t, `  identity:
    hostname: nova1
    username: admin
    realname: The Admin
    password: "$6$salt$hash"
  ssh:
    install-server: true
    authorized-keys:
      - ssh-ed25519 AAAAkey1 a@b
      - ssh-rsa AAAAkey2 c@d
`)
	files, err := cloudInitFiles(ai, []string{"root", "adm", "sudo", "users", "lpadmin", "cdrom", "admin", "wheel"}, "iid-1")
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]targetFile{}
	for _, f := range files {
		byPath[f.path] = f
	}
	cfg := byPath["/etc/cloud/cloud.cfg.d/99-installer.cfg"]
	if cfg.mode != 0o600 {
		t.Errorf("99-installer.cfg mode %o, want 0600 (it holds the password hash)", cfg.mode)
	}
	var doc struct {
		DatasourceList []string `yaml:"datasource_list"`
		Datasource     struct {
			None struct {
				UserdataRaw string            `yaml:"userdata_raw"`
				Metadata    map[string]string `yaml:"metadata"`
			} `yaml:"None"`
		} `yaml:"datasource"`
	}
	if err := yaml.Unmarshal([]byte(cfg.content), &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.DatasourceList, []string{"None"}) || doc.Datasource.None.Metadata["instance-id"] != "iid-1" {
		t.Errorf("datasource %+v", doc)
	}
	if !strings.HasPrefix(doc.Datasource.None.UserdataRaw, "#cloud-config\n") {
		t.Errorf("user data does not start with #cloud-config: %q", doc.Datasource.None.UserdataRaw)
	}
	var ud struct {
		Users []struct {
			Name, Gecos, Passwd, Shell, Groups string
			LockPasswd                         *bool    `yaml:"lock_passwd"`
			Keys                               []string `yaml:"ssh_authorized_keys"`
		} `yaml:"users"`
		SSHPwauth        *bool          `yaml:"ssh_pwauth"`
		PreserveHostname bool           `yaml:"preserve_hostname"`
		Growpart         map[string]any `yaml:"growpart"`
		ResizeRootfs     *bool          `yaml:"resize_rootfs"`
	}
	if err := yaml.Unmarshal([]byte(doc.Datasource.None.UserdataRaw), &ud); err != nil {
		t.Fatal(err)
	}
	if len(ud.Users) != 1 {
		t.Fatalf("users %+v", ud.Users)
	}
	u := ud.Users[0]
	if u.Name != "admin" || u.Gecos != "The Admin" || u.Passwd != "$6$salt$hash" || u.Shell != "/bin/bash" ||
		u.LockPasswd == nil || *u.LockPasswd || !reflect.DeepEqual(u.Keys, ai.SSH.AuthorizedKeys) {
		t.Errorf("user %+v", u)
	}
	// subiquity's list, as far as the target has the groups, sorted
	if u.Groups != "adm,cdrom,lpadmin,sudo,users" {
		t.Errorf("groups %q", u.Groups)
	}
	// keys given, allow-pw not: subiquity defaults it to false
	if ud.SSHPwauth == nil || *ud.SSHPwauth {
		t.Errorf("ssh_pwauth %v, want false", ud.SSHPwauth)
	}
	if !ud.PreserveHostname || ud.Growpart["mode"] != "off" || ud.ResizeRootfs == nil || *ud.ResizeRootfs {
		t.Errorf("cloud-config %+v", ud)
	}
	if byPath["/etc/hostname"].content != "nova1\n" || !strings.Contains(byPath["/etc/hosts"].content, "127.0.1.1 nova1\n") {
		t.Errorf("hostname/hosts %+v", byPath)
	}
	if byPath["/etc/cloud/ds-identify.cfg"].content != "policy: enabled\n" {
		t.Errorf("ds-identify.cfg %+v", byPath["/etc/cloud/ds-identify.cfg"])
	}
}

func TestCloudConfigSSH(t *testing.T) {
	base := "  identity: {hostname: h, username: u, password: '!'}\n"
	for _, c := range []struct {
		ssh    string
		pwauth any // nil: no ssh_pwauth key
	}{
		{"  ssh: {install-server: true}\n", true},                        // no keys: allow-pw defaults to true
		{"  ssh: {install-server: true, authorized-keys: [k]}\n", false}, // keys: defaults to false
		{"  ssh: {install-server: true, allow-pw: true, authorized-keys: [k]}\n", true},
		{"  ssh: {install-server: false, allow-pw: true}\n", nil}, // no server: not set
	} {
		cfg := cloudConfig(userData(t, base+c.ssh), nil)
		if got, ok := cfg["ssh_pwauth"]; c.pwauth == nil && ok || c.pwauth != nil && got != c.pwauth {
			t.Errorf("%s: ssh_pwauth %v (present %v), want %v", c.ssh, got, ok, c.pwauth)
		}
	}
	// keys without an identity go to the default user (top-level key)
	cfg := cloudConfig(userData(t, "  ssh: {authorized-keys: [k1]}\n"), nil)
	if _, ok := cfg["users"]; ok || !reflect.DeepEqual(cfg["ssh_authorized_keys"], []string{"k1"}) {
		t.Errorf("no identity: %v", cfg)
	}
}

// TestNetworkFiles: the network section becomes 00-installer-config.yaml
// under network:, the 20.04 nested form too; without one no NIC is kept.
func TestNetworkFiles(t *testing.T) {
	want := map[string]any{"network": map[string]any{"version": 2, "ethernets": map[string]any{
		"nic": map[string]any{"match": map[string]any{"name": "en*"}, "dhcp4": true, "optional": true}}}}
	for _, body := range []string{
		"  network:\n    version: 2\n    ethernets:\n      nic: {match: {name: en*}, dhcp4: true, optional: true}\n",
		"  network:\n    network:\n      version: 2\n      ethernets:\n        nic: {match: {name: en*}, dhcp4: true, optional: true}\n",
	} {
		files, err := networkFiles(userData(t, body))
		if err != nil {
			t.Fatal(err)
		}
		if files[0].path != "/etc/netplan/00-installer-config.yaml" || !strings.HasPrefix(files[0].content, "# This is the network config written by 'subiquity'\n") {
			t.Fatalf("%+v", files[0])
		}
		var got map[string]any
		if err := yaml.Unmarshal([]byte(files[0].content), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("netplan %v, want %v", got, want)
		}
		if files[1].content != "network: {config: disabled}\n" {
			t.Errorf("%+v", files[1])
		}
	}
	files, err := networkFiles(userData(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := yaml.Unmarshal([]byte(files[0].content), &got); err != nil {
		t.Fatal(err)
	}
	if eth, ok := got["network"]["ethernets"].(map[string]any); !ok || len(eth) != 0 || got["network"]["version"] != 2 {
		t.Errorf("no network section: %v, want version 2 and no ethernets", got)
	}
}

func TestParseUserDataSections(t *testing.T) {
	ai := userData(t, "  storage: {layout: {name: direct}}\n")
	if ai.layoutName() != "direct" || ai.Storage.Layout.SizingPolicy != "" {
		t.Errorf("%+v", ai.Storage)
	}
	if ai := userData(t, ""); ai.layoutName() != "lvm" {
		t.Errorf("no storage section: layout %q, want subiquity's default lvm", ai.layoutName())
	}
	for body, want := range map[string]string{
		"  storage: {layout: {name: zfs}}\n":                            `layout name is "zfs"`,
		"  storage: {layout: {name: lvm, sizing-policy: half}}\n":       `sizing-policy is "half"`,
		"  storage: {config: [{type: disk, id: d}]}\n":                  "storage.config",
		"  identity: {hostname: h, username: u}\n":                      "identity needs password",
		"  identity: {hostname: h, username: u, password: x, uid: 5}\n": `unknown key "uid"`,
		"  network: [eth0]\n":                                           "network must be a netplan mapping",
	} {
		_, err := parseUserData([]byte("#cloud-config\nautoinstall:\n  version: 1\n" + body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}

// TestMergeUserData: autoinstall's user-data merges into the cloud-config as
// subiquity merges it: lists appended, mappings merged, scalars replaced.
func TestMergeUserData(t *testing.T) {
	ai := userData(t, `  identity: {hostname: h, username: u, password: '!'}
  ssh: {install-server: true, authorized-keys: [k1]}
  user-data:
    runcmd: [[passwd, --expire, u]]
    growpart: {devices: [/]}
    ssh_pwauth: true
    users: [{name: extra}]
`)
	cfg := cloudConfig(ai, nil)
	if !reflect.DeepEqual(cfg["runcmd"], []any{[]any{"passwd", "--expire", "u"}}) {
		t.Errorf("runcmd %v", cfg["runcmd"])
	}
	if g := cfg["growpart"].(map[string]any); g["mode"] != "off" || g["devices"] == nil {
		t.Errorf("growpart %v: want mode kept and devices added", g)
	}
	if cfg["ssh_pwauth"] != true {
		t.Errorf("ssh_pwauth %v: user-data replaces it", cfg["ssh_pwauth"])
	}
	if users := cfg["users"].([]any); len(users) != 2 || users[0].(map[string]any)["name"] != "u" {
		t.Errorf("users %v: want the identity user, then user-data's", users)
	}
}
