package drill

// This file runs the plan's faults on the drill's timeline and relates what the probes saw to
// the faults' windows:
//
//	at ─► Inject ─ for ─► Revert      window = [start of Inject, end of Revert]
//	drill ends, fails or is interrupted ─► Revert every fault still on (fresh context)
//
//	probe result ─► inside a window that affects its component? ─► keep (accepts, errors)
//	finish ─► stale accepts / errors inside vs outside, fail-open, TTC after the fault
//
// A fault affects a component when it is done to the component, to a link from or to it, or to
// one of its revocation sources (Component.Sources). A fault that cuts (pause, kill, partition,
// …) a source or a link from the component cuts the component's revocation source off: an
// accept of a recalled credential after its R(t) inside such a window is fail-open.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/report"
)

// DefaultFaultStepTimeout bounds one Inject or Revert (command and http faults have their own).
const DefaultFaultStepTimeout = 60 * time.Second

// maxFaultEvents bounds the probe results kept for fault accounting (16 bytes each).
const maxFaultEvents = 1 << 22

// FaultStep is one fault on the drill's timeline.
type FaultStep struct {
	// Name identifies the fault in the report; Kind is its registry name (partition, …).
	Name, Kind string
	// Target is the component the fault is done to; Link the link (link faults). Neither is set
	// for command and http faults.
	Target string
	Link   runtime.Link
	// OnLinks is true for a link fault done to Target: to every declared link from or to it.
	OnLinks bool
	// At is when the fault starts, from the start of traffic; For how long until it is reverted.
	At, For time.Duration
	// Cuts is true when the fault cuts what it is done to off (see chaos.Kind.Cuts).
	Cuts  bool
	Fault chaos.Fault
}

// what returns the target or link as the report shows it.
func (f *FaultStep) what() string {
	if f.Link != (runtime.Link{}) {
		return f.Link.String()
	}
	if f.OnLinks {
		return f.Target + " (links)"
	}
	return f.Target
}

// faultRun is one fault's state while the drill runs.
type faultRun struct {
	step *FaultStep

	mu         sync.Mutex
	started    bool
	start, end time.Duration // end valid when ended
	ended      bool
	reverted   bool // Revert was called (whatever it returned)
	errs       []string
}

// inside reports whether a probe sent at sent falls in the window as known now.
func (r *faultRun) inside(sent time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started && sent >= r.start && (!r.ended || sent < r.end)
}

// window returns the final window; ok is false for a fault that never started.
func (r *faultRun) window() (start, end time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.start, r.end, r.started
}

// faultEvent is a probe result kept because it fell inside a window when it arrived.
type faultEvent struct {
	sent      time.Duration
	token     int32
	component int16
	outcome   Outcome
}

// faults is the drill's fault timeline and accounting.
type faults struct {
	d    *drill
	runs []*faultRun
	// affects[c] and cuts[c] index the runs that affect, and that cut the revocation source of,
	// probed component c.
	affects, cuts [][]int

	evMu     sync.Mutex
	events   []faultEvent
	overflow int
}

func newFaults(d *drill) *faults {
	f := &faults{d: d}
	for i := range d.plan.Faults {
		f.runs = append(f.runs, &faultRun{step: &d.plan.Faults[i]})
	}
	f.affects = make([][]int, len(d.comps))
	f.cuts = make([][]int, len(d.comps))
	for c, comp := range d.comps {
		for i, r := range f.runs {
			s := r.step
			own := s.Target == comp.Name || s.Link.From == comp.Name || s.Link.To == comp.Name
			source := slices.Contains(comp.Sources, s.Target) || (s.Link.From == comp.Name && s.Link.To != "") ||
				(s.OnLinks && s.Target == comp.Name)
			if own || source {
				f.affects[c] = append(f.affects[c], i)
			}
			// A fault done to the component itself (a restart) does not cut its source; one done
			// to its links does.
			if s.Cuts && source && (s.Target != comp.Name || s.OnLinks) {
				f.cuts[c] = append(f.cuts[c], i)
			}
		}
	}
	return f
}

// start runs every fault on its own goroutine, each ending when ctx does.
func (f *faults) start(ctx context.Context, wg *sync.WaitGroup) {
	for _, r := range f.runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.runOne(ctx, r)
		}()
	}
}

