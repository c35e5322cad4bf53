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
	// Sample is how many victims are probed at each component; 0 or more than Victims: all.
	Sample int
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
	// After is the revisit interval of a victim pair right after the recall, while no pair has
	// converged: the rotation holds every victim pair, and the re-check share, with nothing to
	// re-check, passes its turn to it. It is the resolution to expect (the width of a pair's
	// bracket, from its last accept to its first reject) for a component that converges first,
	// and an upper bound for every other.
	After time.Duration
	// AfterAlone is the revisit interval when only one component's pairs are left unconverged
	// (the others converged and left the rotation): the finest the budget allows.
	AfterAlone time.Duration
}

// PlanBudget computes the budget the scheduler will spend.
func PlanBudget(cfg BudgetConfig) Budget {
	n := cfg.Victims
	if cfg.Sample > 0 && cfg.Sample < n {
		n = cfg.Sample
	}
	b := Budget{VictimPairs: n * cfg.Components, ControlPairs: cfg.Controls * cfg.Components, PerComponent: n}
	b.ControlShare, b.RecheckShare, b.UnconvergedShare = scheduleShares(cfg.Schedule, cfg.Controls)
	interval := func(pairs int, rate float64) time.Duration {
		if rate <= 0 || pairs <= 0 {
			return 0
		}
		return time.Duration(math.Round(float64(pairs) / rate * float64(time.Second)))
	}
	// Before the trigger, once every victim pair has its baseline accept, the probes cycle over
	// every pair, controls included.
	b.Before = interval(b.VictimPairs+b.ControlPairs, cfg.Rate)
	b.After = interval(b.VictimPairs, cfg.Rate*(b.UnconvergedShare+b.RecheckShare))
	b.AfterAlone = interval(n, cfg.Rate*b.UnconvergedShare)
	return b
}

// scheduleShares returns the post-trigger shares of controls, re-checks and pairs not yet
// converged, as NewScheduler sets them.
func scheduleShares(cfg ScheduleConfig, controls int) (ctrlShare, recheck, rest float64) {
	ctrlShare = share(cfg.ControlShare, DefaultControlShare)
	recheck = share(cfg.Recheck, DefaultRecheck)
	if sum := ctrlShare + recheck; sum > 1 {
		ctrlShare, recheck = ctrlShare/sum, recheck/sum
	}
	if controls == 0 {
		ctrlShare = 0
	}
	rest = 1 - ctrlShare - recheck
	if rest < 1e-9 { // float residue of a scaled sum
		rest = 0
	}
	return ctrlShare, recheck, rest
}

// SplitIdentities returns how many of n users or clients the victims and the controls get:
// they never share one when there are at least two (see Mint).
func SplitIdentities(n, victims, controls int) (forVictims, forControls int) {
	return source.Split(n, victims, controls)
}
