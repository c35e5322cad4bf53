// Package html renders a drill's report as one self-contained HTML page: the file a manager
// opens and a CI job keeps as an artifact. It renders from a *report.Report alone.
//
// The page needs nothing but itself: CSS is inline, charts are inline SVG computed here (no
// JavaScript), nothing is fetched, and it prints. Every string that comes from the scenario or
// the system goes through html/template, which escapes it for where it lands (text, attribute,
// SVG text); the page holds no template.HTML.
//
// Sections, most important first, each with a stable id for tests and links:
//
//	headline      verdict and one sentence naming the slowest component against its SLO
//	findings      resurrections, fail-open, false rejects, not converged, by severity
//	ttc           per-component TTC bars (p50, p90, p99, max) with resolution and SLO lines
//	trend         with WithBaseline: p99 deltas and findings that appeared or vanished
//	timeline      share of recalled credentials still accepted, around the recall, with faults
//	cdf           distribution of TTC per component
//	expectations  each expectation with what was observed
//	environment   runtime, components, tokens (fingerprints only), recall, faults, probes,
//	              tool version, seed, scenario source, log tail
//
// Series are downsampled to DefaultMaxPoints points each (lowest and highest of each run, so
// spikes survive), so the page stays small whatever the drill's size.
package html

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/compare"
	"github.com/recall-drills/recall/report/text"
)

// DefaultMaxPoints is the most points a chart series is drawn with.
const DefaultMaxPoints = 600

// Option configures Render.
type Option func(*options)

type options struct {
	baseline  *report.Report
	maxPoints int
}

// WithBaseline adds a trend section comparing the report with base (an earlier run of the same
// scenario): per-component p99 deltas, regressions as report/compare judges them, and findings
// that appeared or vanished. A nil base is ignored.
func WithBaseline(base *report.Report) Option {
	return func(o *options) { o.baseline = base }
}

// WithMaxPoints sets how many points each chart series is drawn with at most (default
// DefaultMaxPoints; values under 4 mean 4).
func WithMaxPoints(n int) Option {
	return func(o *options) { o.maxPoints = n }
}

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"f":   num,
	"ms":  report.FormatMS,
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}).Parse(pageTemplate))

