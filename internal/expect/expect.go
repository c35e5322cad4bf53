// Package expect is the language of a scenario's expect: list — bounds on the figures a drill
// measures — and its evaluation against a report.
//
// An expectation is written
//
//	expectation = metric [ "{" label "=" string { "," label "=" string } "}" ] op value
//	metric      = ident { "." ident }          name, then a statistic where the metric has them
//	label       = "component"
//	string      = '"' { char } '"' | "'" { char } "'"
//	op          = "<" | "<=" | "==" | "!=" | ">=" | ">"
//	value       = number | percentage | duration
//	number      = digits [ "." digits ]        0, 3, 0.5
//	percentage  = number "%"                   10% is the number 0.1
//	duration    = a Go duration                150ms, 2s, 1m30s
//
// for example
//
//	time_to_consistency.p99 < 2s
//	ttc.max{component="edge-push"} <= 500ms
//	ttc_estimate.p50{component="edge-poll"} < 1.2s
//	stale_accepts{component="edge-push"} == 0
//	error_rate < 1%
//
// Parse works in three steps, as grafana/k6's threshold parser does:
//
//	text ──scan──► tokens ──parse──► Expr ──validate──► Expr checked against its metric
//
// Scanning and parsing check the syntax; validation checks the metric name, its statistic and
// that the value has the metric's unit (a duration for times, a number for counts, a number or
// percentage for ratios). Every error is an [*Error] that quotes the input and gives the column
// of the offending token, so a scenario loader can point at the exact character:
//
//	failed parsing expectation "ttc.p99 << 2s": column 9: unknown operator "<<" (want one of <, <=, ==, !=, >=, >)
//
// [Metrics] lists the metrics. Durations are carried in milliseconds, as in report.json.
//
// Evaluation ([Expr.Eval]) reads the figures from an [Env], normally [ReportEnv] over a
// report.Report. Time-to-consistency percentiles treat a pair that never converged as +Inf, never
// as a number: when the percentile's rank falls among the not-converged pairs the observed value
// is null, the text says "not converged (N of M pairs)", and a bound with < or <= fails.
//
// ttc_estimate names the estimated distribution (report.Summary.TTCEstimate) instead of the
// proven upper bounds: the observed value is the point estimate, the text carries its
// confidence interval. Gates that do not name it keep using the upper bounds.
package expect

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a syntax or validation error in an expectation or a JSON condition. Its message
// quotes the input and gives the 1-based column (in characters) of the offending token:
// failed parsing expectation "ttc.p99 << 2s": column 9: unknown operator "<<" (...).
type Error struct {
	// What names the language: "expectation" or "JSON condition".
	What string
	// Input is the text that failed to parse.
	Input string
	// Column is the 1-based column (in characters) within Input of the offending token.
	Column int
	// Reason says what is wrong and what would have been valid.
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("failed parsing %s %q: column %d: %s", e.What, e.Input, e.Column, e.Reason)
}

// Kind is the unit of a metric: what kind of value it can be compared with.
type Kind int

// Metric kinds.
const (
	// Count metrics are compared with plain numbers: stale_accepts == 0.
	Count Kind = iota
	// Duration metrics are compared with Go durations: ttc.p99 < 2s. A bare 0 is also allowed.
	Duration
	// Ratio metrics are compared with a number 0..1 or a percentage: error_rate < 1%.
	Ratio
)

// String returns "count", "duration" or "ratio".
func (k Kind) String() string {
	switch k {
	case Duration:
		return "duration"
	case Ratio:
		return "ratio"
	}
	return "count"
}

// Metric describes one metric an expectation can name.
type Metric struct {
	// Name is the canonical name, as Expr.Metric holds it.
	Name string
	// Alias is a short name accepted in its place ("ttc"), or empty.
	Alias string
	// Kind is the metric's unit.
	Kind Kind
	// Stats lists the statistics the metric must be qualified with (p50, p99, max, ...);
	// empty for a metric that is a single figure.
	Stats []string
	// Doc says what the metric measures.
	Doc string
}

