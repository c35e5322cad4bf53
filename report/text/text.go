// Package text renders a drill's report as the plain-text summary printed at the end of
// `recall run`: a headline verdict line, a table with one row per component, the findings, and
// the expectations with ✓, ✗ or WARN. It renders from a *report.Report alone.
//
// Headline, the one-sentence account of a drill, is shared with the HTML report so that the
// terminal and the page say the same thing.
package text

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/recall-drills/recall/report"
)

// Marks used in the expectations list.
const (
	MarkPass = "✓"
	MarkFail = "✗"
	MarkWarn = "WARN"
)

// Summary writes the terminal summary of r to w: the verdict line, the per-component table
// (TTC figures carry the resolution in the ±RES column), the findings by severity, the
// expectations and the probe totals. It returns the first write error.
func Summary(w io.Writer, r *report.Report) error {
	ew := &ErrWriter{W: w}
	fmt.Fprintf(ew, "%s  %s (seed %d)\n", verdictWord(r.Verdict), oneLine(r.Scenario.Name), r.Scenario.Seed)
	fmt.Fprintf(ew, "      %s\n\n", Headline(r))

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	// AlignRight pads every cell on the left; the first two columns read better left-aligned, so
	// they are padded by hand to the widest entry.
	nameW, kindW := len("COMPONENT"), len("KIND")
	for _, c := range r.Components {
		nameW = max(nameW, runeLen(oneLine(c.Name)))
		kindW = max(kindW, runeLen(oneLine(c.Kind)))
	}
	row := func(cells ...string) {
		cells[0] = pad(cells[0], nameW)
		cells[1] = pad(cells[1], kindW)
		fmt.Fprintf(tw, "%s\t\n", strings.Join(cells, "\t"))
	}
	row("COMPONENT", "KIND", "PAIRS", "CONVERGED", "NOT CONV.", "TTC P50", "P90", "P99", "MAX", "±RES",
		"STALE ACC.", "RESURR.", "FALSE REJ.", "ERRORS")
	for _, c := range r.Components {
		row(componentCells(oneLine(c.Name), oneLine(c.Kind), c.Probed, c.Summary, func(stat string) bool { return r.StatResolved(c, stat) })...)
	}
	if len(r.Components) > 1 {
		row(componentCells("(all)", "", true, r.Overall, func(stat string) bool {
			v, _ := r.Overall.TTCMS.Get(stat)
			return report.Resolved(v, r.Overall.TTCMS.ResolutionMS, 0)
		})...)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range ResolutionLines(r) {
		fmt.Fprintf(ew, "%s\n", line)
	}

	if line := RecoveryLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := ConfirmationLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}

	if len(r.Findings) > 0 {
		fmt.Fprintf(ew, "\nFindings (%d):\n", len(r.Findings))
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, f := range SortFindings(r.Findings) {
			comp := f.Component
			if comp == "" {
				comp = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", strings.ToUpper(oneLine(f.Severity)), oneLine(f.Kind),
				oneLine(comp), f.Count, oneLine(f.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(ew, "\nFindings: none\n")
	}

	if len(r.Expectations) > 0 {
		failed, warned := CountExpectations(r)
		fmt.Fprintf(ew, "\nExpectations (%d held, %d failed, %d warning%s):\n", len(r.Expectations)-failed-warned, failed, warned, plural(warned))
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, e := range r.Expectations {
			line := fmt.Sprintf("  %s\t%s\tobserved %s", ExpectationMark(e), oneLine(e.Expr), observed(e))
			if !e.Pass && e.Message != "" {
				line += " — " + oneLine(e.Message)
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	p := r.Probes
	fmt.Fprintf(ew, "\nProbes: %s sent (%s/s of %s/s asked), %s after the recall, %s dropped; drill took %s.\n",
		Count(p.Total), Count(int(math.Round(p.RatePerSec))), Count(int(math.Round(p.TargetRatePerSec))),
		Count(p.AfterRecall), Count(p.Dropped), report.FormatMS(r.DurationMS))
	return ew.Err()
}

// componentCells returns one table row for a component or the overall summary; a TTC figure
// that resolved says is not resolved is shown as "≤x": only an upper bound is known.
func componentCells(name, kind string, probed bool, s report.Summary, resolved func(stat string) bool) []string {
	if !probed {
		return []string{name, kind, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	}
	t := s.TTCMS
	var p50, p90, p99, mx, res string
	switch {
	case t.Count == 0 && s.NotConverged > 0:
		p50, p90, p99, mx, res = "never", "never", "never", "never", "-"
	case t.Count == 0:
		p50, p90, p99, mx, res = "-", "-", "-", "-", "-"
	default:
		cell := func(stat string) string {
			v, _ := t.Get(stat)
			if !resolved(stat) {
				return "≤" + report.FormatMS(v)
			}
			return report.FormatMS(v)
		}
		p50, p90, p99, mx = cell("p50"), cell("p90"), cell("p99"), cell("max")
		res = "±" + report.FormatMS(t.ResolutionMS)
	}
	return []string{name, kind, Count(s.Pairs), Count(s.Converged), Count(s.NotConverged), p50, p90, p99, mx, res,
		Count(s.StaleAccepts), Count(s.Resurrections), Count(s.FalseRejects), Count(s.Errors)}
}

// Headline returns one sentence for a manager: it names the slowest component and how long it
// kept honouring recalled credentials against its SLO (the bound of the expectation on that
// component's TTC, see [report.Report.SLOs]), says why an ERROR drill is partial and how many
// expectations failed. It does not repeat the verdict.
func Headline(r *report.Report) string {
	var parts []string
	if r.Verdict == report.Error {
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
	failed, warned := CountExpectations(r)
	switch {
	case failed > 0:
		parts = append(parts, fmt.Sprintf("%d of %d expectations failed", failed, len(r.Expectations)))
	case len(r.Expectations) == 1 && r.Verdict == report.Pass && warned == 0:
		parts = append(parts, "the one expectation held")
	case len(r.Expectations) > 0 && r.Verdict == report.Pass:
		parts = append(parts, fmt.Sprintf("all %d expectations held", len(r.Expectations)-warned))
	}
	if warned > 0 {
		parts = append(parts, fmt.Sprintf("%d warning%s", warned, plural(warned)))
	}
	return strings.Join(parts, "; ") + "."
}

// slowestClause is the part of the headline about the slowest component.
func slowestClause(r *report.Report) string {
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
			name, c.NotConverged, c.Pairs, report.FormatMS(t.Max))
	}
	slo, hasSLO := HeadlineSLO(r, c)
	bound := 0.0
	if hasSLO {
		bound = slo.Bound
	}
	// A figure whose brackets are wider than itself (or than its SLO) tells how often the probes
	// came back, not what the component did: say so, and how to resolve it.
	if !report.Resolved(t.Max, t.ResolutionMS, bound) {
		s := fmt.Sprintf("The slowest component, %s, is %s (to resolve it: %s)", name, c.NotResolved(t.Max), c.ResolutionFix())
		if !hasSLO {
			return s
		}
		v, _ := t.Get(slo.Expr.Stat)
		word := "proven within"
		if !SLOMet(slo, c) {
			word = "not proven within"
		}
		return fmt.Sprintf("%s; its %s ≤ %s is %s %s %s target", s, slo.Expr.Stat, report.FormatMS(v), word, sloOwner(slo), slo.Expr.Bound)
	}
	s := fmt.Sprintf("The slowest component, %s, honoured recalled credentials for up to %s", name, report.FormatMS(t.Max))
	if !hasSLO {
		return s + " (no SLO set for it)"
	}
	v, _ := t.Get(slo.Expr.Stat)
	word := "within"
	if !SLOMet(slo, c) {
		word = "over"
	}
	return fmt.Sprintf("%s; its %s of %s is %s %s %s target", s, slo.Expr.Stat, report.FormatMSRes(v, t.ResolutionMS),
		word, sloOwner(slo), slo.Expr.Bound)
}

func sloOwner(s report.SLO) string {
	if s.Global {
		return "the"
	}
	return "its"
}

// ResolutionLines explains the table's resolution: a heading and one line per note of
// [ResolutionNotes]; empty when there is none.
func ResolutionLines(r *report.Report) []string {
	notes := ResolutionNotes(r)
	if len(notes) == 0 {
		return nil
	}
	out := []string{"", "Resolution (≤: not resolved, only an upper bound is known):"}
	for _, n := range notes {
		out = append(out, "  "+oneLine(n.Component)+": "+n.Text)
	}
	return out
}

// ResolutionNote is one sentence about the resolution of a component's figures.
type ResolutionNote struct {
	Component, Text string
}

// ResolutionNotes explains the resolution of the TTC figures, shared by the terminal and the
// HTML: for each component with figures marked ≤ (not resolved), which ones, the probe interval
// and the fix; for each sampled component, n of N, the achieved probe interval and how
// precisely its p99 is known at that n.
func ResolutionNotes(r *report.Report) []ResolutionNote {
	var out []ResolutionNote
	for _, c := range r.Components {
		if !c.Probed || c.Pairs == 0 {
			continue
		}
		var unresolved []string
		for _, st := range []string{"p50", "p90", "p99", "max"} {
			if !r.StatResolved(c, st) {
				unresolved = append(unresolved, st)
			}
		}
		if len(unresolved) > 0 {
			v, _ := c.TTCMS.Get(unresolved[len(unresolved)-1])
			out = append(out, ResolutionNote{c.Name, fmt.Sprintf("%s %s (brackets ±%s wider than the figure or its SLO); to resolve: %s.",
				strings.Join(unresolved, ", "), c.NotResolved(v), report.FormatMS(c.TTCMS.ResolutionMS), c.ResolutionFix())})
		}
		if z := c.Sample; z != nil {
			line := fmt.Sprintf("%s of %s victims probed (all recalled)", Count(z.Size), Count(z.Of))
			if c.RevisitMS > 0 {
				line += ", each every " + report.FormatMS(c.RevisitMS)
			}
			for _, p := range z.Percentiles {
				if p.Stat == "p99" {
					line += "; " + p.String()
				}
			}
			out = append(out, ResolutionNote{c.Name, line + "."})
		}
	}
	return out
}

// Slowest returns the component named by r.Slowest, or when that is empty or unknown the probed
// component with the most unconverged pairs, else the largest TTC max.
func Slowest(r *report.Report) (report.Component, bool) {
	for _, c := range r.Components {
		if r.Slowest != "" && c.Name == r.Slowest {
			return c, true
		}
	}
	best, found := report.Component{}, false
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
func HeadlineSLO(r *report.Report, c report.Component) (report.SLO, bool) {
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
	return report.SLO{}, false
}

// SLOMet reports whether component c meets s. For an SLO that names the component the
// expectation's own outcome decides; a global one is checked against c's statistic as TTCStat
// gives it (a statistic that falls among unconverged pairs never meets a bound).
func SLOMet(s report.SLO, c report.Component) bool {
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
func TTCStat(c report.Component, stat string) (value float64, never, ok bool) {
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

// CountExpectations returns how many expectations failed (severity fail) and how many warned
// (severity warn, did not hold).
func CountExpectations(r *report.Report) (failed, warned int) {
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

// ExpectationMark returns MarkPass, MarkFail or MarkWarn for e.
func ExpectationMark(e report.Expectation) string {
	switch {
	case e.Pass:
		return MarkPass
	case e.Warn():
		return MarkWarn
	}
	return MarkFail
}

func observed(e report.Expectation) string {
	switch {
	case e.ObservedText != "":
		return oneLine(e.ObservedText)
	case e.Observed != nil:
		return strconv.FormatFloat(*e.Observed, 'g', -1, 64)
	}
	return "nothing (not evaluated)"
}

// severityRank orders findings: critical, warning, info, anything else.
func severityRank(s string) int {
	switch s {
	case report.Critical:
		return 0
	case report.Warning:
		return 1
	case report.Info:
		return 2
	}
	return 3
}

// kindRank orders findings of one severity: what a reader must see first comes first.
func kindRank(k string) int {
	for i, x := range []string{"resurrection", "fail_open", "false_reject", "not_converged",
		"unavailable", "ineffective_recall", "recall_failed", "never_accepted", "rate_shortfall"} {
		if k == x {
			return i
		}
	}
	return 100
}

// SortFindings returns a copy of fs ordered by severity (critical first), then kind
// (resurrection, fail_open, false_reject, not_converged, unavailable, ...), keeping the report's order
// otherwise.
func SortFindings(fs []report.Finding) []report.Finding {
	out := append([]report.Finding(nil), fs...)
	// insertion sort: stable, and findings are few
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && findingLess(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func findingLess(a, b report.Finding) bool {
	if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
		return ra < rb
	}
	return kindRank(a.Kind) < kindRank(b.Kind)
}

// Count renders n with thousands separators: 98,000.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func verdictWord(v string) string {
	switch v {
	case report.Pass, report.Fail, report.Error:
		return v
	case "":
		return "UNKNOWN"
	}
	return oneLine(v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// oneLine makes a value from the scenario or the system safe for one terminal line: control
// characters (newlines, tabs, escape sequences) become spaces, so a component name cannot break
// the table or drive the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func runeLen(s string) int { return len([]rune(s)) }

func pad(s string, w int) string {
	if n := runeLen(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// ErrWriter remembers the first write error and drops later writes, so a view can write many
// lines and check once: the views of package report share it.
type ErrWriter struct {
	W   io.Writer
	err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.W.Write(p)
	e.err = err
	return n, err
}

// RecoveryLine returns one sentence on the recovery time: how many of the affected identities
// given a fresh credential after the recall were accepted everywhere again, how fast (from the
// last acknowledgement, upper bounds with their resolution), the slowest component, and where
// some never recovered. It is empty when the drill did not measure recovery.
func RecoveryLine(r *report.Report) string {
	rc := r.Recovery
	if rc == nil {
		return ""
	}
	o := r.Overall
	kind := oneLine(rc.Identity)
	line := fmt.Sprintf("Recovery: fresh credentials of %d of %d affected %s%s accepted everywhere again",
		recovered(o), rc.Sampled, kind, plural(rc.Sampled))
	if st := o.RecoveryMS; st != nil && st.Count > 0 {
		line += fmt.Sprintf(" after the recall: p50 %s, p99 %s, max %s ±%s", report.FormatMS(st.P50), report.FormatMS(st.P99),
			report.FormatMS(st.Max), report.FormatMS(st.ResolutionMS))
		slowest, slowestMax := "", -1.0
		for _, c := range r.Components {
			if c.RecoveryMS != nil && c.RecoveryMS.Count > 0 && c.RecoveryMS.Max > slowestMax {
				slowest, slowestMax = oneLine(c.Name), c.RecoveryMS.Max
			}
		}
		if slowest != "" && len(r.Components) > 1 {
			line += fmt.Sprintf(" (slowest %s)", slowest)
		}
	}
	if o.NotRecovered > 0 {
		var where []string
		for _, c := range r.Components {
			if c.NotRecovered > 0 {
				where = append(where, fmt.Sprintf("%s %d", oneLine(c.Name), c.NotRecovered))
			}
		}
		line += fmt.Sprintf("; %d not recovered", o.NotRecovered)
		if len(where) > 0 {
			line += " (" + strings.Join(where, ", ") + ")"
		}
		if n := rc.Sampled - rc.Reissued; n > 0 {
			line += fmt.Sprintf(", %d never re-issued", n)
		}
	}
	return line + "."
}

func recovered(s report.Summary) int {
	if s.RecoveryMS == nil {
		return 0
	}
	return s.RecoveryMS.Count
}

// Err is the first write error, if any.
func (e *ErrWriter) Err() error { return e.err }

// ConfirmationLine returns one sentence on the confirmation of the recall at the source: how
// many recalled credentials were confirmed inactive, how many were acknowledged yet still active
// (ineffective), and how many could not be asked about (unconfirmable). It is empty when the
// recall was not confirmed.
func ConfirmationLine(r *report.Report) string {
	rc := r.Recall
	if rc.Confirmed+rc.Ineffective+rc.Unconfirmable == 0 {
		return ""
	}
	line := fmt.Sprintf("Confirmation at the source: %s confirmed, %s ineffective, %s unconfirmable.",
		Count(rc.Confirmed), Count(rc.Ineffective), Count(rc.Unconfirmable))
	if len(rc.UnconfirmableTokens) > 0 {
		line += " First reason: " + oneLine(rc.UnconfirmableTokens[0].Reason)
	}
	return line
}
