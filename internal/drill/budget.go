package drill

import (
	"math"
	"slices"
	"time"

	"github.com/recall-drills/recall/internal/source"
)

// The probe budget (docs/measurement.md, "Resolution"): how the [Scheduler] spends a drill's
// probe rate over its (component, credential) pairs, and so how often each pair is revisited
// and how wide the brackets behind the TTC figures will be. `recall plan` prints it before a
// drill; it lives next to the scheduler so that the two are one model.

// BudgetConfig is what a drill's probe budget depends on.
type BudgetConfig struct {
	// Rate is the probe rate, per second.
	Rate float64
	// Components is the number of probed components.
	Components int
	// Victims and Controls are the population's sizes.
	Victims, Controls int
	// Sample says how many victims are probed at each component (zero: all), sized as the
	// drill sizes it (SampleSpec.Size).
	Sample SampleSpec
	// Schedule holds the shares of the schedule (zero values: the defaults).
	Schedule ScheduleConfig
	// Expected, per probed component (nil or shorter: unknown), is what the plan expects of its
	// time to consistency: converged pairs leave the rotation, so the later a component
	// converges the more often its pairs are revisited by then.
	Expected []ExpectedTTC
	// RecallAt and After, when After is set, are the recall's offset from the start of traffic
	// and how long traffic goes on after it; with Seed they let PlanBudget simulate the drill's
	// scheduler for Resolution (simulateBrackets).
	RecallAt, After time.Duration
	Seed            int64
	// AckSpread is how long after the first acknowledgement the last comes (a one-by-one
	// recall): the simulation acknowledges the credentials evenly over it.
	AckSpread time.Duration
}

// ExpectedTTC is what is expected of a component's time to consistency, from what the scenario
// says of it (a reference gateway's strategy and its interval or cache TTL): its pairs converge
// spread evenly over [From, To] after their recall (From == To: all at that instant), or never.
// The zero value is "unknown", planned as never: an upper bound on every revisit.
type ExpectedTTC struct {
	Known    bool
	Never    bool
	From, To time.Duration
	// FromRecall is true when the instants count from the recall's first acknowledgement for
	// every credential alike (a poll tick, a cache entry's expiry), false when each counts from
	// the credential's own acknowledgement (a push).
	FromRecall bool
	// Phase, for an instant common to every credential (From == To), or a window, is how far
	// the instant or the window really falls from where it is centred: a poll tick comes
	// anywhere within an interval of the recall. Budget.ResolutionRange gives the brackets at
	// its two ends.
	Phase time.Duration
	// Refill, for a cache (From 0, To its TTL), says that each credential's entry is filled at
	// its first probe and filled again at its first probe after it expires: the entries expire
	// together, within a few revisits of each other, at a phase anywhere in the TTL. PlanBudget
	// narrows [From, To] to that window, with the rest of the TTL as its Phase.
	Refill bool
	// Why says where the expectation comes from ("push: at once", …), for the plan's text.
	Why string
	// Faults is what the scenario's faults do to the component's answers, as the plan reads
	// them (the zero value: nothing).
	Faults FaultEffects
}

// FaultEffects is what faults do to one component's answers, in offsets from the recall.
type FaultEffects struct {
	// NotBefore, when HasNotBefore, is the earliest instant the component can enforce the
	// recall: its revocation source was cut off across the recall and heals then.
	NotBefore    time.Duration
	HasNotBefore bool
	// Down are windows in which every probe sent gets an error (the component is paused,
	// killed or restarting, or fails closed while cut off from its revocation source).
	Down []Window
	// SlowRejects are windows in which a probe that the component rejects takes Extra longer
	// to answer: the rejecting answer needs a hop over a slowed link (an introspection).
	SlowRejects []Window
	// Resurrect are windows in which pairs enforced before the window's start are accepted
	// again (a restart from a stale snapshot, until its resync).
	Resurrect []Window
}

// Window is a span of offsets from the recall, [From, To), with an extra latency for
// FaultEffects.SlowRejects.
type Window struct {
	From, To, Extra time.Duration
}

func (w Window) holds(t time.Duration) bool { return t >= w.From && t < w.To }

// IsZero reports whether the faults change nothing.
func (f FaultEffects) IsZero() bool {
	return !f.HasNotBefore && len(f.Down) == 0 && len(f.SlowRejects) == 0 && len(f.Resurrect) == 0
}

// remaining is the share of the component's pairs not yet converged just before t.
func (e ExpectedTTC) remaining(t time.Duration) float64 {
	switch {
	case !e.Known || e.Never || t <= e.From:
		return 1
	case t > e.To:
		return 0
	case e.To == e.From:
		return 1
	}
	return 1 - float64(t-e.From)/float64(e.To-e.From)
}

// Budget is the probe budget of a drill as the scheduler spends it.
type Budget struct {
	// VictimPairs and ControlPairs are the probed pairs: Sample (or Victims) × Components,
	// Controls × Components.
	VictimPairs, ControlPairs int
	// Per component, the victim pairs probed there.
	PerComponent int
	// Shares of the probes after the recall: pairs not yet converged, re-checks of converged
	// pairs, controls.
	UnconvergedShare, RecheckShare, ControlShare float64
	// Before is the revisit interval of a victim pair before the recall, once every pair has
	// its baseline accept.
	Before time.Duration
	// After is the revisit interval of a victim pair right after the recall: the rotation holds
	// every victim pair not yet converged and gets the unconverged share (once the first pairs
	// converge, at the first acknowledgements, re-checks take their share). It is the
	// resolution to expect (the width of a pair's bracket, from its last accept to its first
	// reject) for a component that converges first, and an upper bound for every other.
	After time.Duration
	// AfterAlone is the revisit interval when only one component's pairs are left unconverged
	// (the others converged and left the rotation): the finest the budget allows.
	AfterAlone time.Duration
	// Resolution, per probed component, is the median bracket to expect given Expected: from
	// the drill's scheduler simulated on a virtual clock when the config gives the timeline
	// (Simulated), else the revisit interval at the median instant its pairs converge, with the
	// pairs of every component expected to have converged before then out of the rotation. It is
	// After for a component of unknown TTC, and 0 for one expected never to converge.
	Resolution []time.Duration
	Simulated  bool
	// ResolutionRange, when simulated, is per component the narrowest and the widest median
	// bracket over the phases of the components' common instants (ExpectedTTC.Phase): a poll
	// tick soon after the recall meets a fuller rotation than one late in its interval.
	ResolutionRange [][2]time.Duration
}

