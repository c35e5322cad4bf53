// Package compare compares two drill reports, a base (the last good run) and a next one, and
// says whether next regressed. It renders from two *report.Report values alone.
//
// What counts as a regression:
//
//   - A component's gating figure grew by more than Options.MaxRegression (relative to base)
//     AND by more than the combined resolution of the two figures. The gating figure is TTC
//     p99, or max when the component has no p99 in either report. Each figure is an upper bound
//     whose bracket is its resolution wide, so a growth smaller than the two brackets together
//     can be the same system measured with a different probe phase: that is noise, not a
//     regression. For p99 the combined resolution is the sum of both reports' ResolutionMS (the
//     median bracket width); for max it is the sum of ResolutionMaxMS (the widest bracket, which
//     the max's own bracket may be).
//   - A component that has pairs not converged in next and had none in base (or did not exist
//     in base): a component newly not converging.
//   - A finding that appeared: one with a (kind, component) not present in base, unless its
//     severity is info (info findings are listed, never gate).
//
// A component only in base (removed) or only in next and converging (added) is listed, not
// counted. Findings whose count changed are listed with both counts.
package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/text"
)

// DefaultMaxRegression is the relative growth of a component's p99 (or max) TTC tolerated
// before it counts as a regression: 20 %.
const DefaultMaxRegression = 0.20

// Options tunes Compare.
type Options struct {
	// MaxRegression is the tolerated relative growth of the gating figure; 0 means
	// DefaultMaxRegression. To flag any growth beyond the resolution pass a tiny positive value.
	MaxRegression float64
}

// Run identifies one of the two reports compared.
type Run struct {
	Scenario  string
	StartedAt time.Time
	Verdict   string
	Tool      string
}

// Delta compares one statistic of one component.
type Delta struct {
	// Base and Next are the figures in milliseconds; Known is false when either report lacks
	// the figure (no converged pair).
	Base, Next float64
	Known      bool
	// Abs is Next − Base; Pct is Abs/Base (NaN when Base is 0).
	Abs, Pct float64
	// Resolution is the combined resolution of both figures, in milliseconds.
	Resolution float64
}

// Component compares one component.
type Component struct {
	Name string
	// InBase and InNext say which reports have the component.
	InBase, InNext bool
	// Base and Next are the component's TTC statistics.
	Base, Next report.Stats
	// BaseNotConverged and NextNotConverged count unconverged pairs; BasePairs, NextPairs all.
	BaseNotConverged, NextNotConverged int
	BasePairs, NextPairs               int
	P50, P99, Max                      Delta
	// Gate is the statistic the regression rule looked at: "p99" or "max" ("" if neither).
	Gate string
	// Regressed is true when this component regressed; Reason says why in a few words.
	Regressed bool
	Reason    string
}

// FindingChange is a finding present in both reports whose count changed.
type FindingChange struct {
	report.Finding
	// BaseCount is the count in base (Finding.Count is next's).
	BaseCount int
}

// Result is the outcome of Compare.
type Result struct {
	Base, Next Run
	// MaxRegression is the threshold used.
	MaxRegression float64
	// Components lists next's components in its order, then those only in base.
	Components []Component
	// Appeared lists findings of next with no (kind, component) match in base; Vanished the
	// reverse (both most severe first); Changed those in both whose count differs.
	Appeared, Vanished []report.Finding
	Changed            []FindingChange
}

