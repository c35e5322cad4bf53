package drill

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/internal/estimate"
	"github.com/recall-drills/recall/report"
)

func TestPairCensored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    PairResult
		want estimate.Interval
		ok   bool
	}{
		{PairResult{State: PairConverged, Recalled: tms(1000), Lower: tms(990), Upper: tms(1012)},
			estimate.Interval{Lower: tms(-10), Upper: tms(12)}, true},
		// Not clamped at 0: a component ahead of the acknowledgement.
		{PairResult{State: PairConverged, Recalled: tms(1000), Lower: tms(900), Upper: tms(998)},
			estimate.Interval{Lower: tms(-100), Upper: tms(-2)}, true},
		{PairResult{State: PairNotConverged, Recalled: tms(1000), Lower: tms(4000)},
			estimate.Interval{Lower: tms(3000), Upper: estimate.Inf}, true},
		{PairResult{State: PairNeverAccepted}, estimate.Interval{}, false},
		{PairResult{State: PairNotRecalled, Lower: tms(5)}, estimate.Interval{}, false},
	} {
		if got, ok := tc.p.Censored(); got != tc.want || ok != tc.ok {
			t.Errorf("%v: Censored() = %v, %v; want %v, %v", tc.p.State, got, ok, tc.want, tc.ok)
		}
	}
}

// estimateStream probes 1000 victims at three simulated components the way the scheduler
// does (a baseline accept, then after each credential's own acknowledgement a first probe at
// a spread offset and one every 100ms until a reject, for 3s): "push" enforces 5ms after the
// acknowledgement, "poll" uniformly within 1s, "jwt" never.
func estimateStream(tr *Tracker, seed int64) {
	r := rand.New(rand.NewSource(seed))
	const victims, revisit = 1000, 100 * time.Millisecond
	tr.SetTrigger(tms(500))
	acks := make([]time.Duration, victims)
	for tok := range victims {
		acks[tok] = tms(1000) + time.Duration(tok)*100*time.Microsecond
		tr.Recalled(tok, acks[tok]-time.Millisecond, acks[tok])
	}
	truth := []func() time.Duration{
		func() time.Duration { return 5 * time.Millisecond },
		func() time.Duration { return time.Duration(r.Float64() * float64(time.Second)) },
		func() time.Duration { return time.Duration(math.MaxInt64) },
	}
	for c, draw := range truth {
		for tok := range victims {
			tr.Observe(Observation{Component: c, Token: tok, Sent: tms(100), Latency: time.Millisecond, Outcome: Accept})
			enforced := acks[tok] + min(draw(), time.Hour)
			for s := acks[tok] + time.Duration(r.Float64()*float64(revisit)); s < acks[tok]+3*time.Second; s += revisit {
				lat := time.Duration((0.5 + r.ExpFloat64()) * float64(time.Millisecond))
				out := Accept
				if s+time.Duration(r.Float64()*float64(lat)) >= enforced {
					out = Reject
				}
				tr.Observe(Observation{Component: c, Token: tok, Sent: s, Latency: lat, Outcome: out})
				if out == Reject {
					break
				}
			}
		}
	}
}

// TestTrackerEstimatesTTC: Finalize hands every measured pair's bracket to the estimator and
// puts the estimate beside the upper bounds, per component and pooled overall.
func TestTrackerEstimatesTTC(t *testing.T) {
	t.Parallel()
	newTracker := func(ec EstimateConfig) *Tracker {
		return NewTracker(TrackerConfig{Components: []string{"push", "poll", "jwt"}, Victims: 1000, Estimate: ec})
	}
	tr := newTracker(EstimateConfig{Seed: 3, Replicates: 50})
	estimateStream(tr, 1)
	m := tr.Finalize(5 * time.Second)

	push, poll, jwt := m.Components[0], m.Components[1], m.Components[2]
	for _, cm := range m.Components {
		if cm.Estimate == nil || cm.Summary.TTCEstimate == nil || cm.Estimate.N != 1000 || cm.Summary.TTCEstimate.N != 1000 {
			t.Fatalf("%s: estimate %+v, want one from 1000 pairs", cm.Name, cm.Summary.TTCEstimate)
		}
		e := cm.Summary.TTCEstimate
		if e.Method != report.MethodTurnbull || e.Band != report.BandBootstrap || e.Replicates != 50 || e.Confidence != 0.95 {
			t.Errorf("%s: method %q band %q replicates %d confidence %v", cm.Name, e.Method, e.Band, e.Replicates, e.Confidence)
		}
	}
	// push: the upper bounds say up to a revisit interval; the estimate says 5ms.
	pe := push.Summary.TTCEstimate
	if pe.P50.MS == nil || math.Abs(*pe.P50.MS-5) > 2 || *pe.P50.LowMS > 5 || *pe.P50.HighMS < 5 {
		t.Errorf("push: estimated p50 %v [%v, %v], want 5ms ± 2ms inside its interval", deref(pe.P50.MS), deref(pe.P50.LowMS), deref(pe.P50.HighMS))
	}
	if push.Summary.TTCMS.P50 < 20 {
		t.Errorf("push: upper-bound p50 %.1f ms; the test wants a coarse bound beside the estimate", push.Summary.TTCMS.P50)
	}
	// poll: uniform over 1s.
	for _, c := range []struct {
		q    *float64
		want float64
	}{{poll.Summary.TTCEstimate.P50.MS, 500}, {poll.Summary.TTCEstimate.P90.MS, 900}} {
		if c.q == nil || math.Abs(*c.q-c.want) > 60 {
			t.Errorf("poll: estimated quantile %v ms, want %v ± 60", deref(c.q), c.want)
		}
	}
	if f := poll.Estimate.CDF(250 * time.Millisecond); math.Abs(f-0.25) > 0.08 {
		t.Errorf("poll: estimated CDF at 250ms %.3f, want 0.25 ± 0.08", f)
	}
	// jwt never converges: right-censored, no quantile reached.
	je := jwt.Summary.TTCEstimate
	if je.RightCensored != 1000 || je.P50.MS != nil || je.NotConvergedShare < 0.999 {
		t.Errorf("jwt: right-censored %d, p50 %v, not converged share %v; want 1000, null, 1", je.RightCensored, deref(je.P50.MS), je.NotConvergedShare)
	}
	// Overall pools every pair: a third never converges, so p50 is reached and p90 is not.
	oe := m.Overall.TTCEstimate
	if m.Estimate == nil || oe == nil || oe.N != 3000 || oe.P50.MS == nil || oe.P90.MS != nil || math.Abs(oe.NotConvergedShare-1.0/3) > 0.01 {
		t.Errorf("overall estimate %+v", oe)
	}
	for i, bp := range pe.CDF {
		if bp.YLow > bp.Y || bp.Y > bp.YHigh || (i > 0 && bp.XMS <= pe.CDF[i-1].XMS) {
			t.Fatalf("push CDF point %d %+v out of order", i, bp)
		}
	}

	// The same seed gives the same estimate; the estimate can be turned off.
	again := newTracker(EstimateConfig{Seed: 3, Replicates: 50})
	estimateStream(again, 1)
	if diff := cmp.Diff(m.Overall.TTCEstimate, again.Finalize(5*time.Second).Overall.TTCEstimate); diff != "" {
		t.Errorf("same seed, different estimate:\n%s", diff)
	}
	off := newTracker(EstimateConfig{Off: true})
	estimateStream(off, 1)
	if om := off.Finalize(5 * time.Second); om.Estimate != nil || om.Overall.TTCEstimate != nil || om.Components[0].Summary.TTCEstimate != nil {
		t.Errorf("estimate off, but Finalize estimated")
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
