package drill

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/recall-drills/recall/internal/estimate"
	"github.com/recall-drills/recall/report"
)

// tms converts (fractional) milliseconds to a duration.
func tms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// event is one call on a tracker, in arrival order.
type event struct {
	obs     *Observation
	trigger *time.Duration
	recall  *[2]time.Duration // token in [0] as a Duration, acked in [1]
}

func obsEv(c, tok int, out Outcome, sentMS, latMS float64) event {
	return event{obs: &Observation{Component: c, Token: tok, Sent: tms(sentMS), Latency: tms(latMS), Outcome: out}}
}
func acc(c, tok int, sentMS, latMS float64) event { return obsEv(c, tok, Accept, sentMS, latMS) }
func rej(c, tok int, sentMS, latMS float64) event { return obsEv(c, tok, Reject, sentMS, latMS) }
func errp(c, tok int, sentMS, latMS float64) event {
	return obsEv(c, tok, Error, sentMS, latMS)
}
func trig(atMS float64) event { d := tms(atMS); return event{trigger: &d} }
func recall(tok int, ackMS float64) event {
	return event{recall: &[2]time.Duration{time.Duration(tok), tms(ackMS)}}
}

func apply(tr *Tracker, evs []event) {
	for _, e := range evs {
		switch {
		case e.obs != nil:
			tr.Observe(*e.obs)
		case e.trigger != nil:
			tr.SetTrigger(*e.trigger)
		case e.recall != nil:
			tr.Recalled(int(e.recall[0]), e.recall[1]-tms(1), e.recall[1])
		}
	}
}

// wantPair is the expected final state of a pair, TTC bounds relative to R in milliseconds.
type wantPair struct {
	State              PairState
	LowerMS, UpperMS   float64 // TTC (upper clamped); only checked when measured / converged
	ResolutionMS       float64 // only checked when converged
	Stale, Resurrected int
	FirstResurrection  float64 // ms, when Resurrected > 0
	Inexact            bool
}

func gotPair(p PairResult) wantPair {
	w := wantPair{State: p.State, Stale: p.StaleAccepts, Resurrected: p.Resurrections, Inexact: p.Inexact}
	if p.Measured() {
		lo, up := p.TTC()
		w.LowerMS = millis(lo)
		if p.State == PairConverged {
			w.UpperMS = millis(up)
			w.ResolutionMS = millis(p.Resolution())
		}
	}
	if p.Resurrections > 0 {
		w.FirstResurrection = millis(p.FirstResurrection)
	}
	return w
}

