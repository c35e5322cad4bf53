package drill

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/load"
	"github.com/recall-drills/recall/report"
)

// Thresholds of the availability and rate findings.
const (
	// UnavailableErrorShare is the share of a component's probes answered with errors, before
	// or after the recall, above which it is reported unavailable.
	UnavailableErrorShare = 0.5
	// RateShortfallShare is the share of its asked rate below which a component's achieved
	// probe rate is reported as a shortfall.
	RateShortfallShare = 0.9
	// minProbesForFinding is the fewest probes asked of a component its rate is judged on,
	// and minProbesForUnavailable the fewest probes in a phase its error share is judged on:
	// below them, a late start or a stray error is noise. A hanging component gets few probes
	// answered (each holds a worker for the whole timeout), hence the low second bound.
	minProbesForFinding     = 20
	minProbesForUnavailable = 3
)

// compLoad counts one probed component's probes: how many turns the scheduler gave it
// (Scheduler.Turns, copied by syncTurns) and, from the single result goroutine, the results and errors among
// probes sent before ([0]) and after ([1]) the recall's first acknowledgement. Errors inside
// the window of a fault affecting the component are left out of both. They are atomic because
// the journal reads them once a second while the result goroutine counts.
type compLoad struct {
	chosen         atomic.Int64
	probes, errors [2]atomic.Int64
	// notSent counts probes not sent because the component had its maximum in flight.
	notSent atomic.Int64
}

// syncTurns copies the scheduler's turns per component (Scheduler.Turns) into the loads'
// chosen counts: what a component was asked is its share of the turns.
func (d *drill) syncTurns() {
	if d.sched == nil {
		return
	}
	for c, n := range d.sched.Turns() {
		if c < len(d.loads) {
			d.loads[c].chosen.Store(n)
		}
	}
}

// loadCounters are the components' load counts as the journal keeps them.
func (d *drill) loadCounters() []LoadCounters {
	d.syncTurns()
	out := make([]LoadCounters, len(d.loads))
	for i := range d.loads {
		l := &d.loads[i]
		out[i] = LoadCounters{Chosen: l.chosen.Load(), NotSent: l.notSent.Load(),
			Probes: [2]int64{l.probes[0].Load(), l.probes[1].Load()}, Errors: [2]int64{l.errors[0].Load(), l.errors[1].Load()}}
	}
	return out
}

// loadsFrom is the components' load counts from the journal's.
func loadsFrom(k []LoadCounters) []compLoad {
	out := make([]compLoad, len(k))
	for i, c := range k {
		out[i].chosen.Store(c.Chosen)
		out[i].notSent.Store(c.NotSent)
		for ph := range 2 {
			out[i].probes[ph].Store(c.Probes[ph])
			out[i].errors[ph].Store(c.Errors[ph])
		}
	}
	return out
}

// askedHits is how many probes the scenario asks for over the first elapsed of traffic: the
// integral of the rate, ramp included.
func askedHits(t Traffic, elapsed time.Duration) float64 {
	if t.RampFor <= 0 {
		return t.Rate * elapsed.Seconds()
	}
	return (load.Ramp{From: t.RampFrom, To: t.Rate, For: t.RampFor}).Hits(elapsed)
}

// loadFigures fills rc's rates and error shares from the component's counts; elapsed is how
// long traffic ran.
func (d *drill) loadFigures(rc *report.Component, c int, elapsed time.Duration) {
	l := &d.loads[c]
	var chosen int64
	for i := range d.loads {
		chosen += d.loads[i].chosen.Load()
	}
	if elapsed > 0 {
		rc.RatePerSec = float64(l.probes[0].Load()+l.probes[1].Load()) / elapsed.Seconds()
		if chosen > 0 {
			rc.TargetRatePerSec = askedHits(d.plan.Traffic, elapsed) / elapsed.Seconds() * float64(l.chosen.Load()) / float64(chosen)
		}
	}
	share := func(i int) float64 {
		n := l.probes[i].Load()
		if n == 0 {
			return 0
		}
		return float64(l.errors[i].Load()) / float64(n)
	}
	rc.ErrorShareBaseline, rc.ErrorShareAfterRecall = share(0), share(1)
	rc.NotSent = int(l.notSent.Load())
}

// loadFindings reports a component that was unavailable (most of its probes, before or after
// the recall, were errors: it measured little or nothing) or probed below its share of the
// asked rate (its resolution is coarser than planned).
func (d *drill) loadFindings(rc *report.Component, c int, elapsed time.Duration) {
	l := &d.loads[c]
	var phases, consequences []string
	errs := 0
	for i, phase := range []string{"before the recall", "after the recall"} {
		n, e := l.probes[i].Load(), l.errors[i].Load()
		if n < minProbesForUnavailable || float64(e) <= UnavailableErrorShare*float64(n) {
			continue
		}
		phases = append(phases, fmt.Sprintf("%.0f%% of its %d probes %s", 100*float64(e)/float64(n), n, phase))
		errs += int(e)
		switch {
		case i == 1:
			consequences = append(consequences, "its convergence after the recall is not measured")
		case rc.Pairs == 0:
			consequences = append(consequences, "no victim was seen accepted there before the recall, so it measures nothing")
		default:
			consequences = append(consequences, fmt.Sprintf("only %d of its victims were seen accepted before the recall", rc.Pairs))
		}
	}
	if len(phases) > 0 {
		msg := fmt.Sprintf("%s was unavailable: it answered %s with errors (neither accept nor reject: 5xx, timeouts, refused connections, or answers its probe's accept and reject do not match); %s. The drill fails: it cannot vouch for a component it did not measure.",
			rc.Name, joinAnd(phases), joinAnd(consequences))
		d.rep.Findings = append(d.rep.Findings, report.Finding{Kind: "unavailable", Severity: report.Critical, Component: rc.Name, Count: errs, Message: msg})
	}
	asked := rc.TargetRatePerSec * elapsed.Seconds()
	if asked >= minProbesForFinding && rc.RatePerSec < RateShortfallShare*rc.TargetRatePerSec {
		d.rep.Findings = append(d.rep.Findings, report.Finding{Kind: "rate_shortfall", Severity: report.Warning, Component: rc.Name,
			Count: int(asked) - int(l.probes[0].Load()+l.probes[1].Load()),
			Message: fmt.Sprintf("%s was probed at %.0f/s of the %.0f/s asked (%.0f%%): its resolution is coarser than planned. %s",
				rc.Name, rc.RatePerSec, rc.TargetRatePerSec, 100*rc.RatePerSec/rc.TargetRatePerSec, d.shortfallCause(rc))})
	}
}

// shortfallCause says why a component got less than its rate.
func (d *drill) shortfallCause(rc *report.Component) string {
	if rc.NotSent > 0 {
		return fmt.Sprintf("%d probes were not sent because %s already had its %d probes in flight (traffic.workers): it answers too slowly for the rate; other components keep their own workers.",
			rc.NotSent, rc.Name, d.plan.Traffic.Workers)
	}
	return "The harness could not send the rate: it or the machine is overloaded, or traffic.workers is too low for the latency."
}

// joinAnd joins phrases with ", " and a final " and ".
func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " and " + s[len(s)-1]
}
