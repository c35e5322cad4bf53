package drill

import (
	"math/rand"
	"slices"
	"testing"
	"time"
)

type pairKey struct{ c, tok int }

// schedFixture is a tracker with comps components, victims and controls, every victim pair
// baseline-accepted, the trigger set at 100 ms and every victim recalled at 200 ms. Pairs in
// converged are then seen rejecting at 250 ms.
func schedFixture(t testing.TB, comps, victims, controls int, converged func(c, tok int) bool) *Tracker {
	t.Helper()
	names := make([]string, comps)
	for c := range names {
		names[c] = string(rune('a' + c))
	}
	tr := NewTracker(TrackerConfig{Components: names, Victims: victims, Controls: controls, MaxLag: tms(10)})
	for c := range comps {
		for tok := range victims {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(50), Outcome: Accept})
		}
	}
	tr.SetTrigger(tms(100))
	for tok := range victims {
		tr.Recalled(tok, tms(150), tms(200))
	}
	for c := range comps {
		for tok := range victims {
			if converged != nil && converged(c, tok) {
				tr.Observe(Observation{Component: c, Token: tok, Sent: tms(250), Outcome: Reject})
			}
		}
	}
	return tr
}

func countCalls(s *Scheduler, n int) map[pairKey]int {
	got := map[pairKey]int{}
	for range n {
		c, tok := s.Next()
		got[pairKey{c, tok}]++
	}
	return got
}

func spread(counts map[pairKey]int, keep func(pairKey) bool) (lo, hi, n int) {
	lo = int(^uint(0) >> 1)
	for k, v := range counts {
		if keep(k) {
			lo, hi, n = min(lo, v), max(hi, v), n+1
		}
	}
	return lo, hi, n
}

func TestSchedulerBaseline(t *testing.T) {
	t.Parallel()
	const comps, victims, controls = 3, 50, 10
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b", "c"}, Victims: victims, Controls: controls})
	s := NewScheduler(ScheduleConfig{}, tr, rand.New(rand.NewSource(1)))
	// The first #victim-pairs calls cover every victim pair exactly once, controls not at all.
	first := countCalls(s, comps*victims)
	if len(first) != comps*victims {
		t.Fatalf("first %d calls hit %d distinct pairs", comps*victims, len(first))
	}
	for k := range first {
		if k.tok >= victims {
			t.Fatalf("control %v probed before every victim pair had a probe", k)
		}
	}
	// Once every victim pair is accepted, the control share goes to controls and the rest to
	// victim pairs, each evenly: 3,000 calls give the 150 victim pairs 18 probes each and the
	// 30 control pairs 10 each.
	for c := range comps {
		for tok := range victims {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(10), Outcome: Accept})
		}
	}
	even := countCalls(s, 3000)
	if lo, hi, n := spread(even, func(k pairKey) bool { return k.tok < victims }); n != comps*victims || lo < 17 || hi > 19 {
		t.Errorf("even phase: %d victim pairs probed %d..%d times, want %d pairs × 18", n, lo, hi, comps*victims)
	}
	if lo, hi, n := spread(even, func(k pairKey) bool { return k.tok >= victims }); n != comps*controls || lo < 9 || hi > 11 {
		t.Errorf("even phase: %d control pairs probed %d..%d times, want %d pairs × 10", n, lo, hi, comps*controls)
	}
}

func TestSchedulerBaselineRetry(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b"}, Victims: 20, Controls: 5})
	s := NewScheduler(ScheduleConfig{}, tr, nil)
	countCalls(s, 40) // first pass
	// Everything accepted except two pairs, which keep getting DefaultBaselineRetry of the calls.
	lacking := []pairKey{{0, 3}, {1, 7}}
	for c := range 2 {
		for tok := range 20 {
			if !slices.Contains(lacking, pairKey{c, tok}) {
				tr.Observe(Observation{Component: c, Token: tok, Sent: tms(10), Outcome: Accept})
			}
		}
	}
	got := countCalls(s, 1000)
	// 500 retries split between the two, plus their share of the 500 even calls (1/50 each).
	for _, k := range lacking {
		if got[k] < 255 || got[k] > 265 {
			t.Errorf("lacking pair %v probed %d times, want ~260", k, got[k])
		}
	}
}

