package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/scenario"

	"github.com/recall-drills/recall/report"
)

const quickstart = "../../scenarios/quickstart.yaml"

// planJSON runs `recall plan --output json` with args and decodes it.
func planJSON(t *testing.T, args ...string) planView {
	t.Helper()
	code, out, errs := runMain(append([]string{"plan", "--output", "json"}, args...)...)
	if code != exitPass {
		t.Fatalf("plan %q: exit %d: %s", args, code, errs)
	}
	var v planView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, out)
	}
	return v
}

// TestPlan: recall plan (and run --dry-run) prints the components, population, timeline,
// budget and warnings, starting nothing.
func TestPlan(t *testing.T) {
	t.Parallel()
	code, text, errs := runMain("plan", quickstart)
	if code != exitPass {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"edge-push", "probed: GET /api/whoami", "in-process reference/gateway", "1000 victims over 16 client(s); 200 controls over 4 client(s)",
		"access tokens live 10m0s", "12s           recall of 1000 victims: revoke-tokens (batch)", "pairs: 96 victim (24 per component) + 800 control",
		"sample: 24 of the 1000 victims probed at each component (every victim is recalled), sized for traffic.resolution 40ms",
		"36ms before the recall, 40ms right after it", "resolution to expect: ±40ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "warnings") {
		t.Errorf("the quickstart's plan warns:\n%s", text)
	}
	code, dry, _ := runMain("run", quickstart, "--dry-run")
	if code != exitPass || dry != text {
		t.Errorf("run --dry-run differs from plan (exit %d):\n%s", code, dry)
	}

	// Probing every victim (resolution 0s: no sampling) at 600/s.
	v := planJSON(t, quickstart, "--set", "traffic.rate=600/s", "--set", "traffic.resolution=0s", "--set", "system.components[issuer].with.token_ttl=20s")
	if v.Budget.RatePerS != 600 || v.Budget.VictimPairs != 4000 || int(v.Budget.ResolutionMS) != 8333 || len(v.Overrides) != 3 {
		t.Errorf("budget %+v, overrides %q", v.Budget, v.Overrides)
	}
	joined := strings.Join(v.Warnings, "\n")
	for _, want := range []string{`resolution ±8.33s is larger than the bound of "time_to_consistency.p99{component=\"edge-push\"} < 500ms"`,
		"tokens expire 20s after minting, before traffic ends (32s)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}

	v = planJSON(t, quickstart, "--set", "traffic.resolution=300ms")
	if !v.Budget.Sampled || v.Budget.PerComponent != 180 || v.Budget.ResolutionMS > 300 {
		t.Errorf("traffic.resolution 300ms: budget %+v", v.Budget)
	}

	bench := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(bench, []byte(`{"measured_at":"2026-01-02T00:00:00Z","workers":16,"max_achieved_per_s":2000}`), 0o644)
	v = planJSON(t, quickstart, "--bench", bench)
	if !strings.Contains(strings.Join(v.Warnings, "\n"), "rate 3000 probes/s is above what 'recall bench' measured here (2000 probes/s on 2026-01-02)") {
		t.Errorf("no bench warning: %q", v.Warnings)
	}

	code, _, errs = runMain("plan", quickstart, "--set", "recall.at=soon")
	if code != exitCannotRun || !strings.Contains(errs, "quickstart.yaml:43:7: --set recall.at=soon: recall.at: bad offset") {
		t.Errorf("plan --set error: exit %d:\n%s", code, errs)
	}
}

// TestPlanResolutionMatchesDrill: what `recall plan` says of the quickstart's resolution is what
// the drill then achieves, within 25 % (issue 15): at every component that converges, the
// median bracket the plan expects (the drill's scheduler simulated over the components' expected
// TTCs, as converged pairs leave the rotation), and edge-push's revisit interval right after the
// recall. 24 victims per component at 1,000 probes/s: brackets of 50–140 ms, wide enough that a
// millisecond of latency does not decide them, and enough pairs for a median. The plan is made
// for the rate the drill achieved; a machine too loaded to hold even 1,000/s starves the drill
// just when the recall competes for the CPU, and the test then says so and skips.
func TestPlanResolutionMatchesDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the 32 s quickstart")
	}
	// The drill runs as users run it: the binary, not this test process, which CI builds with
	// the race detector. Under it the reference stack in the same process needs several times
	// the CPU to apply a mass revocation, which stalled probing for about 300 ms right after
	// the acknowledgement (1,000 → 450 probes/s per 100 ms) and doubled edge-push's brackets:
	// a measure of -race, not of the plan.
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	const asked = 1000.0
	sets := []string{"--set", fmt.Sprintf("traffic.rate=%.0f/s", asked), "--set", "traffic.resolution=0s", "--set", "traffic.sample=24"}
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", quickstart, "--out", out, "--quiet"}, sets...)...)
	var errs strings.Builder
	cmd.Stderr = &errs
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == exitCannotRun {
			t.Fatalf("drill could not run: %v: %s", err, lastLines(errs.String(), 10))
		}
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	achieved := rep.Probes.RatePerSec
	// Plan for the rate achieved, as the plan assumes the machine sends what it is asked.
	v := planJSON(t, append([]string{quickstart}, append(sets, "--set", fmt.Sprintf("traffic.rate=%.0f/s", achieved))...)...)
	if !v.Budget.Simulated {
		t.Fatalf("the plan did not simulate the scheduler: %+v", v.Budget)
	}
	planned, ranges := map[string]float64{}, map[string][2]float64{}
	for _, c := range v.Components {
		planned[c.Name], ranges[c.Name] = c.ResolutionMS, c.ResolutionRangeMS
	}
	type check struct {
		what      string
		got, want float64
		lo, hi    float64 // the plan's range over where the poll ticks fall
	}
	var checks []check
	for _, c := range rep.Components {
		want, ok := planned[c.Name]
		if !ok || want == 0 || c.Converged == 0 {
			continue // not probed, or expected never to converge (edge-jwt)
		}
		t.Logf("%s: rate %.0f/s of %.0f/s (%.0f/s in the second after the ack), %d probes not sent, latency p99 %.1f ms: revisit %.0f ms, median bracket %.0f ms, plan %.0f ms (ratio %.2f)",
			c.Name, achieved, asked, rep.Probes.RateAfterAckPerSec, c.NotSent, c.ProbeLatencyMS.P99, c.RevisitMS, c.TTCMS.ResolutionMS, want, c.TTCMS.ResolutionMS/want)
		// The plan assumes the machine sends what it is asked: say so when it did not, rather
		// than blame the plan.
		switch {
		case achieved < 0.95*asked:
			t.Skipf("the machine held only %.0f of %.0f probes/s: too loaded to compare", achieved, asked)
		case rep.Probes.RateAfterAckPerSec < 0.9*asked:
			t.Skipf("the machine held only %.0f of %.0f probes/s in the second after the acknowledgement, when the brackets are decided", rep.Probes.RateAfterAckPerSec, asked)
		case c.NotSent > 0:
			t.Skipf("%d probes chosen for %s were not sent (its workers were all busy)", c.NotSent, c.Name)
		case c.ProbeLatencyMS.P99 > want/10:
			// A bracket ends when the converging probe's answer arrives (docs/measurement.md):
			// answers slowed by a busy machine widen it by their latency, which no probe
			// budget models.
			t.Skipf("%s answered in up to %.1f ms (p99), more than a tenth of the plan's %.0f ms: the machine was too busy to compare", c.Name, c.ProbeLatencyMS.P99, want)
		}
		r := ranges[c.Name]
		checks = append(checks, check{c.Name + " median bracket", c.TTCMS.ResolutionMS, want, min(r[0], want), max(r[1], want)})
		if c.Name == "edge-push" {
			// It converges first: its pairs are revisited at the interval right after the recall.
			checks = append(checks, check{c.Name + " revisit interval", c.RevisitMS, v.Budget.AfterMS, v.Budget.AfterMS, v.Budget.AfterMS})
		}
	}
	if len(checks) < 4 {
		t.Fatalf("compared %d figures, want edge-push's two, edge-poll's and edge-introspect's", len(checks))
	}
	// Within 25 % of what the plan said, or of its range where the poll ticks' phase, unknown
	// before the drill, moves it.
	for _, m := range checks {
		if m.got < 0.75*m.lo || m.got > 1.25*m.hi {
			t.Errorf("%s %.0f ms, plan said %.0f ms (%.0f–%.0f ms over the poll ticks' phase): more than 25 %% apart", m.what, m.got, m.want, m.lo, m.hi)
		}
	}
}

