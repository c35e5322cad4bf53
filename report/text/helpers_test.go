package text

// Tests of the helpers added to package report for the views (FormatMS, ParseExpr, SLOs,
// Stats.Get). They live here because the report package itself is not this package's to edit.

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/report"
)

func TestFormatMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms, res float64
		want    string
	}{
		{0, 0, "0ms"},
		{0.35, 0, "0.35ms"},
		{2.5, 0, "2.5ms"},
		{9.96, 0, "10ms"},
		{12, 0, "12ms"},
		{999.4, 0, "999ms"},
		{999.6, 0, "1.00s"},
		{1840, 12, "1.84s ±12ms"},
		{210, 9, "210ms ±9.0ms"},
		{125400, 0, "125.40s"},
		{-5000, 0, "-5.00s"},
		{math.NaN(), 0, "n/a"},
		{math.Inf(1), 0, "n/a"},
	}
	for _, tc := range tests {
		if got := report.FormatMSRes(tc.ms, tc.res); got != tc.want {
			t.Errorf("FormatMSRes(%v, %v) = %q, want %q", tc.ms, tc.res, got, tc.want)
		}
	}
}

func TestParseExpr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want report.Expr
		ok   bool
	}{
		{`time_to_consistency.p99{component="edge-poll"} < 2.5s`,
			report.Expr{Metric: report.TTCMetric, Stat: "p99", Labels: map[string]string{"component": "edge-poll"}, Op: "<", Bound: "2.5s"}, true},
		{`ttc.max{component="a", kind="gateway"} <= 5s`,
			report.Expr{Metric: report.TTCMetric, Stat: "max", Labels: map[string]string{"component": "a", "kind": "gateway"}, Op: "<=", Bound: "5s"}, true},
		{`ttc{component="a<b"}.p90 >= 1s`,
			report.Expr{Metric: report.TTCMetric, Stat: "p90", Labels: map[string]string{"component": "a<b"}, Op: ">=", Bound: "1s"}, true},
		{`ttc.max{component='edge-push'} <= 500ms`,
			report.Expr{Metric: report.TTCMetric, Stat: "max", Labels: map[string]string{"component": "edge-push"}, Op: "<=", Bound: "500ms"}, true},
		{`time_to_consistency.p99 < 2s`, report.Expr{Metric: report.TTCMetric, Stat: "p99", Op: "<", Bound: "2s"}, true},
		{`false_rejects == 0`, report.Expr{Metric: "false_rejects", Op: "==", Bound: "0"}, true},
		{`stale_accepts{component="edge-push"} != 0`,
			report.Expr{Metric: "stale_accepts", Labels: map[string]string{"component": "edge-push"}, Op: "!=", Bound: "0"}, true},
		{`resurrections`, report.Expr{}, false},
		{`resurrections = 0`, report.Expr{}, false},
		{`< 2s`, report.Expr{}, false},
		{`ttc.p99 <`, report.Expr{}, false},
		{`ttc.p99{component="a} < 1s`, report.Expr{}, false},
		{`ttc.p99{component=a} < 1s`, report.Expr{}, false},
	}
	for _, tc := range tests {
		got, ok := report.ParseExpr(tc.in)
		if ok != tc.ok {
			t.Errorf("ParseExpr(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseExpr(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestSLOs(t *testing.T) {
	t.Parallel()
	r := &report.Report{Expectations: []report.Expectation{
		{Expr: `ttc.p99{component="a"} < 2s`, Bound: 2000},
		{Expr: `time_to_consistency.max{component="a"} <= 5s`, Bound: 5000},
		{Expr: `ttc.p99{component="a"} > 1ms`, Bound: 1},     // not an upper bound
		{Expr: `stale_accepts{component="a"} < 3`, Bound: 3}, // not TTC
		{Expr: `ttc.mean{component="a"} < 1s`, Bound: 1000},  // unknown statistic
		{Expr: `time_to_consistency.p99 < 3s`, Bound: 3000},  // global
		{Expr: `ttc.p90{component="b"} < 1s`, Bound: 1000},   // other component
	}}
	exprs := func(slos []report.SLO) (out []string) {
		for _, s := range slos {
			out = append(out, s.Expr.Stat+s.Expr.Op+s.Expr.Bound)
			if s.Global {
				out[len(out)-1] += " global"
			}
		}
		return out
	}
	if diff := cmp.Diff([]string{"p99<2s", "max<=5s"}, exprs(r.SLOs("a"))); diff != "" {
		t.Errorf("SLOs(a) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p90<1s"}, exprs(r.SLOs("b"))); diff != "" {
		t.Errorf("SLOs(b) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p99<3s global"}, exprs(r.SLOs("c"))); diff != "" {
		t.Errorf("SLOs(c) (-want +got):\n%s", diff)
	}
}

func TestStatsGet(t *testing.T) {
	t.Parallel()
	s := report.Stats{Count: 3, P50: 1, P90: 2, P99: 3, Max: 4}
	for stat, want := range map[string]float64{"p50": 1, "p90": 2, "p99": 3, "max": 4} {
		if v, ok := s.Get(stat); !ok || v != want {
			t.Errorf("Get(%s) = %v, %v; want %v, true", stat, v, ok, want)
		}
	}
	if _, ok := s.Get("mean"); ok {
		t.Error("Get(mean) ok")
	}
	if _, ok := (report.Stats{}).Get("p99"); ok {
		t.Error("Get on empty stats ok")
	}
}
