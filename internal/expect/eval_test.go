package expect

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/report"
)

// fakeEnv is an Env with optional capabilities switched on by its fields.
type fakeEnv struct {
	summaries map[string]*report.Summary
}

func (f fakeEnv) Summary(c string) (*report.Summary, bool) {
	s, ok := f.summaries[c]
	return s, ok
}

// quantEnv adds the Quantiles capability from raw distributions.
type quantEnv struct {
	fakeEnv
	sorted       map[string][]float64
	notConverged map[string]int
}

func (q quantEnv) TTCQuantile(c string, p float64) (float64, bool, bool) {
	return Quantile(q.sorted[c], q.notConverged[c], p)
}

// recEnv adds the Recoveries capability.
type recEnv struct {
	fakeEnv
	ms float64
}

func (r recEnv) RecoveryQuantile(string, float64) (float64, bool) { return r.ms, true }

func ptr(f float64) *float64 { return &f }

func TestEval(t *testing.T) {
	t.Parallel()
	converged := &report.Summary{
		TTCMS:          report.Stats{Count: 100, P50: 400, P90: 900, P99: 1840, Max: 2100, ResolutionMS: 12},
		Pairs:          100,
		Converged:      100,
		StaleAccepts:   7,
		StaleWindowMS:  2100,
		Errors:         3,
		Probes:         1000,
		ProbeLatencyMS: report.Stats{Count: 1000, P50: 1.2, P99: 4.5, Max: 9},
	}
	// 100 pairs, 2 never converged: p99 (rank 99) falls among converged pairs, max does not.
	partial := &report.Summary{
		TTCMS:        report.Stats{Count: 98, P50: 300, P90: 700, P99: 1500, Max: 1600, ResolutionMS: 20},
		Pairs:        100,
		Converged:    98,
		NotConverged: 2,
	}
	// 10 pairs, 5 never converged: p50 (rank 5) is converged, p90 (rank 9) is not.
	half := &report.Summary{
		TTCMS:        report.Stats{Count: 5, P50: 100, P90: 200, P99: 250, Max: 250, ResolutionMS: 5},
		Pairs:        10,
		Converged:    5,
		NotConverged: 5,
	}
	// The estimates: edge-push's p99 is estimated at 1.7s; edge-poll's p99 is beyond the
	// observation (3% of the mass never converged).
	converged.TTCEstimate = &report.Estimate{Method: report.MethodTurnbull, N: 100, Confidence: 0.95,
		P50: report.EstimateQuantile{MS: ptr(380), LowMS: ptr(350), HighMS: ptr(420)},
		P99: report.EstimateQuantile{MS: ptr(1700), LowMS: ptr(1600), HighMS: ptr(1900)}}
	partial.TTCEstimate = &report.Estimate{Method: report.MethodTurnbull, N: 100, Confidence: 0.95, NotConvergedShare: 0.03,
		P99: report.EstimateQuantile{LowMS: ptr(1550)}}
	env := fakeEnv{summaries: map[string]*report.Summary{
		"":          converged,
		"edge-push": converged,
		"edge-poll": partial,
		"edge-jwt":  half,
		"idle":      {},
	}}
	tests := []struct {
		name string
		expr string
		env  Env
		want report.Expectation
	}{
		{"duration passes", "ttc.p99 < 2s", env, report.Expectation{
			Observed: ptr(1840), ObservedText: "1.84s ±12ms", Bound: 2000, Pass: true}},
		{"duration fails", `ttc.p99{component="edge-push"} < 1s`, env, report.Expectation{
			Observed: ptr(1840), ObservedText: "1.84s ±12ms", Bound: 1000,
			Message: `time_to_consistency.p99{component="edge-push"} is 1.84s ±12ms, want < 1s`}},
		{"count passes", `stale_accepts{component="edge-push"} <= 7`, env, report.Expectation{
			Observed: ptr(7), ObservedText: "7", Bound: 7, Pass: true}},
		{"count fails", "stale_accepts == 0", env, report.Expectation{
			Observed: ptr(7), ObservedText: "7", Bound: 0,
			Message: "stale_accepts is 7, want == 0"}},
		{"ratio", "error_rate < 1%", env, report.Expectation{
			Observed: ptr(0.003), ObservedText: "0.3%", Bound: 0.01, Pass: true}},
		{"probe latency", "probe_latency.p99 < 5ms", env, report.Expectation{
			Observed: ptr(4.5), ObservedText: "4.5ms", Bound: 5, Pass: true}},
		{"not converged max fails", `ttc.max{component="edge-poll"} < 1h`, env, report.Expectation{
			ObservedText: "not converged (2 of 100 pairs)", Bound: 3600000,
			Message: `time_to_consistency.max{component="edge-poll"} is not converged (2 of 100 pairs), want < 3600s`}},
		{"not converged compares as +Inf", `ttc.max{component="edge-poll"} > 1s`, env, report.Expectation{
			ObservedText: "not converged (2 of 100 pairs)", Bound: 1000, Pass: true}},
		{"stale window with not converged", `stale_window{component="edge-poll"} <= 10s`, env, report.Expectation{
			ObservedText: "not converged (2 of 100 pairs)", Bound: 10000,
			Message: `stale_window{component="edge-poll"} is not converged (2 of 100 pairs), want <= 10s`}},
		{"p99 rank among not converged pairs", `ttc.p99{component="edge-poll"} < 2s`, env, report.Expectation{
			// rank 99 of 100 falls beyond the 98 converged pairs.
			ObservedText: "not converged (2 of 100 pairs)", Bound: 2000,
			Message: `time_to_consistency.p99{component="edge-poll"} is not converged (2 of 100 pairs), want < 2s`}},
		{"p90 with not converged uses the next statistic up", `ttc.p90{component="edge-poll"} < 2s`, env, report.Expectation{
			// rank 90 of 100 = level 90/98 = 0.918 among converged: p99 is the smallest at or above.
			Observed: ptr(1500), ObservedText: "≤ 1.5s ±20ms", Bound: 2000, Pass: true}},
		{"p50 half converged", `ttc.p50{component="edge-jwt"} < 1s`, env, report.Expectation{
			// rank 5 of 10 = level 1.0 among 5 converged: max.
			Observed: ptr(250), ObservedText: "≤ 250ms ±5ms", Bound: 1000, Pass: true}},
		{"p90 half converged", `ttc.p90{component="edge-jwt"} < 1s`, env, report.Expectation{
			ObservedText: "not converged (5 of 10 pairs)", Bound: 1000,
			Message: `time_to_consistency.p90{component="edge-jwt"} is not converged (5 of 10 pairs), want < 1s`}},
		{"no pairs", `ttc.p99{component="idle"} < 1s`, env, report.Expectation{
			ObservedText: "n/a", Bound: 1000,
			Message: `time_to_consistency.p99{component="idle"}: no (component, credential) pairs were measured`}},
		{"estimate passes where the upper bound would not", `ttc_estimate.p99{component="edge-push"} < 1.8s`, env, report.Expectation{
			Observed: ptr(1700), ObservedText: "1.7s (95% CI 1.6s–1.9s, estimate)", Bound: 1800, Pass: true}},
		{"estimate fails", `ttc_estimate.p50{component="edge-push"} < 300ms`, env, report.Expectation{
			Observed: ptr(380), ObservedText: "380ms (95% CI 350ms–420ms, estimate)", Bound: 300,
			Message: `ttc_estimate.p50{component="edge-push"} is 380ms (95% CI 350ms–420ms, estimate), want < 300ms`}},
		{"estimate beyond the observation compares as +Inf", `ttc_estimate.p99{component="edge-poll"} < 1h`, env, report.Expectation{
			ObservedText: "beyond the observation (3% of pairs never converged; 95% CI 1.55s–+Inf, estimate)", Bound: 3600000,
			Message: `ttc_estimate.p99{component="edge-poll"} is beyond the observation (3% of pairs never converged; 95% CI 1.55s–+Inf, estimate), want < 3600s`}},
		{"no estimate", `ttc_estimate.p50{component="idle"} < 1s`, env, report.Expectation{
			ObservedText: "n/a", Bound: 1000,
			Message: `ttc_estimate.p50{component="idle"}: no TTC estimate (no measured pairs)`}},
		{"no probes for ratio", `error_rate{component="idle"} < 1%`, env, report.Expectation{
			ObservedText: "n/a", Bound: 0.01,
			Message: `error_rate{component="idle"}: no probes were sent`}},
		{"unknown component", `stale_accepts{component="nope"} == 0`, env, report.Expectation{
			ObservedText: "n/a", Bound: 0,
			Message: `stale_accepts{component="nope"}: no component "nope" in the report`}},
		{"recovery without capability", "recovery_time.p99 < 3s", env, report.Expectation{
			ObservedText: "n/a", Bound: 3000,
			Message: "recovery_time.p99: recovery time was not measured by this drill"}},
		{"recovery with capability", "recovery_time.p99 < 3s", recEnv{fakeEnv: env, ms: 2500}, report.Expectation{
			Observed: ptr(2500), ObservedText: "2.5s", Bound: 3000, Pass: true}},
		{"exact quantile from capability", `ttc.p90{component="edge-poll"} < 1s`, quantEnv{fakeEnv: env,
			sorted:       map[string][]float64{"edge-poll": seq(98)},
			notConverged: map[string]int{"edge-poll": 2}}, report.Expectation{
			Observed: ptr(90), ObservedText: "90ms ±20ms", Bound: 1000, Pass: true}},
		{"capability says not converged", `ttc.p99{component="edge-poll"} < 1s`, quantEnv{fakeEnv: env,
			sorted:       map[string][]float64{"edge-poll": seq(98)},
			notConverged: map[string]int{"edge-poll": 2}}, report.Expectation{
			ObservedText: "not converged (2 of 100 pairs)", Bound: 1000,
			Message: `time_to_consistency.p99{component="edge-poll"} is not converged (2 of 100 pairs), want < 1s`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.Expr = tc.expr
			got := MustParse(tc.expr).Eval(tc.env)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Eval(%q) (-want +got):\n%s", tc.expr, d)
			}
		})
	}
}

