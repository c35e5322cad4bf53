package html

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/report/text"
)

// Chart geometry. Everything here computes coordinates and labels in Go; the template only
// places them, so every string still goes through html/template's escaping and no markup is
// assembled by hand.

// palette is the Okabe–Ito colour-blind-safe palette, in the order series take it. Series also
// differ by dash pattern, so they stay apart in grey print.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}

// dashes are the dash patterns series take after their colour (every len(palette) series).
var dashes = []string{"", "6 3", "2 2", "8 3 2 3"}

// statColours are the bar colours of the four TTC statistics.
var statColours = map[string]string{"p50": "#56B4E9", "p90": "#0072B2", "p99": "#E69F00", "max": "#CC79A7"}

var stats = []string{"p50", "p90", "p99", "max"}

func seriesStyle(i int) (colour, dash string) {
	return palette[i%len(palette)], dashes[(i/len(palette))%len(dashes)]
}

// styler gives each component the same colour and dash in every chart: by its position among
// the report's components, and after them for series naming a component the report lacks.
func styler(r *report.Report) func(component string) (colour, dash string) {
	index := map[string]int{}
	for i, c := range r.Components {
		if _, dup := index[c.Name]; !dup {
			index[c.Name] = i
		}
	}
	next := len(r.Components)
	return func(component string) (string, string) {
		i, ok := index[component]
		if !ok {
			i = next
			index[component] = i
			next++
		}
		return seriesStyle(i)
	}
}

// tick is one axis tick: its pixel position and label.
type tick struct {
	Pos   float64
	Label string
}

// scale maps a data interval onto a pixel interval.
type scale struct{ d0, d1, p0, p1 float64 }

func (s scale) pos(v float64) float64 {
	if s.d1 == s.d0 {
		return s.p0
	}
	p := s.p0 + (v-s.d0)/(s.d1-s.d0)*(s.p1-s.p0)
	lo, hi := min(s.p0, s.p1), max(s.p0, s.p1)
	return math.Max(lo, math.Min(hi, p))
}

// niceStep returns a step of 1, 2 or 5 × 10^k giving about n intervals over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// niceTicks returns the multiples of a nice step within [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(out) < 50; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// msTick labels a time tick compactly: "0", "500ms", "2.5s", "-5s".
func msTick(ms float64) string {
	if ms == 0 {
		return "0"
	}
	s := report.FormatMS(ms)
	if strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ms") && strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimSuffix(s, "s"), "0")
		s = strings.TrimSuffix(s, ".") + "s"
	}
	return s
}

func pctTick(v float64) string { return strconv.FormatFloat(v*100, 'f', -1, 64) + "%" }

// downsample returns at most maxPoints points of pts (sorted by X, non-finite points dropped):
// the series is cut into maxPoints/2 runs of equal length and each run keeps its lowest and its
// highest point, in order. Unlike averaging this keeps spikes — one bucket where a recalled
// credential came back is exactly what a reader must see. The first and last points are kept.
func downsample(pts []report.Point, maxPoints int) []report.Point {
	clean := make([]report.Point, 0, len(pts))
	for _, p := range pts {
		if finite(p.X) && finite(p.Y) {
			clean = append(clean, p)
		}
	}
	if !slices.IsSortedFunc(clean, cmpX) {
		slices.SortStableFunc(clean, cmpX)
	}
	if maxPoints < 4 {
		maxPoints = 4
	}
	if len(clean) <= maxPoints {
		return clean
	}
	buckets := maxPoints/2 - 1 // first and last kept apart
	inner := clean[1 : len(clean)-1]
	out := make([]report.Point, 0, maxPoints)
	out = append(out, clean[0])
	for b := range buckets {
		run := inner[b*len(inner)/buckets : (b+1)*len(inner)/buckets]
		if len(run) == 0 {
			continue
		}
		lo, hi := 0, 0
		for i, p := range run {
			if p.Y < run[lo].Y {
				lo = i
			}
			if p.Y > run[hi].Y {
				hi = i
			}
		}
		switch {
		case lo == hi:
			out = append(out, run[lo])
		case lo < hi:
			out = append(out, run[lo], run[hi])
		default:
			out = append(out, run[hi], run[lo])
		}
	}
	return append(out, clean[len(clean)-1])
}

