package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/compare"
)

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

// Type implements pflag.Value.
func (r *ratio) Type() string { return "share" }

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

func compareCmd() *cobra.Command {
	maxReg := ratio{compare.DefaultMaxRegression}
	cmd := &cobra.Command{
		Use:   "compare BASE.json NEW.json",
		Short: "compare two reports; exit 1 when the second regressed",
		Long: `Compares two drill reports of the same scenario: per-component TTC (p50, p99, max) and their
change, and findings that appeared, vanished or changed. NEW regressed when a component's p99
(or max) grew by more than --max-regression and by more than the two figures' resolution, when a
component newly has pairs that never converged, or when a warning or critical finding appeared.

Exit status: 0 no regression, 1 regression, 2 the reports could not be read.`,
		Example: `  recall compare reports/last-good/report.json reports/nightly/report.json
  recall compare --max-regression 10% base.json new.json`,
		Args:              args(2, 2, "two reports: BASE.json NEW.json"),
		ValidArgsFunction: jsonFiles,
		RunE: func(cmd *cobra.Command, pos []string) error {
			base, err := report.Read(pos[0])
			if err != nil {
				return withExit(exitCannotRun, err)
			}
			next, err := report.Read(pos[1])
			if err != nil {
				return withExit(exitCannotRun, err)
			}
			res := compare.Compare(base, next, compare.Options{MaxRegression: maxReg.v})
			if err := res.Write(cmd.OutOrStdout()); err != nil {
				return withExit(exitCannotRun, err)
			}
			if res.Regressed() {
				return withExit(exitFail, fmt.Errorf("%s: %w (%s)", pos[1], errRegressed, pos[0]))
			}
			return nil
		},
	}
	cmd.Flags().Var(&maxReg, "max-regression", "tolerated growth of a component's p99 (or max) TTC, as 20% or 0.2")
	return cmd
}
