package report

// The headline: the one-sentence account of a drill that the drill stores in Report.Headline
// and that the terminal and HTML views print. It lives here, with the model, so that the engine
// can write it without depending on a view.

import (
	"fmt"
	"slices"
	"strings"
)

// Headline returns one sentence for a manager: it names the slowest component and how long it
// kept honouring recalled credentials against its SLO (the bound of the expectation on that
// component's TTC, see [Report.SLOs]), says why an ERROR drill is partial and how many
// expectations failed. It does not repeat the verdict.
func Headline(r *Report) string {
	var parts []string
	if r.Verdict == Error {
		reason := strings.TrimSuffix(oneLine(r.Reason), ".")
		if reason == "" {
			reason = "no reason given"
		}
		parts = append(parts, fmt.Sprintf("The drill could not complete (%s), so the figures are partial", reason))
	}
	clause := slowestClause(r)
	if len(parts) > 0 {
		clause = strings.ToLower(clause[:1]) + clause[1:]
	}
	parts = append(parts, clause)
	if names := unavailable(r); len(names) > 0 {
		verb := "was"
		if len(names) > 1 {
			verb = "were"
		}
		parts = append(parts, fmt.Sprintf("%s %s unavailable (most probes answered with errors), so the drill measured little or nothing there", joinAnd(names), verb))
	}
	if crit := criticalFailing(r); len(crit) > 0 {
		parts = append(parts, fmt.Sprintf("critical finding%s that no expectation judges failed the drill: %s", plural(len(crit)), joinAnd(crit)))
	}
	failed, warned := CountExpectations(r)
	switch {
	case failed > 0:
		parts = append(parts, fmt.Sprintf("%d of %d expectations failed", failed, len(r.Expectations)))
	case len(r.Expectations) == 1 && r.Verdict == Pass && warned == 0:
		parts = append(parts, "the one expectation held")
	case len(r.Expectations) > 0 && r.Verdict == Pass:
		parts = append(parts, fmt.Sprintf("all %d expectations held", len(r.Expectations)-warned))
	}
	if warned > 0 {
		parts = append(parts, fmt.Sprintf("%d warning%s", warned, plural(warned)))
	}
	return strings.Join(parts, "; ") + "."
}

// slowestClause is the part of the headline about the slowest component.
func slowestClause(r *Report) string {
	c, ok := Slowest(r)
	if !ok {
		return "No component was measured"
	}
	name := oneLine(c.Name)
	t := c.TTCMS
	if c.NotConverged > 0 {
		if t.Count == 0 {
			return fmt.Sprintf("The slowest component, %s, never stopped honouring recalled credentials (%d of %d pairs did not converge)",
				name, c.NotConverged, c.Pairs)
		}
		return fmt.Sprintf("The slowest component, %s, still honoured %d of %d recalled credentials when the drill ended (the others within %s)",
			name, c.NotConverged, c.Pairs, FormatMS(t.Max))
	}
	slo, hasSLO := HeadlineSLO(r, c)
	bound := 0.0
	if hasSLO {
		bound = slo.Bound
	}
	// A figure whose brackets are wider than itself (or than its SLO) tells how often the probes
	// came back, not what the component did: say so, and how to resolve it.
	if !Resolved(t.Max, t.ResolutionMS, bound) {
		s := fmt.Sprintf("The slowest component, %s, is %s (to resolve it: %s)", name, c.NotResolved(t.Max), c.ResolutionFix())
		if !hasSLO {
			return s
		}
		v, _ := t.Get(slo.Expr.Stat)
		word := "proven within"
		if !SLOMet(slo, c) {
			word = "not proven within"
		}
		return fmt.Sprintf("%s; its %s ≤ %s is %s %s %s target", s, slo.Expr.Stat, FormatMS(v), word, sloOwner(slo), slo.Expr.Bound)
	}
	s := fmt.Sprintf("The slowest component, %s, honoured recalled credentials for up to %s", name, FormatMS(t.Max))
	if !hasSLO {
		return s + " (no SLO set for it)"
	}
	v, _ := t.Get(slo.Expr.Stat)
	word := "within"
	if !SLOMet(slo, c) {
		word = "over"
	}
	return fmt.Sprintf("%s; its %s of %s is %s %s %s target", s, slo.Expr.Stat, FormatMSRes(v, t.ResolutionMS),
		word, sloOwner(slo), slo.Expr.Bound)
}

func sloOwner(s SLO) string {
	if s.Global {
		return "the"
	}
	return "its"
}