func TestSchedulerShares(t *testing.T) {
	t.Parallel()
	const comps, victims, controls = 3, 40, 8
	conv := func(c, tok int) bool { return tok%2 == 0 }
	tr := schedFixture(t, comps, victims, controls, conv)
	s := NewScheduler(ScheduleConfig{Components: comps, Victims: victims, Controls: controls}, tr, rand.New(rand.NewSource(5)))
	const n = 12000
	got := countCalls(s, n)
	var ctrl, recheck, unconv int
	for k, v := range got {
		switch {
		case k.tok >= victims:
			ctrl += v
		case conv(k.c, k.tok):
			recheck += v
		default:
			unconv += v
		}
	}
	// Smooth weighted round-robin is exact to within a call per kind.
	if ctrl < 1199 || ctrl > 1201 || recheck < 1199 || recheck > 1201 || unconv < 9598 || unconv > 9602 {
		t.Errorf("controls %d, recheck %d, unconverged %d of %d; want 10%%, 10%%, 80%%", ctrl, recheck, unconv, n)
	}
	// Within each set, coverage is equal to within one probe.
	for name, keep := range map[string]func(pairKey) bool{
		"unconverged": func(k pairKey) bool { return k.tok < victims && !conv(k.c, k.tok) },
		"converged":   func(k pairKey) bool { return k.tok < victims && conv(k.c, k.tok) },
		"controls":    func(k pairKey) bool { return k.tok >= victims },
	} {
		lo, hi, m := spread(got, keep)
		want := map[string]int{"unconverged": 60, "converged": 60, "controls": 24}[name]
		if m != want || hi-lo > 1 {
			t.Errorf("%s: %d pairs probed %d..%d times, want %d pairs within one", name, m, lo, hi, want)
		}
	}
	st := s.Stats()
	var kinds [numKinds]int64
	for _, cs := range st.Components {
		kinds[kindUnconverged] += cs.Unconverged
		kinds[kindRecheck] += cs.Recheck
		kinds[kindControl] += cs.Controls
		kinds[kindBaseline] += cs.Baseline
		// 60 unconverged pairs at 80 % of the calls: one visit every 75 calls.
		if cs.Revisit < 74.5 || cs.Revisit > 75.5 {
			t.Errorf("revisit %v calls, want 75", cs.Revisit)
		}
		if iv := cs.Interval(7500); iv < 9900*time.Microsecond || iv > 10100*time.Microsecond {
			t.Errorf("interval at 7500/s = %v, want 10ms", iv)
		}
	}
	if kinds != [numKinds]int64{0, int64(unconv), int64(recheck), int64(ctrl)} || st.Calls != n || !st.Measuring {
		t.Errorf("stats %+v, kinds %v", st, kinds)
	}
}

func TestSchedulerFollowsState(t *testing.T) {
	t.Parallel()
	const comps, victims = 2, 10
	tr := schedFixture(t, comps, victims, 0, nil)
	s := NewScheduler(ScheduleConfig{}, tr, nil)
	countCalls(s, 100)
	// Pair (0,3) converges: it leaves the unconverged rotation and is only re-checked.
	tr.Observe(Observation{Component: 0, Token: 3, Sent: tms(300), Outcome: Reject})
	got := countCalls(s, 1000)
	if n := got[pairKey{0, 3}]; n < 99 || n > 101 { // the whole 10 % recheck share: the only converged pair
		t.Errorf("converged pair probed %d times in 1000 calls, want 100 (re-checks)", n)
	}
	if lo, hi, _ := spread(got, func(k pairKey) bool { return k != pairKey{0, 3} }); lo < 47 || hi > 48 {
		t.Errorf("unconverged pairs probed %d..%d times, want 900/19", lo, hi)
	}
	// It comes back (a resurrection): back into the rotation at the unconverged rate.
	tr.Observe(Observation{Component: 0, Token: 3, Sent: tms(400), Outcome: Accept})
	got = countCalls(s, 1000)
	if n := got[pairKey{0, 3}]; n < 49 || n > 51 {
		t.Errorf("resurrected pair probed %d times in 1000 calls, want 50", n)
	}
}

func TestSchedulerRecalledFirst(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b", "c"}, Victims: 100})
	for c := range 3 {
		for tok := range 100 {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(50), Outcome: Accept})
		}
	}
	tr.SetTrigger(tms(100))
	s := NewScheduler(ScheduleConfig{ControlShare: -1, Recheck: -1}, tr, rand.New(rand.NewSource(2)))
	countCalls(s, 17)
	tr.Recalled(42, tms(150), tms(200))
	s.Recalled(42)
	s.Recalled(42) // repeated: ignored
	got := countCalls(s, 3)
	for c := range 3 {
		if got[pairKey{c, 42}] != 1 {
			t.Errorf("after Recalled(42) the next calls are %v, want token 42 at every component", got)
		}
	}
	if got := countCalls(s, 3); got[pairKey{0, 42}]+got[pairKey{1, 42}]+got[pairKey{2, 42}] != 0 {
		t.Errorf("token 42 probed again at once: %v", got)
	}
}

func TestSchedulerDropsNeverAccepted(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"a"}, Victims: 4, MaxLag: tms(10)})
	for tok := range 3 {
		tr.Observe(Observation{Token: tok, Sent: tms(50), Outcome: Accept})
	}
	tr.Observe(Observation{Token: 3, Sent: tms(50), Outcome: Reject})
	tr.SetTrigger(tms(100))
	s := NewScheduler(ScheduleConfig{}, tr, nil)
	// Until the watermark passes trigger+MaxLag, a baseline accept may still be in flight.
	if got := countCalls(s, 40); got[pairKey{0, 3}] == 0 {
		t.Errorf("pending pair not probed: %v", got)
	}
	tr.Observe(Observation{Token: 0, Sent: tms(111), Outcome: Accept})
	if got := countCalls(s, 40); got[pairKey{0, 3}] != 0 {
		t.Errorf("never-accepted pair still probed: %v", got)
	}
}

