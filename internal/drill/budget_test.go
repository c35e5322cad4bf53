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