func (f *faults) runOne(ctx context.Context, r *faultRun) {
	d := f.d
	s := r.step
	log := d.log.With("fault", s.Name, "kind", s.Kind, "target", s.what())
	timer := time.NewTimer(s.At - time.Since(d.began))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	r.mu.Lock()
	r.started, r.start = true, time.Since(d.began)
	r.mu.Unlock()
	ictx, cancel := context.WithTimeout(ctx, DefaultFaultStepTimeout)
	err := s.Fault.Inject(ictx, d.plan.Env)
	cancel()
	if err != nil {
		log.Error("fault inject failed", "err", err)
		r.mu.Lock()
		r.errs = append(r.errs, "inject: "+err.Error())
		r.mu.Unlock()
	} else {
		log.Info("fault injected", "for", s.For)
	}
	d.recordFault(r, "inject", err)
	if s.For > 0 {
		t := time.NewTimer(s.For)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return // the drill reverts it
		case <-t.C:
		}
	}
	f.revert(r, log)
}

// revert reverts r once, on a fresh context: a revert must happen also when the drill is over.
func (f *faults) revert(r *faultRun, log interface {
	Info(string, ...any)
	Error(string, ...any)
}) {
	r.mu.Lock()
	if !r.started || r.reverted {
		r.mu.Unlock()
		return
	}
	r.reverted = true
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultFaultStepTimeout)
	defer cancel()
	err := r.step.Fault.Revert(ctx, f.d.plan.Env)
	r.mu.Lock()
	r.end, r.ended = time.Since(f.d.began), true
	if err != nil {
		r.errs = append(r.errs, "revert: "+err.Error())
	}
	r.mu.Unlock()
	if err != nil {
		log.Error("fault revert failed", "err", err)
	} else {
		log.Info("fault reverted")
	}
	f.d.recordFault(r, "revert", err)
}

// revertAll reverts every fault still on; call it after the timeline's goroutines ended.
func (f *faults) revertAll() {
	for _, r := range f.runs {
		f.revert(r, f.d.log.With("fault", r.step.Name, "kind", r.step.Kind, "target", r.step.what(), "phase", "teardown"))
	}
}

// observe keeps a probe result that may fall inside a window affecting its component: accepts
// of victims and errors. A window that starts after the result arrives cannot contain its send
// time, so checking the windows known now loses nothing.
// inWindow reports whether a probe of component c sent at sent falls inside the window of a
// fault affecting c.
func (f *faults) inWindow(c int, sent time.Duration) bool {
	for _, i := range f.affects[c] {
		if f.runs[i].inside(sent) {
			return true
		}
	}
	return false
}

func (f *faults) observe(c, token int, sent time.Duration, out Outcome) {
	if len(f.affects[c]) == 0 || (out != Error && (out != Accept || token >= f.d.plan.Population.Victims)) {
		return
	}
	in := false
	for _, i := range f.affects[c] {
		if f.runs[i].inside(sent) {
			in = true
			break
		}
	}
	if !in {
		return
	}
	f.evMu.Lock()
	if len(f.events) < maxFaultEvents {
		f.events = append(f.events, faultEvent{sent: sent, token: int32(token), component: int16(c), outcome: out})
	} else {
		f.overflow++
	}
	f.evMu.Unlock()
}

// report lists every fault with its window.
func (f *faults) report() []report.Fault {
	out := []report.Fault{}
	for _, r := range f.runs {
		r.mu.Lock()
		rf := report.Fault{Name: r.step.Name, Fault: r.step.Kind, Target: r.step.what()}
		if r.started {
			rf.StartMS = millis(r.start)
		} else {
			r.errs = append(r.errs, "not started: the drill ended first")
		}
		if r.ended {
			rf.EndMS = millis(r.end)
		}
		for i, e := range r.errs {
			if i > 0 {
				rf.Error += "; "
			}
			rf.Error += e
		}
		r.mu.Unlock()
		out = append(out, rf)
	}
	return out
}

// componentFigures are one component's figures relative to the fault windows.
type componentFigures struct {
	split         *report.FaultSplit
	failOpen      int
	failOpenToks  []int
	firstFailOpen time.Duration
	afterFault    *report.Stats
}

type window struct{ start, end time.Duration }

