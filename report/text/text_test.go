package text

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/report"
)

var update = flag.Bool("update", false, "update .golden files")

// The hand-written reports in testdata/ are shared by the other views' tests:
//
//	pass.json   PASS, four converging components, no faults, no findings
//	fail.json   FAIL with findings of every severity, a component that never converged, a warn
//	            expectation that failed, two faults (one never reverted), ground truth
//	error.json  ERROR (interrupted), a component not probed, partial convergence, fail-open
//	unresolved.json  PASS, the quickstart with sampled gateways and one probing every victim whose
//	            figures are narrower than their brackets (not resolved)
func load(t testing.TB, name string) *report.Report {
	t.Helper()
	r, err := report.Read(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestSummaryGolden(t *testing.T) {
	for _, name := range []string{"pass", "fail", "error", "unresolved"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Summary(&buf, load(t, name)); err != nil {
				t.Fatal(err)
			}
			golden(t, "TestSummary."+name+".golden", buf.Bytes())
		})
	}
}

func TestSummaryContent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Summary(&buf, load(t, "fail")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"FAIL  mass-revocation-under-load (seed 42)\n",
		"✓  ",    // a held expectation
		"✗  ",    // a failed one
		"WARN  ", // the failed warn expectation
		"never",  // edge-jwt's TTC cells
		"±12ms",  // resolution
		"CRITICAL  resurrection",
		"Expectations (3 held, 3 failed, 1 warning)",
		"98,000 sent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Findings come critical first, then warning, then info, whatever the report's order.
	crit, warn, info := strings.Index(out, "CRITICAL"), strings.Index(out, "WARNING"), strings.Index(out, "INFO")
	if !(crit < warn && warn < info) {
		t.Errorf("findings not ordered by severity: critical@%d warning@%d info@%d", crit, warn, info)
	}
}

