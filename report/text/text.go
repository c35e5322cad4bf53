// Package text renders a drill's report as the plain-text summary printed at the end of
// `recall run`: a headline verdict line, a table with one row per component, the findings, and
// the expectations with ✓, ✗ or WARN. It renders from a *report.Report alone.
//
// Headline, the one-sentence account of a drill, is [report.Headline], shared with the HTML report
// so that the terminal and the page say the same thing.
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
	fmt.Fprintf(ew, "      %s\n", Headline(r))
	if r.Incomplete {
		fmt.Fprintf(ew, "      INCOMPLETE: rebuilt from the journal, which ends at %s in phase %s.\n", report.FormatMS(r.JournalEndsAtMS), r.JournalPhase)
	}
	if s := report.MissingSentence(r); s != "" {
		fmt.Fprintf(ew, "      Rebuilt from the journal: %s.\n", s)
	}
	fmt.Fprintln(ew)

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

	if line := DeliveryLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := SSFReceiverLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := RecoveryLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := RotatedAccessLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := ConfirmationLine(r); line != "" {
		fmt.Fprintf(ew, "\n%s\n", line)
	}
	if line := MFALine(r); line != "" {
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

// Headline returns the one-sentence account of a drill: see [report.Headline], which it is.
func Headline(r *report.Report) string { return report.Headline(r) }

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

// Slowest returns the component the headline names: see [report.Slowest].
func Slowest(r *report.Report) (report.Component, bool) { return report.Slowest(r) }

// HeadlineSLO picks the SLO a sentence about c quotes: see [report.HeadlineSLO].
func HeadlineSLO(r *report.Report, c report.Component) (report.SLO, bool) {
	return report.HeadlineSLO(r, c)
}

// SLOMet reports whether component c meets s: see [report.SLOMet].
func SLOMet(s report.SLO, c report.Component) bool { return report.SLOMet(s, c) }

// TTCStat returns component c's TTC statistic over all its pairs: see [report.TTCStat].
func TTCStat(c report.Component, stat string) (value float64, never, ok bool) {
	return report.TTCStat(c, stat)
}

// CountExpectations returns how many expectations failed and how many warned: see
// [report.CountExpectations].
func CountExpectations(r *report.Report) (failed, warned int) { return report.CountExpectations(r) }

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

// DeliveryLine returns one line on the event receivers' delivery sections ("" without any):
// per receiver, its delivery latency and its enforcement latency (see DeliveryText).
func DeliveryLine(r *report.Report) string {
	var parts []string
	for _, c := range r.Components {
		if c.Delivery != nil {
			parts = append(parts, oneLine(c.Name)+" "+DeliveryText(*c.Delivery))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Delivery (each receiver's TTC counts from its own acknowledgement): " + strings.Join(parts, "; ") + "."
}

// DeliveryText renders a receiver's delivery section: "(push) delivered p50 14ms, max 42ms,
// acknowledged max 42ms; enforcement p99 71ms ±90ms; from sent p99 89ms ±90ms". Enforcement and
// from-sent figures are upper bounds ± the bracket's median width, like TTC.
func DeliveryText(d report.Delivery) string {
	out := fmt.Sprintf("delivered p50 %s, max %s, acknowledged max %s", report.FormatMS(d.DeliveredMS.P50),
		report.FormatMS(d.DeliveredMS.Max), report.FormatMS(d.AcknowledgedMS.Max))
	if m := oneLine(d.Method); m != "" {
		out = "(" + m + ") " + out
	}
	if d.Retried > 0 {
		out += fmt.Sprintf(", %s retried", Count(d.Retried))
	}
	if d.EnforcementMS.Count == 0 {
		return out + "; enforcement not measured (no converged pair)"
	}
	return out + fmt.Sprintf("; enforcement p99 %s; from sent p99 %s", report.FormatMSRes(d.EnforcementMS.P99, d.EnforcementMS.ResolutionMS),
		report.FormatMSRes(d.TTCFromSentMS.P99, d.TTCFromSentMS.ResolutionMS))
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

// RotatedAccessLine returns one sentence on the rotated access tokens of refresh-replay: how
// many of those followed were refused everywhere after their family's acknowledgement, how
// fast (upper bounds with their resolution), the slowest component, and where some were still
// honoured when the drill ended. It is empty when the drill followed none.
func RotatedAccessLine(r *report.Report) string {
	ra := r.RotatedAccess
	if ra == nil {
		return ""
	}
	o := r.Overall
	refused := 0
	if o.RotatedAccessMS != nil {
		refused = o.RotatedAccessMS.Count
	}
	line := fmt.Sprintf("Rotated access tokens: %d of %d issued by the legitimate rotation just before the theft refused everywhere", refused, ra.Sampled)
	if st := o.RotatedAccessMS; st != nil && st.Count > 0 {
		line += fmt.Sprintf(" after the replay: p50 %s, max %s ±%s", report.FormatMS(st.P50), report.FormatMS(st.Max), report.FormatMS(st.ResolutionMS))
		slowest, slowestMax := "", -1.0
		for _, c := range r.Components {
			if c.RotatedAccessMS != nil && c.RotatedAccessMS.Count > 0 && c.RotatedAccessMS.Max > slowestMax {
				slowest, slowestMax = oneLine(c.Name), c.RotatedAccessMS.Max
			}
		}
		if slowest != "" && len(r.Components) > 1 {
			line += fmt.Sprintf(" (slowest %s)", slowest)
		}
	}
	if o.RotatedAlive > 0 {
		var where []string
		for _, c := range r.Components {
			if c.RotatedAlive > 0 {
				where = append(where, fmt.Sprintf("%s %d", oneLine(c.Name), c.RotatedAlive))
			}
		}
		line += fmt.Sprintf("; %d still honoured at the end (%s)", o.RotatedAlive, strings.Join(where, ", "))
	}
	if ra.Unbaselined > 0 {
		line += fmt.Sprintf("; %d never accepted before the replay, not followed", ra.Unbaselined)
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
	if len(rc.UnconfirmableReasons) > 0 {
		top := rc.UnconfirmableReasons[0]
		line += fmt.Sprintf(" Most frequent reason (%s): %s", Count(top.Count), oneLine(top.Reason))
	} else if len(rc.UnconfirmableTokens) > 0 {
		line += " First reason: " + oneLine(rc.UnconfirmableTokens[0].Reason)
	}
	return line
}

// MFALine returns one sentence on an MFA factor recall (recall.mfa): what the one call took
// back and, from its acknowledgement, when the sessions, the old factor and the recovery codes
// were refused and re-enrolment worked. It is empty for other recalls.
func MFALine(r *report.Report) string {
	m := r.Recall.MFA
	if m == nil {
		return ""
	}
	ms := report.FormatMS
	check := func(what string, lc report.LoginCheck) string {
		switch {
		case lc.Baseline == 0:
			return what + " not checked"
		case lc.Accepted > 0:
			return fmt.Sprintf("%s still accepted for %s of %s users", what, Count(lc.Accepted), Count(lc.Baseline))
		}
		return fmt.Sprintf("%s refused for %s of %s users within %s", what, Count(lc.Refused), Count(lc.Baseline), ms(lc.RefusedMS))
	}
	line := fmt.Sprintf("MFA recall: %s factors and %s recovery codes of %s users in one call; sessions dead everywhere within %s; %s; %s",
		Count(m.Factors), Count(m.RecoveryCodes), Count(m.Users), ms(m.SessionsDeadMS), check("old factor", m.OldFactor), check("recovery code", m.RecoveryCode))
	if m.Reenrolled > 0 {
		line += fmt.Sprintf("; %s users re-enrolled within %s", Count(m.Reenrolled), ms(m.ReenrolMS))
	}
	return line + "."
}
