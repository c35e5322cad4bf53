package expect

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/recall-drills/recall/report"
)

// Env is what an expectation is evaluated against.
//
// Summary is required. Two optional capabilities, found by type assertion, make evaluation
// exact where the summary alone cannot be: [Quantiles] for time-to-consistency percentiles when
// some pairs did not converge, and [Recoveries] for recovery_time.
type Env interface {
	// Summary returns the figures of one component, or the overall figures for component "".
	// It returns false when there is no such component.
	Summary(component string) (*report.Summary, bool)
}

// Quantiles is an optional capability of an [Env] that holds the raw distribution of TTC upper
// bounds.
type Quantiles interface {
	// TTCQuantile returns the nearest-rank q-quantile (0 < q <= 1) of the TTC upper bounds over
	// all measured pairs of component ("" = all components), counting a pair that never
	// converged as +Inf: converged is false when the quantile falls among those pairs. ok is
	// false when the component has no measured pairs. [Quantile] computes exactly this.
	TTCQuantile(component string, q float64) (ms float64, converged bool, ok bool)
}

// Recoveries is an optional capability of an [Env] that measured recovery times.
type Recoveries interface {
	// RecoveryQuantile returns the nearest-rank q-quantile (0 < q <= 1) of recovery times in
	// milliseconds for component ("" = overall); ok is false when none was measured.
	RecoveryQuantile(component string, q float64) (ms float64, ok bool)
}

// SummaryFunc adapts a lookup function to an [Env].
type SummaryFunc func(component string) (*report.Summary, bool)

// Summary calls f.
func (f SummaryFunc) Summary(component string) (*report.Summary, bool) { return f(component) }

// ReportEnv returns an [Env] over a report: component "" is r.Overall, any other name the
// component of that name.
//
// It is also an [SSFReceivers]: the figures of the report's ssf-receiver component.
func ReportEnv(r *report.Report) Env { return reportEnv{r} }

type reportEnv struct{ r *report.Report }

func (e reportEnv) Summary(component string) (*report.Summary, bool) {
	if component == "" {
		return &e.r.Overall, true
	}
	for i := range e.r.Components {
		if e.r.Components[i].Name == component {
			return &e.r.Components[i].Summary, true
		}
	}
	return nil, false
}

func (e reportEnv) SSFReceiver() (*report.SSFReceiver, bool) {
	for _, c := range e.r.Components {
		if c.SSFReceiver != nil {
			return c.SSFReceiver, true
		}
	}
	return nil, false
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1) over len(sorted)+notConverged
// values, where sorted holds the converged values in ascending order and the notConverged
// pairs count as +Inf. The rank is ceil(q·n), at least 1. converged is false when the rank falls
// among the not-converged pairs (the quantile is +Inf); ok is false when there are no values.
func Quantile(sorted []float64, notConverged int, q float64) (ms float64, converged bool, ok bool) {
	n := len(sorted) + notConverged
	if n == 0 {
		return 0, false, false
	}
	k := rank(q, n)
	if k > len(sorted) {
		return math.Inf(1), false, true
	}
	return sorted[k-1], true, true
}

// rank is the 1-based nearest rank of quantile q among n values.
func rank(q float64, n int) int {
	k := int(math.Ceil(q*float64(n) - 1e-9))
	return max(1, min(k, n))
}

var statLevel = map[string]float64{"p50": 0.50, "p90": 0.90, "p99": 0.99, "max": 1}

// observation is the left-hand side as evaluated.
type observation struct {
	value   float64 // meaningful when defined
	defined bool    // false: nothing to compare (no data); the expectation fails
	inf     bool    // +Inf: the figure never settled (not converged)
	text    string  // with unit and resolution
	reason  string  // why it is undefined or infinite
}