func TestTrackerEdges(t *testing.T) {
	t.Parallel()
	base := []event{trig(100), acc(0, 0, 50, 1)} // baseline accept before the trigger
	with := func(evs ...event) []event { return append(slices.Clone(base), evs...) }
	tests := []struct {
		name     string
		victims  int
		controls int
		maxLag   time.Duration
		events   []event
		want     map[int]wantPair // by token, component 0
		check    func(t *testing.T, m *Measurement)
	}{
		{
			name: "converges after a stale accept",
			events: with(recall(0, 200), acc(0, 0, 150, 1), acc(0, 0, 210, 2), rej(0, 0, 230, 5),
				rej(0, 0, 300, 1)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 10, UpperMS: 35, ResolutionMS: 25, Stale: 1}},
		},
		{
			name:   "never accepted",
			events: []event{trig(100), rej(0, 0, 50, 1), rej(0, 0, 90, 1), recall(0, 200), rej(0, 0, 250, 1)},
			want:   map[int]wantPair{0: {State: PairNeverAccepted}},
			check: func(t *testing.T, m *Measurement) {
				s := m.Components[0].Summary
				if s.NeverAccepted != 1 || s.Pairs != 0 || s.TTCMS.Count != 0 || m.NeverAcceptedVictims != 1 {
					t.Errorf("never accepted: summary %+v, victims %d", s, m.NeverAcceptedVictims)
				}
			},
		},
		{
			name:   "accepted only after the trigger is not a baseline",
			events: []event{trig(100), acc(0, 0, 150, 1), recall(0, 200), acc(0, 0, 250, 1), rej(0, 0, 260, 1)},
			want:   map[int]wantPair{0: {State: PairNeverAccepted}},
		},
		{
			name:   "never converged: the last probe accepts",
			events: with(recall(0, 200), acc(0, 0, 250, 1), acc(0, 0, 300, 1)),
			want:   map[int]wantPair{0: {State: PairNotConverged, LowerMS: 100, Stale: 2}},
		},
		{
			name:   "no probe after the recall",
			events: with(rej(0, 0, 150, 1), recall(0, 200)),
			want:   map[int]wantPair{0: {State: PairNotConverged, LowerMS: -150}},
		},
		{
			name:   "only errors after the recall",
			events: with(rej(0, 0, 150, 1), recall(0, 200), errp(0, 0, 250, 1), errp(0, 0, 300, 1)),
			want:   map[int]wantPair{0: {State: PairNotConverged, LowerMS: -150}},
			check: func(t *testing.T, m *Measurement) {
				if s := m.Components[0].Summary; s.Errors != 2 || s.NotConverged != 1 {
					t.Errorf("errors %d, not converged %d", s.Errors, s.NotConverged)
				}
			},
		},
		{
			name: "resurrection",
			events: with(recall(0, 200), rej(0, 0, 210, 5), acc(0, 0, 220, 1), rej(0, 0, 240, 2),
				rej(0, 0, 250, 1)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 20, UpperMS: 42, ResolutionMS: 22,
				Stale: 1, Resurrected: 1, FirstResurrection: 220}},
			check: func(t *testing.T, m *Measurement) {
				cm := m.Components[0]
				if cm.Summary.Resurrections != 1 || cm.ResurrectionProbes != 1 || cm.FirstResurrection != tms(220) {
					t.Errorf("resurrections %d probes %d first %v", cm.Summary.Resurrections, cm.ResurrectionProbes, cm.FirstResurrection)
				}
			},
		},
		{
			name: "in-flight flip is not a resurrection (answers in done order)",
			// reject sent at 10 answered at 15; accept sent at 11 answered at 11.5.
			events: []event{acc(0, 0, 1, 0.1), trig(2), recall(0, 5), acc(0, 0, 11, 0.5), rej(0, 0, 10, 5),
				rej(0, 0, 20, 1)},
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 6, UpperMS: 16, ResolutionMS: 10, Stale: 1}},
		},
		{
			name: "in-flight flip is not a resurrection (answers in send order)",
			events: []event{acc(0, 0, 1, 0.1), trig(2), recall(0, 5), rej(0, 0, 10, 5), acc(0, 0, 11, 0.5),
				rej(0, 0, 20, 1)},
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 6, UpperMS: 16, ResolutionMS: 10, Stale: 1}},
		},
		{
			name:   "errors between the last accept and k widen the bracket",
			events: with(recall(0, 200), acc(0, 0, 210, 1), errp(0, 0, 220, 1), rej(0, 0, 230, 5)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: 10, UpperMS: 35, ResolutionMS: 25, Stale: 1}},
		},
		{
			name:   "errors after k do not break convergence",
			events: with(recall(0, 200), rej(0, 0, 230, 5), errp(0, 0, 240, 1), rej(0, 0, 250, 1), errp(0, 0, 260, 1)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: -150, UpperMS: 35, ResolutionMS: 185}},
		},
		{
			name:   "probe in flight across the recall instant",
			events: with(acc(0, 0, 198, 10), recall(0, 200), rej(0, 0, 205, 3)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: -2, UpperMS: 8, ResolutionMS: 10}},
		},
		{
			name:   "enforced before the acknowledgement: upper clamped at 0, lower negative",
			events: with(acc(0, 0, 150, 1), rej(0, 0, 190, 2), recall(0, 200), rej(0, 0, 260, 1)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: -50, UpperMS: 0, ResolutionMS: 42}},
		},
		{
			name: "out-of-order arrival: a late-answered accept moves k",
			events: with(recall(0, 200), rej(0, 0, 230, 5), rej(0, 0, 240, 5), acc(0, 0, 235, 20),
				rej(0, 0, 250, 1)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 35, UpperMS: 45, ResolutionMS: 10, Stale: 1}},
		},
		{
			name:    "per-credential recall instants",
			victims: 2,
			events: []event{trig(100), acc(0, 0, 50, 1), acc(0, 1, 51, 1), recall(0, 200), rej(0, 0, 210, 5),
				acc(0, 1, 300, 1), recall(1, 400), rej(0, 1, 410, 5)},
			want: map[int]wantPair{
				0: {State: PairConverged, LowerMS: -150, UpperMS: 15, ResolutionMS: 165},
				1: {State: PairConverged, LowerMS: -100, UpperMS: 15, ResolutionMS: 115},
			},
		},
		{
			name:     "false rejects of controls",
			controls: 2,
			events: with(acc(0, 1, 20, 1), rej(0, 1, 60, 1), acc(0, 2, 30, 1), recall(0, 200), rej(0, 1, 300, 1),
				acc(0, 2, 310, 1), rej(0, 0, 210, 1)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: -150, UpperMS: 11, ResolutionMS: 161}},
			check: func(t *testing.T, m *Measurement) {
				cm := m.Components[0]
				if cm.Summary.FalseRejects != 2 || cm.FalseRejectPairs != 1 || cm.FirstFalseReject != tms(60) ||
					!slices.Equal(cm.FalseRejectTokens, []int{1}) {
					t.Errorf("false rejects %d pairs %d first %v tokens %v", cm.Summary.FalseRejects, cm.FalseRejectPairs,
						cm.FirstFalseReject, cm.FalseRejectTokens)
				}
				if len(cm.Pairs) != 1 {
					t.Errorf("pairs lists %d entries, want the victim's only", len(cm.Pairs))
				}
			},
		},
		{
			name:   "recall registered after its results arrived (within MaxLag)",
			events: with(acc(0, 0, 210, 1), rej(0, 0, 230, 5), recall(0, 200), rej(0, 0, 240, 1)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: 10, UpperMS: 35, ResolutionMS: 25, Stale: 1}},
		},
		{
			name:   "rejects and accepts sent at the same instant: the accept is the later",
			events: with(recall(0, 200), rej(0, 0, 220, 1), acc(0, 0, 220, 1), rej(0, 0, 230, 1)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: 20, UpperMS: 31, ResolutionMS: 11, Stale: 1}},
		},
		{
			name:   "probes sent exactly at R are not after it",
			events: with(recall(0, 200), acc(0, 0, 200, 1), rej(0, 0, 200, 1)),
			want:   map[int]wantPair{0: {State: PairNotConverged, LowerMS: 0}},
		},
		{
			name:   "a reject sent exactly at R is no probe after R",
			events: with(rej(0, 0, 150, 1), recall(0, 200), rej(0, 0, 200, 1)),
			want:   map[int]wantPair{0: {State: PairNotConverged, LowerMS: -150}},
		},
		{
			name:   "rejects sent at the same instant: the first answered is k",
			events: with(recall(0, 200), acc(0, 0, 210, 1), rej(0, 0, 220, 9), rej(0, 0, 220, 3)),
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: 10, UpperMS: 23, ResolutionMS: 13, Stale: 1}},
		},
		{
			name:   "victim never recalled",
			events: with(rej(0, 0, 250, 1)),
			want:   map[int]wantPair{0: {State: PairNotRecalled}},
			check: func(t *testing.T, m *Measurement) {
				if s := m.Components[0].Summary; s.Pairs != 0 || s.NeverAccepted != 0 || m.Recalled != 0 {
					t.Errorf("not recalled: %+v", s)
				}
			},
		},
		{
			name:   "no trigger: any accept is a baseline",
			events: []event{acc(0, 0, 150, 1), recall(0, 200), rej(0, 0, 220, 1)},
			want:   map[int]wantPair{0: {State: PairConverged, LowerMS: -50, UpperMS: 21, ResolutionMS: 71}},
		},
		{
			name:   "late observation beyond MaxLag is counted",
			maxLag: tms(10),
			events: with(recall(0, 200), rej(0, 0, 230, 1), rej(0, 0, 300, 1), acc(0, 0, 225, 1), rej(0, 0, 310, 1)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 25, UpperMS: 31, ResolutionMS: 6, Stale: 1,
				Inexact: true}},
			check: func(t *testing.T, m *Measurement) {
				if m.Late != 1 || m.Components[0].Late != 1 {
					t.Errorf("late %d, want 1", m.Late)
				}
			},
		},
		{
			name:   "a result arriving after MaxLag but before anything later was folded stays exact",
			maxLag: tms(10),
			events: with(recall(0, 200), rej(0, 0, 230, 1), rej(0, 0, 300, 1), acc(0, 0, 240, 1), rej(0, 0, 310, 1)),
			// (the accept at 240 was sent after the reject at 230 came back: a resurrection)
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 40, UpperMS: 101, ResolutionMS: 61, Stale: 1,
				Resurrected: 1, FirstResurrection: 240}},
		},
		{
			name:   "recall registered more than MaxLag late is counted",
			maxLag: tms(10),
			events: with(acc(0, 0, 210, 1), rej(0, 0, 230, 1), rej(0, 0, 300, 1), rej(0, 0, 400, 1), recall(0, 200)),
			want: map[int]wantPair{0: {State: PairConverged, LowerMS: 10, UpperMS: 31, ResolutionMS: 21,
				Stale: 0 /* undercounted: the accept at 210 was folded before R was known */, Inexact: true}},
			check: func(t *testing.T, m *Measurement) {
				if m.LateRecalls != 1 {
					t.Errorf("late recalls %d, want 1", m.LateRecalls)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := max(tc.victims, 1)
			tr := NewTracker(TrackerConfig{Components: []string{"edge"}, Victims: v, Controls: tc.controls, MaxLag: tc.maxLag})
			apply(tr, tc.events)
			m := tr.Finalize(tms(1000))
			for tok, want := range tc.want {
				if diff := cmp.Diff(want, gotPair(m.Components[0].Pairs[tok])); diff != "" {
					t.Errorf("token %d (-want +got):\n%s", tok, diff)
				}
			}
			// The reference implementation agrees on every contract-abiding case.
			if m.Late == 0 && m.LateRecalls == 0 {
				compareReference(t, tc.events, m, v, tc.controls, 1)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// refPair is the brute-force answer for one pair.
type refPair struct {
	state             PairState
	lower, upper      time.Duration // absolute
	stale, resurrect  int
	firstResurrection time.Duration
}

// reference keeps every observation and applies the definitions literally.
func reference(evs []event, victims, comps int) (map[[2]int]refPair, map[int]int) {
	trigger := time.Duration(math.MaxInt64)
	recalled := map[int]time.Duration{}
	byPair := map[[2]int][]Observation{}
	falseRejects := map[int]int{}
	for _, e := range evs {
		switch {
		case e.trigger != nil:
			if trigger == math.MaxInt64 {
				trigger = *e.trigger
			}
		case e.recall != nil:
			if _, ok := recalled[int(e.recall[0])]; !ok {
				recalled[int(e.recall[0])] = e.recall[1]
			}
		case e.obs != nil:
			o := *e.obs
			if o.Token >= victims {
				if o.Outcome == Reject {
					falseRejects[o.Component]++
				}
				continue
			}
			byPair[[2]int{o.Component, o.Token}] = append(byPair[[2]int{o.Component, o.Token}], o)
		}
	}
	out := map[[2]int]refPair{}
	for c := 0; c < comps; c++ {
		for tok := 0; tok < victims; tok++ {
			obs := byPair[[2]int{c, tok}]
			var rp refPair
			baseline := false
			a := time.Duration(math.MinInt64)
			for _, o := range obs {
				if o.Outcome == Accept {
					baseline = baseline || o.Sent < trigger
					a = max(a, o.Sent)
				}
			}
			r, isRecalled := recalled[tok]
			switch {
			case !baseline:
				rp.state = PairNeverAccepted
			case !isRecalled:
				rp.state = PairNotRecalled
				rp.lower = a
			default:
				rp.lower = a
				var k *Observation
				after := false
				d := time.Duration(math.MaxInt64)
				for i, o := range obs {
					if o.Outcome == Error {
						continue
					}
					after = after || o.Sent > r
					if o.Outcome == Reject {
						if o.Sent > a && (k == nil || o.Sent < k.Sent || (o.Sent == k.Sent && o.Latency < k.Latency)) {
							k = &obs[i]
						}
						if o.Sent > r {
							d = min(d, o.Sent+max(o.Latency, 0))
						}
					}
				}
				rp.firstResurrection = math.MaxInt64
				for _, o := range obs {
					if o.Outcome != Accept {
						continue
					}
					if o.Sent > r {
						rp.stale++
					}
					if d != math.MaxInt64 && o.Sent > d {
						rp.resurrect++
						rp.firstResurrection = min(rp.firstResurrection, o.Sent)
					}
				}
				if k != nil && after {
					rp.state = PairConverged
					rp.upper = k.Sent + max(k.Latency, 0)
				} else {
					rp.state = PairNotConverged
				}
			}
			out[[2]int{c, tok}] = rp
		}
	}
	return out, falseRejects
}

func compareReference(t *testing.T, evs []event, m *Measurement, victims, controls, comps int) {
	t.Helper()
	ref, falseRejects := reference(evs, victims, comps)
	for c := 0; c < comps; c++ {
		cm := m.Components[c]
		if cm.Summary.FalseRejects != falseRejects[c] {
			t.Errorf("component %d: false rejects %d, reference %d", c, cm.Summary.FalseRejects, falseRejects[c])
		}
		for tok := 0; tok < victims; tok++ {
			got, want := cm.Pairs[tok], ref[[2]int{c, tok}]
			g := refPair{state: got.State}
			if got.State != PairNeverAccepted {
				g.lower = got.Lower
			}
			if got.Measured() {
				g.stale, g.resurrect = got.StaleAccepts, got.Resurrections
				g.firstResurrection = math.MaxInt64
				if got.Resurrections > 0 {
					g.firstResurrection = got.FirstResurrection
				}
			}
			if got.State == PairConverged {
				g.upper = got.Upper
			}
			if g != want {
				t.Errorf("pair (%d,%d): tracker %+v, reference %+v", c, tok, g, want)
			}
		}
	}
}

// randomStream generates one drill's events in a valid arrival order: every result arrives
// between its answer and MaxLag after its send, each Recalled within MaxLag of its R.
func randomStream(rng *rand.Rand, comps, victims, controls int, maxLag time.Duration) []event {
	type timed struct {
		at  time.Duration
		seq int
		ev  event
	}
	var all []timed
	push := func(at time.Duration, ev event) { all = append(all, timed{at, len(all), ev}) }
	// Coarse grids provoke equal send times and a send equal to another probe's answer.
	grid := []time.Duration{time.Millisecond, 5 * time.Millisecond}[rng.Intn(2)]
	grain := func(d time.Duration) time.Duration {
		if rng.Intn(2) == 0 {
			return d.Truncate(grid)
		}
		return d
	}
	// Some streams are dense (many probes per pair) to bring arrivals close together.
	dense := rng.Intn(3) == 0
	trigger := tms(200 + rng.Float64()*200)
	push(trigger, trig(millis(trigger)))
	end := tms(1500)
	rs := make([]time.Duration, victims)
	for tok := range victims {
		rs[tok] = grain(trigger + tms(rng.Float64()*300)) // on the grid: probes sent exactly at R
		if rng.Intn(10) == 0 {                            // recall never acknowledged
			rs[tok] = -1
			continue
		}
		push(rs[tok]+time.Duration(rng.Int63n(int64(maxLag)+1)), recall(tok, millis(rs[tok])))
	}
	for c := range comps {
		for tok := range victims + controls {
			// The component's truth for this pair: enforcing from e, perhaps honouring again
			// during [back, back+backFor) (a resurrection), perhaps rejecting from the start.
			e := trigger + tms(rng.Float64()*900-100)
			if tok < victims && rs[tok] >= 0 {
				e = rs[tok] + tms(rng.Float64()*900-150)
			}
			if tok >= victims {
				e = tms(1e6)
				if rng.Intn(4) == 0 {
					e = tms(rng.Float64() * 1500) // false rejects
				}
			}
			switch rng.Intn(12) {
			case 0:
				e = -1 // never accepts
			case 1:
				e = tms(1e6) // never enforces
			}
			back, backFor := e+tms(rng.Float64()*400), tms(rng.Float64()*100)
			if rng.Intn(4) != 0 {
				backFor = 0
			}
			n := 3 + rng.Intn(40)
			if dense {
				n = 50 + rng.Intn(150)
			}
			for range n {
				s := grain(tms(rng.Float64() * millis(end)))
				lat := grain(time.Duration(rng.Int63n(int64(min(maxLag, tms(60))) + 1)))
				judged := s + time.Duration(rng.Float64()*float64(lat))
				out := Reject
				if judged < e || (judged >= back && judged < back+backFor) {
					out = Accept
				}
				if rng.Intn(7) == 0 {
					out = Error
				}
				// Arrival anywhere from the answer to MaxLag after sending, often at the extremes.
				var arrive time.Duration
				switch rng.Intn(3) {
				case 0:
					arrive = s + maxLag
				case 1:
					arrive = s + lat
				default:
					arrive = s + lat + time.Duration(rng.Int63n(int64(maxLag-lat)+1))
				}
				push(arrive, event{obs: &Observation{Component: c, Token: tok, Sent: s, Latency: lat, Outcome: out}})
			}
		}
	}
	// Shuffle first so equal arrival instants come in any order, then sort stably by arrival.
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	sort.SliceStable(all, func(i, j int) bool { return all[i].at < all[j].at })
	evs := make([]event, len(all))
	for i, x := range all {
		evs[i] = x.ev
	}
	return evs
}

// TestTrackerMatchesReference is the property test: on thousands of randomized streams with
// out-of-order arrival, the streaming tracker agrees exactly with the keep-everything reference.
func TestTrackerMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(20240601))
	const streams = 3000
	var converged, notConverged, resurrected, stale int
	for i := range streams {
		comps, victims, controls := 1+rng.Intn(3), 1+rng.Intn(4), rng.Intn(3)
		maxLag := tms([]float64{1, 5, 50, 300}[rng.Intn(4)])
		evs := randomStream(rng, comps, victims, controls, maxLag)
		names := make([]string, comps)
		for c := range names {
			names[c] = fmt.Sprint("c", c)
		}
		tr := NewTracker(TrackerConfig{Components: names, Victims: victims, Controls: controls, MaxLag: maxLag})
		apply(tr, evs)
		m := tr.Finalize(tms(1600))
		if m.Late != 0 || m.LateRecalls != 0 {
			t.Fatalf("stream %d: valid stream reported late=%d lateRecalls=%d", i, m.Late, m.LateRecalls)
		}
		compareReference(t, evs, m, victims, controls, comps)
		if t.Failed() {
			t.Fatalf("stream %d differs (seeded; rerun reproduces)", i)
		}
		converged += m.Overall.Converged
		notConverged += m.Overall.NotConverged
		resurrected += m.Overall.Resurrections
		stale += m.Overall.StaleAccepts
	}
	// The generator must exercise every branch, or the comparison proves little.
	if converged < 1000 || notConverged < 500 || resurrected < 100 || stale < 1000 {
		t.Errorf("weak coverage: converged %d, not converged %d, resurrected pairs %d, stale %d",
			converged, notConverged, resurrected, stale)
	}
}

// TestTrackerArrivalOrderInvariant: any arrival order within MaxLag gives the same measurement.
func TestTrackerArrivalOrderInvariant(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(7))
	evs := randomStream(rng, 2, 3, 1, tms(50))
	var obs []event
	var rest []event
	for _, e := range evs {
		if e.obs != nil {
			obs = append(obs, e)
		} else {
			rest = append(rest, e)
		}
	}
	// Trigger and recalls first, then observations in send order and in reverse send order
	// with a MaxLag large enough to cover the whole run.
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].obs.Sent < obs[j].obs.Sent })
	rev := slices.Clone(obs)
	slices.Reverse(rev)
	var results []*Measurement
	for _, order := range [][]event{evs, append(slices.Clone(rest), obs...), append(slices.Clone(rest), rev...)} {
		tr := NewTracker(TrackerConfig{Components: []string{"a", "b"}, Victims: 3, Controls: 1, MaxLag: tms(2000)})
		apply(tr, order)
		results = append(results, tr.Finalize(tms(1600)))
	}
	for i := 1; i < len(results); i++ {
		for c := range results[0].Components {
			if diff := cmp.Diff(results[0].Components[c].Pairs, results[i].Components[c].Pairs); diff != "" {
				t.Errorf("order %d, component %d (-first +this):\n%s", i, c, diff)
			}
		}
	}
}

