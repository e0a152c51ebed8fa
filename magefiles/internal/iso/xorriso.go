package iso

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/bitfield/script"

	"github.com/novasphere/novasphere-iso/magefiles/internal/tool"
)

// xorriso is the program every function here drives.
const xorriso = "xorriso"

// Report is what xorriso says about an ISO's boot equipment.
type Report struct {
	// ElTorito is `-report_el_torito as_mkisofs`: the mkisofs options that
	// would reproduce the El Torito catalog, MBR and GPT.
	ElTorito string
	// SystemArea is `-report_system_area plain`: MBR and GPT as found.
	SystemArea string
}

// Version returns xorriso's version number, such as "1.5.4".
func Version(ctx context.Context) (string, error) {
	out, err := tool.Command(xorriso, "-version").Output(ctx)
	if err != nil {
		return "", fmt.Errorf("xorriso version: %w", err)
	}
	first, _ := script.Echo(string(out)).Match("xorriso ").First(1).String()
	fields := strings.Fields(first)
	if len(fields) < 2 {
		return "", fmt.Errorf("xorriso version: unexpected output %q", firstLine(string(out)))
	}
	return fields[1], nil
}

// ReadReport reads the boot equipment reports of an ISO.
func ReadReport(ctx context.Context, iso string) (Report, error) {
	sections, err := query(ctx, iso, []section{
		{"eltorito", []string{"-report_el_torito", "as_mkisofs"}},
		{"sysarea", []string{"-report_system_area", "plain"}},
	})
	if err != nil {
		return Report{}, err
	}
	return Report{ElTorito: sections["eltorito"], SystemArea: sections["sysarea"]}, nil
}

// section is one xorriso query whose result-channel output is wanted
// separately.
type section struct {
	name string
	args []string
}

// sectionMark separates the outputs of several queries in one xorriso run.
const sectionMark = "@@novasphere-section "

// query loads iso once and runs each section's command, returning each
// section's standard output.
func query(ctx context.Context, iso string, sections []section) (map[string]string, error) {
	args := []string{"-indev", driveAddress(iso)}
	for _, s := range sections {
		args = append(args, "-print", sectionMark+s.name)
		args = append(args, s.args...)
	}
	args = append(args, "-print", sectionMark+"end")
	out, err := tool.Command(xorriso, args...).Output(ctx)
	if err != nil {
		return nil, err
	}
	result := map[string]string{}
	current := ""
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), sectionMark); ok {
			current = name
			continue
		}
		if current != "" && current != "end" {
			result[current] += line
		}
	}
	return result, nil
}

// ListFiles returns the ISO paths of every regular file in iso (Rock Ridge
// names), and of every entry of the root directory.
func ListFiles(ctx context.Context, iso string) (files, topLevel []string, err error) {
	sections, err := query(ctx, iso, []section{
		{"files", []string{"-find", "/", "-type", "f", "-exec", "echo", "--"}},
		{"top", []string{"-find", "/", "-maxdepth", "1", "-mindepth", "1", "-exec", "echo", "--"}},
	})
	if err != nil {
		return nil, nil, err
	}
	return unquoteLines(sections["files"]), unquoteLines(sections["top"]), nil
}

// unquoteLines reads xorriso's quoted path lines ('/a/b', with ' written
// as '"'"').
func unquoteLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		out = append(out, unquote(line))
	}
	return out
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	return strings.ReplaceAll(s, `'"'"'`, "'")
}

// ExtractFiles copies the ISO files named by the keys of files (ISO path ->
// disk path) out of iso, without mounting it. Every ISO path must exist.
// The disk copies are made writable by their owner.
func ExtractFiles(ctx context.Context, iso string, files map[string]string) error {
	args := []string{"-osirrox", "on", "-indev", driveAddress(iso)}
	for _, isoPath := range sortedKeys(files) {
		args = append(args, "-extract", isoPath, files[isoPath])
	}
	if err := tool.Command(xorriso, args...).Run(ctx); err != nil {
		return err
	}
	for _, disk := range files {
		if err := makeWritable(disk); err != nil {
			return err
		}
	}
	return nil
}

// ExtractTree copies the whole ISO tree into dir (which must not exist yet),
// for tests and verification of small ISOs. Files are made writable by
// their owner so that dir can be removed.
func ExtractTree(ctx context.Context, iso, dir string) error {
	if err := tool.Command(xorriso, "-osirrox", "on", "-indev", driveAddress(iso), "-extract", "/", dir).Run(ctx); err != nil {
		return err
	}
	return makeWritable(dir)
}

// makeWritable adds owner write (and, for directories, search) permission
// to everything under p: xorriso restores the ISO's read-only modes.
func makeWritable(p string) error {
	return filepath.Walk(p, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		mode := fi.Mode().Perm() | 0o200
		if fi.IsDir() {
			mode |= 0o500
		}
		return os.Chmod(path, mode)
	})
}

// updateRE matches xorriso's pacifier lines, such as
// "xorriso : UPDATE :  45.12% done, estimate finish Mon Nov 27 12:00:00 2026".
var updateRE = regexp.MustCompile(`^xorriso : UPDATE :\s*`)

// chatterRE matches the UPDATE lines that report each -map and the tree
// loading, not the writing.
var chatterRE = regexp.MustCompile(`(files added|nodes read) in `)

// progressWriter returns a writer for xorriso's output that passes only the
// UPDATE lines about writing on to w, prefixed with prefix; wait flushes it. With a nil w
// everything is discarded.
func progressWriter(w io.Writer, prefix string) (io.Writer, func()) {
	if w == nil {
		return io.Discard, func() {}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := script.NewPipe().WithReader(pr).
			MatchRegexp(updateRE).
			RejectRegexp(chatterRE).
			ReplaceRegexp(updateRE, prefix).
			WithStdout(w).Stdout()
		// Keep draining so that xorriso never blocks on a full pipe.
		if err != nil {
			_, _ = io.Copy(io.Discard, pr)
		}
	}()
	return pw, func() {
		pw.Close()
		<-done
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bootPaths reads the boot catalog and the El Torito image files out of a
// -report_el_torito as_mkisofs report. Images given as intervals (the EFI
// partition) are not files and are left out.
func bootPaths(report string) (catalog string, images []string) {
	for _, line := range strings.Split(report, "\n") {
		opt, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		p := unquote(val)
		if !strings.HasPrefix(p, "/") {
			continue
		}
		switch opt {
		case "-c":
			catalog = p
		case "-b", "-e", "--efi-boot", "-eltorito-boot":
			images = append(images, p)
		}
	}
	return catalog, images
}

// hasGapPartition reports whether a -report_system_area plain report shows
// a GPT "Gap" partition, which xorriso makes from padding that is part of
// the image (-padding included, as -as mkisofs does).
func hasGapPartition(systemArea string) bool {
	return regexp.MustCompile(`(?m)^GPT partname local :\s+\d+\s+Gap\d*\s*$`).MatchString(systemArea)
}