// Eval evaluates e against env and returns the outcome as report.json records it.
//
// The observed value is in the metric's unit (milliseconds for durations, a fraction for
// ratios). It is null when the figure is undefined (no such component, nothing measured) —
// the expectation then fails with a Message saying why — or infinite: a time-to-consistency
// percentile whose rank falls among pairs that never converged, the stale window or the
// maximum with any such pair. An infinite value is compared as +Inf (so < and <= fail).
//
// Without the [Quantiles] capability, a TTC percentile with some pairs not converged is
// estimated conservatively from the converged-only statistics: the smallest of p50, p90, p99
// and max at or above the needed rank, marked "≤" in ObservedText.
func (e Expr) Eval(env Env) report.Expectation {
	out := report.Expectation{Expr: e.Text, Bound: e.Value}
	if out.Expr == "" {
		out.Expr = e.String()
	}
	o := e.observe(env)
	out.ObservedText = o.text
	switch {
	case !o.defined:
		out.Pass = false
		out.Message = fmt.Sprintf("%s: %s", e.lhs(), o.reason)
		return out
	case o.inf:
		out.Pass = compare(math.Inf(1), e.Op, e.Value)
	default:
		v := o.value
		out.Observed = &v
		out.Pass = compare(v, e.Op, e.Value)
	}
	if !out.Pass {
		out.Message = fmt.Sprintf("%s is %s, want %s %s", e.lhs(), o.text, e.Op, e.boundText())
	}
	return out
}

func compare(v float64, op string, bound float64) bool {
	switch op {
	case "<":
		return v < bound
	case "<=":
		return v <= bound
	case "==":
		return v == bound
	case "!=":
		return v != bound
	case ">=":
		return v >= bound
	case ">":
		return v > bound
	}
	return false
}

func (e Expr) observe(env Env) observation {
	s, ok := env.Summary(e.Component)
	if !ok || s == nil {
		if e.Component == "" {
			return observation{reason: "no overall figures", text: "n/a"}
		}
		return observation{reason: fmt.Sprintf("no component %q in the report", e.Component), text: "n/a"}
	}
	count := func(n int) observation {
		return observation{value: float64(n), defined: true, text: strconv.Itoa(n)}
	}
	switch e.Metric {
	case "stale_accepts":
		return count(s.StaleAccepts)
	case "resurrections":
		return count(s.Resurrections)
	case "false_rejects":
		return count(s.FalseRejects)
	case "errors":
		return count(s.Errors)
	case "not_converged":
		return count(s.NotConverged)
	case "converged":
		return count(s.Converged)
	case "pairs":
		return count(s.Pairs)
	case "fail_open":
		return count(s.FailOpen)
	case "never_accepted":
		return count(s.NeverAccepted)
	case "probes":
		return count(s.Probes)
	case "error_rate":
		if s.Probes == 0 {
			return observation{reason: "no probes were sent", text: "n/a"}
		}
		r := float64(s.Errors) / float64(s.Probes)
		return observation{value: r, defined: true, text: formatRatio(r)}
	case "probe_latency":
		if s.ProbeLatencyMS.Count == 0 {
			return observation{reason: "no probe latencies measured", text: "n/a"}
		}
		return durationObs(stat(s.ProbeLatencyMS, e.Stat), s.ProbeLatencyMS.ResolutionMS, "")
	case "recovery_time":
		r, ok := env.(Recoveries)
		if !ok {
			return observation{reason: "recovery time was not measured by this drill", text: "n/a"}
		}
		ms, ok := r.RecoveryQuantile(e.Component, statLevel[e.Stat])
		if !ok {
			return observation{reason: "recovery time was not measured", text: "n/a"}
		}
		return durationObs(ms, 0, "")
	case "stale_window":
		return e.ttc(env, s, 1, s.StaleWindowMS)
	case "time_to_consistency":
		return e.ttc(env, s, statLevel[e.Stat], stat(s.TTCMS, e.Stat))
	case "ttc_estimate":
		return estimateObs(s.TTCEstimate, e.Stat)
	case "ssf_events_missing", "ssf_delivery":
		return e.ssf(env)
	}
	return observation{reason: fmt.Sprintf("unknown metric %q", e.Metric), text: "n/a"}
}