func TestNearestRank(t *testing.T) {
	t.Parallel()
	seq := func(n int) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i + 1)
		}
		return s
	}
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64
	}{
		{"p50 of 1..100", seq(100), 0.5, 50},
		{"p90 of 1..100", seq(100), 0.9, 90},
		{"p99 of 1..100", seq(100), 0.99, 99},
		{"max of 1..100", seq(100), 1, 100},
		{"p90 of 1..10 (float 0.9*10)", seq(10), 0.9, 9},
		{"p99 of 1..10 is the max", seq(10), 0.99, 10},
		{"p50 of 1..4 is the lower middle", seq(4), 0.5, 2},
		{"p50 of 1..3", seq(3), 0.5, 2},
		{"p1 of 1..100", seq(100), 0.01, 1},
		{"q 0 gives the minimum", seq(5), 0, 1},
		{"single value", []float64{7}, 0.99, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := nearestRank(tc.values, tc.q); got != tc.want {
				t.Errorf("nearestRank(q=%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if !math.IsNaN(nearestRank(nil, 0.5)) {
		t.Error("empty: want NaN")
	}
}

// converging builds a tracker with one component and n victims where victim i converges with
// TTC upper i+1 ms and lower −(i+1) ms (resolution 2(i+1) ms); victims in notConv do not.
func converging(n int, notConv ...int) *Tracker {
	tr := NewTracker(TrackerConfig{Components: []string{"edge"}, Victims: n})
	tr.SetTrigger(tms(100))
	for i := range n {
		tr.Observe(Observation{Token: i, Sent: tms(50), Outcome: Accept})
		tr.Recalled(i, tms(199), tms(200))
		tr.Observe(Observation{Token: i, Sent: tms(200 - float64(i+1)), Outcome: Accept})
		if slices.Contains(notConv, i) {
			tr.Observe(Observation{Token: i, Sent: tms(300), Outcome: Accept})
			continue
		}
		tr.Observe(Observation{Token: i, Sent: tms(200), Latency: tms(float64(i + 1)), Outcome: Reject})
		tr.Observe(Observation{Token: i, Sent: tms(400), Latency: tms(1), Outcome: Reject})
	}
	return tr
}

func TestTTCStats(t *testing.T) {
	t.Parallel()
	m := converging(100).Finalize(tms(500))
	got := m.Components[0].Summary.TTCMS
	// Uppers 1..100 ms, resolutions 2..200 ms, lowers −100..−1 ms; nearest rank.
	want := report.Stats{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100, ResolutionMS: 100, ResolutionMaxMS: 200,
		LowerP50: -51}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if m.Components[0].Summary.StaleWindowMS != 100 || m.Overall.TTCMS != got {
		t.Errorf("stale window %v, overall %+v", m.Components[0].Summary.StaleWindowMS, m.Overall.TTCMS)
	}
}

func TestTTCQuantile(t *testing.T) {
	t.Parallel()
	m := converging(10, 9).Finalize(tms(500)) // uppers 1..9 ms, one not converged
	tests := []struct {
		q         float64
		component string
		wantMS    float64
		converged bool
		ok        bool
	}{
		{0.5, "", 5, true, true},
		{0.9, "edge", 9, true, true},
		{0.95, "edge", math.Inf(1), false, true},
		{0.5, "nope", math.NaN(), false, false},
	}
	for _, tc := range tests {
		got, conv, ok := m.TTCQuantile(tc.component, tc.q)
		if conv != tc.converged || ok != tc.ok || !(got == tc.wantMS || math.IsNaN(got) && math.IsNaN(tc.wantMS)) {
			t.Errorf("TTCQuantile(%q, %v) = %v, %v, %v; want %v, %v, %v", tc.component, tc.q, got, conv, ok,
				tc.wantMS, tc.converged, tc.ok)
		}
	}
	if s, ok := m.Summary(""); !ok || s.NotConverged != 1 || s.Converged != 9 {
		t.Errorf("Summary(\"\") = %+v, %v", s, ok)
	}
	if _, ok := m.Summary("nope"); ok {
		t.Error("Summary(nope) found")
	}
}

func TestTrackerState(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"edge"}, Victims: 3, Controls: 1, MaxLag: tms(100)})
	check := func(step string, tok int, want PairState) {
		t.Helper()
		if got := tr.State(0, tok); got != want {
			t.Errorf("%s: State(0,%d) = %v, want %v", step, tok, got, want)
		}
	}
	check("start", 0, PairPending)
	check("control", 3, PairControl)
	tr.Observe(Observation{Token: 0, Sent: tms(10), Outcome: Accept})
	tr.Observe(Observation{Token: 1, Sent: tms(10), Outcome: Reject})
	check("accepted, no trigger", 0, PairNotRecalled)
	check("rejected, no trigger", 1, PairPending)
	tr.SetTrigger(tms(50))
	tr.Observe(Observation{Token: 2, Sent: tms(60), Outcome: Accept})
	check("accepted after the trigger only", 2, PairPending)
	tr.Observe(Observation{Token: 3, Sent: tms(150), Outcome: Accept}) // watermark 150 = 50+100
	check("pending until results of pre-trigger probes must have arrived", 1, PairPending)
	tr.Recalled(0, tms(199), tms(200))
	check("recalled, still accepting", 0, PairNotConverged)
	tr.Observe(Observation{Token: 0, Sent: tms(210), Outcome: Reject})
	check("latest probe rejects", 0, PairConverged)
	tr.Observe(Observation{Token: 0, Sent: tms(210), Outcome: Accept})
	check("an accept sent with the reject is the later", 0, PairNotConverged)
	tr.Observe(Observation{Token: 0, Sent: tms(220), Outcome: Reject})
	tr.Observe(Observation{Token: 0, Sent: tms(215), Outcome: Accept}) // arrives late, sent earlier
	check("an earlier-sent accept arriving late does not undo", 0, PairConverged)
	tr.Observe(Observation{Token: 0, Sent: tms(230), Outcome: Error})
	check("errors change nothing", 0, PairConverged)
	check("never accepted once the watermark passed trigger+MaxLag", 1, PairNeverAccepted)
	check("out of range", 9, PairNeverAccepted)

	p := tr.Progress()
	cp := p.Components[0]
	if cp.Probes != 9 || cp.Accepts != 5 || cp.Rejects != 3 || cp.Errors != 1 || cp.Recalled != 1 || cp.Unconverged != 0 {
		t.Errorf("progress %+v", cp)
	}
	tr.Observe(Observation{Token: 7, Outcome: Accept})
	tr.Observe(Observation{Token: 0, Outcome: 0})
	tr.Recalled(3, 0, tms(5)) // a control cannot be recalled
	if got := tr.Progress().Invalid; got != 3 {
		t.Errorf("invalid = %d, want 3", got)
	}
}

