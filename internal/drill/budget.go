package drill

import (
	"math"
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
}

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
	return b
}

// SplitIdentities returns how many of n users or clients the victims and the controls get:
// they never share one when there are at least two (see Mint).
func SplitIdentities(n, victims, controls int) (forVictims, forControls int) {
	return source.Split(n, victims, controls)
}
