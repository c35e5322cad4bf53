package drill

import (
	"container/heap"
	"fmt"
	"math/rand"
	"time"
)

// Limits of the plan's simulation: past them PlanBudget gives the analytic figures only.
const (
	simMaxProbes = 4_000_000
	simMaxPairs  = 400_000
	// simLatency is the probe latency the simulation assumes: an unloaded loopback answer.
	simLatency = time.Millisecond
)

// simulateBrackets runs the drill's own Scheduler and Tracker on a virtual clock, the way the
// engine drives them, over components whose TTCs follow cfg.Expected (unknown and never: not
// converging), and returns the median bracket per component (0 where none converged). The
// i-th probe is sent at i/rate, judged at its send time plus half the latency, and its answer
// reaches the tracker a latency later; every victim is recalled at cfg.RecallAt and
// acknowledged over cfg.AckSpread; each component's faults (ExpectedTTC.Faults) change its
// answers as they say. It is the plan's model of what a machine
// that keeps up with the rate achieves: the same rotation, the same acknowledgement burst, the
// same pairs leaving it as they converge, and so the same brackets, which an analytic revisit
// interval does not give (a convergence instant falls in a long gap more often than in a short
// one). ok is false when the drill is too large to simulate here.
func simulateBrackets(cfg BudgetConfig, n int) ([]time.Duration, bool) {
	probes := cfg.Rate * (cfg.RecallAt + cfg.After).Seconds()
	pairs := (n + cfg.Controls) * cfg.Components
	if cfg.Rate <= 0 || cfg.After <= 0 || cfg.Components == 0 || n == 0 || probes > simMaxProbes || pairs > simMaxPairs {
		return nil, false
	}
	names := make([]string, cfg.Components)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	// A slow answer must reach the tracker within MaxLag of its send time.
	faults := make([]FaultEffects, cfg.Components)
	maxLag := 100 * time.Millisecond
	for c := range faults {
		if c < len(cfg.Expected) {
			faults[c] = cfg.Expected[c].Faults
			for _, w := range faults[c].SlowRejects {
				maxLag = max(maxLag, 2*(simLatency+w.Extra))
			}
		}
	}
	// Simulate only the sampled victims: the others are recalled and never probed.
	tr := NewTracker(TrackerConfig{Components: names, Victims: n, Controls: cfg.Controls, MaxLag: maxLag})
	s := NewScheduler(cfg.Schedule, tr, rand.New(rand.NewSource(cfg.Seed)))
	enforce := make([][]time.Duration, cfg.Components) // per component, per victim: offset from the recall
	fromRecall := make([]bool, cfg.Components)
	for c := range enforce {
		e := ExpectedTTC{}
		if c < len(cfg.Expected) {
			e = cfg.Expected[c]
		}
		enforce[c], fromRecall[c] = make([]time.Duration, n), e.FromRecall
		for tok := range enforce[c] {
			switch {
			case !e.Known || e.Never:
				enforce[c][tok] = endTime
			default:
				enforce[c][tok] = e.From + time.Duration(rng.Float64()*float64(e.To-e.From))
			}
		}
	}
	end := cfg.RecallAt + cfg.After
	step := time.Duration(float64(time.Second) / cfg.Rate)
	ackAt := func(tok int) time.Duration { // acknowledged evenly over AckSpread, in token order
		return cfg.RecallAt + time.Duration(float64(cfg.AckSpread)*float64(tok)/float64(n))
	}
	// outcome is the answer of component c to a probe of credential tok sent at sent, and how
	// long it takes; recalled says whether tok is a victim already acknowledged.
	outcome := func(c, tok int, sent time.Duration, recalled bool) (Outcome, time.Duration) {
		f, rel := &faults[c], sent-cfg.RecallAt
		for _, w := range f.Down {
			if w.holds(rel) {
				return Error, simLatency
			}
		}
		if !recalled || enforce[c][tok] == endTime {
			return Accept, simLatency
		}
		from := ackAt(tok)
		if fromRecall[c] {
			from = cfg.RecallAt
		}
		at := from + enforce[c][tok]
		if f.HasNotBefore {
			at = max(at, cfg.RecallAt+f.NotBefore)
		}
		if sent+simLatency/2 < at {
			return Accept, simLatency
		}
		for _, w := range f.Resurrect {
			if w.holds(rel) && at-cfg.RecallAt < w.From {
				return Accept, simLatency
			}
		}
		lat := simLatency
		for _, w := range f.SlowRejects {
			if w.holds(rel) {
				lat += w.Extra
			}
		}
		return Reject, lat
	}
	// Answers reach the tracker, and so the scheduler, when they arrive, as in the drill: a
	// pair whose rejecting answer is slow stays in the rotation until it comes.
	var inflight observationHeap
	acked := 0
	for sent := time.Duration(0); sent < end; sent += step {
		for len(inflight) > 0 && inflight[0].Sent+inflight[0].Latency <= sent {
			tr.Observe(heap.Pop(&inflight).(Observation))
		}
		if acked == 0 && sent >= cfg.RecallAt {
			tr.SetTrigger(cfg.RecallAt)
		}
		for acked < n && sent >= ackAt(acked) {
			tr.Recalled(acked, cfg.RecallAt, ackAt(acked))
			s.Recalled(acked)
			acked++
		}
		c, tok := s.Next()
		out, lat := outcome(c, tok, sent, tok < acked)
		heap.Push(&inflight, Observation{Component: c, Token: tok, Sent: sent, Latency: lat, Outcome: out})
	}
	for len(inflight) > 0 {
		tr.Observe(heap.Pop(&inflight).(Observation))
	}
	m := tr.Finalize(end)
	out := make([]time.Duration, cfg.Components)
	for c, cm := range m.Components {
		out[c] = time.Duration(cm.Summary.TTCMS.ResolutionMS * float64(time.Millisecond))
	}
	return out, true
}

// observationHeap orders observations by their arrival, Sent + Latency.
type observationHeap []Observation

func (h observationHeap) Len() int { return len(h) }
func (h observationHeap) Less(i, j int) bool {
	return h[i].Sent+h[i].Latency < h[j].Sent+h[j].Latency
}
func (h observationHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *observationHeap) Push(x any)   { *h = append(*h, x.(Observation)) }
func (h *observationHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
