package expect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Expr
	}{
		{"ttc p99 seconds", "time_to_consistency.p99 < 2s",
			Expr{Metric: "time_to_consistency", Stat: "p99", Op: "<", Value: 2000, IsDuration: true}},
		{"alias ttc", "ttc.p50<=150ms",
			Expr{Metric: "time_to_consistency", Stat: "p50", Op: "<=", Value: 150, IsDuration: true}},
		{"compound duration", "ttc.max < 1m30s",
			Expr{Metric: "time_to_consistency", Stat: "max", Op: "<", Value: 90000, IsDuration: true}},
		{"fractional duration", "ttc.p90 < 1.5s",
			Expr{Metric: "time_to_consistency", Stat: "p90", Op: "<", Value: 1500, IsDuration: true}},
		{"component label", `stale_accepts{component="edge-push"} == 0`,
			Expr{Metric: "stale_accepts", Component: "edge-push", Op: "==", Value: 0}},
		{"single-quoted label and spaces", ` ttc.p99 { component = 'edge-jwt' } < 5s `,
			Expr{Metric: "time_to_consistency", Stat: "p99", Component: "edge-jwt", Op: "<", Value: 5000, IsDuration: true}},
		{"label with trailing comma-free list", `ttc.p99{component="a"} >= 0`,
			Expr{Metric: "time_to_consistency", Stat: "p99", Component: "a", Op: ">=", Value: 0}},
		{"ratio percent", "error_rate < 1%",
			Expr{Metric: "error_rate", Op: "<", Value: 0.01}},
		{"ratio fraction", "error_rate <= 0.5",
			Expr{Metric: "error_rate", Op: "<=", Value: 0.5}},
		{"count not equal", "resurrections != 3",
			Expr{Metric: "resurrections", Op: "!=", Value: 3}},
		{"count greater", "converged > 10",
			Expr{Metric: "converged", Op: ">", Value: 10}},
		{"stale window", "stale_window < 800ms",
			Expr{Metric: "stale_window", Op: "<", Value: 800, IsDuration: true}},
		{"recovery time", "recovery_time.p99 < 3s",
			Expr{Metric: "recovery_time", Stat: "p99", Op: "<", Value: 3000, IsDuration: true}},
		{"probe latency", "probe_latency.p99 < 20ms",
			Expr{Metric: "probe_latency", Stat: "p99", Op: "<", Value: 20, IsDuration: true}},
		{"microseconds", "probe_latency.p50 < 500µs",
			Expr{Metric: "probe_latency", Stat: "p50", Op: "<", Value: 0.5, IsDuration: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			tc.want.Text = tc.in
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"double operator", "ttc.p99 << 2s",
			`failed parsing expectation "ttc.p99 << 2s": column 9: unknown operator "<<" (want one of <, <=, ==, !=, >=, >)`},
		{"single equals", "stale_accepts = 0",
			`failed parsing expectation "stale_accepts = 0": column 15: unknown operator "=" (want one of <, <=, ==, !=, >=, >)`},
		{"empty", "",
			`failed parsing expectation "": column 1: unexpected end of input, want a metric name`},
		{"missing op", "ttc.p99 2s",
			`failed parsing expectation "ttc.p99 2s": column 9: unexpected "2s", want a comparison operator (<, <=, ==, !=, >=, >)`},
		{"missing value", "ttc.p99 <",
			`failed parsing expectation "ttc.p99 <": column 10: unexpected end of input, want a number or a duration`},
		{"trailing garbage", "ttc.p99 < 2s and more",
			`failed parsing expectation "ttc.p99 < 2s and more": column 14: unexpected "and", want end of input`},
		{"unknown metric", "ttc_p99 < 2s",
			`failed parsing expectation "ttc_p99 < 2s": column 1: unknown metric "ttc_p99" (have: time_to_consistency (ttc), ttc_estimate, stale_window, recovery_time, probe_latency, stale_accepts, resurrections, false_rejects, errors, error_rate, not_converged, converged, pairs, fail_open, never_accepted, probes, ssf_delivery, ssf_events_missing)`},
		{"unknown stat", "ttc.p95 < 2s",
			`failed parsing expectation "ttc.p95 < 2s": column 5: unknown statistic "p95" of time_to_consistency (have: p50, p90, p99, max)`},
		{"missing stat", "time_to_consistency < 2s",
			`failed parsing expectation "time_to_consistency < 2s": column 1: time_to_consistency needs a statistic: time_to_consistency.p99 (have: p50, p90, p99, max)`},
		{"stat on count", "stale_accepts.p99 == 0",
			`failed parsing expectation "stale_accepts.p99 == 0": column 15: stale_accepts is a single figure and has no statistic "p99"`},
		{"too many parts", "ttc.lower.p50 < 1s",
			`failed parsing expectation "ttc.lower.p50 < 1s": column 5: unknown statistic "lower" of time_to_consistency (have: p50, p90, p99, max)`},
		{"three parts", "ttc.p50.x < 1s",
			`failed parsing expectation "ttc.p50.x < 1s": column 9: unexpected "x" after ttc.p50`},
		{"number for duration", "ttc.p99 < 2",
			`failed parsing expectation "ttc.p99 < 2": column 11: ttc is a duration: want a value like 150ms, 2s or 1m30s, got 2`},
		{"duration for count", "stale_accepts < 2s",
			`failed parsing expectation "stale_accepts < 2s": column 17: stale_accepts is a count: want a number like 0 or 10, got 2s`},
		{"percent for count", "errors < 5%",
			`failed parsing expectation "errors < 5%": column 10: errors is a count: want a number like 0 or 10, got 5%`},
		{"duration for ratio", "error_rate < 1s",
			`failed parsing expectation "error_rate < 1s": column 14: error_rate is a ratio: want a number 0..1 or a percentage like 1%, got 1s`},
		{"bad duration unit", "ttc.p99 < 2x",
			`failed parsing expectation "ttc.p99 < 2x": column 11: bad duration "2x": want a Go duration like 150ms, 2s or 1m30s`},
		{"negative", "errors > -1",
			`failed parsing expectation "errors > -1": column 10: negative value -1: figures are never negative`},
		{"unknown label", `ttc.p99{gateway="a"} < 2s`,
			`failed parsing expectation "ttc.p99{gateway=\"a\"} < 2s": column 9: unknown label "gateway" (have: component)`},
		{"label twice", `ttc.p99{component="a",component="b"} < 2s`,
			`failed parsing expectation "ttc.p99{component=\"a\",component=\"b\"} < 2s": column 23: label "component" given twice`},
		{"label double equals", `ttc.p99{component=="a"} < 2s`,
			`failed parsing expectation "ttc.p99{component==\"a\"} < 2s": column 18: unexpected "==", want "="`},
		{"unquoted label value", `ttc.p99{component=a} < 2s`,
			`failed parsing expectation "ttc.p99{component=a} < 2s": column 19: unexpected "a", want a quoted string like "edge-push"`},
		{"unterminated string", `ttc.p99{component="a} < 2s`,
			`failed parsing expectation "ttc.p99{component=\"a} < 2s": column 19: unterminated string`},
		{"unclosed brace", `ttc.p99{component="a" < 2s`,
			`failed parsing expectation "ttc.p99{component=\"a\" < 2s": column 23: unexpected "<", want "," or "}"`},
		{"empty label value", `ttc.p99{component=""} < 2s`,
			`failed parsing expectation "ttc.p99{component=\"\"} < 2s": column 19: empty component`},
		{"illegal character", "ttc.p99 < 2s;",
			`failed parsing expectation "ttc.p99 < 2s;": column 13: unexpected ";"`},
		{"column counts characters not bytes", "ttc.p99 < 2µs €",
			`failed parsing expectation "ttc.p99 < 2µs €": column 15: unexpected "€"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q): no error, want %s", tc.in, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tc.in, got, tc.want)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("Parse(%q) error is %T, want *Error", tc.in, err)
			}
		})
	}
}

func TestExprString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"ttc.p99 < 2s", "time_to_consistency.p99 < 2s"},
		{`stale_accepts{component="edge-push"} == 0`, `stale_accepts{component="edge-push"} == 0`},
		{"error_rate < 0.015", "error_rate < 1.5%"},
		{"ttc.max <= 1m30s", "time_to_consistency.max <= 90s"},
		{"stale_window < 0", "stale_window < 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := MustParse(tc.in).String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMetricsDocumented(t *testing.T) {
	t.Parallel()
	for _, m := range Metrics() {
		if m.Doc == "" {
			t.Errorf("metric %s has no Doc", m.Name)
		}
		if m.Kind == Duration && m.Name != "stale_window" && len(m.Stats) == 0 {
			t.Errorf("duration metric %s has no statistics", m.Name)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(`time_to_consistency.p99{component="edge-push"} < 1m30s`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMustParse(b *testing.B) {
	for b.Loop() {
		MustParse("stale_accepts == 0")
	}
}

func BenchmarkExprString(b *testing.B) {
	e := MustParse(`ttc.p99{component="edge-push"} < 2s`)
	for b.Loop() {
		_ = e.String()
	}
}

func BenchmarkMetrics(b *testing.B) {
	for b.Loop() {
		_ = Metrics()
	}
}