func cmpX(a, b report.Point) int {
	switch {
	case a.X < b.X:
		return -1
	case a.X > b.X:
		return 1
	}
	return 0
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num formats a coordinate for an SVG attribute.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// polyline renders points as an SVG points attribute value.
func polyline(pts []report.Point, x, y scale) string {
	var b strings.Builder
	b.Grow(len(pts) * 12)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(num(x.pos(p.X)))
		b.WriteByte(',')
		b.WriteString(num(y.pos(p.Y)))
	}
	return b.String()
}

// truncate shortens s to n runes with an ellipsis (the full text goes in a <title>).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Line charts: the timeline and the CDF.

// lineChart is a chart of series over a numeric X axis with Y in 0..1.
type lineChart struct {
	ID, Title           string
	W, H                float64
	Left, Top           float64
	PlotW, PlotH        float64
	Bottom              float64 // Top + PlotH
	XTicks, YTicks      []tick
	XLabel, YLabel      string
	YLabelX, YLabelY    float64
	Bands               []band
	Marks               []mark
	Areas               []area
	Series              []lineSeries
	Empty               bool
	Downsampled         bool
	PointsIn, PointsOut int
}

// band is a shaded X interval: a fault window.
type band struct {
	X, W   float64
	Label  string
	Title  string
	LabelY float64
	Open   bool // never reverted: runs to the chart's end
}

// mark is a labelled vertical line: the recall instant.
type mark struct {
	X      float64
	Label  string
	Anchor string
}

// area is a shaded region: the gap between two readings of a component's brackets, or an
// estimate's confidence band.
type area struct {
	Name, Colour string
	Opacity      float64
	Points       string
}

// bandPolygon is the SVG points of the region between two curves: upper walked forward, then
// lower walked back.
func bandPolygon(upper, lower []report.Point, x, y scale) string {
	pts := make([]report.Point, 0, len(upper)+len(lower))
	pts = append(pts, upper...)
	for i := len(lower) - 1; i >= 0; i-- {
		pts = append(pts, lower[i])
	}
	return polyline(pts, x, y)
}

// steps turns a CDF's points into the vertices of its step function, from (0, 0) to the X
// end: each level held until the next X.
func steps(pts []report.Point, end float64) []report.Point {
	out := make([]report.Point, 0, 2*len(pts)+2)
	out = append(out, report.Point{X: 0, Y: 0})
	prev := 0.0
	for _, p := range pts {
		out = append(out, report.Point{X: p.X, Y: prev}, p)
		prev = p.Y
	}
	return append(out, report.Point{X: max(end, out[len(out)-1].X), Y: prev})
}

// seriesOf returns the series of component in list, if any.
func seriesOf(list []report.Series, component string) ([]report.Point, bool) {
	for _, s := range list {
		if s.Component == component {
			return s.Points, true
		}
	}
	return nil, false
}

// lineSeries is one component's polyline.
type lineSeries struct {
	Name, Colour, Dash string
	Points             string
	Step               bool
}

// legendItem is one entry of a chart's legend.
type legendItem struct {
	Name, Colour, Dash string
	Kind               string // "line", "box" or "band"
}

const (
	chartW     = 900.0
	plotLeft   = 64.0
	plotRight  = 24.0
	plotTop    = 28.0
	plotBottom = 44.0
)

func newLineChart(id, title string, h, top float64) *lineChart {
	return &lineChart{ID: id, Title: title, W: chartW, H: h, Left: plotLeft, Top: top,
		PlotW: chartW - plotLeft - plotRight, PlotH: h - top - plotBottom, Bottom: h - plotBottom,
		YLabelX: 14, YLabelY: top + (h-top-plotBottom)/2}
}

func (c *lineChart) xScale(lo, hi float64) scale { return scale{lo, hi, c.Left, c.Left + c.PlotW} }
func (c *lineChart) yScale() scale               { return scale{0, 1, c.Bottom, c.Top} }

