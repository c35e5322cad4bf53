package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/compare"
)

func init() {
	register("compare", "compare two reports; exit 1 when the second regressed", compareCommand)
}

// errRegressed is returned by compare when the next report regressed against the base.
var errRegressed = errors.New("regression against the base report")

// ratio is a flag value for a relative threshold, written "20%" or "0.2".
type ratio struct{ v float64 }

func (r *ratio) String() string {
	if r == nil {
		return ""
	}
	return strconv.FormatFloat(r.v*100, 'f', -1, 64) + "%"
}

func (r *ratio) Set(s string) error {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return fmt.Errorf("want a share such as 20%% or 0.2, got %q", s)
	}
	if pct {
		v /= 100
	}
	if v <= 0 {
		return fmt.Errorf("want a share above 0, got %q", s)
	}
	r.v = v
	return nil
}

func compareCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxReg := ratio{compare.DefaultMaxRegression}
	fs.Var(&maxReg, "max-regression", "tolerated growth of a component's p99 (or max) TTC, as 20% or 0.2")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: recall compare [flags] BASE.json NEW.json

Compares two drill reports of the same scenario: per-component TTC (p50, p99, max) and their
change, and findings that appeared, vanished or changed. NEW regressed when a component's p99
(or max) grew by more than --max-regression and by more than the two figures' resolution, when a
component newly has pairs that never converged, or when a warning or critical finding appeared.

Exit status: 0 no regression, 1 regression, 2 the reports could not be read.

Examples:
  recall compare reports/last-good/report.json reports/nightly/report.json
  recall compare --max-regression 10% base.json new.json

Flags:
`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 2 {
		fs.Usage()
		return withExit(exitCannotRun, errors.New("want two reports: BASE.json NEW.json"))
	}
	base, err := report.Read(pos[0])
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	next, err := report.Read(pos[1])
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	res := compare.Compare(base, next, compare.Options{MaxRegression: maxReg.v})
	if err := res.Write(stdout); err != nil {
		return withExit(exitCannotRun, err)
	}
	if res.Regressed() {
		return withExit(exitFail, fmt.Errorf("%s: %w (%s)", pos[1], errRegressed, pos[0]))
	}
	return nil
}