func TestTimelineAndCDF(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"edge"}, Victims: 4, Controls: 1,
		TimelineBucket: tms(100), TimelineBefore: tms(200), TimelineAfter: tms(300)})
	tr.SetTrigger(tms(900))
	for tok := range 4 {
		tr.Observe(Observation{Token: tok, Sent: tms(850), Outcome: Accept}) // bucket 8 (centre 850)
		tr.Recalled(tok, tms(999), tms(1000))
	}
	tr.Observe(Observation{Token: 4, Sent: tms(860), Outcome: Reject}) // control: not in the timeline
	for tok := range 4 {
		out := Accept
		if tok == 3 {
			out = Reject
		}
		tr.Observe(Observation{Token: tok, Sent: tms(1010), Latency: tms(5), Outcome: out})
		out = Reject
		if tok == 0 {
			out = Accept
		}
		tr.Observe(Observation{Token: tok, Sent: tms(1120), Latency: tms(float64(10 * (tok + 1))), Outcome: out})
	}
	tr.Observe(Observation{Token: 1, Sent: tms(1130), Outcome: Error})
	tr.Observe(Observation{Token: 2, Sent: tms(1600), Outcome: Reject}) // outside After
	tr.Observe(Observation{Token: 0, Sent: tms(700), Outcome: Accept})  // outside Before
	m := tr.Finalize(tms(2000))
	// Per credential, honoured until the upper end of its bracket: token 3 until 1015 ms, 1 until
	// 1140, 2 until 1150, token 0 throughout (never converged). Points every 100 ms from the
	// anchor (first ack, 1000) − 200 ms to + 300 ms.
	want := []report.Point{{X: -100, Y: 1}, {X: 0, Y: 1}, {X: 100, Y: 0.75}, {X: 200, Y: 0.25}, {X: 300, Y: 0.25}}
	if diff := cmp.Diff(want, m.Timeline[0].Points); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	// Converged: token 1 (upper 1120+20−1000 = 140), 2 (150), 3 (1010+5 → 15); token 0 not
	// converged (last probe accepts): 3 of 4 measured pairs, Y in quarters.
	wantCDF := []report.Point{{X: 15, Y: 0.25}, {X: 140, Y: 0.5}, {X: 150, Y: 0.75}}
	if diff := cmp.Diff(wantCDF, m.CDF[0].Points); diff != "" {
		t.Errorf("cdf (-want +got):\n%s", diff)
	}
	if m.Recalled != 4 || m.FirstAck != tms(1000) || m.LastAck != tms(1000) {
		t.Errorf("recalled %d first %v last %v", m.Recalled, m.FirstAck, m.LastAck)
	}
}