func TestSchedulerFallbacks(t *testing.T) {
	t.Parallel()
	// All converged, no controls: every call re-checks.
	tr := schedFixture(t, 2, 5, 0, func(int, int) bool { return true })
	s := NewScheduler(ScheduleConfig{}, tr, nil)
	got := countCalls(s, 100)
	if lo, hi, n := spread(got, func(pairKey) bool { return true }); n != 10 || lo != 10 || hi != 10 {
		t.Errorf("all converged: %v", got)
	}
	// Every victim never accepted, no controls: Next still answers, from the full cycle.
	tr2 := NewTracker(TrackerConfig{Components: []string{"a"}, Victims: 2, MaxLag: tms(1)})
	tr2.SetTrigger(tms(1))
	tr2.Observe(Observation{Token: 0, Sent: tms(10), Outcome: Reject})
	s2 := NewScheduler(ScheduleConfig{}, tr2, nil)
	if got := countCalls(s2, 4); len(got) != 2 {
		t.Errorf("nothing measurable: %v", got)
	}
	// No credentials at all.
	s3 := NewScheduler(ScheduleConfig{}, NewTracker(TrackerConfig{Components: []string{"a"}}), nil)
	if c, tok := s3.Next(); c != -1 || tok != -1 {
		t.Errorf("empty: Next() = %d, %d", c, tok)
	}
}

func TestSchedulerConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		cfg                ScheduleConfig
		ctrl, rech, unconv float64
	}{
		{"defaults", ScheduleConfig{}, 0.1, 0.1, 0.8},
		{"none", ScheduleConfig{ControlShare: -1, Recheck: -1}, 0, 0, 1},
		{"scaled", ScheduleConfig{ControlShare: 0.75, Recheck: 0.5}, 0.6, 0.4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewScheduler(tc.cfg, schedFixture(t, 1, 2, 1, nil), nil)
			if s.w[kindControl] != tc.ctrl || s.w[kindRecheck] != tc.rech || s.w[kindUnconverged] != tc.unconv {
				t.Errorf("weights %v", s.w)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("mismatched sizes did not panic")
		}
	}()
	NewScheduler(ScheduleConfig{Victims: 3}, schedFixture(t, 1, 2, 1, nil), nil)
}

func TestSchedulerDeterministic(t *testing.T) {
	t.Parallel()
	seq := func(seed int64) []pairKey {
		tr := schedFixture(t, 3, 30, 5, func(c, tok int) bool { return tok%3 == 0 })
		s := NewScheduler(ScheduleConfig{}, tr, rand.New(rand.NewSource(seed)))
		var out []pairKey
		for range 500 {
			c, tok := s.Next()
			out = append(out, pairKey{c, tok})
		}
		return out
	}
	if !slices.Equal(seq(1), seq(1)) {
		t.Error("same seed, different sequences")
	}
	if slices.Equal(seq(1), seq(2)) {
		t.Error("different seeds, same sequence: the seed does nothing")
	}
}

func BenchmarkNext(b *testing.B) {
	tr := schedFixture(b, 3, 1000, 100, func(c, tok int) bool { return tok%2 == 0 })
	s := NewScheduler(ScheduleConfig{}, tr, rand.New(rand.NewSource(1)))
	b.ReportAllocs()
	for b.Loop() {
		s.Next()
	}
}

// TestSchedulerBaselineReshuffles checks that the pre-trigger cycle is a new permutation every
// cycle: with a fixed rotation every pair keeps its phase, which phase-locks the system's caches
// to the probes (see nextAll).
func TestSchedulerBaselineReshuffles(t *testing.T) {
	t.Parallel()
	const comps, victims = 2, 40
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b"}, Victims: victims})
	s := NewScheduler(ScheduleConfig{}, tr, rand.New(rand.NewSource(7)))
	countCalls(s, comps*victims) // the first pass over pairs lacking a baseline
	for c := range comps {
		for tok := range victims {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(10), Outcome: Accept})
		}
	}
	cycle := func() []pairKey {
		var out []pairKey
		for range comps * victims {
			c, tok := s.Next()
			out = append(out, pairKey{c, tok})
		}
		return out
	}
	cycle() // align with the rotation's start
	a, b := cycle(), cycle()
	moved := 0
	for i := range a {
		if a[i] != b[i] {
			moved++
		}
	}
	if moved < len(a)/2 {
		t.Errorf("only %d of %d pairs changed position between two baseline cycles", moved, len(a))
	}
}