// figures computes component c's figures once the measurement is final: end is the end of the
// observation window (the end of a window never reverted).
func (f *faults) figures(c int, cm *ComponentMeasurement, end time.Duration) componentFigures {
	var out componentFigures
	if len(f.affects[c]) == 0 {
		return out
	}
	wins := func(idx []int) []window {
		var ws []window
		for _, i := range idx {
			s, e, ok := f.runs[i].window()
			if !ok {
				continue
			}
			if !f.runs[i].ended {
				e = end
			}
			ws = append(ws, window{s, e})
		}
		return ws
	}
	in := func(ws []window, t time.Duration) bool {
		for _, w := range ws {
			if t >= w.start && t < w.end {
				return true
			}
		}
		return false
	}
	aff, cut := wins(f.affects[c]), wins(f.cuts[c])
	split := &report.FaultSplit{}
	for _, i := range f.affects[c] {
		split.Faults = append(split.Faults, f.runs[i].step.Name)
	}
	seen := map[int]bool{}
	f.evMu.Lock()
	for _, ev := range f.events {
		if int(ev.component) != c || !in(aff, ev.sent) {
			continue
		}
		switch ev.outcome {
		case Error:
			split.ErrorsInside++
		case Accept:
			t := int(ev.token)
			if t >= len(cm.Pairs) {
				continue
			}
			pr := cm.Pairs[t]
			if !pr.Measured() || ev.sent <= pr.Recalled {
				continue
			}
			split.StaleAcceptsInside++
			if in(cut, ev.sent) {
				if out.failOpen == 0 || ev.sent < out.firstFailOpen {
					out.firstFailOpen = ev.sent
				}
				out.failOpen++
				if !seen[t] {
					seen[t] = true
					out.failOpenToks = append(out.failOpenToks, t)
				}
			}
		}
	}
	f.evMu.Unlock()
	split.StaleAcceptsOutside = max(cm.Summary.StaleAccepts-split.StaleAcceptsInside, 0)
	split.ErrorsOutside = max(cm.Summary.Errors-split.ErrorsInside, 0)
	out.split = split

	// TTC from the end of the last fault that overlapped each pair's stale window.
	var after []PairResult
	for _, pr := range cm.Pairs {
		if pr.State != PairConverged {
			continue
		}
		var last time.Duration
		found := false
		for _, w := range aff {
			if w.start < pr.Upper && w.end > pr.Recalled && (!found || w.end > last) {
				last, found = w.end, true
			}
		}
		if found {
			// The same bracket, measured from the fault's end (upper bound clamped at 0).
			after = append(after, PairResult{State: PairConverged, Recalled: last, Lower: pr.Lower, Upper: pr.Upper})
		}
	}
	if len(after) > 0 {
		st := ttcStats(after)
		out.afterFault = &st
	}
	return out
}

// findings adds the faults' own findings: faults that could not be injected or reverted.
func (f *faults) findings(rep *report.Report) {
	for _, r := range f.runs {
		r.mu.Lock()
		errs := slices.Clone(r.errs)
		started := r.started
		r.mu.Unlock()
		for _, e := range errs {
			sev := report.Warning
			msg := fmt.Sprintf("fault %s (%s on %s): %s", r.step.Name, r.step.Kind, r.step.what(), e)
			if len(e) >= 7 && e[:7] == "revert:" {
				sev = report.Critical
				msg += " — the system may have been left degraded"
			}
			if !started {
				sev = report.Info
			}
			rep.Findings = append(rep.Findings, report.Finding{Kind: "fault_failed", Severity: sev, Message: msg})
		}
	}
	if f.overflow > 0 {
		f.d.log.Warn("too many probe results inside fault windows; some were not classified", "dropped", f.overflow)
	}
}

// holdTraffic returns the context the load runs on and how long it may run. Without
// Traffic.AfterFaults (or without faults) that is ctx and Traffic.Duration. With it, a
// goroutine (on wg) ends the load once Duration has passed and every fault's window ended
// AfterFaults ago: the time after a fault is measured from its own end, however long the
// engine took. The load is bounded anyway by the latest fault's at+for, two step timeouts
// (inject and revert) and AfterFaults.
func (f *faults) holdTraffic(ctx context.Context, wg *sync.WaitGroup) (context.Context, time.Duration) {
	t := f.d.plan.Traffic
	if t.AfterFaults <= 0 || len(f.runs) == 0 {
		return ctx, t.Duration
	}
	bound := t.Duration
	for _, r := range f.runs {
		bound = max(bound, r.step.At+r.step.For+2*DefaultFaultStepTimeout+t.AfterFaults)
	}
	lctx, stop := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if end, ok := f.settled(); ok {
				until := max(t.Duration, end+t.AfterFaults)
				if until > t.Duration {
					f.d.log.Info("traffic extended to observe after the faults", "last_fault_end", end.Round(time.Millisecond), "traffic_until", until.Round(time.Millisecond))
				}
				timer := time.NewTimer(until - time.Since(f.d.began))
				defer timer.Stop()
				select {
				case <-ctx.Done():
				case <-timer.C:
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return lctx, bound
}

// settled returns the end of the latest fault window once every fault's window has ended.
func (f *faults) settled() (time.Duration, bool) {
	var last time.Duration
	for _, r := range f.runs {
		r.mu.Lock()
		ended, end := r.ended, r.end
		r.mu.Unlock()
		if !ended {
			return 0, false
		}
		last = max(last, end)
	}
	return last, true
}
