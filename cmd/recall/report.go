package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	goruntime "runtime"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/internal/journal"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/html"
	"github.com/recall-drills/recall/report/text"
)

func reportCmd() *cobra.Command {
	var out, baseline, fromJournal string
	cmd := &cobra.Command{
		Use:   "report REPORT.json | --from-journal JOURNAL",
		Short: "re-render report.html from a report.json, or rebuild both from a drill's journal",
		Long: `Renders the HTML page of a drill from its report.json, as 'recall run' does: after an upgrade of
recall, or to add the trend against a baseline run.

With --from-journal, rebuilds report.json and report.html beside JOURNAL (the journal.jsonl
'recall run' streams to its output directory) from what the journal holds: a drill killed with
SIGKILL or by a crash still gives a report. Unless the journal reached its end, the report is
marked incomplete (incomplete: true, journal_ends_at, verdict ERROR): its figures are those
measured up to the journal's last event.`,
		Example: `  recall report reports/nightly/report.json
  recall report --baseline reports/last-good/report.json -o trend.html reports/nightly/report.json
  recall report --from-journal reports/nightly/journal.jsonl`,
		Args: func(cmd *cobra.Command, pos []string) error {
			if fromJournal != "" {
				return args(0, 0, "no REPORT.json with --from-journal")(cmd, pos)
			}
			return args(1, 1, "exactly one report.json")(cmd, pos)
		},
		ValidArgsFunction: jsonFiles,
		RunE: func(cmd *cobra.Command, pos []string) error {
			if fromJournal != "" {
				return rebuildReport(cmd.OutOrStdout(), fromJournal, baseline)
			}
			return renderReport(cmd.OutOrStdout(), pos[0], out, baseline)
		},
	}
	cmd.Flags().StringVar(&fromJournal, "from-journal", "", "rebuild report.json and report.html beside this journal.jsonl")
	_ = cmd.MarkFlagFilename("from-journal", "jsonl")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the HTML page to this file (default: report.html beside REPORT.json; - for stdout)")
	cmd.Flags().StringVar(&baseline, "baseline", "", "an earlier report.json of the same scenario: adds the trend section")
	_ = cmd.MarkFlagFilename("baseline", "json")
	return cmd
}

// renderReport renders the HTML page of the report at path to out ("" beside it, "-" stdout).
func renderReport(stdout io.Writer, path, out, baseline string) error {
	rep, err := report.Read(path)
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	var opts []html.Option
	if baseline != "" {
		base, err := report.Read(baseline)
		if err != nil {
			return withExit(exitCannotRun, fmt.Errorf("--baseline: %w", err))
		}
		opts = append(opts, html.WithBaseline(base))
	}
	render := func(w io.Writer) error { return html.Render(w, rep, opts...) }
	switch out {
	case "-":
		return withExit(exitCannotRun, render(stdout))
	case "":
		out = filepath.Join(filepath.Dir(path), "report.html")
	}
	if err := writeFile(out, render); err != nil {
		return withExit(exitCannotRun, err)
	}
	fmt.Fprintf(stdout, "report: %s\n", out)
	return nil
}

// rebuildReport rebuilds report.json and report.html beside the journal at path.
func rebuildReport(stdout io.Writer, path, baseline string) error {
	rb, err := journal.Read(path)
	if err != nil {
		return withExit(exitCannotRun, fmt.Errorf("--from-journal: %w", err))
	}
	rep := rb.Report
	rep.Tool = report.Tool{Name: "recall", Version: Version, GoVersion: goruntime.Version()}
	dir := filepath.Dir(path)
	jsonPath := filepath.Join(dir, "report.json")
	if err := rep.WriteFile(jsonPath); err != nil {
		return withExit(exitCannotRun, err)
	}
	var sum bytes.Buffer
	if err := text.Summary(&sum, rep); err == nil {
		stdout.Write(sum.Bytes())
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", jsonPath)
	return renderReport(stdout, jsonPath, "", baseline)
}
