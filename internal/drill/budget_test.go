package drill

import (
	"math/rand"
	"slices"
	"testing"
	"time"
)

// TestPlanBudgetMatchesScheduler checks the budget model against the real scheduler and
// tracker on a virtual clock: the median revisit interval of victim pairs before the recall
// and after it must be the model's Before and After within 10 %. After the recall one pair
// converges (so re-checks take their share, as in a drill from its first acknowledgement) and
// the rest keep being accepted.
func TestPlanBudgetMatchesScheduler(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		comps, victims, ctrls int
		rate                  float64
		sample                SampleSpec
	}{
		{"quickstart", 4, 1000, 200, 3000, SampleSpec{}},
		{"no controls", 3, 300, 0, 500, SampleSpec{}},
		{"few pairs", 2, 40, 10, 400, SampleSpec{}},
		{"sampled for 250ms", 4, 5000, 200, 3000, SampleSpec{Resolution: 250 * time.Millisecond}},
		{"sample of 100", 3, 2000, 100, 1000, SampleSpec{Count: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := make([]string, tc.comps)
			for i := range names {
				names[i] = string(rune('a' + i))
			}
			b := PlanBudget(BudgetConfig{Rate: tc.rate, Components: tc.comps, Victims: tc.victims, Controls: tc.ctrls, Sample: tc.sample})
			// The drill's own sizing and draw (drawSample).
			n := tc.sample.Size(tc.victims, tc.comps, tc.rate, ScheduleConfig{}.UnconvergedShare(tc.ctrls))
			if n != b.PerComponent {
				t.Errorf("sample of %d per component, model %d", n, b.PerComponent)
			}
			tr := NewTracker(TrackerConfig{Components: names, Victims: tc.victims, Controls: tc.ctrls, Sample: NewSample(1, names, tc.victims, n)})
			sched := NewScheduler(ScheduleConfig{}, tr, rand.New(rand.NewSource(1)))

			step := time.Duration(float64(time.Second) / tc.rate)
			now := time.Duration(0)
			last := map[[2]int]time.Duration{}
			var gaps []time.Duration
			conv := [2]int{-1, -1}
			probe := func(n int, record bool) {
				for range n {
					c, tok := sched.Next()
					now += step
					out := Accept
					if tr.Triggered() && tok < tc.victims && conv == [2]int{-1, -1} {
						conv = [2]int{c, tok} // the first pair probed after the recall converges
					}
					if [2]int{c, tok} == conv {
						out = Reject
					}
					tr.Observe(Observation{Component: c, Token: tok, Sent: now, Outcome: out, Status: 200})
					if tok >= tc.victims {
						continue
					}
					k := [2]int{c, tok}
					if prev, ok := last[k]; ok && record {
						gaps = append(gaps, now-prev)
					}
					last[k] = now
				}
			}
			cycle := (n + tc.ctrls) * tc.comps
			probe(3*cycle, false) // every pair has its baseline accept
			probe(3*cycle, true)
			before := median(gaps)
			tr.SetTrigger(now)
			for tok := range tc.victims {
				tr.Recalled(tok, now, now)
				sched.Recalled(tok)
			}
			gaps = gaps[:0]
			probe(2*cycle, false)
			probe(3*cycle, true)
			after := median(gaps)
			for _, c := range []struct {
				what      string
				got, want time.Duration
			}{{"before", before, b.Before}, {"after", after, b.After}} {
				if ratio := float64(c.got) / float64(c.want); ratio < 0.9 || ratio > 1.1 {
					t.Errorf("revisit %s the recall: scheduler %v, model %v", c.what, c.got, c.want)
				}
			}
			t.Logf("before %v (model %v), after %v (model %v), alone %v", before, b.Before, after, b.After, b.AfterAlone)
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// TestPlanBudgetResolutionPerComponent: the plan's median bracket per component, with known
// answers. A component of unknown TTC is planned at After (the whole rotation's revisit); one
// expected never to converge has none. A component that converges alone, after every other
// converging component's pairs left the rotation, is revisited at the rotation of its own pairs
// and the never-converging ones: the simulated bracket must be about that (the revisit interval
// computed by hand), and finer than the first component's, whose bracket is the revisit of the
// whole rotation.
func TestPlanBudgetResolutionPerComponent(t *testing.T) {
	t.Parallel()
	const rate, victims, controls = 2000.0, 200, 50
	cfg := BudgetConfig{Rate: rate, Components: 4, Victims: victims, Controls: controls,
		Sample:   SampleSpec{Count: 20},
		RecallAt: 3 * time.Second, After: 6 * time.Second, Seed: 7,
		Expected: []ExpectedTTC{
			{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond}, // at once
			{Known: true, From: 3 * time.Second, To: 3 * time.Second},             // alone, later
			{Known: true, Never: true},
			{}, // unknown: planned as never
		}}
	b := PlanBudget(cfg)
	if !b.Simulated {
		t.Fatalf("not simulated: %+v", b)
	}
	t.Logf("after %v, alone %v, resolution %v", b.After, b.AfterAlone, b.Resolution)
	if b.Resolution[2] != 0 {
		t.Errorf("never-converging component: resolution %v, want none", b.Resolution[2])
	}
	if b.Resolution[3] != b.After {
		t.Errorf("unknown component: resolution %v, want After %v", b.Resolution[3], b.After)
	}
	// At 3 s only the second component's 20 pairs and the 40 that never converge are left.
	_, _, unconv := cfg.Schedule.shares(controls)
	alone := time.Duration(float64(3*20) / (rate * unconv) * float64(time.Second))
	if r := b.Resolution[1]; r < alone*3/4 || r > alone*5/4 {
		t.Errorf("the later component: bracket %v, want about %v (60 pairs at %.0f/s)", r, alone, rate*unconv)
	}
	if b.Resolution[0] <= b.Resolution[1] {
		t.Errorf("the first component's bracket %v should be wider than the later one's %v", b.Resolution[0], b.Resolution[1])
	}
	// A poll tick's phase is unknown before the drill: placed early in its window it meets a
	// fuller rotation (a wider bracket) than placed late, and the plan gives that range.
	phased := cfg
	phased.Expected = slices.Clone(cfg.Expected)
	phased.Expected[1].Phase = 2 * time.Second // the tick anywhere in 2–4 s
	// while a cache's entries expire over 0–6 s: the rotation shrinks across the tick's window
	phased.Expected[3] = ExpectedTTC{Known: true, To: 6 * time.Second, FromRecall: true}
	pb := PlanBudget(phased)
	if r := pb.ResolutionRange[1]; r[0] > pb.Resolution[1] || r[1] < pb.Resolution[1] || r[1] <= r[0] {
		t.Errorf("a tick's range %v around %v: want a range holding it", r, pb.Resolution[1])
	}
	// Too large to simulate: the analytic figures only.
	big := cfg
	big.Victims, big.Sample = 1_000_000, SampleSpec{}
	if b := PlanBudget(big); b.Simulated || b.Resolution[1] == 0 {
		t.Errorf("a million victims: simulated %v, resolution %v; want the analytic figures", b.Simulated, b.Resolution)
	}
}

// Two gateways' ticks (poll intervals, JWKS refetches) have unrelated phases: the plan's range
// must hold the case where one ticks early and the other late, when the late one's pairs are
// left alone in the rotation and revisited most often. Shifting the phases together misses it
// (key-compromise's edge-jwt: a bracket of 167 ms against a planned range of 334–445 ms).
func TestPlanBudgetRangeShiftsPhasesApart(t *testing.T) {
	t.Parallel()
	const rate, victims, controls = 1500.0, 200, 50
	cfg := BudgetConfig{Rate: rate, Components: 2, Victims: victims, Controls: controls,
		RecallAt: 3 * time.Second, After: 6 * time.Second, Seed: 3,
		Expected: []ExpectedTTC{
			{Known: true, From: time.Second, To: time.Second, FromRecall: true, Phase: 2 * time.Second},
			{Known: true, From: 1500 * time.Millisecond, To: 1500 * time.Millisecond, FromRecall: true, Phase: 3 * time.Second},
		}}
	b := PlanBudget(cfg)
	if !b.Simulated {
		t.Fatalf("not simulated: %+v", b)
	}
	// The first ticking at 1.8 s with the second at 0.3 s: its 200 pairs alone, with the 50
	// controls' share aside.
	alone := cfg
	alone.Expected = slices.Clone(cfg.Expected)
	alone.Expected[0].From, alone.Expected[0].To = 1800*time.Millisecond, 1800*time.Millisecond
	alone.Expected[1].From, alone.Expected[1].To = 300*time.Millisecond, 300*time.Millisecond
	want, _ := simulateBrackets(alone, victims)
	for c, r := range b.ResolutionRange {
		t.Logf("component %d: range %v", c, r)
	}
	if r := b.ResolutionRange[0]; r[0] > want[0]*11/10 {
		t.Errorf("first component's range %v: want it to reach down to about %v, its bracket when it ticks late and alone", r, want[0])
	}
}

// The plan simulates what faults do to a component's answers (FaultEffects): each effect moves
// the simulated median bracket the way it moves a drill's (measured on the chaos scenarios:
// bus-partition edge-push 4,323 ms, slow-link edge-slow 725 ms, gateway-restart edge-stale
// 125 ms, against a plan of 4,241, 727 and 126 ms).
func TestPlanBudgetFaultEffects(t *testing.T) {
	t.Parallel()
	base := BudgetConfig{Rate: 400, Components: 2, Victims: 40, Controls: 10,
		RecallAt: 4 * time.Second, After: 6 * time.Second, Seed: 7,
		Expected: []ExpectedTTC{
			{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond},
			{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond},
		}}
	clean := PlanBudget(base).Resolution[0]
	with := func(f FaultEffects) time.Duration {
		cfg := base
		cfg.Expected = slices.Clone(base.Expected)
		cfg.Expected[0].Faults = f
		return PlanBudget(cfg).Resolution[0]
	}
	t.Logf("no fault: %v", clean)
	// Failing closed from 0.5 s before the recall until the heal at +3.5 s, when it enforces:
	// the last accept before the window, the first reject after it.
	down := with(FaultEffects{HasNotBefore: true, NotBefore: 3500 * time.Millisecond,
		Down: []Window{{From: -500 * time.Millisecond, To: 3500 * time.Millisecond}}})
	if down < 4*time.Second || down > 4*time.Second+2*clean {
		t.Errorf("down across the recall for 4s: median bracket %v, want 4s to 4s + two revisits (%v)", down, 4*time.Second+2*clean)
	}
	// Enforcing only at the heal (failing open): the bracket is a revisit, of the fewer pairs
	// left by then.
	if open := with(FaultEffects{HasNotBefore: true, NotBefore: 3500 * time.Millisecond}); open > clean*5/4 {
		t.Errorf("enforcing at the heal: median bracket %v, want no wider than without the fault (%v)", open, clean)
	}
	// Rejecting answers 500 ms slower: the bracket ends when the rejecting answer arrives.
	slow := with(FaultEffects{SlowRejects: []Window{{From: -time.Second, To: 5 * time.Second, Extra: 500 * time.Millisecond}}})
	if slow < clean+400*time.Millisecond || slow > clean+700*time.Millisecond {
		t.Errorf("rejects 500ms slower: median bracket %v, want about %v + 500ms", slow, clean)
	}
	// Honouring recalled credentials again from +1.5 s to +3.5 s: the bracket that counts is
	// the last one, at +3.5 s, when the other component's pairs have left the rotation.
	res := with(FaultEffects{Resurrect: []Window{{From: 1500 * time.Millisecond, To: 3500 * time.Millisecond}}})
	if res > clean*3/4 {
		t.Errorf("resurrected until +3.5s: median bracket %v, want about half of %v (its pairs alone in the rotation)", res, clean)
	}
}

// A cache whose entries the probes fill expires them together, within a couple of revisits of
// each other, when the revisit is short against the TTL: the component converges in a burst,
// meeting a full rotation, so its bracket is wider than for expiries spread over the TTL (the
// quickstart's introspect gateway: 17-20 ms achieved, where the spread model planned 15 ms).
func TestPlanBudgetRefilledCacheConvergesInABurst(t *testing.T) {
	t.Parallel()
	cfg := BudgetConfig{Rate: 3000, Components: 2, Victims: 1000, Controls: 200, Sample: SampleSpec{Count: 24},
		RecallAt: 12 * time.Second, After: 20 * time.Second, Seed: 42,
		Expected: []ExpectedTTC{
			{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond},
			{Known: true, To: 5 * time.Second, FromRecall: true},
		}}
	spread := PlanBudget(cfg)
	cfg.Expected = slices.Clone(cfg.Expected)
	cfg.Expected[1].Refill = true
	burst := PlanBudget(cfg)
	t.Logf("spread %v %v, burst %v %v (before %v)", spread.Resolution[1], spread.ResolutionRange[1], burst.Resolution[1], burst.ResolutionRange[1], burst.Before)
	if burst.Resolution[1] <= spread.Resolution[1] {
		t.Errorf("entries expiring in a burst: bracket %v, want wider than spread over the TTL (%v)", burst.Resolution[1], spread.Resolution[1])
	}
	if r := burst.ResolutionRange[1]; r[1] <= r[0] {
		t.Errorf("the burst's phase in the TTL is unknown: range %v, want one", r)
	}
	// A revisit as long as the TTL: the expiries spread over it, as without Refill.
	slow := cfg
	slow.Rate, slow.Sample = 100, SampleSpec{}
	slow.Victims, slow.Controls = 200, 20
	a, b := PlanBudget(slow), func() Budget {
		c := slow
		c.Expected = slices.Clone(slow.Expected)
		c.Expected[1].Refill = false
		return PlanBudget(c)
	}()
	if a.Resolution[1] != b.Resolution[1] {
		t.Errorf("revisit %v against a 5s TTL: bracket %v with Refill, %v without; want the same", a.Before, a.Resolution[1], b.Resolution[1])
	}
}