// seq returns 1, 2, ..., n.
func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i + 1)
	}
	return s
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		sorted        []float64
		notConverged  int
		q             float64
		want          float64
		wantConverged bool
		wantOK        bool
	}{
		{"empty", nil, 0, 0.5, 0, false, false},
		{"median of 1..100", seq(100), 0, 0.5, 50, true, true},
		{"p99 of 1..100", seq(100), 0, 0.99, 99, true, true},
		{"max of 1..100", seq(100), 0, 1, 100, true, true},
		{"p90 of 1..10", seq(10), 0, 0.9, 9, true, true},
		{"tiny q is the minimum", seq(10), 0, 0.0001, 1, true, true},
		{"rank among converged", seq(98), 2, 0.98, 98, true, true},
		{"rank among not converged", seq(98), 2, 0.99, math.Inf(1), false, true},
		{"all not converged", nil, 3, 0.5, math.Inf(1), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, conv, ok := Quantile(tc.sorted, tc.notConverged, tc.q)
			if got != tc.want || conv != tc.wantConverged || ok != tc.wantOK {
				t.Errorf("Quantile(q=%v) = %v, %v, %v; want %v, %v, %v", tc.q, got, conv, ok, tc.want, tc.wantConverged, tc.wantOK)
			}
		})
	}
}