// timelineChart draws, per component, the share of recalled credentials still accepted, with
// X in milliseconds since the recall's first acknowledgement; fault windows (recorded since the
// drill's start) are moved onto the same axis.
func timelineChart(r *report.Report, maxPoints int) (*lineChart, []legendItem) {
	// Two lanes above the plot hold the fault labels; the recall mark's label sits just above it.
	c := newLineChart("timeline-chart", "Share of recalled credentials still accepted, per component, around the recall", 370, plotTop+28)
	c.XLabel, c.YLabel = "time since the recall was acknowledged", "accepted"
	firstAck := r.Recall.AcknowledgedAtMS - r.Recall.AckSpreadMS
	series, in, out := prepare(r.Timeline, maxPoints)
	c.PointsIn, c.PointsOut, c.Downsampled = in, out, in > out
	lo, hi, ok := xRange(series)
	if !ok {
		c.Empty = true
		return c, nil
	}
	for _, f := range r.Faults {
		lo = min(lo, f.StartMS-firstAck)
		if f.EndMS > 0 {
			hi = max(hi, f.EndMS-firstAck)
		}
	}
	lo, hi = min(lo, 0), max(hi, 0)
	if hi == lo {
		hi = lo + 1000
	}
	x, y := c.xScale(lo, hi), c.yScale()
	for _, v := range niceTicks(lo, hi, 10) {
		c.XTicks = append(c.XTicks, tick{x.pos(v), msTick(v)})
	}
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.YTicks = append(c.YTicks, tick{y.pos(v), pctTick(v)})
	}
	var legend []legendItem
	for i, f := range r.Faults {
		x0 := x.pos(f.StartMS - firstAck)
		x1 := x.pos(hi)
		if f.EndMS > 0 {
			x1 = x.pos(f.EndMS - firstAck)
		}
		title := f.Name + ": " + f.Fault + " " + f.Target + ", from " + msTick(f.StartMS-firstAck)
		if f.EndMS > 0 {
			title += " to " + msTick(f.EndMS-firstAck)
		} else {
			title += ", never reverted"
		}
		c.Bands = append(c.Bands, band{X: x0, W: max(x1-x0, 1), Label: truncate(f.Name, 18), Title: title,
			LabelY: c.Top - 20 - float64(i%2)*13, Open: f.EndMS <= 0})
	}
	if len(r.Faults) > 0 {
		legend = append(legend, legendItem{Name: "fault window", Kind: "band"})
	}
	c.Marks = append(c.Marks, mark{X: x.pos(0), Label: "recall acknowledged", Anchor: "start"})
	style := styler(r)
	lowers, _, _ := prepare(r.TimelineLower, maxPoints)
	shaded := false
	for _, s := range series {
		colour, dash := style(s.Component)
		// Each pair is honoured until somewhere in its bracket: the line is the proven reading
		// (until rejected), the shade reaches down to the earliest it can have been enforced.
		if low, ok := seriesOf(lowers, s.Component); ok && len(low) > 0 {
			c.Areas = append(c.Areas, area{Name: s.Component + ": brackets (between the earliest possible enforcement and the proven reject)",
				Colour: colour, Opacity: 0.22, Points: bandPolygon(s.Points, low, x, y)})
			shaded = true
		}
		c.Series = append(c.Series, lineSeries{Name: s.Component, Colour: colour, Dash: dash, Points: polyline(s.Points, x, y)})
		legend = append(legend, legendItem{Name: s.Component, Colour: colour, Dash: dash, Kind: "line"})
	}
	if shaded {
		legend = append(legend, legendItem{Name: "shade: inside the brackets (the line is the proven upper reading)", Colour: "#999", Kind: "area"})
	}
	return c, legend
}