var metrics = []Metric{
	{Name: "time_to_consistency", Alias: "ttc", Kind: Duration, Stats: []string{"p50", "p90", "p99", "max"},
		Doc: "time from the recall's acknowledgement until a component rejects the recalled credential for good (upper bound of the measured bracket); pairs that never converged count as +Inf"},
	{Name: "ttc_estimate", Kind: Duration, Stats: []string{"p50", "p90", "p99"},
		Doc: "estimated time-to-consistency quantile: the nonparametric maximum-likelihood estimate from every pair's bracket, assuming a component's credentials are exchangeable (docs/measurement.md); a statistical estimate, not a proven bound like time_to_consistency; +Inf when the estimate does not reach the quantile (too many pairs never converged)"},
	{Name: "stale_window", Kind: Duration,
		Doc: "the largest time to consistency (+Inf if a pair never converged)"},
	{Name: "recovery_time", Kind: Duration, Stats: []string{"p50", "p99", "max"},
		Doc: "time after the recall until freshly re-issued credentials of the affected users are accepted again"},
	{Name: "probe_latency", Kind: Duration, Stats: []string{"p50", "p90", "p99", "max"},
		Doc: "latency of the probes"},
	{Name: "stale_accepts", Kind: Count, Doc: "probes sent after the recall that were accepted"},
	{Name: "resurrections", Kind: Count, Doc: "accepts after a reject of the same recalled credential"},
	{Name: "false_rejects", Kind: Count, Doc: "control credentials rejected"},
	{Name: "errors", Kind: Count, Doc: "probes answered neither accept nor reject (5xx, timeouts, refused connections)"},
	{Name: "error_rate", Kind: Ratio, Doc: "errors divided by probes"},
	{Name: "not_converged", Kind: Count, Doc: "(component, credential) pairs that never settled on reject"},
	{Name: "converged", Kind: Count, Doc: "(component, credential) pairs that settled on reject"},
	{Name: "pairs", Kind: Count, Doc: "(component, credential) pairs measured (victims seen accepted before the recall)"},
	{Name: "fail_open", Kind: Count, Doc: "accepts while the component's revocation source was cut off"},
	{Name: "never_accepted", Kind: Count, Doc: "victims never seen accepted before the recall (they measure nothing)"},
	{Name: "probes", Kind: Count, Doc: "probes sent"},
	{Name: "ssf_delivery", Kind: Duration, Stats: []string{"p50", "p90", "p99", "max"},
		Doc: "recall.ssf_receiver: time from a credential's recall acknowledgement until an SSF event naming it reached recall; credentials with no event count as +Inf"},
	{Name: "ssf_events_missing", Kind: Count, Doc: "recall.ssf_receiver: recalled credentials that no valid SSF event named"},
}

// Metrics returns the metrics an expectation can name, in documentation order.
func Metrics() []Metric {
	out := make([]Metric, len(metrics))
	copy(out, metrics)
	return out
}

func lookupMetric(name string) (Metric, bool) {
	for _, m := range metrics {
		if m.Name == name || (m.Alias != "" && m.Alias == name) {
			return m, true
		}
	}
	return Metric{}, false
}

func metricNames() string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.Name
		if m.Alias != "" {
			names[i] += " (" + m.Alias + ")"
		}
	}
	return strings.Join(names, ", ")
}

// Labels lists the labels an expectation may carry.
var Labels = []string{"component"}

// Ops lists the comparison operators.
var Ops = []string{"<", "<=", "==", "!=", ">=", ">"}

// Expr is a parsed and validated expectation.
type Expr struct {
	// Metric is the canonical metric name ("time_to_consistency" for "ttc").
	Metric string
	// Stat is the statistic (p50, p90, p99, max), empty for single-figure metrics.
	Stat string
	// Component restricts the expectation to one component; empty means the overall figures.
	Component string
	// Op is the comparison operator, one of Ops.
	Op string
	// Value is the bound: milliseconds for durations, a fraction for percentages (10% is 0.1),
	// the number itself otherwise.
	Value float64
	// IsDuration is true when Value was written as a duration.
	IsDuration bool
	// Text is the expectation as written.
	Text string
}

// String renders e in canonical form (full metric name), e.g.
// time_to_consistency.p99{component="edge-push"} < 2s.
func (e Expr) String() string {
	return e.lhs() + " " + e.Op + " " + e.boundText()
}

// lhs renders the metric, statistic and label.
func (e Expr) lhs() string {
	var b strings.Builder
	b.WriteString(e.Metric)
	if e.Stat != "" {
		b.WriteString("." + e.Stat)
	}
	if e.Component != "" {
		b.WriteString("{component=" + strconv.Quote(e.Component) + "}")
	}
	return b.String()
}

func (e Expr) boundText() string {
	m, _ := lookupMetric(e.Metric)
	switch {
	case e.IsDuration || m.Kind == Duration:
		return FormatMS(e.Value)
	case m.Kind == Ratio:
		return formatRatio(e.Value)
	}
	return strconv.FormatFloat(e.Value, 'f', -1, 64)
}

// Kind returns the kind of e's metric.
func (e Expr) Kind() Kind {
	m, _ := lookupMetric(e.Metric)
	return m.Kind
}

// Parse parses and validates one expectation. The error, if any, is an [*Error].
func Parse(s string) (Expr, error) {
	p := parser{what: "expectation", input: s}
	toks, err := scan(s)
	if err != nil {
		return Expr{}, p.wrap(err)
	}
	p.toks = toks
	e, err := p.expectation()
	if err != nil {
		return Expr{}, p.wrap(err)
	}
	e.Text = s
	return e, nil
}