// The plan knows what each reference component does with each recall, so that its resolution
// is a simulation of the drill and not the "unknown: never converging" upper bound: the API-key
// service's strategies, the relying party, an SSF poll receiver (its pairs count from its own
// acknowledgement) and a JWT verifier under a key recall (at its next JWKS refetch).
func TestExpectedTTCPerReferenceComponent(t *testing.T) {
	cases := []struct {
		use    string
		with   map[string]any
		action string
		want   drill.ExpectedTTC
	}{
		{"reference/apikey-service", map[string]any{"strategy": "push"}, "revoke-api-keys",
			drill.ExpectedTTC{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond}},
		{"reference/apikey-service", map[string]any{"strategy": "poll", "interval": "1s"}, "revoke-api-keys",
			drill.ExpectedTTC{Known: true, From: 500 * time.Millisecond, To: 500 * time.Millisecond, FromRecall: true, Phase: time.Second}},
		{"reference/apikey-service", map[string]any{"strategy": "lookup", "cache_ttl": "2s"}, "revoke-api-keys",
			drill.ExpectedTTC{Known: true, To: 2 * time.Second, FromRecall: true, Refill: true}},
		{"reference/rp", nil, "revoke-sessions",
			drill.ExpectedTTC{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond}},
		{"reference/gateway", map[string]any{"strategy": "ssf", "delivery": "poll", "interval": "1s"}, "ssf-event",
			drill.ExpectedTTC{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond}},
		{"reference/gateway", map[string]any{"strategy": "jwt-only", "jwks_ttl": "3s"}, "revoke-key",
			drill.ExpectedTTC{Known: true, From: 1500 * time.Millisecond, To: 1500 * time.Millisecond, FromRecall: true, Phase: 3 * time.Second}},
		{"reference/gateway", map[string]any{"strategy": "jwt-only", "jwks_ttl": "3s", "jwks_refetch": "never"}, "revoke-key",
			drill.ExpectedTTC{Known: true, Never: true}},
		{"reference/gateway", map[string]any{"strategy": "jwt-only", "jwks_ttl": "3s"}, "revoke-tokens",
			drill.ExpectedTTC{Known: true, Never: true}},
		{"reference/apikeys", nil, "revoke-api-keys", drill.ExpectedTTC{}},
	}
	for _, c := range cases {
		got := expectedTTC(scenario.Component{Name: "c", Use: c.use, With: c.with}, c.action)
		got.Why = ""
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v under %s: %+v, want %+v", c.use, c.with, c.action, got, c.want)
		}
	}
}