// cdfChart draws the cumulative distribution of TTC upper bounds per component, as steps.
func cdfChart(r *report.Report, maxPoints int) (*lineChart, []legendItem) {
	c := newLineChart("cdf-chart", "Cumulative share of (component, credential) pairs converged by a given TTC", 320, plotTop)
	c.XLabel, c.YLabel = "time to consistency (upper bound)", "pairs converged"
	series, in, out := prepare(r.CDF, maxPoints)
	c.PointsIn, c.PointsOut, c.Downsampled = in, out, in > out
	_, hi, ok := xRange(series)
	if !ok {
		c.Empty = true
		return c, nil
	}
	if hi <= 0 {
		hi = 1000
	}
	x, y := c.xScale(0, hi), c.yScale()
	for _, v := range niceTicks(0, hi, 10) {
		c.XTicks = append(c.XTicks, tick{x.pos(v), msTick(v)})
	}
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		c.YTicks = append(c.YTicks, tick{y.pos(v), pctTick(v)})
	}
	var legend []legendItem
	style := styler(r)
	lowers, _, _ := prepare(r.CDFLower, maxPoints)
	shaded, estimated := false, false
	for _, s := range series {
		colour, dash := style(s.Component)
		// Each pair's TTC lies in its bracket: the true CDF lies between the curve of the
		// brackets' lower ends and that of their upper ends (the proven bound). Shade between.
		if low, ok := seriesOf(lowers, s.Component); ok && len(low) > 0 {
			c.Areas = append(c.Areas, area{Name: s.Component + ": brackets (the true CDF lies in the shade)", Colour: colour, Opacity: 0.22,
				Points: bandPolygon(steps(low, hi), steps(s.Points, hi), x, y)})
			shaded = true
		}
		// The estimate (NPMLE) with its confidence band, when the report has one.
		if e := estimateOf(r, s.Component); e != nil {
			var mid, lo, up []report.Point
			for _, b := range e.CDF {
				if !finite(b.XMS) || b.XMS < 0 {
					continue
				}
				xv := min(b.XMS, hi)
				mid = append(mid, report.Point{X: xv, Y: b.Y})
				lo = append(lo, report.Point{X: xv, Y: b.YLow})
				up = append(up, report.Point{X: xv, Y: b.YHigh})
			}
			if len(mid) > 0 {
				c.Areas = append(c.Areas, area{Name: s.Component + ": estimate's confidence band", Colour: colour, Opacity: 0.12,
					Points: bandPolygon(steps(up, hi), steps(lo, hi), x, y)})
				c.Series = append(c.Series, lineSeries{Name: s.Component + " estimate (NPMLE)", Colour: colour, Dash: "2 2", Points: polyline(steps(mid, hi), x, y), Step: true})
				estimated = true
			}
		}
		// A CDF is a step function: hold each level until the next X.
		line := make([]report.Point, 0, 2*len(s.Points))
		for j, p := range s.Points {
			if j > 0 {
				line = append(line, report.Point{X: p.X, Y: s.Points[j-1].Y})
			}
			line = append(line, p)
		}
		c.Series = append(c.Series, lineSeries{Name: s.Component, Colour: colour, Dash: dash, Points: polyline(line, x, y), Step: true})
		legend = append(legend, legendItem{Name: s.Component, Colour: colour, Dash: dash, Kind: "line"})
	}
	if shaded {
		legend = append(legend, legendItem{Name: "shade: inside the brackets (the line is the proven upper bound)", Colour: "#999", Kind: "area"})
	}
	if estimated {
		legend = append(legend, legendItem{Name: "dotted: estimated CDF (NPMLE), lighter shade its band", Colour: "#999", Dash: "2 2", Kind: "line"})
	}
	return c, legend
}

// estimateOf returns component's TTC estimate, nil when the report has none.
func estimateOf(r *report.Report, component string) *report.Estimate {
	for _, c := range r.Components {
		if c.Name == component && c.TTCEstimate != nil && len(c.TTCEstimate.CDF) > 0 {
			return c.TTCEstimate
		}
	}
	return nil
}

// prepare downsamples every series and returns the point counts before and after.
func prepare(in []report.Series, maxPoints int) (out []report.Series, before, after int) {
	for _, s := range in {
		pts := downsample(s.Points, maxPoints)
		before += len(s.Points)
		after += len(pts)
		out = append(out, report.Series{Component: s.Component, Points: pts})
	}
	return out, before, after
}

func xRange(series []report.Series) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Points {
			lo, hi = min(lo, p.X), max(hi, p.X)
			ok = true
		}
	}
	return lo, hi, ok
}

// The TTC bar chart.

// barChart shows, per component, horizontal bars for TTC p50, p90, p99 and max with their
// resolution whiskers and the SLO lines that bound that component.
type barChart struct {
	W, H         float64
	LabelX       float64 // right edge of the name column
	PlotX, PlotW float64
	AxisY        float64
	GridTop      float64
	XTicks       []tick
	Rows         []barRow
}

// barRow is one component.
type barRow struct {
	Name, Label, Kind string
	Y, H              float64 // row box
	NameY, KindY      float64
	Bars              []bar
	Never             bool
	NeverText         string
	NeverX, NeverY    float64
	NeverW, NeverH    float64
	NeverTextX        float64
	NeverTextY        float64
	BarX              float64
	NotProbed         bool
	NotConverged      string // "100 of 500 not converged" when some pairs did not converge
	NoteY             float64
	SLOs              []sloMark
}

// bar is one statistic of one component.
type bar struct {
	Stat, Colour string
	Y, H, W      float64
	Text         string
	TextX, TextY float64
	WX0, WX1, WY float64 // whisker: the bracket [value − resolution, value]
	Title        string
}

// sloMark is an SLO line across a row.
type sloMark struct {
	X, Y0, Y1      float64
	Label, Anchor  string
	LabelX, LabelY float64
	Met            bool
}