// Slowest returns the component named by r.Slowest, or when that is empty or unknown the probed
// component with the most unconverged pairs, else the largest TTC max.
func Slowest(r *Report) (Component, bool) {
	for _, c := range r.Components {
		if r.Slowest != "" && c.Name == r.Slowest {
			return c, true
		}
	}
	best, found := Component{}, false
	for _, c := range r.Components {
		if !c.Probed || (c.TTCMS.Count == 0 && c.NotConverged == 0) {
			continue
		}
		if !found || c.NotConverged > best.NotConverged ||
			(c.NotConverged == best.NotConverged && c.TTCMS.Max > best.TTCMS.Max) {
			best, found = c, true
		}
	}
	return best, found
}

// HeadlineSLO picks the SLO a sentence about c quotes: the first failing one, else the first.
func HeadlineSLO(r *Report, c Component) (SLO, bool) {
	slos := r.SLOs(c.Name)
	for _, s := range slos {
		if _, ok := c.TTCMS.Get(s.Expr.Stat); ok && !SLOMet(s, c) {
			return s, true
		}
	}
	for _, s := range slos {
		if _, ok := c.TTCMS.Get(s.Expr.Stat); ok {
			return s, true
		}
	}
	return SLO{}, false
}

// SLOMet reports whether component c meets s. For an SLO that names the component the
// expectation's own outcome decides; a global one is checked against c's statistic as TTCStat
// gives it (a statistic that falls among unconverged pairs never meets a bound).
func SLOMet(s SLO, c Component) bool {
	if !s.Global {
		return s.Pass
	}
	v, never, ok := TTCStat(c, s.Expr.Stat)
	switch {
	case never:
		return false
	case !ok:
		return true // nothing measured: nothing against the SLO
	case s.Expr.Op == "<=":
		return v <= s.Bound
	}
	return v < s.Bound
}

// quantiles gives the rank of each TTC statistic.
var quantiles = []struct {
	stat string
	q    float64
}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"max", 1}}

// TTCStat returns component c's TTC statistic ("p50", "p90", "p99" or "max") over all its
// pairs, counting pairs that never converged as +Inf, as expectations are evaluated. never is
// true when the statistic's rank falls among those pairs (always for max when one did not
// converge). Otherwise, with some pairs unconverged, the statistic over all pairs lies at a
// higher rank among the converged ones, and value is the smallest reported statistic at or
// above that rank: a conservative estimate. ok is false when nothing was measured.
func TTCStat(c Component, stat string) (value float64, never, ok bool) {
	q := -1.0
	for _, x := range quantiles {
		if x.stat == stat {
			q = x.q
		}
	}
	if q < 0 {
		return 0, false, false
	}
	t := c.TTCMS
	if c.NotConverged == 0 {
		v, ok := t.Get(stat)
		return v, false, ok
	}
	pairs := c.Pairs
	if pairs < t.Count+c.NotConverged {
		pairs = t.Count + c.NotConverged
	}
	needed := q * float64(pairs) // rank among all pairs
	if t.Count == 0 || needed > float64(t.Count) {
		return 0, true, true
	}
	qc := needed / float64(t.Count) // the same rank among the converged pairs
	for _, x := range quantiles {
		if x.q >= qc {
			v, _ := t.Get(x.stat)
			return v, false, true
		}
	}
	return t.Max, false, true
}

// unavailable names the components whose findings fail the verdict by themselves.
func unavailable(r *Report) []string {
	var names []string
	for _, f := range r.Findings {
		if f.Kind == "unavailable" && f.Component != "" && !slices.Contains(names, oneLine(f.Component)) {
			names = append(names, oneLine(f.Component))
		}
	}
	return names
}

// criticalFailing names the critical findings that failed the verdict by themselves
// (Finding.FailsDrill): "ineffective_recall", "resurrection at edge-x".
func criticalFailing(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		if !f.FailsDrill || f.Kind == "unavailable" {
			continue
		}
		what := oneLine(f.Kind)
		if f.Component != "" {
			what += " at " + oneLine(f.Component)
		}
		if !slices.Contains(out, what) {
			out = append(out, what)
		}
	}
	return out
}

// joinAnd joins phrases with ", " and a final " and ".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// CountExpectations returns how many expectations failed (severity fail) and how many warned
// (severity warn, did not hold).
func CountExpectations(r *Report) (failed, warned int) {
	for _, e := range r.Expectations {
		switch {
		case e.Pass:
		case e.Warn():
			warned++
		default:
			failed++
		}
	}
	return failed, warned
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// oneLine makes a value from the scenario or the system safe for one line of text: control
// characters (newlines, tabs, escape sequences) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