// Render writes r as one self-contained HTML page to w.
func Render(w io.Writer, r *report.Report, opts ...Option) error {
	o := options{maxPoints: DefaultMaxPoints}
	for _, opt := range opts {
		opt(&o)
	}
	p := build(r, o)
	if err := tmpl.Execute(w, p); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// page is everything the template shows, precomputed.
type page struct {
	Title        string
	Verdict      string
	VerdictClass string
	Scenario     string
	Sentence     string
	Meta         []string
	Tally        string
	TrendLine    string
	TrendClass   string

	Findings []findingView

	TTC       *barChart
	TTCLegend []legendItem
	TTCRows   []ttcRow
	// GroundTruth holds, per component with recorded instants, how the measurement compares.
	GroundTruth []kv
	// Delivery holds, per event receiver (report.Delivery), its delivery and enforcement
	// latencies.
	Delivery []kv
	// SSFReceiver is the sentence on recall's own SSF subscription (recall.ssf_receiver), empty
	// without one.
	SSFReceiver string
	// Resolution holds the notes on figures not resolved (≤) and on sampled components.
	Resolution []kv
	// Recovery is the recovery-time sentence (empty when not measured), RecoveryRows its figures
	// per component.
	Recovery     string
	RecoveryBad  bool
	RecoveryRows []kv
	// Rotated is the sentence on refresh-replay's rotated access tokens (empty when none were
	// followed), RotatedRows its figures per component.
	Rotated     string
	RotatedBad  bool
	RotatedRows []kv

	Trend *trendView

	Timeline       *lineChart
	TimelineLegend []legendItem
	CDF            *lineChart
	CDFLegend      []legendItem
	NoCDF          []string

	Expectations []expView
	Env          envView
}

type findingView struct {
	Severity, SevClass string
	Kind, Component    string
	Count              string
	Message, When      string
	Tokens             []string
}

type ttcRow struct {
	Name, Kind                     string
	Probed                         bool
	Pairs, Converged, NotConverged string
	NotConvergedBad                bool
	P50, P90, P99, Max, Res        string
	SLO                            []string
	SLOClass                       string
	Stale, Resurrections, FalseRej string
	Errors, FailOpen               string
	ResurrectionsBad, FalseRejBad  bool
	FailOpenBad                    bool
}

type trendView struct {
	Base      string
	Threshold string
	Rows      []trendRow
	Appeared  []findingView
	Vanished  []findingView
	Changed   []string
	Regressed bool
}

type trendRow struct {
	Name, BaseP99, NextP99, Delta, Result string
	Regressed                             bool
}

type expView struct {
	Mark, Class, Expr, Observed, Want, Severity, Message string
}

type kv struct{ K, V string }

type envView struct {
	Drill      []kv
	Components []report.EnvComponent
	Tokens     []kv
	Sample     []string
	Recall     []kv
	Faults     []faultView
	Probes     []kv
	// System summarises report.SystemMetrics, one row per series; SystemScrapes says how many
	// scrapes over what span.
	System        []systemRow
	SystemScrapes string
	File          string
	Source        string
	Logs          string
}

// systemRow is one scraped series: its first and last value, and when it last changed.
type systemRow struct {
	Component, Name, First, Last, Changed string
}

type faultView struct {
	Name, Fault, Target, Start, End, Error string
}

func build(r *report.Report, o options) page {
	p := page{
		Verdict:  orDash(r.Verdict),
		Scenario: r.Scenario.Name,
		Sentence: text.Headline(r),
	}
	p.Title = "recall: " + r.Scenario.Name + " — " + p.Verdict
	switch r.Verdict {
	case report.Pass:
		p.VerdictClass = "verdict-pass"
	case report.Fail:
		p.VerdictClass = "verdict-fail"
	case report.Error:
		p.VerdictClass = "verdict-error"
	default:
		p.VerdictClass = "verdict-unknown"
	}
	if r.Incomplete {
		at := ""
		if r.JournalEndsAt != nil {
			at = " at " + stamp(*r.JournalEndsAt)
		}
		p.Meta = append(p.Meta, "INCOMPLETE: rebuilt from the journal, which ends"+at+" in phase "+orDash(r.JournalPhase))
	}
	if s := report.MissingSentence(r); s != "" {
		p.Meta = append(p.Meta, s)
	}
	p.Meta = append(p.Meta, "seed "+strconv.FormatInt(r.Scenario.Seed, 10))
	if !r.StartedAt.IsZero() {
		p.Meta = append(p.Meta, "started "+stamp(r.StartedAt))
	}
	p.Meta = append(p.Meta, "ran "+report.FormatMS(r.DurationMS))
	if r.Tool.Version != "" {
		p.Meta = append(p.Meta, orDash(r.Tool.Name)+" "+r.Tool.Version)
	}
	p.Tally = tally(r)

	for _, f := range text.SortFindings(r.Findings) {
		p.Findings = append(p.Findings, findingOf(r, f))
	}

	p.TTC = ttcChart(r)
	for _, st := range stats {
		p.TTCLegend = append(p.TTCLegend, legendItem{Name: st, Colour: statColours[st], Kind: "box"})
	}
	p.TTCLegend = append(p.TTCLegend,
		legendItem{Name: "resolution (bracket below the upper bound)", Colour: "#000", Kind: "whisker"},
		legendItem{Name: "SLO met", Colour: "#000", Dash: "5 3", Kind: "slo"},
		legendItem{Name: "SLO missed", Colour: "#D55E00", Dash: "5 3", Kind: "slo"},
		legendItem{Name: "never converged", Kind: "never"})
	p.SSFReceiver = text.SSFReceiverLine(r)
	for _, c := range r.Components {
		p.TTCRows = append(p.TTCRows, ttcRowOf(r, c))
		if g := c.GroundTruth; g != nil && g.Checked > 0 {
			p.GroundTruth = append(p.GroundTruth, kv{c.Name, fmt.Sprintf("%s of %s true instants inside the measured bracket; true TTC p99 %s, max %s",
				text.Count(g.Within), text.Count(g.Checked), report.FormatMS(g.TTCMS.P99), report.FormatMS(g.TTCMS.Max))})
		}
		if d := c.Delivery; d != nil {
			p.Delivery = append(p.Delivery, kv{c.Name, text.DeliveryText(*d)})
		}
		if st := c.RecoveryMS; r.Recovery != nil && st != nil {
			v := "never recovered"
			if st.Count > 0 {
				v = fmt.Sprintf("p50 %s, p99 %s, max %s", report.FormatMS(st.P50), report.FormatMS(st.P99), report.FormatMSRes(st.Max, st.ResolutionMS))
			}
			if c.NotRecovered > 0 && st.Count > 0 {
				v += fmt.Sprintf("; %d not recovered", c.NotRecovered)
			}
			p.RecoveryRows = append(p.RecoveryRows, kv{c.Name, v})
		}
	}
	p.Recovery, p.RecoveryBad = text.RecoveryLine(r), r.Overall.NotRecovered > 0
	p.Rotated, p.RotatedBad = text.RotatedAccessLine(r), r.Overall.RotatedAlive > 0
	for _, c := range r.Components {
		if st := c.RotatedAccessMS; r.RotatedAccess != nil && st != nil {
			v := "none refused"
			if st.Count > 0 {
				v = fmt.Sprintf("p50 %s, max %s", report.FormatMS(st.P50), report.FormatMSRes(st.Max, st.ResolutionMS))
			}
			if c.RotatedAlive > 0 {
				v += fmt.Sprintf("; %d still honoured", c.RotatedAlive)
			}
			p.RotatedRows = append(p.RotatedRows, kv{c.Name, v})
		}
	}
	for _, n := range text.ResolutionNotes(r) {
		p.Resolution = append(p.Resolution, kv{n.Component, n.Text})
	}

	if o.baseline != nil {
		p.Trend = trendOf(r, o.baseline)
		if p.Trend.Regressed {
			p.TrendLine, p.TrendClass = "Regressed against the baseline, the "+p.Trend.Base+".", "bad"
		} else {
			p.TrendLine, p.TrendClass = "No regression against the baseline, the "+p.Trend.Base+".", "good"
		}
	}

	p.Timeline, p.TimelineLegend = timelineChart(r, o.maxPoints)
	p.CDF, p.CDFLegend = cdfChart(r, o.maxPoints)
	for _, c := range r.Components {
		if c.Probed && c.TTCMS.Count == 0 && c.NotConverged > 0 {
			p.NoCDF = append(p.NoCDF, c.Name)
		}
	}

	for _, e := range r.Expectations {
		p.Expectations = append(p.Expectations, expOf(e))
	}
	p.Env = envOf(r)
	return p
}

func tally(r *report.Report) string {
	var parts []string
	failed, warned := text.CountExpectations(r)
	if n := len(r.Expectations); n > 0 {
		s := fmt.Sprintf("%d of %d expectations held", n-failed-warned, n)
		if failed > 0 {
			s += fmt.Sprintf(", %d failed", failed)
		}
		if warned > 0 {
			s += fmt.Sprintf(", %d warned", warned)
		}
		parts = append(parts, s)
	}
	bySev := map[string]int{}
	for _, f := range r.Findings {
		bySev[f.Severity]++
	}
	if len(r.Findings) == 0 {
		parts = append(parts, "no findings")
	} else {
		var sev []string
		for _, s := range []string{report.Critical, report.Warning, report.Info} {
			if bySev[s] > 0 {
				sev = append(sev, fmt.Sprintf("%d %s", bySev[s], s))
			}
		}
		parts = append(parts, fmt.Sprintf("%d finding%s (%s)", len(r.Findings), plural(len(r.Findings)), strings.Join(sev, ", ")))
	}
	return strings.Join(parts, " · ")
}

func findingOf(r *report.Report, f report.Finding) findingView {
	v := findingView{
		Severity:  strings.ToUpper(orDash(f.Severity)),
		SevClass:  "sev-other",
		Kind:      humanKind(f.Kind),
		Component: f.Component,
		Count:     text.Count(f.Count),
		Message:   f.Message,
	}
	switch f.Severity {
	case report.Critical, report.Warning, report.Info:
		v.SevClass = "sev-" + f.Severity
	}
	if f.AtMS != 0 {
		v.When = "first seen " + report.FormatMS(f.AtMS) + " into the drill"
		if r.Recall.AcknowledgedAtMS > 0 {
			d := f.AtMS - r.Recall.AcknowledgedAtMS
			if d >= 0 {
				v.When += ", " + report.FormatMS(d) + " after the recall"
			} else {
				v.When += ", " + report.FormatMS(-d) + " before the recall was acknowledged"
			}
		}
	}
	for _, t := range f.Tokens {
		v.Tokens = append(v.Tokens, fingerprint(t))
	}
	return v
}

// humanKind turns a finding kind into words: "false_reject" → "False reject".
func humanKind(k string) string {
	switch k {
	case "fail_open":
		return "Fail-open"
	case "":
		return "Finding"
	}
	s := strings.ReplaceAll(k, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

func ttcRowOf(r *report.Report, c report.Component) ttcRow {
	t := c.TTCMS
	row := ttcRow{Name: c.Name, Kind: c.Kind, Probed: c.Probed,
		Pairs: text.Count(c.Pairs), Converged: text.Count(c.Converged), NotConverged: text.Count(c.NotConverged),
		NotConvergedBad: c.NotConverged > 0,
		Stale:           text.Count(c.StaleAccepts), Resurrections: text.Count(c.Resurrections), FalseRej: text.Count(c.FalseRejects),
		Errors: text.Count(c.Errors), FailOpen: text.Count(c.FailOpen),
		ResurrectionsBad: c.Resurrections > 0, FalseRejBad: c.FalseRejects > 0, FailOpenBad: c.FailOpen > 0,
	}
	switch {
	case t.Count > 0:
		cell := func(stat string) string {
			v, _ := t.Get(stat)
			if !r.StatResolved(c, stat) {
				return "≤" + report.FormatMS(v)
			}
			return report.FormatMS(v)
		}
		row.P50, row.P90, row.P99, row.Max = cell("p50"), cell("p90"), cell("p99"), cell("max")
		row.Res = "±" + report.FormatMS(t.ResolutionMS)
	case c.NotConverged > 0:
		row.P50, row.P90, row.P99, row.Max, row.Res = "never", "never", "never", "never", "—"
	default:
		row.P50, row.P90, row.P99, row.Max, row.Res = "—", "—", "—", "—", "—"
	}
	var slos []string
	row.SLOClass = "good"
	for _, s := range r.SLOs(c.Name) {
		label := s.Expr.Stat + " " + s.Expr.Op + " " + s.Expr.Bound
		if s.Global {
			label += " (all components)"
		}
		if text.SLOMet(s, c) {
			label = "✓ " + label
		} else {
			label = "✗ " + label
			row.SLOClass = "bad"
		}
		slos = append(slos, label)
	}
	row.SLO = slos
	if len(row.SLO) == 0 {
		row.SLO, row.SLOClass = []string{"—"}, ""
	}
	return row
}

func trendOf(r, base *report.Report) *trendView {
	res := compare.Compare(base, r, compare.Options{})
	v := &trendView{
		Threshold: strconv.FormatFloat(res.MaxRegression*100, 'f', -1, 64) + "%",
		Regressed: res.Regressed(),
	}
	v.Base = "run of " + stamp(base.StartedAt)
	if base.StartedAt.IsZero() {
		v.Base = "earlier run"
	}
	if base.Verdict != "" {
		v.Base += ", " + base.Verdict
	}
	for _, c := range res.Components {
		row := trendRow{Name: c.Name, Regressed: c.Regressed,
			BaseP99: trendFigure(c.Base, c.InBase, c.BaseNotConverged),
			NextP99: trendFigure(c.Next, c.InNext, c.NextNotConverged),
			Delta:   "—", Result: "ok"}
		if c.P99.Known {
			row.Delta = signedDelta(c.P99)
		}
		if c.Regressed {
			row.Result = "regressed"
		}
		if c.Reason != "" {
			row.Result += ": " + c.Reason
		}
		v.Rows = append(v.Rows, row)
	}
	for _, f := range res.Appeared {
		v.Appeared = append(v.Appeared, findingOf(r, f))
	}
	for _, f := range res.Vanished {
		v.Vanished = append(v.Vanished, findingOf(base, f))
	}
	for _, f := range res.Changed {
		comp := f.Component
		if comp == "" {
			comp = "the drill"
		}
		v.Changed = append(v.Changed, fmt.Sprintf("%s at %s: %d → %d", humanKind(f.Kind), comp, f.BaseCount, f.Count))
	}
	return v
}

func trendFigure(s report.Stats, present bool, notConverged int) string {
	if !present {
		return "—"
	}
	if v, ok := s.Get("p99"); ok {
		return report.FormatMSRes(v, s.ResolutionMS)
	}
	if notConverged > 0 {
		return "never"
	}
	return "—"
}

func signedDelta(d compare.Delta) string {
	s := report.FormatMS(d.Abs)
	if d.Abs >= 0 {
		s = "+" + s
	}
	if d.Base != 0 {
		s += fmt.Sprintf(" (%+.0f%%)", d.Pct*100)
	}
	return s
}

func expOf(e report.Expectation) expView {
	v := expView{Mark: text.ExpectationMark(e), Expr: e.Expr, Message: e.Message, Severity: e.Severity}
	switch {
	case e.Pass:
		v.Class = "good"
	case e.Warn():
		v.Class = "warn"
	default:
		v.Class = "bad"
	}
	if v.Severity == "" {
		v.Severity = report.SeverityFail
	}
	switch {
	case e.ObservedText != "":
		v.Observed = e.ObservedText
	case e.Observed != nil:
		v.Observed = strconv.FormatFloat(*e.Observed, 'g', -1, 64)
	default:
		v.Observed = "not evaluated"
	}
	if x, ok := report.ParseExpr(e.Expr); ok {
		v.Want = x.Op + " " + x.Bound
	} else {
		v.Want = strconv.FormatFloat(e.Bound, 'g', -1, 64)
	}
	return v
}

func envOf(r *report.Report) envView {
	firstAck := r.Recall.AcknowledgedAtMS - r.Recall.AckSpreadMS
	v := envView{
		Components: r.Environment.Components,
		File:       r.Scenario.File,
		Source:     r.Scenario.Source,
		Logs:       strings.Join(r.Logs, "\n"),
	}
	v.Drill = []kv{
		{"scenario", r.Scenario.Name},
		{"seed", strconv.FormatInt(r.Scenario.Seed, 10)},
		{"verdict", orDash(r.Verdict)},
	}
	if r.Reason != "" {
		v.Drill = append(v.Drill, kv{"reason", r.Reason})
	}
	v.Drill = append(v.Drill,
		kv{"started", stamp(r.StartedAt)},
		kv{"finished", stamp(r.FinishedAt)},
		kv{"duration", report.FormatMS(r.DurationMS)},
		kv{"runtime", orDash(r.Environment.Runtime)},
		kv{"system startup", report.FormatMS(r.Environment.StartupMS)},
		kv{"tool", strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)},
		kv{"built with", orDash(r.Tool.GoVersion)},
		kv{"report schema", orDash(r.SchemaVersion)},
	)
	t := r.Tokens
	v.Tokens = []kv{
		{"grant", orDash(t.Grant)},
		{"victims", text.Count(t.Victims)},
		{"controls", text.Count(t.Controls)},
		{"users", text.Count(t.Users)},
		{"clients", text.Count(t.Clients)},
		{"minting took", report.FormatMS(t.MintMS)},
		{"never accepted before the recall", text.Count(t.NeverAccepted)},
	}
	for _, s := range t.Sample {
		v.Sample = append(v.Sample, fingerprint(s))
	}
	rc := r.Recall
	v.Recall = []kv{{"action", orDash(rc.Action)}}
	if rc.Mode != "" {
		v.Recall = append(v.Recall, kv{"mode", rc.Mode})
	}
	v.Recall = append(v.Recall,
		kv{"credentials", text.Count(rc.Credentials)},
		kv{"sent", report.FormatMS(rc.SentAtMS) + " into the drill"},
		kv{"acknowledged", report.FormatMS(firstAck) + " – " + report.FormatMS(rc.AcknowledgedAtMS) + " (spread " + report.FormatMS(rc.AckSpreadMS) + ")"},
		kv{"failed", text.Count(rc.Failed)},
	)
	if rc.Confirmed > 0 || rc.Ineffective > 0 || rc.Unconfirmable > 0 {
		v.Recall = append(v.Recall, kv{"confirmed at the source", text.Count(rc.Confirmed)},
			kv{"ineffective (acknowledged but still active)", text.Count(rc.Ineffective)},
			kv{"unconfirmable (introspection failed)", text.Count(rc.Unconfirmable)})
		if len(rc.UnconfirmableReasons) > 0 {
			top := rc.UnconfirmableReasons[0]
			v.Recall = append(v.Recall, kv{"most frequent unconfirmable reason", fmt.Sprintf("%s (%s of %s)", top.Reason, text.Count(top.Count), text.Count(rc.Unconfirmable))})
		} else if len(rc.UnconfirmableTokens) > 0 {
			v.Recall = append(v.Recall, kv{"first unconfirmable reason", rc.UnconfirmableTokens[0].Reason})
		}
	}
	if pr := r.Provider; pr != nil {
		v.Recall = append(v.Recall, kv{"token source", orDash(pr.Source)})
		for _, e := range []struct{ name, url string }{{"token_endpoint", pr.Token}, {"revocation_endpoint", pr.Revocation}, {"introspection_endpoint", pr.Introspection}} {
			if e.url != "" {
				v.Recall = append(v.Recall, kv{e.name + " (" + orDash(pr.Endpoints[e.name]) + ")", e.url})
			}
		}
	}
	for _, f := range r.Faults {
		fv := faultView{Name: f.Name, Fault: f.Fault, Target: f.Target, Error: f.Error,
			Start: report.FormatMS(f.StartMS) + " (recall " + relative(f.StartMS-firstAck) + ")",
			End:   "never reverted"}
		if f.EndMS > 0 {
			fv.End = report.FormatMS(f.EndMS) + " (recall " + relative(f.EndMS-firstAck) + ")"
		}
		v.Faults = append(v.Faults, fv)
	}
	v.System, v.SystemScrapes = systemOf(r.SystemMetrics, firstAck)
	p := r.Probes
	v.Probes = []kv{
		{"sent", text.Count(p.Total)},
		{"rate", strconv.FormatFloat(p.RatePerSec, 'f', 0, 64) + "/s of " + strconv.FormatFloat(p.TargetRatePerSec, 'f', 0, 64) + "/s asked"},
		{"after the recall", text.Count(p.AfterRecall)},
		{"dropped", text.Count(p.Dropped)},
	}
	return v
}

// systemOf groups scraped samples by series (component, name, labels): components in the order
// first scraped, each one's series by name.
func systemOf(samples []report.MetricSample, firstAck float64) ([]systemRow, string) {
	if len(samples) == 0 {
		return nil, ""
	}
	type series struct {
		row             systemRow
		first, last     float64
		changedAt       float64
		changed, inited bool
	}
	var order []string
	all := map[string]*series{}
	instants := map[float64]bool{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range samples {
		instants[m.AtMS] = true
		lo, hi = math.Min(lo, m.AtMS), math.Max(hi, m.AtMS)
		name := m.Name
		if len(m.Labels) > 0 {
			keys := make([]string, 0, len(m.Labels))
			for k := range m.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = k + "=" + strconv.Quote(m.Labels[k])
			}
			name += "{" + strings.Join(parts, ",") + "}"
		}
		key := m.Component + "\x00" + name
		s, ok := all[key]
		if !ok {
			s = &series{row: systemRow{Component: m.Component, Name: name}}
			all[key] = s
			order = append(order, key)
		}
		switch {
		case !s.inited:
			s.first, s.last, s.inited = m.Value, m.Value, true
		case m.Value != s.last:
			s.last, s.changedAt, s.changed = m.Value, m.AtMS, true
		}
	}
	// Components in the order first scraped, each one's series by name.
	compAt := map[string]int{}
	for _, k := range order {
		if c := all[k].row.Component; compAt[c] == 0 {
			compAt[c] = len(compAt) + 1
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := all[order[i]].row, all[order[j]].row
		if compAt[a.Component] != compAt[b.Component] {
			return compAt[a.Component] < compAt[b.Component]
		}
		return a.Name < b.Name
	})
	rows := make([]systemRow, 0, len(order))
	for _, k := range order {
		s := all[k]
		s.row.First = strconv.FormatFloat(s.first, 'g', -1, 64)
		s.row.Last = strconv.FormatFloat(s.last, 'g', -1, 64)
		s.row.Changed = "—"
		if s.changed {
			s.row.Changed = report.FormatMS(s.changedAt) + " (recall " + relative(s.changedAt-firstAck) + ")"
		}
		rows = append(rows, s.row)
	}
	return rows, fmt.Sprintf("%d scrapes from %s to %s into the drill", len(instants), report.FormatMS(lo), report.FormatMS(hi))
}

// relative renders an offset from the recall as "+1.20s" or "-1.00s".
func relative(ms float64) string {
	if ms >= 0 {
		return "+" + report.FormatMS(ms)
	}
	return report.FormatMS(ms)
}

// fingerprint returns s when it already is a 12-hex fingerprint, and otherwise its fingerprint
// (redact.Fingerprint, the one recall uses everywhere): whatever a writer put in a token field,
// the page shows no token.
func fingerprint(s string) string {
	if len(s) == 12 && strings.Trim(s, "0123456789abcdef") == "" {
		return s
	}
	return redact.Fingerprint(s)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