const (
	barH      = 11.0
	barGap    = 3.0
	rowPadTop = 16.0
	rowPadBot = 10.0
	nameColW  = 180.0
)

func ttcChart(r *report.Report) *barChart {
	c := &barChart{W: chartW, LabelX: nameColW - 10, PlotX: nameColW, PlotW: chartW - nameColW - 70, GridTop: 8}
	hi := 0.0
	for _, comp := range r.Components {
		if comp.TTCMS.Count > 0 && finite(comp.TTCMS.Max) {
			hi = max(hi, comp.TTCMS.Max)
		}
		for _, s := range r.SLOs(comp.Name) {
			if finite(s.Bound) {
				hi = max(hi, s.Bound)
			}
		}
	}
	if hi <= 0 {
		hi = 1000
	}
	hi *= 1.04
	x := scale{0, hi, c.PlotX, c.PlotX + c.PlotW}
	rowH := rowPadTop + 4*barH + 3*barGap + rowPadBot
	y := c.GridTop
	for _, comp := range r.Components {
		row := barRow{Name: comp.Name, Label: truncate(comp.Name, 24), Kind: truncate(comp.Kind, 24), Y: y, H: rowH, BarX: c.PlotX,
			NameY: y + rowPadTop + 14, KindY: y + rowPadTop + 28, NoteY: y + rowPadTop + 42}
		t := comp.TTCMS
		switch {
		case !comp.Probed:
			row.NotProbed = true
		case t.Count == 0 && comp.NotConverged > 0:
			row.Never = true
			row.NeverText = "never converged: " + strconv.Itoa(comp.NotConverged) + " of " + strconv.Itoa(comp.Pairs) + " pairs still accepted at the end"
			row.NeverX, row.NeverY, row.NeverW, row.NeverH = c.PlotX, y+rowPadTop, c.PlotW, 4*barH+3*barGap
			row.NeverTextX, row.NeverTextY = c.PlotX+c.PlotW/2, y+rowPadTop+2*barH+barGap+4
		case t.Count == 0:
			row.NotProbed = true
		default:
			for i, st := range stats {
				v, _ := t.Get(st)
				res := t.ResolutionMS
				if !finite(res) || res < 0 {
					res = 0
				}
				if !finite(v) {
					v = 0
				}
				by := y + rowPadTop + float64(i)*(barH+barGap)
				x1 := x.pos(v)
				label := st + " " + report.FormatMS(v)
				if !r.StatResolved(comp, st) {
					label = st + " ≤" + report.FormatMS(v) + " not resolved"
				}
				b := bar{Stat: st, Colour: statColours[st], Y: by, H: barH, W: max(x1-c.PlotX, 0.5),
					Text: label, TextX: x1 + 4, TextY: by + barH - 2,
					WX0: x.pos(max(v-res, 0)), WX1: x1, WY: by + barH/2,
					Title: comp.Name + " " + st + " " + report.FormatMSRes(v, res)}
				row.Bars = append(row.Bars, b)
			}
			if comp.NotConverged > 0 {
				row.NotConverged = strconv.Itoa(comp.NotConverged) + " of " + strconv.Itoa(comp.Pairs) + " not converged"
			}
		}
		var slos []report.SLO
		if !row.NotProbed {
			slos = r.SLOs(comp.Name)
		}
		for i, s := range slos {
			if !finite(s.Bound) {
				continue
			}
			met := text.SLOMet(s, comp)
			label := "SLO " + s.Expr.Stat + " " + s.Expr.Op + " " + s.Expr.Bound
			if s.Global {
				label += " (all)"
			}
			m := sloMark{X: x.pos(s.Bound), Y0: y + rowPadTop - 4, Y1: y + rowH - rowPadBot + 2,
				Label: label, LabelY: y + rowPadTop - 6, Met: met, Anchor: "start", LabelX: x.pos(s.Bound) + 3}
			if i%2 == 1 || m.X > c.PlotX+0.75*c.PlotW { // alternate sides so two SLOs' labels do not overlap
				m.Anchor, m.LabelX = "end", m.X-3
			}
			row.SLOs = append(row.SLOs, m)
		}
		c.Rows = append(c.Rows, row)
		y += rowH
	}
	c.AxisY = y + 4
	for _, v := range niceTicks(0, hi, 8) {
		c.XTicks = append(c.XTicks, tick{x.pos(v), msTick(v)})
	}
	c.H = c.AxisY + 34
	return c
}
