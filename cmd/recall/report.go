package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/html"
)

func init() {
	register("report", "re-render report.html from a report.json", reportCommand)
}

func reportCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var out, baseline string
	fs.StringVar(&out, "o", "", "write the HTML page to this file (default: report.html beside REPORT.json; - for stdout)")
	fs.StringVar(&baseline, "baseline", "", "an earlier report.json of the same scenario: adds the trend section")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: recall report [flags] REPORT.json

Renders the HTML page of a drill from its report.json, as 'recall run' does: after an upgrade of
recall, or to add the trend against a baseline run.

Examples:
  recall report reports/nightly/report.json
  recall report --baseline reports/last-good/report.json -o trend.html reports/nightly/report.json

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return withExit(exitCannotRun, errors.New("want exactly one report.json"))
	}
	rep, err := report.Read(pos[0])
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
		out = filepath.Join(filepath.Dir(pos[0]), "report.html")
	}
	if err := writeFile(out, render); err != nil {
		return withExit(exitCannotRun, err)
	}
	fmt.Fprintf(stdout, "report: %s\n", out)
	return nil
}

// parseInterspersed parses flags that may come before, between or after the positional
// arguments ("recall compare a.json b.json --max-regression 10%"), which package flag alone
// stops at. A lone "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
