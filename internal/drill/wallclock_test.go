package drill

import (
	"log/slog"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// steppedClock is a wallClock whose wall clock was stepped forward by step between the monotonic
// offsets at and at+gap (both from the anchor), sampled every 10 ms from 0 to 10 s.
func steppedClock(at, gap, step time.Duration) *wallClock {
	c := &wallClock{anchor: time.Now()}
	for m := time.Duration(0); m <= 10*time.Second; m += 10 * time.Millisecond {
		switch {
		case m <= at:
			c.observe(m, m)
		case m >= at+gap:
			c.observe(m, m+step)
		}
	}
	return c
}

func TestWallClockConvertsAcrossAStep(t *testing.T) {
	const at, gap, step = 3 * time.Second, 40 * time.Millisecond, 470 * time.Millisecond
	c := steppedClock(at, gap, step)
	ref := c.anchor.Add(time.Second) // the start of traffic, 1 s after the anchor
	wall := func(mono time.Duration, stepped bool) time.Time {
		w := c.anchor.Round(0).Add(mono)
		if stepped {
			w = w.Add(step)
		}
		return w
	}
	for _, tc := range []struct {
		name      string
		wall      time.Time
		want, unc time.Duration
	}{
		{"before the step", wall(2*time.Second, false), time.Second, 0},
		{"after the step", wall(5*time.Second, true), 4 * time.Second, 0},
		{"before the first sample", c.anchor.Round(0).Add(-time.Second), -2 * time.Second, 0},
		{"after the last sample", wall(20*time.Second, true), 19 * time.Second, 0},
	} {
		got, unc := c.since(tc.wall, ref)
		if got != tc.want || unc != tc.unc {
			t.Errorf("%s: since = %v ± %v, want %v ± %v", tc.name, got, unc, tc.want, tc.unc)
		}
		// What subtracting wall clocks gives, the bug this corrects.
		if tc.name == "after the step" {
			if naive := tc.wall.Sub(ref); naive != tc.want+step {
				t.Fatalf("test premise: naive offset %v, want %v", naive, tc.want+step)
			}
		}
	}
	// An instant stamped inside the gap is placed in it, with the gap as its uncertainty.
	got, unc := c.since(wall(at+gap/2, false), ref)
	if got < at-time.Second || got > at+gap-time.Second || unc != gap {
		t.Errorf("in the gap: since = %v ± %v, want within [%v, %v] ± %v", got, unc, at-time.Second, at+gap-time.Second, gap)
	}
	if n, largest := c.steps(); n != 1 || largest != step {
		t.Errorf("steps = %d, largest %v; want 1, %v", n, largest, step)
	}
}

func TestWallClockSteadyConvertsNow(t *testing.T) {
	c := newWallClock()
	c.start()
	time.Sleep(50 * time.Millisecond)
	c.halt()
	now := time.Now()
	got, unc := c.since(now.Round(0), c.anchor)
	if d := got - now.Sub(c.anchor); d < -time.Millisecond || d > time.Millisecond || unc != 0 {
		t.Errorf("since = %v ± %v, want %v ± 0", got, unc, now.Sub(c.anchor))
	}
}

type fixedTruth struct{ at time.Time }

func (f fixedTruth) EnforcedSince(revocation.Claims) (time.Time, bool) { return f.at, true }

type oneTruth struct{ src truth.Source }

func (o oneTruth) Truth(string) (truth.Source, bool) { return o.src, true }

var _ runtime.GroundTruth = oneTruth{}

// TestGroundTruthSurvivesAWallClockStep is what failed in CI: a component out of process stamps
// its enforcement in wall time, the machine's wall clock is stepped forward during traffic, and
// the true instant must still be found inside the bracket the probes measured on the monotonic
// clock.
func TestGroundTruthSurvivesAWallClockStep(t *testing.T) {
	const step = 470 * time.Millisecond
	c := steppedClock(500*time.Millisecond, 20*time.Millisecond, step)
	began := c.anchor.Add(time.Second)
	// The component began enforcing 2 s into traffic (3 s after the anchor), after the step:
	// its wall clock read anchor + 3 s + step.
	stamped := c.anchor.Round(0).Add(3*time.Second + step)
	d := &drill{log: slog.New(slog.DiscardHandler), began: began, clock: c,
		tokens: []*source.Token{{Index: 0, Victim: true}}}
	pairs := []PairResult{{State: PairConverged, Token: 0, Recalled: 1500 * time.Millisecond,
		Lower: 1990 * time.Millisecond, Upper: 2010 * time.Millisecond}}
	gt := d.groundTruth(oneTruth{fixedTruth{stamped}}, "edge", pairs)
	if gt.Checked != 1 || gt.Within != 1 {
		t.Errorf("ground truth %+v: want the stamped instant inside [1.99 s, 2.01 s]", gt)
	}
	if at := gt.EnforcedAtMS; at == nil || at.P50 < 1999 || at.P50 > 2001 {
		t.Errorf("recorded instant %+v, want 2000 ms into traffic", at)
	}
	if gt.TTCMS.Max < 499 || gt.TTCMS.Max > 501 {
		t.Errorf("true TTC %.1f ms, want 500 (2 s − the recall at 1.5 s)", gt.TTCMS.Max)
	}
}