// refillRevisits is how many pre-recall revisit intervals the expiries of probe-filled cache
// entries spread over: the fills of the first sweep spread over one, and each refill comes up
// to one revisit after the expiry (the quickstart's introspect gateway, a 5 s TTL revisited every
// 35 ms: its entries expired within 73 ms of each other, in ground truth).
const refillRevisits = 2.0

// maxPhaseCorners is how many components with a phase (ExpectedTTC.Phase) PlanBudget shifts
// each on its own, simulating every corner (2^n runs); past it they shift together.
const maxPhaseCorners = 3

// PlanBudget computes the budget the scheduler will spend.
func PlanBudget(cfg BudgetConfig) Budget {
	b := Budget{ControlPairs: cfg.Controls * cfg.Components}
	b.ControlShare, b.RecheckShare, b.UnconvergedShare = cfg.Schedule.shares(cfg.Controls)
	n := cfg.Sample.Size(cfg.Victims, cfg.Components, cfg.Rate, b.UnconvergedShare)
	b.VictimPairs, b.PerComponent = n*cfg.Components, n
	interval := func(pairs int, rate float64) time.Duration {
		if rate <= 0 || pairs <= 0 {
			return 0
		}
		return time.Duration(math.Round(float64(pairs) / rate * float64(time.Second)))
	}
	// Before the trigger, once every victim pair has its baseline accept, the control share goes
	// to controls and the rest cycles over the victim pairs.
	b.Before = interval(b.VictimPairs, cfg.Rate*(1-b.ControlShare))
	b.After = interval(b.VictimPairs, cfg.Rate*b.UnconvergedShare)
	b.AfterAlone = interval(n, cfg.Rate*b.UnconvergedShare)
	b.Resolution = make([]time.Duration, cfg.Components)
	// Cache entries filled by the probes: they expire within about refillRevisits revisits of
	// each other, which at a short revisit interval is a burst, not a spread over the TTL.
	cfg.Expected = slices.Clone(cfg.Expected)
	for i, e := range cfg.Expected {
		if w := time.Duration(refillRevisits * float64(b.Before)); e.Refill && e.Known && w > 0 && w < e.To-e.From {
			mid := e.From + (e.To-e.From)/2
			cfg.Expected[i].From, cfg.Expected[i].To, cfg.Expected[i].Phase = mid-w/2, mid+w/2, e.To-e.From-w
		}
	}
	expected := func(c int) ExpectedTTC {
		if c < len(cfg.Expected) {
			return cfg.Expected[c]
		}
		return ExpectedTTC{}
	}
	for c := range b.Resolution {
		e := expected(c)
		switch {
		case !e.Known:
			b.Resolution[c] = b.After
			continue
		case e.Never:
			continue
		}
		at := e.From + (e.To-e.From)/2
		left := 0.0
		for o := range cfg.Components {
			left += expected(o).remaining(at)
		}
		b.Resolution[c] = interval(int(math.Round(left*float64(n))), cfg.Rate*b.UnconvergedShare)
	}
	if sim, ok := simulateBrackets(cfg, n); ok {
		b.Simulated = true
		b.ResolutionRange = make([][2]time.Duration, cfg.Components)
		for c := range b.ResolutionRange {
			b.ResolutionRange[c] = [2]time.Duration{sim[c], sim[c]}
		}
		// The common instants early and late in their windows, each component's on its own
		// (two gateways' poll ticks or JWKS refetches have unrelated phases): every corner for a
		// few such components, the two joint shifts for more.
		var phased []int
		for i, e := range cfg.Expected {
			if e.Phase > 0 {
				phased = append(phased, i)
			}
		}
		corners := 2
		if len(phased) <= maxPhaseCorners {
			corners = 1 << len(phased)
		}
		for k := 0; k < corners && len(phased) > 0; k++ {
			shifted := cfg
			shifted.Expected = slices.Clone(cfg.Expected)
			for j, i := range phased {
				e, q := shifted.Expected[i], -0.4
				if (corners == 2 && k == 1) || (corners > 2 && k&(1<<j) != 0) {
					q = 0.4
				}
				d := time.Duration(q * float64(e.Phase))
				shifted.Expected[i].From, shifted.Expected[i].To = max(e.From+d, 0), max(e.To+d, 0)
			}
			if alt, ok := simulateBrackets(shifted, n); ok {
				for c := range alt {
					r := &b.ResolutionRange[c]
					r[0], r[1] = min(r[0], alt[c]), max(r[1], alt[c])
				}
			}
		}
		for c := range b.Resolution {
			if e := expected(c); e.Known && !e.Never {
				b.Resolution[c] = sim[c]
			} else {
				b.ResolutionRange[c] = [2]time.Duration{b.Resolution[c], b.Resolution[c]}
			}
		}
	}
	return b
}

// SplitIdentities returns how many of n users or clients the victims and the controls get:
// they never share one when there are at least two (see Mint).
func SplitIdentities(n, victims, controls int) (forVictims, forControls int) {
	return source.Split(n, victims, controls)
}