func TestReportEnv(t *testing.T) {
	t.Parallel()
	r := &report.Report{
		Overall:    report.Summary{StaleAccepts: 5},
		Components: []report.Component{{Name: "edge-push", Summary: report.Summary{StaleAccepts: 2}}},
	}
	env := ReportEnv(r)
	if s, ok := env.Summary(""); !ok || s.StaleAccepts != 5 {
		t.Errorf(`Summary("") = %v, %v; want overall`, s, ok)
	}
	if s, ok := env.Summary("edge-push"); !ok || s.StaleAccepts != 2 {
		t.Errorf(`Summary("edge-push") = %v, %v; want the component`, s, ok)
	}
	if _, ok := env.Summary("nope"); ok {
		t.Error(`Summary("nope") found something`)
	}
}

func TestFormatMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms   float64
		want string
	}{
		{0, "0s"}, {0.42, "0.42ms"}, {1.5, "1.5ms"}, {12, "12ms"}, {12.345, "12.3ms"}, {150, "150ms"},
		{1840, "1.84s"}, {2000, "2s"}, {75300, "75.3s"}, {math.Inf(1), "+Inf"},
	}
	for _, tc := range tests {
		if got := FormatMS(tc.ms); got != tc.want {
			t.Errorf("FormatMS(%v) = %q, want %q", tc.ms, got, tc.want)
		}
	}
}

func BenchmarkExprEval(b *testing.B) {
	env := fakeEnv{summaries: map[string]*report.Summary{"": {
		TTCMS: report.Stats{Count: 100, P99: 1840, ResolutionMS: 12}, Pairs: 100, Converged: 100}}}
	e := MustParse("ttc.p99 < 2s")
	for b.Loop() {
		_ = e.Eval(env)
	}
}

func BenchmarkQuantile(b *testing.B) {
	s := seq(10000)
	for b.Loop() {
		Quantile(s, 10, 0.99)
	}
}

func BenchmarkReportEnv(b *testing.B) {
	r := &report.Report{Components: make([]report.Component, 20)}
	r.Components[19].Name = "last"
	for b.Loop() {
		ReportEnv(r).Summary("last")
	}
}

func BenchmarkFormatMS(b *testing.B) {
	for b.Loop() {
		_ = FormatMS(1840.5)
	}
}