// The chaos scenarios' faults, read as the reference gateway behaves: each gives the effect the
// plan simulates, at the offsets the timeline says.
func TestFaultEffectsOfChaosScenarios(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	cases := []struct {
		file, component string
		want            drill.FaultEffects
	}{
		{"chaos-bus-partition.yaml", "edge-push", drill.FaultEffects{HasNotBefore: true, NotBefore: ms(3500),
			Down: []drill.Window{{From: ms(-500), To: ms(3500)}}}},
		{"chaos-bus-partition.yaml", "edge-open", drill.FaultEffects{HasNotBefore: true, NotBefore: ms(3500)}}, // fails open
		{"chaos-slow-link.yaml", "edge-slow", drill.FaultEffects{SlowRejects: []drill.Window{{From: ms(-3000), To: ms(4500), Extra: ms(500)}}}},
		{"chaos-slow-link.yaml", "edge-fast", drill.FaultEffects{}},
		{"chaos-gateway-restart.yaml", "edge-stale", drill.FaultEffects{Resurrect: []drill.Window{{From: ms(1500), To: ms(3500)}}}},
		{"chaos-gateway-restart.yaml", "edge-fresh", drill.FaultEffects{}}, // restarts from fresh state
	}
	for _, c := range cases {
		s, err := loadScenario(filepath.Join("../../scenarios", c.file), nil)
		if err != nil {
			t.Fatal(err)
		}
		var comp scenario.Component
		for _, sc := range s.System.Components {
			if sc.Name == c.component {
				comp = sc
			}
		}
		got, notes := faultEffects(s, comp)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s: %+v, want %+v", c.file, c.component, got, c.want)
		}
		if got.IsZero() != (len(notes) == 0) {
			t.Errorf("%s %s: notes %q for effects %+v", c.file, c.component, notes, got)
		}
	}
}

// The plan of a scenario with faults, against the drill (the binary, as users run it): where a
// fault sets the bracket (a gateway failing closed across a partition, rejecting answers slowed
// by 500 ms) the plan must say so within 25 %, not the fault-free revisit (4,241 ms planned
// against 4,323 achieved, 727 against 725; the fault-free plan said 231 and 184 ms).
func TestPlanFaultsMatchDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 10 s drills")
	}
	bin, err := buildRecall()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, component string }{
		{"../../scenarios/chaos-bus-partition.yaml", "edge-push"},
		{"../../scenarios/chaos-slow-link.yaml", "edge-slow"},
	} {
		out := t.TempDir()
		cmd := exec.Command(bin, "run", c.file, "--out", out, "--quiet")
		var errs strings.Builder
		cmd.Stderr = &errs
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == exitCannotRun {
				t.Fatalf("%s: drill could not run: %v: %s", c.file, err, lastLines(errs.String(), 10))
			}
		}
		rep, err := report.Read(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		v := planJSON(t, c.file, "--set", fmt.Sprintf("traffic.rate=%.0f/s", rep.Probes.RatePerSec))
		var want float64
		for _, pc := range v.Components {
			if pc.Name == c.component {
				want = pc.ResolutionMS
			}
		}
		for _, rc := range rep.Components {
			if rc.Name != c.component {
				continue
			}
			got := rc.TTCMS.ResolutionMS
			t.Logf("%s %s: median bracket %.0f ms, plan %.0f ms (ratio %.2f), rate %.0f/s", c.file, c.component, got, want, got/want, rep.Probes.RatePerSec)
			if rc.Converged == 0 || want == 0 || got < 0.75*want || got > 1.25*want {
				t.Errorf("%s %s: median bracket %.0f ms over %d converged pairs, plan said %.0f ms: more than 25 %% apart",
					c.file, c.component, got, rc.Converged, want)
			}
		}
	}
}
