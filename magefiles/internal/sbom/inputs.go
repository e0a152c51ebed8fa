package sbom

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"

	"gopkg.in/yaml.v3"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// ParseManifest reads a casper manifest ("casper/ubuntu-server-minimal.manifest":
// one `name<TAB>version` a line, as livecd-rootfs writes it with
// dpkg-query's ${binary:Package}, so a multi-arch package reads
// "libc6:i386"). manifest names the file in the result and in errors.
// Blank lines are skipped; any other line without exactly two fields is an
// error with its line number.
func ParseManifest(r io.Reader, manifest string) ([]BasePackage, error) {
	var pkgs []BasePackage
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: %q is not `name<TAB>version`", manifest, n, line)
		}
		name, arch, _ := strings.Cut(fields[0], ":")
		if name == "" || strings.Contains(arch, ":") {
			return nil, fmt.Errorf("%s:%d: %q is not a package name (name or name:arch)", manifest, n, fields[0])
		}
		pkgs = append(pkgs, BasePackage{Name: name, Version: fields[1], Arch: arch, Manifest: manifest})
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", manifest, err)
	}
	return pkgs, nil
}

// ReadChart reads a Helm chart's name, version and appVersion from its
// Chart.yaml.
func ReadChart(path string) (Chart, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Chart{}, fmt.Errorf("reading the Helm chart: %w", err)
	}
	var meta struct {
		APIVersion string `yaml:"apiVersion"`
		Name       string `yaml:"name"`
		Version    string `yaml:"version"`
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		return Chart{}, fmt.Errorf("%s is not valid YAML: %w", path, err)
	}
	if meta.Name == "" || meta.Version == "" {
		return Chart{}, fmt.Errorf("%s: a chart needs both name and version (has name %q, version %q)", path, meta.Name, meta.Version)
	}
	return Chart{Name: meta.Name, Version: meta.Version, AppVersion: meta.AppVersion}, nil
}

// ReadDeb reads an offline .deb's package name, version and architecture
// with dpkg-deb and its SHA-256. underPayload is its path under
// /novasphere ("packages/foo_1.0_amd64.deb").
func ReadDeb(ctx context.Context, file, underPayload string) (OfflineDeb, error) {
	out, err := tool.Command("dpkg-deb", "--show", "--showformat=${Package}\\t${Version}\\t${Architecture}\\n", file).Output(ctx)
	if err != nil {
		return OfflineDeb{}, fmt.Errorf("%s is not a readable .deb: %w", file, err)
	}
	fields := strings.Split(strings.TrimRight(string(out), "\n"), "\t")
	if len(fields) != 3 || fields[0] == "" || fields[1] == "" || fields[2] == "" {
		return OfflineDeb{}, fmt.Errorf("%s: dpkg-deb gave %q, want package, version and architecture", file, out)
	}
	sum, err := fileSHA256(file)
	if err != nil {
		return OfflineDeb{}, fmt.Errorf("%s: %w", file, err)
	}
	return OfflineDeb{File: underPayload, Package: fields[0], Version: fields[1], Arch: fields[2], SHA256: sum}, nil
}

func fileSHA256(path string) (string, error) {
	d, err := hashing.File(context.Background(), path, 0)
	return d.SHA256, err
}
