package drill

import (
	"context"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/report"
)

// issuedBeforePlan is the ground-truth drill with the revoke-issued-before recall; bound is the
// reference issuer's issued_before_bound (inclusive: the planted same-second bug).
func issuedBeforePlan(t *testing.T, bound string, poll, ttl time.Duration) *Plan {
	t.Helper()
	p := groundTruthPlan(t, poll, ttl)
	gw := func(name string, with map[string]any) runtime.Spec {
		return runtime.Spec{Name: name, Kind: "gateway", Use: runtime.UseGateway, With: with}
	}
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer, With: map[string]any{"issued_before_bound": bound}},
		gw("push", map[string]any{"strategy": "push"}),
		gw("poll", map[string]any{"strategy": "poll", "interval": poll.String()}),
		gw("introspect", map[string]any{"strategy": "introspect", "cache_ttl": ttl.String()}),
		gw("jwt", map[string]any{"strategy": "jwt-only"}),
	}
	env, err := embedded.New(specs, runtime.Secrets{AdminSecret: "test-admin-secret", GatewayID: "gw", GatewaySecret: "gw-secret"})
	if err != nil {
		t.Fatal(err)
	}
	p.Env = env
	p.Population = Population{Grant: "client_credentials", Victims: 80, Controls: 40, Clients: 4}
	k, _ := LookupAction(ActionIssuedBefore)
	p.Population.NewSecondBeforeControls = k.Population.NewSecond
	// On a loaded machine (CI runs every package at once) each pair comes back every few
	// seconds instead of every 0.6 s: the recall waits for a complete baseline, and traffic is
	// held until the converging gateways converged (both bounded), so the drill measures every
	// pair however slow the machine.
	p.Traffic = Traffic{Rate: 800, Duration: 7 * time.Second, Settle: 20 * time.Second, Workers: 16, Timeout: 2 * time.Second}
	p.Recall = Recall{At: 3 * time.Second, WaitForBaseline: 20 * time.Second, Kind: ActionIssuedBefore, Confirm: true}
	if p.Recall.Action, err = NewAction(ActionIssuedBefore, ActionParams{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDrillIssuedBefore recalls everything issued before T, the second after the victims were
// minted, with controls minted from T on (the first within T's second). Against the correct
// issuer every victim dies at every revocation-aware gateway within its strategy's bound plus
// the resolution, each recorded enforcement instant lies in its measured bracket, and no
// control is rejected. Against the issuer with the planted boundary bug (iat <= T), the
// controls of T's second are recalled with the victims: false rejects at every such gateway.
func TestDrillIssuedBefore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 8 s drills")
	}
	const poll, ttl = time.Second, 1500 * time.Millisecond
	t.Run("exclusive", func(t *testing.T) {
		t.Parallel()
		rep, err := Run(context.Background(), issuedBeforePlan(t, "exclusive", poll, ttl))
		if err != nil {
			t.Fatalf("drill: %v (%s)", err, rep.Reason)
		}
		if rep.Recall.Action != ActionIssuedBefore || rep.Recall.Failed != 0 || rep.Recall.Confirmed != 80 || rep.Recall.Ineffective != 0 {
			t.Errorf("recall %+v: want 80 confirmed, none failed or ineffective", rep.Recall)
		}
		by := map[string]report.Component{}
		for _, c := range rep.Components {
			by[c.Name] = c
			if c.FalseRejects != 0 || c.Resurrections != 0 {
				t.Errorf("%s: %d false rejects, %d resurrections: the recall hit controls minted at or after T", c.Name, c.FalseRejects, c.Resurrections)
			}
		}
		for _, name := range []string{"push", "poll", "introspect"} {
			c := by[name]
			if c.Pairs < 50 || c.Converged != c.Pairs {
				t.Errorf("%s: %d of %d pairs converged (+%d never accepted); want every measured pair of at least 50", name, c.Converged, c.Pairs, c.NeverAccepted)
			}
			if gt := c.GroundTruth; gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
				t.Errorf("%s: ground truth %+v: every recorded instant must lie in its measured bracket", name, gt)
			}
		}
		slack := 100.0
		if c := by["poll"]; c.TTCMS.Max > millis(poll)+c.TTCMS.ResolutionMaxMS+slack {
			t.Errorf("poll: max TTC %.0f ms > interval %v + resolution %.0f ms", c.TTCMS.Max, poll, c.TTCMS.ResolutionMaxMS)
		}
		if c := by["introspect"]; c.TTCMS.Max > millis(ttl)+c.TTCMS.ResolutionMaxMS+slack {
			t.Errorf("introspect: max TTC %.0f ms > TTL %v + resolution %.0f ms", c.TTCMS.Max, ttl, c.TTCMS.ResolutionMaxMS)
		}
		if c := by["jwt"]; c.Converged != 0 {
			t.Errorf("jwt-only: %d pairs converged; it never learns of a recall", c.Converged)
		}
		t.Logf("probes: %.0f/s of %.0f/s (%.0f/s in the second after the ack), recall held %.1f s for the baseline, traffic %.1f s", rep.Probes.RatePerSec, rep.Probes.TargetRatePerSec, rep.Probes.RateAfterAckPerSec, rep.Recall.HeldForBaselineMS/1000, rep.Probes.TrafficMS/1000)
		for _, n := range []string{"push", "poll", "introspect"} {
			t.Logf("%s: %d pairs, TTC max %.0f ms (±%.0f), true p50 %.0f ms", n, by[n].Pairs, by[n].TTCMS.Max, by[n].TTCMS.ResolutionMaxMS, by[n].GroundTruth.TTCMS.P50)
		}
	})
	t.Run("inclusive", func(t *testing.T) {
		t.Parallel()
		rep, _ := Run(context.Background(), issuedBeforePlan(t, "inclusive", poll, ttl))
		if rep.Recall.Failed != 0 {
			t.Fatalf("recall %+v (%s)", rep.Recall, rep.Reason)
		}
		for _, c := range rep.Components {
			switch c.Name {
			case "push", "poll", "introspect":
				if c.FalseRejects == 0 {
					t.Errorf("%s: no false rejects: the same-second boundary bug went unseen", c.Name)
				}
				t.Logf("%s: %d false rejects", c.Name, c.FalseRejects)
			case "jwt":
				if c.FalseRejects != 0 {
					t.Errorf("jwt-only: %d false rejects", c.FalseRejects)
				}
			}
		}
		if rep.Overall.FalseRejects == 0 || rep.Verdict == report.Pass {
			t.Errorf("verdict %s with %d false rejects: the planted bug must fail the drill", rep.Verdict, rep.Overall.FalseRejects)
		}
	})
}
