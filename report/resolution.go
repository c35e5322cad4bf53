package report

import (
	"fmt"
	"strings"
)

// Resolved reports whether a TTC figure of ms milliseconds, measured with brackets resMS wide
// (its resolution), says something about the system: it does not when the resolution is larger
// than the figure itself, or than boundMS, the SLO it is judged against (≤ 0: none). Such a
// figure is an upper bound set by the probing — how long the probes took to come back to a
// pair — and the views show it as "not resolved: ≤ …", never as the system's behaviour.
func Resolved(ms, resMS, boundMS float64) bool {
	if !(resMS > 0) {
		return true
	}
	return resMS <= ms && (boundMS <= 0 || resMS <= boundMS)
}

// StatResolved reports whether c's TTC statistic stat ("p50", "p90", "p99", "max") is resolved
// against its tightest SLO bound on that statistic in r (see [Resolved]); true when c has no
// such figure.
func (r *Report) StatResolved(c Component, stat string) bool {
	v, ok := c.TTCMS.Get(stat)
	if !ok {
		return true
	}
	return Resolved(v, c.TTCMS.ResolutionMS, r.sloBound(c.Name, stat))
}

// sloBound is the tightest SLO bound (ms) on component's statistic stat, 0 when none.
func (r *Report) sloBound(component, stat string) float64 {
	b := 0.0
	for _, s := range r.SLOs(component) {
		if s.Expr.Stat == stat && s.Bound > 0 && (b == 0 || s.Bound < b) {
			b = s.Bound
		}
	}
	return b
}

// ProbeInterval renders how often c's pairs were probed: the achieved revisit interval when
// the report has it, else the median bracket width.
func (c Component) ProbeInterval() string {
	if c.RevisitMS > 0 {
		return FormatMS(c.RevisitMS)
	}
	return FormatMS(c.TTCMS.ResolutionMS)
}

// NotResolved renders an unresolved figure of c: "not resolved: ≤ 1.46s, probes every 1.30s".
func (c Component) NotResolved(ms float64) string {
	return fmt.Sprintf("not resolved: ≤ %s, probes every %s", FormatMS(ms), c.ProbeInterval())
}

// ResolutionFix says how to resolve c's figures: probe each pair more often, by sampling fewer
// victims per component or raising the rate.
func (c Component) ResolutionFix() string {
	var how []string
	if c.Sample != nil {
		how = append(how, fmt.Sprintf("sample fewer than %d victims (traffic.sample)", c.Sample.Size))
	} else {
		how = append(how, "probe a sample of the victims (traffic.sample)")
	}
	how = append(how, "raise traffic.rate", "or ask for a revisit interval (traffic.resolution: 20ms)")
	return strings.Join(how, ", ")
}