func TestCDFThinning(t *testing.T) {
	t.Parallel()
	m := converging(1000).Finalize(tms(500)) // uppers 1..1000
	pts := m.CDF[0].Points
	if len(pts) != DefaultCDFPoints {
		t.Fatalf("%d points, want %d", len(pts), DefaultCDFPoints)
	}
	for i, p := range pts {
		// rank ⌈i·1000/200⌉ = 5(i+1): value 5(i+1) ms, share 5(i+1)/1000
		if wantX := float64(5 * (i + 1)); p.X != wantX || p.Y != wantX/1000 {
			t.Fatalf("point %d = %+v, want (%v, %v)", i, p, wantX, wantX/1000)
		}
	}
}

// TestTrackerConcurrent feeds each component from its own goroutine while others read live
// state and a scheduler runs; the result must equal a sequential run (and -race stay quiet).
func TestTrackerConcurrent(t *testing.T) {
	t.Parallel()
	const comps, victims, controls = 4, 20, 3
	rng := rand.New(rand.NewSource(99))
	evs := randomStream(rng, comps, victims, controls, tms(50))
	names := []string{"a", "b", "c", "d"}
	var head []event
	perComp := make([][]event, comps)
	for _, e := range evs {
		if e.obs != nil {
			perComp[e.obs.Component] = append(perComp[e.obs.Component], e)
		} else {
			head = append(head, e)
		}
	}
	// The trigger and recalls first (concurrently with results they could come within MaxLag of
	// R, but goroutine scheduling gives no such bound), then every component at once.
	seq := NewTracker(TrackerConfig{Components: names, Victims: victims, Controls: controls, MaxLag: tms(50)})
	apply(seq, head)
	for _, pc := range perComp {
		apply(seq, pc)
	}
	con := NewTracker(TrackerConfig{Components: names, Victims: victims, Controls: controls, MaxLag: tms(50)})
	apply(con, head)
	sched := NewScheduler(ScheduleConfig{}, con, rand.New(rand.NewSource(1)))
	var wg sync.WaitGroup
	for _, pc := range perComp {
		wg.Go(func() { apply(con, pc) })
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = con.Progress()
			_ = con.State(i%comps, i%victims)
			sched.Next()
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	a, b := seq.Finalize(tms(1600)), con.Finalize(tms(1600))
	if diff := cmp.Diff(a, b, cmp.AllowUnexported(ComponentMeasurement{}, histogram{}),
		cmpopts.IgnoreUnexported(estimate.Distribution{})); diff != "" {
		t.Errorf("concurrent run differs (-sequential +concurrent):\n%s", diff)
	}
}

// benchStream is a realistic in-order stream: 3 components × 1000 victims probed round-robin
// every 100 µs, results in send order, MaxLag 6 s (so buffers hold ~20 results per pair).
func benchStream(n int) []Observation {
	obs := make([]Observation, n)
	for i := range obs {
		pair := i % 3000
		out := Accept
		if i%7 == 0 {
			out = Reject
		}
		obs[i] = Observation{Component: pair % 3, Token: pair / 3, Sent: time.Duration(i) * 100 * time.Microsecond,
			Latency: 2 * time.Millisecond, Outcome: out}
	}
	return obs
}

func benchTracker() *Tracker { return benchTrackerWith(EstimateConfig{Off: true}) }

// benchTrackerWith is benchTracker with the TTC estimate configured (benchTracker turns it
// off, so that BenchmarkFinalize measures the tracker alone).
func benchTrackerWith(ec EstimateConfig) *Tracker {
	tr := NewTracker(TrackerConfig{Components: []string{"a", "b", "c"}, Victims: 1000, Controls: 100, MaxLag: 6 * time.Second,
		Estimate: ec})
	tr.SetTrigger(time.Second)
	for tok := range 1000 {
		tr.Recalled(tok, time.Second, time.Second+time.Duration(tok)*time.Microsecond)
	}
	return tr
}

func BenchmarkObserve(b *testing.B) {
	obs := benchStream(1 << 20)
	tr := benchTracker()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := obs[i&(len(obs)-1)]
		o.Sent += time.Duration(i>>20) * 105 * time.Second // keep send times increasing across laps
		tr.Observe(o)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	obs := benchStream(1 << 20)
	tr := benchTracker()
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64 // goroutines share one stream: arrival nearly in send order
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			o := obs[i&(len(obs)-1)]
			o.Sent += time.Duration(i>>20) * 105 * time.Second
			tr.Observe(o)
		}
	})
}

func BenchmarkFinalize(b *testing.B) {
	obs := benchStream(1 << 18)
	for _, bc := range []struct {
		name string
		ec   EstimateConfig
	}{{"tracker", EstimateConfig{Off: true}}, {"with_estimate", EstimateConfig{}}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				tr := benchTrackerWith(bc.ec)
				for _, o := range obs {
					tr.Observe(o)
				}
				b.StartTimer()
				tr.Finalize(30 * time.Second)
			}
		})
	}
}
