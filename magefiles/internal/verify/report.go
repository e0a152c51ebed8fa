package verify

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/novasphere/novasphere-iso/magefiles/internal/atomicfile"
	"github.com/novasphere/novasphere-iso/magefiles/internal/hashing"
)

// maxDetailInTable shortens long details in the terminal table; the report
// file keeps them whole.
const maxDetailInTable = 160

// Table renders the checks as a table for the terminal, then the verdict.
func (r Report) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.result(), oneLine(c.Detail, maxDetailInTable))
	}
	tw.Flush()
	failed := len(r.Failures())
	if failed == 0 {
		fmt.Fprintf(&b, "verify: PASSED, all %d checks (%s)\n", len(r.Checks), r.ISO)
	} else {
		fmt.Fprintf(&b, "verify: FAILED, %d of %d checks (%s)\n", failed, len(r.Checks), r.ISO)
	}
	return b.String()
}

func (c Check) result() string {
	switch {
	case c.Skipped:
		return "SKIP"
	case c.Passed:
		return "PASS"
	}
	return "FAIL"
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}

// writeOutputs completes the report (digests, verdict, time) and writes it
// as DistDir/verify-report.json.
func writeOutputs(o Options, rep *Report, d *hashing.Digests) error {
	if d != nil {
		rep.SHA256, rep.MD5, rep.Size = d.SHA256, d.MD5, d.Size
	}
	rep.Passed = len(rep.Failures()) == 0
	rep.Time = time.Now().UTC().Format(time.RFC3339)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := o.dist().VerifyReport()
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(o.Out, "verify: wrote %s\n", path)
	return nil
}

// Markdown renders the checks as a Markdown table with the verdict, for
// GitHub Actions' job summary.
func (r Report) Markdown() string {
	var b strings.Builder
	verdict := "PASSED"
	if len(r.Failures()) > 0 {
		verdict = fmt.Sprintf("FAILED (%d of %d checks)", len(r.Failures()), len(r.Checks))
	}
	fmt.Fprintf(&b, "### verify %s: %s\n\n| check | result | detail |\n| --- | --- | --- |\n", r.ISO, verdict)
	for _, c := range r.Checks {
		detail := strings.ReplaceAll(oneLine(c.Detail, 300), "|", `\|`)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, c.result(), detail)
	}
	for _, p := range r.Install {
		for _, s := range append(append([]string(nil), p.Logs...), p.Screens...) {
			fmt.Fprintf(&b, "\n- %s: `%s`", p.Firmware, filepath.Base(s))
		}
	}
	b.WriteString("\n")
	return b.String()
}