// Compare compares next against base. Neither report is modified.
func Compare(base, next *report.Report, opts Options) Result {
	if opts.MaxRegression <= 0 {
		opts.MaxRegression = DefaultMaxRegression
	}
	res := Result{Base: runOf(base), Next: runOf(next), MaxRegression: opts.MaxRegression}
	baseComps := map[string]report.Component{}
	for _, c := range base.Components {
		baseComps[c.Name] = c
	}
	seen := map[string]bool{}
	for _, n := range next.Components {
		seen[n.Name] = true
		b, ok := baseComps[n.Name]
		res.Components = append(res.Components, compareComponent(b, ok, n, true, opts.MaxRegression))
	}
	for _, b := range base.Components {
		if !seen[b.Name] {
			res.Components = append(res.Components, compareComponent(b, true, report.Component{Name: b.Name}, false, opts.MaxRegression))
		}
	}

	type key struct{ kind, comp string }
	baseF := map[key]report.Finding{}
	for _, f := range base.Findings {
		k := key{f.Kind, f.Component}
		if prev, ok := baseF[k]; ok {
			f.Count += prev.Count
		}
		baseF[k] = f
	}
	nextF := map[key]bool{}
	for _, f := range next.Findings {
		k := key{f.Kind, f.Component}
		nextF[k] = true
		b, ok := baseF[k]
		switch {
		case !ok:
			res.Appeared = append(res.Appeared, f)
		case b.Count != f.Count:
			res.Changed = append(res.Changed, FindingChange{Finding: f, BaseCount: b.Count})
		}
	}
	for _, f := range base.Findings {
		if !nextF[key{f.Kind, f.Component}] {
			res.Vanished = append(res.Vanished, f)
		}
	}
	res.Appeared, res.Vanished = text.SortFindings(res.Appeared), text.SortFindings(res.Vanished)
	return res
}

func runOf(r *report.Report) Run {
	return Run{Scenario: r.Scenario.Name, StartedAt: r.StartedAt, Verdict: r.Verdict, Tool: r.Tool.Version}
}

func compareComponent(b report.Component, inBase bool, n report.Component, inNext bool, maxReg float64) Component {
	c := Component{Name: n.Name, InBase: inBase, InNext: inNext, Base: b.TTCMS, Next: n.TTCMS,
		BaseNotConverged: b.NotConverged, NextNotConverged: n.NotConverged, BasePairs: b.Pairs, NextPairs: n.Pairs}
	c.P50 = delta(b.TTCMS, n.TTCMS, "p50", b.TTCMS.ResolutionMS+n.TTCMS.ResolutionMS)
	c.P99 = delta(b.TTCMS, n.TTCMS, "p99", b.TTCMS.ResolutionMS+n.TTCMS.ResolutionMS)
	c.Max = delta(b.TTCMS, n.TTCMS, "max", b.TTCMS.ResolutionMaxMS+n.TTCMS.ResolutionMaxMS)
	if !inNext {
		c.Reason = "removed"
		return c
	}
	if n.NotConverged > 0 && (!inBase || b.NotConverged == 0) {
		c.Regressed = true
		c.Reason = fmt.Sprintf("newly not converging: %d of %d pairs", n.NotConverged, n.Pairs)
		return c
	}
	if !inBase {
		c.Reason = "added"
		return c
	}
	d := c.P99
	c.Gate = "p99"
	// "p99 absent": a report with converged pairs always has one, but a writer may leave it 0
	// when there are too few pairs for a 99th percentile; then max is all we have.
	if !d.Known || d.Base == 0 || d.Next == 0 {
		d, c.Gate = c.Max, "max"
	}
	if !d.Known {
		c.Gate = ""
		if b.NotConverged > 0 && n.NotConverged == 0 {
			c.Reason = "converges now"
		}
		return c
	}
	grew := d.Abs > maxReg*d.Base && d.Abs > d.Resolution
	switch {
	case grew:
		c.Regressed = true
		c.Reason = fmt.Sprintf("%s %s: more than %s and beyond ±%s", c.Gate, signed(d), pct(maxReg), report.FormatMS(d.Resolution))
	case d.Abs > maxReg*d.Base:
		c.Reason = fmt.Sprintf("%s %s within resolution ±%s", c.Gate, signedMS(d.Abs), report.FormatMS(d.Resolution))
	case d.Abs < -maxReg*d.Base && -d.Abs > d.Resolution:
		c.Reason = fmt.Sprintf("%s improved %s", c.Gate, signed(d))
	}
	return c
}

func delta(b, n report.Stats, stat string, res float64) Delta {
	bv, bok := b.Get(stat)
	nv, nok := n.Get(stat)
	d := Delta{Base: bv, Next: nv, Known: bok && nok, Resolution: res}
	if !d.Known {
		return d
	}
	d.Abs = nv - bv
	d.Pct = math.NaN()
	if bv != 0 {
		d.Pct = d.Abs / bv
	}
	return d
}

// Regressed reports whether next regressed against base (see the package comment).
func (r Result) Regressed() bool {
	for _, c := range r.Components {
		if c.Regressed {
			return true
		}
	}
	for _, f := range r.Appeared {
		if f.Severity != report.Info {
			return true
		}
	}
	return false
}