func TestSummaryControlCharacters(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	r.Components[1].Name = "edge\npush\x1b[31m"
	var buf bytes.Buffer
	if err := Summary(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Error("escape sequence from a component name reached the terminal")
	}
	if !strings.Contains(buf.String(), "edge push [31m") {
		t.Errorf("component name not kept on one line:\n%s", buf.String())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestSummaryWriteError(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 3} {
		if err := Summary(&failWriter{n: n}, load(t, "fail")); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v, want disk full", n, err)
		}
	}
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	conv := func(name string, p99, max float64) report.Component {
		return report.Component{Name: name, Kind: "gateway", Probed: true, Summary: report.Summary{
			Pairs: 10, Converged: 10, TTCMS: report.Stats{Count: 10, P50: p99 / 2, P90: p99 * 0.9, P99: p99, Max: max, ResolutionMS: 12}}}
	}
	tests := []struct {
		name string
		r    report.Report
		want string
	}{
		{
			name: "pass within own SLO",
			r: report.Report{Verdict: report.Pass, Slowest: "edge-poll",
				Components: []report.Component{conv("edge-push", 200, 250), conv("edge-poll", 1840, 2010)},
				Expectations: []report.Expectation{
					{Expr: `ttc.p99{component="edge-poll"} < 2.5s`, Observed: f(1840), Bound: 2500, Pass: true}}},
			want: "The slowest component, edge-poll, honoured recalled credentials for up to 2.01s; its p99 of 1.84s ±12ms is within its 2.5s target; the one expectation held.",
		},
		{
			name: "fail over own SLO",
			r: report.Report{Verdict: report.Fail, Slowest: "edge-poll",
				Components: []report.Component{conv("edge-poll", 3100, 3300)},
				Expectations: []report.Expectation{
					{Expr: `time_to_consistency.max{component="edge-poll"} < 5s`, Bound: 5000, Pass: true},
					{Expr: `time_to_consistency.p99{component="edge-poll"} < 2.5s`, Bound: 2500, Pass: false},
					{Expr: `ttc.p99{component="other"} < 1s`, Bound: 1000, Pass: true}}},
			want: "The slowest component, edge-poll, honoured recalled credentials for up to 3.30s; its p99 of 3.10s ±12ms is over its 2.5s target; 1 of 3 expectations failed.",
		},
		{
			name: "global SLO checked against the component",
			r: report.Report{Verdict: report.Pass, Slowest: "a",
				Components:   []report.Component{conv("a", 2100, 2200)},
				Expectations: []report.Expectation{{Expr: `time_to_consistency.p99 < 2s`, Bound: 2000, Pass: true}}},
			want: "The slowest component, a, honoured recalled credentials for up to 2.20s; its p99 of 2.10s ±12ms is over the 2s target; the one expectation held.",
		},
		{
			name: "no SLO, slowest computed",
			r: report.Report{Verdict: report.Pass,
				Components: []report.Component{conv("a", 100, 150), conv("b", 90, 400)}},
			want: "The slowest component, b, honoured recalled credentials for up to 400ms (no SLO set for it).",
		},
		{
			name: "never converged",
			r: report.Report{Verdict: report.Fail, Slowest: "edge-jwt",
				Components: []report.Component{{Name: "edge-jwt", Probed: true, Summary: report.Summary{Pairs: 5, NotConverged: 5}}},
				Expectations: []report.Expectation{
					{Expr: `ttc.max{component="edge-jwt"} < 10s`, Bound: 10000}, {Expr: "resurrections == 0", Pass: true},
					{Expr: "false_rejects == 0", Severity: report.SeverityWarn}}},
			want: "The slowest component, edge-jwt, never stopped honouring recalled credentials (5 of 5 pairs did not converge); 1 of 3 expectations failed; 1 warning.",
		},
		{
			name: "error",
			r: report.Report{Verdict: report.Error, Reason: "interrupted.",
				Components: []report.Component{{Name: "x", Probed: true, Summary: report.Summary{Pairs: 5, Converged: 4, NotConverged: 1,
					TTCMS: report.Stats{Count: 4, Max: 900}}}}},
			want: "The drill could not complete (interrupted), so the figures are partial; the slowest component, x, still honoured 1 of 5 recalled credentials when the drill ended (the others within 900ms).",
		},
		{
			name: "nothing measured",
			r:    report.Report{Verdict: report.Error},
			want: "The drill could not complete (no reason given), so the figures are partial; no component was measured.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Headline(&tc.r); got != tc.want {
				t.Errorf("Headline:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestSortFindings(t *testing.T) {
	t.Parallel()
	in := []report.Finding{
		{Kind: "never_accepted", Severity: report.Info},
		{Kind: "not_converged", Severity: report.Critical, Component: "a"},
		{Kind: "false_reject", Severity: report.Warning},
		{Kind: "resurrection", Severity: report.Critical},
		{Kind: "not_converged", Severity: report.Critical, Component: "b"},
	}
	var got []string
	for _, f := range SortFindings(in) {
		got = append(got, f.Kind+f.Component)
	}
	want := []string{"resurrection", "not_convergeda", "not_convergedb", "false_reject", "never_accepted"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if in[0].Kind != "never_accepted" {
		t.Error("SortFindings changed its input")
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 98000: "98,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTTCStat(t *testing.T) {
	t.Parallel()
	st := report.Stats{Count: 400, P50: 100, P90: 200, P99: 300, Max: 400}
	comp := func(conv, notConv int) report.Component {
		s := st
		s.Count = conv
		return report.Component{Name: "c", Probed: true, Summary: report.Summary{Pairs: conv + notConv, Converged: conv, NotConverged: notConv, TTCMS: s}}
	}
	tests := []struct {
		name          string
		c             report.Component
		stat          string
		value         float64
		never, wantOK bool
	}{
		{"all converged", comp(400, 0), "p99", 300, false, true},
		{"20% not converged: p50 at rank 62.5% of converged, so p90", comp(400, 100), "p50", 200, false, true},
		{"20% not converged: p90 falls among them", comp(400, 100), "p90", 0, true, true},
		{"any not converged: max is never", comp(999, 1), "max", 0, true, true},
		{"0.1% not converged: p99 at rank 99.1% of converged, so max", comp(999, 1), "p99", 400, false, true},
		{"none converged", comp(0, 10), "p50", 0, true, true},
		{"unknown statistic", comp(400, 0), "mean", 0, false, false},
		{"nothing measured", report.Component{}, "p99", 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, never, ok := TTCStat(tc.c, tc.stat)
			if v != tc.value || never != tc.never || ok != tc.wantOK {
				t.Errorf("TTCStat = %v, %v, %v; want %v, %v, %v", v, never, ok, tc.value, tc.never, tc.wantOK)
			}
		})
	}
	global := report.SLO{Expectation: report.Expectation{Bound: 2000, Pass: true},
		Expr: report.Expr{Metric: report.TTCMetric, Stat: "p99", Op: "<"}, Global: true}
	if SLOMet(global, comp(400, 100)) {
		t.Error("a global p99 SLO is met by a component whose p99 falls among unconverged pairs")
	}
	if !SLOMet(global, comp(400, 0)) {
		t.Error("a global p99 SLO of 2s is not met by a p99 of 300ms")
	}
	own := global
	own.Global, own.Pass = false, false
	if SLOMet(own, comp(400, 0)) {
		t.Error("a component's own SLO ignores the expectation's outcome")
	}
}

func TestSummaryEmpty(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Summary(&buf, &report.Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "UNKNOWN  ") || !strings.Contains(buf.String(), "No component was measured.") {
		t.Errorf("empty report summary:\n%s", buf.String())
	}
}

// TestNotResolved: a figure whose brackets are wider than itself or than its SLO must not be
// presented as the component's behaviour, in the headline or the table.
func TestNotResolved(t *testing.T) {
	t.Parallel()
	r := load(t, "unresolved")
	r.Slowest = "edge-push"
	h := Headline(r)
	for _, want := range []string{"edge-push, is not resolved: ≤ 1.53s, probes every 1.30s", "traffic.sample", "traffic.rate",
		"its p99 ≤ 1.46s is proven within its 3s target"} {
		if !strings.Contains(h, want) {
			t.Errorf("headline lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "honoured recalled credentials for up to") {
		t.Errorf("headline presents an unresolved figure as behaviour:\n%s", h)
	}
	var buf bytes.Buffer
	if err := Summary(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"≤1.46s", "edge-push: p50, p90, p99, max not resolved: ≤ 1.53s, probes every 1.30s",
		"edge-poll: 24 of 1,000 victims probed (all recalled)", "p99 is the largest of 24 values"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Resolved: the same figures with narrow brackets read as behaviour again.
	for i := range r.Components {
		if r.Components[i].Name == "edge-push" {
			r.Components[i].TTCMS.ResolutionMS = 5
		}
	}
	if h := Headline(r); !strings.Contains(h, "honoured recalled credentials for up to 1.53s") {
		t.Errorf("resolved figure not shown as behaviour:\n%s", h)
	}
	// An SLO tighter than the brackets makes a figure unresolved even when the brackets are
	// narrower than the figure.
	if report.Resolved(500, 200, 100) || !report.Resolved(500, 200, 0) || report.Resolved(5, 30, 0) || !report.Resolved(5, 0, 1) {
		t.Error("Resolved disagrees with its definition")
	}
}

// sampleDelivery is a push receiver's delivery section with known figures.
func sampleDelivery() *report.Delivery {
	return &report.Delivery{Stream: "s1", Method: "push", Events: 200,
		DeliveredMS:    report.Stats{Count: 200, P50: 14, P90: 30, P99: 40, Max: 42},
		AcknowledgedMS: report.Stats{Count: 200, P50: 14, P90: 30, P99: 40, Max: 42},
		EnforcementMS:  report.Stats{Count: 30, P50: 10, P90: 50, P99: 71, Max: 71, ResolutionMS: 90, ResolutionMaxMS: 95},
		TTCFromSentMS:  report.Stats{Count: 30, P50: 20, P90: 60, P99: 89, Max: 89, ResolutionMS: 90, ResolutionMaxMS: 95}}
}

// TestSummaryDelivery: a receiver's delivery section is one line of the summary, naming the
// receiver, its method, delivery and enforcement figures; none without a section.
func TestSummaryDelivery(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	var plain bytes.Buffer
	if err := Summary(&plain, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "Delivery") {
		t.Errorf("summary without delivery sections mentions delivery:\n%s", plain.String())
	}
	r.Components[1].Delivery = sampleDelivery()
	var buf bytes.Buffer
	if err := Summary(&buf, r); err != nil {
		t.Fatal(err)
	}
	want := "\nDelivery (each receiver's TTC counts from its own acknowledgement): " + r.Components[1].Name +
		" (push) delivered p50 14ms, max 42ms, acknowledged max 42ms; enforcement p99 71ms ±90ms; from sent p99 89ms ±90ms.\n"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
	d := sampleDelivery()
	d.EnforcementMS, d.TTCFromSentMS, d.Retried = report.Stats{}, report.Stats{}, 1200
	if got, want := DeliveryText(*d), "(push) delivered p50 14ms, max 42ms, acknowledged max 42ms, 1,200 retried; enforcement not measured (no converged pair)"; got != want {
		t.Errorf("retried, no converged pair: %q, want %q", got, want)
	}
}

// TestSummaryConfirmation: a confirmed recall's three outcomes are counted in the terminal
// summary, with the most frequent reason a recall could not be confirmed.
func TestSummaryConfirmation(t *testing.T) {
	t.Parallel()
	r := load(t, "pass")
	r.Recall.Confirmed, r.Recall.Ineffective, r.Recall.Unconfirmable = 1207, 2, 3
	r.Recall.UnconfirmableReasons = []report.ReasonCount{{Reason: "introspect 1a2b3c: connection refused", Count: 3}}
	var buf bytes.Buffer
	if err := Summary(&buf, r); err != nil {
		t.Fatal(err)
	}
	if want := "Confirmation at the source: 1,207 confirmed, 2 ineffective, 3 unconfirmable. Most frequent reason (3): introspect 1a2b3c: connection refused"; !strings.Contains(buf.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, buf.String())
	}
	buf.Reset()
	if err := Summary(&buf, load(t, "pass")); err != nil || strings.Contains(buf.String(), "Confirmation at the source") {
		t.Errorf("a recall not confirmed has a confirmation line: %v\n%s", err, buf.String())
	}
}

// TestRotatedAccessLine: the sentence on refresh-replay's rotated access tokens says how many
// were refused everywhere and how fast, and names where some were still honoured.
func TestRotatedAccessLine(t *testing.T) {
	if got := RotatedAccessLine(&report.Report{}); got != "" {
		t.Errorf("no rotated tokens followed: %q, want empty", got)
	}
	r := &report.Report{RotatedAccess: &report.RotatedAccess{Sampled: 10, Unbaselined: 1}}
	r.Overall.RotatedAccessMS = &report.Stats{Count: 7, P50: 120, Max: 1010, ResolutionMS: 50}
	r.Overall.RotatedAlive = 3
	r.Components = []report.Component{
		{Name: "edge-push", Summary: report.Summary{RotatedAccessMS: &report.Stats{Count: 10, Max: 40}}},
		{Name: "edge-poll", Summary: report.Summary{RotatedAccessMS: &report.Stats{Count: 7, Max: 1010}, RotatedAlive: 3}},
	}
	got := RotatedAccessLine(r)
	for _, want := range []string{"7 of 10", "p50 120ms", "max 1.01s ±50ms", "(slowest edge-poll)", "3 still honoured at the end (edge-poll 3)", "1 never accepted before the replay"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
