package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/html"
)

func reportCmd() *cobra.Command {
	var out, baseline string
	cmd := &cobra.Command{
		Use:   "report REPORT.json",
		Short: "re-render report.html from a report.json",
		Long: `Renders the HTML page of a drill from its report.json, as 'recall run' does: after an upgrade of
recall, or to add the trend against a baseline run.`,
		Example: `  recall report reports/nightly/report.json
  recall report --baseline reports/last-good/report.json -o trend.html reports/nightly/report.json`,
		Args:              args(1, 1, "exactly one report.json"),
		ValidArgsFunction: jsonFiles,
		RunE: func(cmd *cobra.Command, pos []string) error {
			return renderReport(cmd.OutOrStdout(), pos[0], out, baseline)
		},
	}
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