// MustParse is like Parse but panics on error; for tests and fixed expressions.
func MustParse(s string) Expr {
	e, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return e
}

type parser struct {
	what  string
	input string
	toks  []token
	pos   int
}

func (p *parser) wrap(e *Error) *Error {
	e.What, e.Input = p.what, p.input
	return e
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func errAt(t token, format string, args ...any) *Error {
	return &Error{Column: t.col, Reason: fmt.Sprintf(format, args...)}
}

func unexpected(t token, want string) *Error {
	return errAt(t, "unexpected %s, want %s", t.describe(), want)
}

func (p *parser) expectation() (Expr, *Error) {
	var e Expr
	// metric = ident { "." ident }
	first := p.next()
	if first.kind != tIdent {
		return e, unexpected(first, "a metric name")
	}
	parts := []token{first}
	for p.peek().kind == tDot {
		p.next()
		t := p.next()
		if t.kind != tIdent {
			return e, unexpected(t, "a name after \".\"")
		}
		parts = append(parts, t)
	}
	// labels
	if p.peek().kind == tLBrace {
		p.next()
		seen := map[string]bool{}
		for {
			l := p.next()
			if l.kind != tIdent {
				return e, unexpected(l, "a label name")
			}
			if !contains(Labels, l.text) {
				return e, errAt(l, "unknown label %q (have: %s)", l.text, strings.Join(Labels, ", "))
			}
			if seen[l.text] {
				return e, errAt(l, "label %q given twice", l.text)
			}
			seen[l.text] = true
			if t := p.next(); t.kind != tAssign {
				return e, unexpected(t, "\"=\"")
			}
			v := p.next()
			if v.kind != tString {
				return e, unexpected(v, "a quoted string like \"edge-push\"")
			}
			if v.str == "" {
				return e, errAt(v, "empty %s", l.text)
			}
			e.Component = v.str
			t := p.next()
			if t.kind == tRBrace {
				break
			}
			if t.kind != tComma {
				return e, unexpected(t, "\",\" or \"}\"")
			}
		}
	}
	// op
	op := p.next()
	if op.kind != tOp && op.kind != tAssign {
		return e, unexpected(op, "a comparison operator ("+strings.Join(Ops, ", ")+")")
	}
	if !contains(Ops, op.text) {
		return e, errAt(op, "unknown operator %q (want one of %s)", op.text, strings.Join(Ops, ", "))
	}
	e.Op = op.text
	// value
	val := p.next()
	switch val.kind {
	case tNumber, tPercent, tDuration:
	default:
		return e, unexpected(val, "a number or a duration")
	}
	if val.num < 0 || strings.HasPrefix(val.text, "-") {
		return e, errAt(val, "negative value %s: figures are never negative", val.text)
	}
	e.Value = val.num
	e.IsDuration = val.kind == tDuration
	if t := p.next(); t.kind != tEOF {
		return e, unexpected(t, "end of input")
	}
	// validate against the metric
	m, ok := lookupMetric(first.text)
	if !ok {
		return e, errAt(first, "unknown metric %q (have: %s)", first.text, metricNames())
	}
	e.Metric = m.Name
	switch {
	case len(m.Stats) == 0 && len(parts) > 1:
		return e, errAt(parts[1], "%s is a single figure and has no statistic %q", m.Name, parts[1].text)
	case len(m.Stats) > 0 && len(parts) == 1:
		return e, errAt(first, "%s needs a statistic: %s.%s (have: %s)", first.text, first.text, m.Stats[len(m.Stats)-2], strings.Join(m.Stats, ", "))
	case len(m.Stats) > 0 && !contains(m.Stats, parts[1].text):
		return e, errAt(parts[1], "unknown statistic %q of %s (have: %s)", parts[1].text, m.Name, strings.Join(m.Stats, ", "))
	case len(m.Stats) > 0 && len(parts) > 2:
		return e, errAt(parts[2], "unexpected %q after %s.%s", parts[2].text, first.text, parts[1].text)
	case len(m.Stats) > 0:
		e.Stat = parts[1].text
	}
	switch m.Kind {
	case Duration:
		if !e.IsDuration && !(val.kind == tNumber && val.num == 0) {
			return e, errAt(val, "%s is a duration: want a value like 150ms, 2s or 1m30s, got %s", first.text, val.text)
		}
	case Count:
		if val.kind != tNumber {
			return e, errAt(val, "%s is a count: want a number like 0 or 10, got %s", first.text, val.text)
		}
	case Ratio:
		if val.kind == tDuration {
			return e, errAt(val, "%s is a ratio: want a number 0..1 or a percentage like 1%%, got %s", first.text, val.text)
		}
	}
	return e, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
