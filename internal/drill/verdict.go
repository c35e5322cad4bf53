package drill

import (
	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/report"
)

// Expectation is one of the scenario's expectations.
type Expectation struct {
	// Text is the expression as written; Expr its parsed form.
	Text string
	Expr expect.Expr
	// Severity is report.SeverityFail or report.SeverityWarn.
	Severity string
	Note     string
}

// evalEnv evaluates expectations against the report's figures, with the measurement's raw TTC
// distribution for percentiles over pairs some of which never converged, and the recovery
// times when they were measured.
type evalEnv struct {
	expect.Env
	m   *Measurement
	rec *recoveryResult
}

// TTCQuantile implements expect.Quantiles.
func (e evalEnv) TTCQuantile(component string, q float64) (float64, bool, bool) {
	if e.m == nil {
		return 0, false, false
	}
	return e.m.TTCQuantile(component, q)
}

// RecoveryQuantile implements expect.Recoveries.
func (e evalEnv) RecoveryQuantile(component string, q float64) (float64, bool) {
	if e.rec == nil {
		return 0, false
	}
	return e.rec.RecoveryQuantile(component, q)
}

// SSFReceiver implements expect.SSFReceivers, from the report.
func (e evalEnv) SSFReceiver() (*report.SSFReceiver, bool) {
	if r, ok := e.Env.(expect.SSFReceivers); ok {
		return r.SSFReceiver()
	}
	return nil, false
}

// judgedByExpectation reports whether an expectation of the scenario judges the finding's figure
// (report.FindingMetric), overall or at the finding's component.
func judgedByExpectation(f report.Finding, exps []Expectation) bool {
	metric := report.FindingMetric(f.Kind)
	if metric == "" {
		return false
	}
	for _, e := range exps {
		if e.Expr.Metric == metric && (e.Expr.Component == "" || e.Expr.Component == f.Component) {
			return true
		}
	}
	return false
}

// markFindings marks each of rep's findings that fails the verdict by itself (a critical one
// no expectation of exps judges: Finding.FailsDrill) and reports whether any finding fails it.
func markFindings(rep *report.Report, exps []Expectation) bool {
	failed := false
	for i := range rep.Findings {
		f := &rep.Findings[i]
		f.FailsDrill = f.Severity == report.Critical && !judgedByExpectation(*f, exps)
		failed = failed || f.FailsVerdict()
	}
	return failed
}

// judge evaluates every expectation and sets the verdict and headline: FAIL when an expectation
// of severity fail did not hold or a finding fails the verdict by itself (an unavailable
// component, or a critical finding no expectation judges: report.Finding.FailsVerdict). A drill that could not run to the end keeps the
// verdict ERROR, with its expectations evaluated on partial figures.
func judge(rep *report.Report, m *Measurement, rec *recoveryResult, exps []Expectation) {
	env := evalEnv{expect.ReportEnv(rep), m, rec}
	failed := false
	rep.Expectations = rep.Expectations[:0]
	for _, e := range exps {
		res := e.Expr.Eval(env)
		res.Expr = e.Text
		res.Severity = e.Severity
		if e.Note != "" && res.Message == "" && !res.Pass {
			res.Message = e.Note
		}
		if !res.Pass && e.Severity != report.SeverityWarn {
			failed = true
		}
		rep.Expectations = append(rep.Expectations, res)
	}
	failed = markFindings(rep, exps) || failed
	if rep.Verdict != report.Error {
		rep.Verdict = report.Pass
		if failed {
			rep.Verdict = report.Fail
		}
	}
	rep.Headline = report.Headline(rep)
}
