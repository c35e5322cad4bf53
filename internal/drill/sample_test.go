package drill

import (
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestSampleSeeded(t *testing.T) {
	t.Parallel()
	names := []string{"edge-push", "edge-poll", "edge-jwt"}
	a := NewSample(42, names, 1000, 30)
	b := NewSample(42, names, 1000, 30)
	c := NewSample(43, names, 1000, 30)
	for i := range names {
		if got := a.Tokens(i); len(got) != 30 || a.Size(i) != 30 {
			t.Fatalf("%s: %d tokens, size %d, want 30", names[i], len(got), a.Size(i))
		}
		if !slices.Equal(a.Tokens(i), b.Tokens(i)) {
			t.Errorf("%s: same seed, different samples", names[i])
		}
		if slices.Equal(a.Tokens(i), c.Tokens(i)) {
			t.Errorf("%s: different seeds, same sample: the seed does nothing", names[i])
		}
	}
	if slices.Equal(a.Tokens(0), a.Tokens(1)) {
		t.Error("two components got the same sample: they should be independent")
	}
	// Seeded by name: adding or reordering components leaves a component's sample unchanged.
	d := NewSample(42, []string{"edge-new", "edge-poll"}, 1000, 30)
	if !slices.Equal(a.Tokens(1), d.Tokens(1)) {
		t.Error("edge-poll's sample moved when the other components changed")
	}
	for _, tok := range a.Tokens(0) {
		if !a.Has(0, tok) {
			t.Fatalf("Has(0, %d) false for a sampled token", tok)
		}
	}
	if n := countHas(a, 0, 1000); n != 30 {
		t.Errorf("Has true for %d victims, want 30", n)
	}
	if !a.Has(0, 1000) || !a.Has(0, 1100) {
		t.Error("controls must always be probed")
	}
	// A sample as large as the population is no sample.
	if s := NewSample(1, names, 10, 10); s != nil || !s.Has(0, 3) || s.Size(0) != -1 {
		t.Errorf("full sample = %v, want nil (every victim)", s)
	}
}

func countHas(s *Sample, c, victims int) int {
	n := 0
	for tok := range victims {
		if s.Has(c, tok) {
			n++
		}
	}
	return n
}

func TestSampleSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec SampleSpec
		want int
	}{
		{SampleSpec{}, 1000},
		{SampleSpec{Count: 100}, 100},
		{SampleSpec{Count: 5000}, 1000},
		{SampleSpec{Share: 0.1}, 100},
		{SampleSpec{Share: 0.0001}, 1},
		// 40 ms × 3000/s × 80 % ÷ 4 components = 24 pairs per component.
		{SampleSpec{Resolution: 40 * time.Millisecond}, 24},
		{SampleSpec{Resolution: time.Microsecond}, 1},
		{SampleSpec{Resolution: time.Hour}, 1000},
	}
	for _, tc := range tests {
		if got := tc.spec.Size(1000, 4, 3000, 0.8); got != tc.want {
			t.Errorf("%+v: size %d, want %d", tc.spec, got, tc.want)
		}
	}
	// The sizing reaches the resolution: 4 × 24 pairs at 2400/s revisit every 40 ms.
	n := SizeForResolution(40*time.Millisecond, 3000, 0.8, 4, 1000)
	if revisit := float64(4*n) / 2400; revisit > 0.040 || revisit < 0.039 {
		t.Errorf("revisit %v s for n=%d, want 40 ms", revisit, n)
	}
}

