package drill

import (
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
// i-th probe is sent at i/rate and judged at its send time plus half the latency; every victim
// is recalled, and acknowledged, at cfg.RecallAt. It is the plan's model of what a machine
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
	// Simulate only the sampled victims: the others are recalled and never probed.
	tr := NewTracker(TrackerConfig{Components: names, Victims: n, Controls: cfg.Controls, MaxLag: 100 * time.Millisecond})
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
	acked := 0
	for sent := time.Duration(0); sent < end; sent += step {
		if acked == 0 && sent >= cfg.RecallAt {
			tr.SetTrigger(cfg.RecallAt)
		}
		for acked < n && sent >= ackAt(acked) {
			tr.Recalled(acked, cfg.RecallAt, ackAt(acked))
			s.Recalled(acked)
			acked++
		}
		c, tok := s.Next()
		out := Accept
		if tok < acked && enforce[c][tok] != endTime {
			from := ackAt(tok)
			if fromRecall[c] {
				from = cfg.RecallAt
			}
			if sent+simLatency/2 >= from+enforce[c][tok] {
				out = Reject
			}
		}
		tr.Observe(Observation{Component: c, Token: tok, Sent: sent, Latency: simLatency, Outcome: out})
	}
	m := tr.Finalize(end)
	out := make([]time.Duration, cfg.Components)
	for c, cm := range m.Components {
		out[c] = time.Duration(cm.Summary.TTCMS.ResolutionMS * float64(time.Millisecond))
	}
	return out, true
}