// Write writes the comparison as a table: one row per component with p50, p99 and max in
// both reports and their change, then findings that appeared, vanished or changed, then the
// outcome line ("REGRESSION" or "no regression").
func (r Result) Write(w io.Writer) error {
	ew := &text.ErrWriter{W: w}
	fmt.Fprintf(ew, "base: %s\nnext: %s\n", runLine(r.Base), runLine(r.Next))
	fmt.Fprintf(ew, "A component regresses when its p99 TTC (max without p99) grows by more than %s and by more than the combined resolution, or when it newly does not converge.\n\n", pct(r.MaxRegression))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tP50 BASE\tP50 NEXT\tΔ P50\tP99 BASE\tP99 NEXT\tΔ P99\tMAX BASE\tMAX NEXT\tΔ MAX\tRESULT")
	for _, c := range r.Components {
		result := "ok"
		if c.Regressed {
			result = "REGRESSED"
		}
		if c.Reason != "" {
			result += ": " + c.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(c.Name),
			figure(c.Base, "p50", c.InBase, c.BaseNotConverged), figure(c.Next, "p50", c.InNext, c.NextNotConverged), deltaText(c.P50),
			figure(c.Base, "p99", c.InBase, c.BaseNotConverged), figure(c.Next, "p99", c.InNext, c.NextNotConverged), deltaText(c.P99),
			figure(c.Base, "max", c.InBase, c.BaseNotConverged), figure(c.Next, "max", c.InNext, c.NextNotConverged), deltaText(c.Max),
			result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Appeared)+len(r.Vanished)+len(r.Changed) > 0 {
		fmt.Fprintln(ew, "\nFindings:")
		for _, f := range r.Appeared {
			fmt.Fprintf(ew, "  + appeared  %s\n", findingLine(f, ""))
		}
		for _, f := range r.Vanished {
			fmt.Fprintf(ew, "  - vanished  %s\n", findingLine(f, ""))
		}
		for _, f := range r.Changed {
			fmt.Fprintf(ew, "  ~ changed   %s\n", findingLine(f.Finding, fmt.Sprintf("%d → ", f.BaseCount)))
		}
	} else {
		fmt.Fprintln(ew, "\nFindings: no change")
	}
	if r.Regressed() {
		fmt.Fprintln(ew, "\nREGRESSION")
	} else {
		fmt.Fprintln(ew, "\nno regression")
	}
	return ew.Err()
}

func runLine(r Run) string {
	s := oneLine(r.Scenario)
	if !r.StartedAt.IsZero() {
		s += ", started " + r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if r.Verdict != "" {
		s += ", " + oneLine(r.Verdict)
	}
	if r.Tool != "" {
		s += ", recall " + oneLine(r.Tool)
	}
	return s
}

func findingLine(f report.Finding, countPrefix string) string {
	comp := f.Component
	if comp == "" {
		comp = "(drill)"
	}
	return fmt.Sprintf("%s %s at %s (%s%d): %s", strings.ToUpper(oneLine(f.Severity)), oneLine(f.Kind), oneLine(comp),
		countPrefix, f.Count, oneLine(f.Message))
}

func figure(s report.Stats, stat string, present bool, notConverged int) string {
	if !present {
		return "-"
	}
	v, ok := s.Get(stat)
	switch {
	case ok:
		return report.FormatMS(v)
	case notConverged > 0:
		return "never"
	}
	return "-"
}

func deltaText(d Delta) string {
	if !d.Known {
		return "-"
	}
	return signed(d)
}

// signed renders a delta as "+790ms (+34%)".
func signed(d Delta) string {
	s := signedMS(d.Abs)
	if !math.IsNaN(d.Pct) {
		p := d.Pct * 100
		sign := "+"
		if p < 0 {
			sign = ""
		}
		s += fmt.Sprintf(" (%s%.0f%%)", sign, p)
	}
	return s
}

func signedMS(v float64) string {
	if v >= 0 {
		return "+" + report.FormatMS(v)
	}
	return report.FormatMS(v)
}

func pct(f float64) string { return fmt.Sprintf("%g%%", math.Round(f*1000)/10) }

// oneLine keeps a value from the reports on one line: control characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