func TestPercentilePrecision(t *testing.T) {
	t.Parallel()
	vals := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(i + 1)
		}
		return out
	}
	// n = 100: the p99 is the 99th value, and the sample cannot bound the population's p99
	// from above (1 − 0.99^100 = 63 % < 97.5 %).
	p := percentilePrecision("p99", 0.99, vals(100), false)
	if p.Rank != 99 || p.Above != 1 || !p.Unbounded || p.HighMS != 100 || p.MinSample != 368 {
		t.Errorf("n=100 p99: %+v", p)
	}
	// n = 1000: bounded on both sides, around the 990th value.
	p = percentilePrecision("p99", 0.99, vals(1000), false)
	if p.Unbounded || p.LowMS >= 990 || p.HighMS <= 990 || p.HighMS > 1000 {
		t.Errorf("n=1000 p99: %+v", p)
	}
	// p50 of 100: the classic interval is the 40th..61st values.
	p = percentilePrecision("p50", 0.5, vals(100), false)
	if p.LowMS != 40 || p.HighMS != 61 {
		t.Errorf("n=100 p50: %v..%v, want 40..61", p.LowMS, p.HighMS)
	}
	// A census has no sampling error.
	if p = percentilePrecision("p99", 0.99, vals(100), true); !p.Census || p.LowMS != 99 || p.HighMS != 99 {
		t.Errorf("census: %+v", p)
	}
}

// TestPercentilePrecisionCoverage draws samples from a known distribution and checks that the
// interval holds the population's true quantile at about its nominal 95 % (never much below).
func TestPercentilePrecisionCoverage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		q float64
		n int
	}{{0.5, 50}, {0.9, 200}, {0.99, 500}} {
		truth := -math.Log(1 - tc.q) // exponential(1) quantile
		const trials = 2000
		hits := 0
		for range trials {
			s := make([]float64, tc.n)
			for i := range s {
				s[i] = rng.ExpFloat64()
			}
			sort.Float64s(s)
			p := percentilePrecision("p", tc.q, s, false)
			if p.LowMS <= truth && (p.Unbounded || truth <= p.HighMS) {
				hits++
			}
		}
		if cov := float64(hits) / trials; cov < 0.93 || cov > 0.995 {
			t.Errorf("q=%v n=%d: coverage %.3f, want about 0.95 or a bit more", tc.q, tc.n, cov)
		}
	}
}

func TestTrackerUnsampled(t *testing.T) {
	t.Parallel()
	sample := NewSample(1, []string{"a", "b"}, 20, 5)
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b"}, Victims: 20, Controls: 2, MaxLag: tms(10), Sample: sample})
	for c := range 2 {
		for _, tok := range append(sample.Tokens(c), 20, 21) {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(50), Outcome: Accept})
		}
	}
	tr.SetTrigger(tms(100))
	for tok := range 20 {
		tr.Recalled(tok, tms(150), tms(200))
	}
	for c := range 2 {
		for _, tok := range sample.Tokens(c) {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(250), Outcome: Reject})
		}
	}
	tr.Observe(Observation{Component: 0, Token: 20, Sent: tms(1000), Outcome: Accept})
	for tok := range 20 {
		if st := tr.State(0, tok); (st == PairUnsampled) == sample.Has(0, tok) {
			t.Errorf("State(0, %d) = %v, sampled %v", tok, st, sample.Has(0, tok))
		}
	}
	m := tr.Finalize(tms(2000))
	for c, cm := range m.Components {
		s := cm.Summary
		if s.Pairs != 5 || s.Converged != 5 || s.NeverAccepted != 0 || s.TTCMS.Count != 5 {
			t.Errorf("%s: pairs %d converged %d never %d count %d, want 5 measured of 5 sampled and no never-accepted",
				cm.Name, s.Pairs, s.Converged, s.NeverAccepted, s.TTCMS.Count)
		}
		unsampled := 0
		for _, p := range cm.Pairs {
			if p.State == PairUnsampled {
				unsampled++
				if sample.Has(c, p.Token) {
					t.Errorf("sampled pair %d reported unsampled", p.Token)
				}
			}
		}
		if unsampled != 15 {
			t.Errorf("%s: %d unsampled pairs, want 15", cm.Name, unsampled)
		}
	}
	if m.NeverAcceptedVictims != 0 {
		t.Errorf("never-accepted victims %d: unsampled pairs must not count", m.NeverAcceptedVictims)
	}
	rep := sampleReport(5, 20, m.Components[0].Pairs)
	if rep.Size != 5 || rep.Of != 20 || len(rep.Percentiles) != 3 || !rep.Percentiles[2].Unbounded {
		t.Errorf("sample report %+v", rep)
	}
}