// ttc evaluates a TTC quantile q; exact is the converged-only figure from the summary.
func (e Expr) ttc(env Env, s *report.Summary, q float64, exact float64) observation {
	res := s.TTCMS.ResolutionMS
	notConv := func() observation {
		return observation{defined: true, inf: true,
			text:   fmt.Sprintf("not converged (%d of %d pairs)", s.NotConverged, s.Pairs),
			reason: "not converged"}
	}
	if s.Pairs == 0 {
		return observation{reason: "no (component, credential) pairs were measured", text: "n/a"}
	}
	if qs, ok := env.(Quantiles); ok {
		ms, converged, ok := qs.TTCQuantile(e.Component, q)
		if ok {
			if !converged {
				return notConv()
			}
			return durationObs(ms, res, "")
		}
	}
	converged := s.Pairs - s.NotConverged
	if rank(q, s.Pairs) > converged {
		return notConv()
	}
	if s.NotConverged == 0 {
		return durationObs(exact, res, "")
	}
	// The rank falls among converged pairs, but the summary holds converged-only percentiles:
	// the needed level among converged pairs is k/converged. Take the smallest available
	// statistic at or above it, an upper bound.
	need := float64(rank(q, s.Pairs)) / float64(converged)
	for _, st := range []string{"p50", "p90", "p99", "max"} {
		if statLevel[st] >= need-1e-9 {
			return durationObs(stat(s.TTCMS, st), res, "≤ ")
		}
	}
	return durationObs(s.TTCMS.Max, res, "≤ ")
}

// estimateObs evaluates an estimated TTC quantile: the point estimate, with its interval in
// the text ("1.02s (95% CI 0.98s–1.07s, estimate)").
func estimateObs(est *report.Estimate, st string) observation {
	q, ok := est.Get(st)
	if !ok {
		return observation{reason: "no TTC estimate (no measured pairs)", text: "n/a"}
	}
	end := func(v *float64) string {
		if v == nil {
			return "+Inf"
		}
		return FormatMS(*v)
	}
	ci := fmt.Sprintf("%s CI %s–%s, estimate", formatRatio(est.Confidence), end(q.LowMS), end(q.HighMS))
	if q.MS == nil {
		return observation{defined: true, inf: true, reason: "beyond the observation",
			text: fmt.Sprintf("beyond the observation (%s of pairs never converged; %s)", formatRatio(est.NotConvergedShare), ci)}
	}
	return observation{value: *q.MS, defined: true, text: fmt.Sprintf("%s (%s)", FormatMS(*q.MS), ci)}
}

func stat(st report.Stats, name string) float64 {
	switch name {
	case "p50":
		return st.P50
	case "p90":
		return st.P90
	case "p99":
		return st.P99
	}
	return st.Max
}

func durationObs(ms, resolution float64, prefix string) observation {
	text := prefix + FormatMS(ms)
	if resolution > 0 {
		text += " ±" + FormatMS(resolution)
	}
	return observation{value: ms, defined: true, text: text}
}

// FormatMS renders a duration given in milliseconds with three significant digits:
// 0.42ms, 12ms, 150ms, 1.84s, 75.3s.
func FormatMS(ms float64) string {
	switch {
	case math.IsInf(ms, 1):
		return "+Inf"
	case ms == 0:
		return "0s"
	case math.Abs(ms) < 1000:
		return sig3(ms) + "ms"
	}
	return sig3(ms/1000) + "s"
}

func formatRatio(r float64) string {
	if r == 0 {
		return "0%"
	}
	return sig3(r*100) + "%"
}

// sig3 formats v with three significant digits and no trailing zeros.
func sig3(v float64) string {
	a := math.Abs(v)
	prec := 0
	switch {
	case a < 1:
		prec = 3
	case a < 10:
		prec = 2
	case a < 100:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
