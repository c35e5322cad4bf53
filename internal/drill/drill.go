// Package drill runs one recall drill: it mints a credential population, drives the system with
// probes at the scenario's rate, fires the recall at its instant, and measures, per component,
// how long the recalled credentials were still honoured.
//
//	          ┌──────────── timeline ─────────────┐
//	mint ──►  │ baseline ──► recall (acks) ──► observe │ ──► finalize ──► report.Report
//	          └───────────────────────────────────┘
//	  scheduler.Next ─► vegeta Targeter ─► system ─► Result ─► classify ─► tracker.Observe
//
// Every instant is an offset from one start (the traffic's), taken on the monotonic clock:
// vegeta stamps results with began.Add(time.Since(began)), and the drill converts with Sub.
package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recall-drills/recall/internal/load"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// Component is one component of the system as the drill sees it.
type Component struct {
	Name, Kind, Use string
	// Probe says how to ask this component about a credential; nil: not probed.
	Probe *ProbeSpec
	// Sources names the components this one learns recalls from (the issuer, the bus): a
	// fault cutting one of them, or a link from this component, cuts its revocation source
	// off, and an accept of a recalled credential meanwhile is fail-open.
	Sources []string
}

// ProbeSpec is a probe before the component's endpoint is known.
type ProbeSpec struct {
	// Kind is the registered probe kind (default ProbeHTTP); With its parameters.
	Kind              string
	With              map[string]any
	Method, Path, URL string
	Header            http.Header
	Body              string
	Accept, Reject    Match
	Timeout           time.Duration
}

// Traffic is the probe load.
type Traffic struct {
	// Rate is the probe rate per second once any ramp is over; RampFrom and RampFor describe
	// an optional linear ramp at the start.
	Rate, RampFrom float64
	RampFor        time.Duration
	// Duration is how long probing lasts at least, from the start of traffic.
	Duration time.Duration
	// AfterFaults, when > 0, extends probing until AfterFaults after the last fault's window
	// ended (see faults.trafficEnd for the bound).
	AfterFaults time.Duration
	// Settle, when > 0, holds probing up to Settle past the end Duration and AfterFaults give,
	// while the drill is still measuring: the recall has not returned, or some component has
	// begun enforcing it (converged some of its recalled pairs) but still honours others. The
	// drill then measures what it set out to on a slow machine or stack, where each pair comes
	// back less often than planned. A component that converged none (jwt-only) holds nothing.
	Settle time.Duration
	// Workers bounds the probes in flight per probed component.
	Workers int
	// Timeout bounds one probe (default load.DefaultTimeout).
	Timeout time.Duration
	// Recheck and Controls are the shares of post-recall probes spent re-checking converged
	// pairs and probing controls.
	Recheck, Controls float64
	// Sample says how many victims are probed at each component (zero: all). Every victim is
	// recalled either way.
	Sample SampleSpec
}

// Recall is the recall step.
type Recall struct {
	// At is the trigger instant from the start of traffic.
	At time.Duration
	// Kind and Mode describe the action for the report.
	Kind, Mode string
	Action     Action
	// Confirm asks the issuer, by introspection, whether each acknowledged recall took effect.
	Confirm bool
	// ConfirmWindow is how long a credential may stay active after its acknowledgement before
	// it is ineffective (default DefaultConfirmWindow).
	ConfirmWindow time.Duration
	// WaitForBaseline, when > 0, holds the recall past At, at most this long, until every
	// probed victim pair has been seen accepted at each component that accepted any: a pair
	// with no accept before the recall measures nothing. The end of traffic moves by the same
	// hold, so the drill observes as long after the recall as planned; faults keep their
	// instants.
	WaitForBaseline time.Duration
}

// Plan is everything a drill needs, resolved from a scenario.
type Plan struct {
	Name    string
	Seed    int64
	DrillID string
	// Env is the system under test; Run starts and closes it.
	Env        runtime.Environment
	Runtime    string
	Components []Component
	// Issuer names the issuer component.
	Issuer string
	// Provider connects to the identity provider once the issuer's endpoint is known: the
	// token source, recaller and confirmer the drill uses (internal/source/reference for the
	// reference issuer, internal/source for any standards-based provider).
	Provider   source.Opener
	Population Population
	Traffic    Traffic
	Recall     Recall
	// StartTimeout bounds the system's start.
	StartTimeout time.Duration
	Logger       *slog.Logger
	// Expect are the expectations the verdict is judged on.
	Expect []Expectation
	// OnProgress, when set, is called about once a second with live figures.
	OnProgress func(Live)
	// Faults are done to the system on the timeline; each is reverted at its end, and at the
	// end of the drill whatever happens.
	Faults []FaultStep
	// Recovery configures the recovery-time measurement after the recall (on by default).
	Recovery Recovery
	// Observer, when set, is told of the drill's events as they happen (internal/journal
	// streams them to journal.jsonl); see [Observer].
	Observer Observer
	// SSFReceiver, when set, subscribes recall to a transmitter of the system as an SSF Event
	// Receiver for the drill (ssfreceiver.go); the report gets a component of kind ssf-receiver.
	SSFReceiver *SSFReceiverSpec
}

// Live is a progress snapshot for humans.
type Live struct {
	Phase      string
	Elapsed    time.Duration
	ProbesPerS float64
	Progress   Progress
}

// Phases of a drill, as logged and shown live.
const (
	PhaseStart    = "start"
	PhaseMint     = "mint"
	PhaseBaseline = "baseline"
	PhaseRecall   = "recall"
	PhaseObserve  = "observe"
	PhaseReport   = "report"
)

// Outcome of Run besides the report: ErrInterrupted when ctx ended before the drill did.
var ErrInterrupted = errors.New("drill interrupted")

// Run runs the drill and returns its report — also when it fails midway, with Verdict ERROR,
// the reason, and whatever was measured. The environment is always closed (on a fresh context).
// The verdict is PASS when every expectation of severity fail holds, FAIL otherwise, ERROR when
// err is not nil.
func Run(ctx context.Context, p *Plan) (rep *report.Report, err error) {
	d := &drill{plan: p, log: p.Logger, rep: newReport(p)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.wall = time.Now()
	d.clock = newWallClock()
	d.clock.start()
	defer d.clock.halt()
	hdr := *d.rep
	hdr.Expectations = pendingExpectations(p.Expect)
	d.record(Event{Kind: EventHeader, Wall: d.wall, Report: &hdr})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cerr := p.Env.Close(cctx); cerr != nil {
			d.log.Warn("environment close failed", "err", cerr)
			if err == nil {
				err = fmt.Errorf("close environment: %w", cerr)
			}
		}
		d.rep.FinishedAt = time.Now()
		d.rep.DurationMS = millis(time.Since(d.wall))
		if err != nil {
			d.rep.Verdict = report.Error
			d.rep.Reason = err.Error()
		}
		if n, largest := d.clock.steps(); n > 0 {
			d.rep.Environment.WallClockSteps, d.rep.Environment.WallClockStepMaxMS = n, millis(largest)
			d.log.Warn("the wall clock moved against the monotonic clock during the drill; ground truth recorded in wall time was converted back",
				"steps", n, "largest", largest.Round(time.Microsecond))
		}
		judge(d.rep, d.measurement, d.recovery, p.Expect)
		rep = d.rep
		d.record(Event{Kind: EventEnd, AtNS: d.offset(), Verdict: rep.Verdict, Reason: rep.Reason,
			Expectations: rep.Expectations, Findings: rep.Findings})
	}()
	return nil, d.run(ctx)
}

type drill struct {
	plan   *Plan
	log    *slog.Logger
	rep    *report.Report
	wall   time.Time
	began  time.Time // start of traffic: offset 0
	phase  atomic.Value
	tokens []*Token
	comps  []Component // probed components, tracker order
	probes []*Probe
	tr     *Tracker
	sched  *Scheduler
	loads  []compLoad // per probed component, tracker order
	sample *Sample    // nil: every victim probed
	acks   []Ack      // per victim
	issuer *url.URL
	prov   *source.Provider
	// measurement is the tracker's final result, kept for expectations (TTC quantiles).
	measurement *Measurement
	onFirstAck  func(time.Duration)
	// fps, when set, gives credential fingerprints (a report rebuilt from a journal).
	fps    func(int) string
	faults *faults
	// recovery is the recovery measurement, nil when none ran; recWG tracks its goroutines.
	recovery *recoveryResult
	// family measures refresh-replay's rotated access tokens (family.go); its probes are
	// tracked by recWG too.
	family *familyResult
	recWG  sync.WaitGroup
	// sentRate counts the probes sent per 10 ms, to log the rate around the acknowledgement.
	sentRate *rateWindows
	// clock converts wall-clock instants recorded out of process to the monotonic timeline.
	clock *wallClock
	// ssfrx is recall's subscription to the system's SSF transmitter, nil without one.
	ssfrx *ssfReceiver
}

func (d *drill) setPhase(ph string) {
	d.phase.Store(ph)
	d.record(Event{Kind: EventPhase, Phase: ph, AtNS: d.offset()}) // journaled before it is logged
	d.log.Info("phase", "phase", ph)
}

// offset is now from the start of traffic, 0 before it.
func (d *drill) offset() int64 {
	if d.began.IsZero() {
		return 0
	}
	return int64(time.Since(d.began))
}

func (d *drill) run(ctx context.Context) error {
	p := d.plan
	probed := 0
	for _, c := range p.Components {
		if c.Probe != nil {
			probed++
		}
	}
	workers := p.Traffic.Workers
	if workers <= 0 {
		workers = load.DefaultWorkers
	}
	if err := checkMemory(p.Population, probed, workers); err != nil {
		return err
	}
	d.setPhase(PhaseStart)
	// Image builds and the like have their own budget: the start deadline is the system's.
	if pr, ok := p.Env.(runtime.Preparer); ok {
		if err := pr.Prepare(ctx); err != nil {
			return fmt.Errorf("prepare system: %w", err)
		}
	}
	startCtx := ctx
	if p.StartTimeout > 0 {
		var cancel context.CancelFunc
		startCtx, cancel = context.WithTimeout(ctx, p.StartTimeout)
		defer cancel()
	}
	began := time.Now()
	if err := p.Env.Start(startCtx); err != nil {
		return fmt.Errorf("start system: %w", err)
	}
	d.rep.Environment.StartupMS = millis(time.Since(began))
	if err := d.describeEnv(); err != nil {
		return err
	}
	env := d.rep.Environment
	d.record(Event{Kind: EventEnvironment, Environment: &env})
	var err error
	if d.issuer, err = p.Env.Endpoint(p.Issuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	for _, c := range p.Components {
		if c.Probe == nil {
			continue
		}
		ep, err := p.Env.Endpoint(c.Name)
		if err != nil {
			return fmt.Errorf("probe %s: %w", c.Name, err)
		}
		pr, err := BuildProbe(ProbeParams{Component: c.Name, Endpoint: ep, Spec: *c.Probe})
		if err != nil {
			return err
		}
		d.comps = append(d.comps, c)
		d.probes = append(d.probes, pr)
	}
	if len(d.probes) == 0 {
		return errors.New("nothing to probe: no component has a probe")
	}

	if p.Provider == nil {
		return errors.New("no identity provider: the plan has no Provider")
	}
	if d.prov, err = p.Provider(startCtx, d.issuer); err != nil {
		return fmt.Errorf("issuer %s: %w", p.Issuer, err)
	}
	d.rep.Provider = describeProvider(d.prov)
	if err := d.subscribeSSF(startCtx); err != nil {
		return err
	}
	defer d.closeSSF(ctx)
	if hl, ok := p.Env.(runtime.HarnessLinker); ok {
		if addr, ok := hl.HarnessLink(p.Issuer); ok {
			d.prov.Link = throughLink(d.prov.Client(), addr)
		}
	}

	d.setPhase(PhaseMint)
	mintBegan := time.Now()
	d.tokens, err = d.prov.Source.Mint(ctx, p.Population, nil)
	if err != nil {
		return err
	}
	if err := source.CheckExpiry(d.tokens, time.Now().Add(p.Traffic.Duration+time.Second)); err != nil {
		return err
	}
	desc := d.prov.Source.Describe()
	d.rep.Tokens.Source, d.rep.Tokens.Opaque = desc.Kind, desc.Opaque
	if desc.Clients > 0 {
		d.rep.Tokens.Clients = desc.Clients
	}
	if desc.Users > 0 {
		d.rep.Tokens.Users = desc.Users
	}
	d.rep.Tokens.MintMS = millis(time.Since(mintBegan))
	for _, t := range d.tokens[:min(5, p.Population.Victims)] {
		d.rep.Tokens.Sample = append(d.rep.Tokens.Sample, t.Access.Fingerprint())
	}
	toks := d.rep.Tokens
	d.record(Event{Kind: EventMinted, Tokens: &toks})
	d.log.Info("population minted", "victims", p.Population.Victims, "controls", p.Population.Controls, "took", time.Since(mintBegan).Round(time.Millisecond))
	return d.traffic(ctx)
}

func (d *drill) describeEnv() error {
	p := d.plan
	var times map[string]time.Duration
	if s, ok := p.Env.(runtime.Startup); ok {
		times = s.StartupTimes()
	}
	for _, c := range p.Components {
		ec := report.EnvComponent{Name: c.Name, Kind: c.Kind, Use: c.Use, StartupMS: millis(times[c.Name])}
		if u, err := p.Env.Endpoint(c.Name); err == nil {
			ec.Endpoint = hideUserinfo(u) // a ${VAR} user or password in the userinfo stays out of the report
		}
		d.rep.Environment.Components = append(d.rep.Environment.Components, ec)
	}
	return nil
}

// traffic runs the timed part: load, the recall at its instant, live progress.
func (d *drill) traffic(ctx context.Context) error {
	p := d.plan
	names := make([]string, len(d.comps))
	for i, c := range d.comps {
		names[i] = c.Name
	}
	timeout := p.Traffic.Timeout
	if timeout <= 0 {
		timeout = load.DefaultTimeout
	}
	scfg := ScheduleConfig{
		Components: len(names), Victims: p.Population.Victims, Controls: p.Population.Controls,
		Recheck: p.Traffic.Recheck, ControlShare: p.Traffic.Controls,
	}
	d.sample = d.drawSample(names, scfg.UnconvergedShare(p.Population.Controls))
	tcfg := TrackerConfig{
		Components: names, Victims: p.Population.Victims, Controls: p.Population.Controls,
		MaxLag: timeout + time.Second, Sample: d.sample,
		Estimate: EstimateConfig{Seed: p.Seed},
	}
	if p.Observer != nil {
		tcfg.OnPair = func(s PairSnapshot) { d.record(Event{Kind: EventPair, AtNS: d.offset(), Pair: &s}) }
	}
	d.tr = NewTracker(tcfg)
	d.sched = NewScheduler(scfg, d.tr, rand.New(rand.NewSource(p.Seed)))
	d.acks = make([]Ack, p.Population.Victims)

	nTok := uint64(len(d.tokens))
	d.loads = make([]compLoad, len(d.probes))
	targeter := vegeta.Targeter(func(tgt *vegeta.Target) error {
		c, t := d.sched.Next()
		d.probes[c].Fill(tgt, d.tokens[t].Access.Reveal(), uint64(c)*nTok+uint64(t))
		return nil
	})
	// Each component gets traffic.workers probes in flight of its own and its own timeout, so
	// that a slow or hanging one cannot take the workers of the others.
	groups := make([]load.Group, len(d.comps))
	for i, c := range d.comps {
		groups[i] = load.Group{Workers: p.Traffic.Workers, Timeout: timeout}
		if c.Probe != nil && c.Probe.Timeout > 0 {
			groups[i].Timeout = c.Probe.Timeout
		}
	}
	iso := load.NewIsolation(load.Options{Workers: uint64(p.Traffic.Workers), Timeout: timeout,
		Groups: groups, Group: func(tag uint64) int { return int(tag / nTok) }})
	// The scheduler looks ahead past a component that has its probes in flight, so that its
	// pairs keep their turn and the others' probes are sent meanwhile.
	held := p.Traffic.Workers
	if held <= 0 {
		held = load.DefaultWorkers
	}
	d.sched.SetBusy(iso.Full, held)
	needBody := false
	for _, pr := range d.probes {
		needBody = needBody || pr.NeedsBody()
	}
	maxBody := int64(0)
	if needBody {
		maxBody = 64 << 10
	}

	tctx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var (
		wg          sync.WaitGroup // the faults' goroutines and holdTraffic's
		total       atomic.Int64
		dropped     atomic.Int64
		recallErr   error // written by the timeline actor; read after g.Run, which waits for it
		end         time.Duration
		afterRecall atomic.Int64
		firstAck    atomic.Int64 // offset of the first acknowledgement; MaxInt64 until then
		recallDone  atomic.Bool  // the recall action returned
		recallFired atomic.Int64 // offset at which the recall fired; 0 until then
	)
	firstAck.Store(math.MaxInt64)
	d.onFirstAck = func(at time.Duration) { storeMin(&firstAck, int64(at)) }
	d.faults = newFaults(d)
	d.sentRate = newRateWindows(p.Traffic.Duration + p.Traffic.AfterFaults + p.Traffic.Settle + time.Minute)
	d.began = time.Now()
	d.record(Event{Kind: EventTraffic, Wall: d.began, Tracker: d.trackerSummary(names, tcfg)})
	d.setPhase(PhaseBaseline)

	// The phases are an actor group (docs/architecture.md): the first actor to return — the
	// load at the end of traffic, or signals when ctx ends — interrupts the others, and every
	// interrupt cancels tctx, so cancellation flows one way, from ctx through tctx to each
	// phase. The timeline, faults, progress and recovery never end the group themselves: they
	// wait for tctx once their work is done.
	var g run.Group
	interrupt := func(error) { stopTraffic() }

	// Signals: the caller cancels ctx on SIGINT or SIGTERM (cmd/recall).
	g.Add(run.ContextHandler(ctx))

	// The faults, each on its own timer; whatever is still on is reverted after g.Run.
	g.Add(func() error {
		d.faults.start(tctx, &wg)
		<-tctx.Done()
		wg.Wait()
		return nil
	}, interrupt)

	// The timeline: fire the recall at its instant.
	timelineDone := make(chan struct{})
	g.Add(func() error {
		defer close(timelineDone)
		timer := time.NewTimer(p.Recall.At)
		defer timer.Stop()
		select {
		case <-tctx.Done():
			return nil
		case <-timer.C:
		}
		if p.Recall.WaitForBaseline > 0 {
			if !d.waitForBaseline(tctx) {
				return nil
			}
		}
		recallFired.Store(int64(time.Since(d.began)))
		recallErr = d.recall(tctx)
		recallDone.Store(true)
		if recallErr != nil {
			d.log.Error("recall failed", "err", recallErr)
		}
		<-tctx.Done()
		return nil
	}, interrupt)

	// Live progress.
	g.Add(func() error {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		lastAt := time.Now()
		for {
			select {
			case <-tctx.Done():
				return nil
			case now := <-tick.C:
				n := total.Load()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				d.recordCounters()
				live := Live{Phase: d.phase.Load().(string), Elapsed: now.Sub(d.began), ProbesPerS: rate, Progress: d.tr.Progress()}
				if p.OnProgress != nil {
					p.OnProgress(live)
				}
			}
		}
	}, interrupt)

	// Recovery: started by the timeline once the recall is acknowledged, on tctx; it ends with
	// traffic, and is waited for once the timeline can start no more of it.
	g.Add(func() error {
		<-tctx.Done()
		<-timelineDone
		d.recWG.Wait()
		return nil
	}, interrupt)

	// The load: it ends the group when traffic is over.
	lctx, loadFor := d.faults.holdTraffic(tctx, &wg)
	if p.Traffic.Settle > 0 || p.Recall.WaitForBaseline > 0 {
		lctx, loadFor = d.holdEnd(tctx, lctx, loadFor, &recallFired, &recallDone, &wg)
	}
	g.Add(func() error {
		d.attack(lctx, targeter, timeout, maxBody, loadFor, iso, nTok, &total, &dropped, &afterRecall, &firstAck)
		end = time.Since(d.began)
		return nil
	}, interrupt)
	_ = g.Run() // the load's nil or ctx's error; ctx is checked below

	d.faults.revertAll()

	d.record(Event{Kind: EventTrafficEnd, AtNS: int64(end)})
	d.setPhase(PhaseReport)
	d.finish(end, total.Load(), dropped.Load(), afterRecall.Load())
	d.recordCounters()
	if fa := time.Duration(firstAck.Load()); fa != math.MaxInt64 {
		offs, perS := d.sentRate.around(fa, 300*time.Millisecond, 2*time.Second, rateWindowWidth)
		d.log.Info("probe rate per 100ms around the first acknowledgement", "rates_per_s", describeRates(offs, perS))
		if _, r := d.sentRate.around(fa, time.Second, 0, time.Second); len(r) == 1 {
			d.rep.Probes.RateBeforeAckPerSec = r[0]
		}
		if fa+time.Second <= end {
			if _, r := d.sentRate.around(fa, 0, time.Second, time.Second); len(r) == 1 {
				d.rep.Probes.RateAfterAckPerSec = r[0]
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	return recallErr
}

// holdEnd moves the end of the load for Recall.WaitForBaseline and Traffic.Settle (see there).
// base is the context the load would run on and loadFor how long at most: the load would end at
// the first of base's end and loadFor. The returned context ends there, or later: not before
// Duration plus however long the recall waited for the baseline, and then, with Settle, once
// the drill is settled or Settle later. The returned bound is loadFor plus both holds. A
// goroutine on wg does the watching.
func (d *drill) holdEnd(tctx, base context.Context, loadFor time.Duration, recallFired *atomic.Int64, recallDone *atomic.Bool, wg *sync.WaitGroup) (context.Context, time.Duration) {
	t, hold := d.plan.Traffic, d.plan.Recall.WaitForBaseline
	sctx, stop := context.WithCancel(tctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		wait := func(until func() bool) bool {
			for !until() {
				select {
				case <-tctx.Done():
					return false
				case <-tick.C:
				}
			}
			return true
		}
		planned := func() bool {
			select {
			case <-base.Done():
				return true
			default:
				return time.Since(d.began) >= loadFor
			}
		}
		if !wait(planned) {
			return
		}
		if hold > 0 {
			// As long after the recall as planned: Duration past the baseline's hold.
			if !wait(func() bool {
				at := recallFired.Load()
				return at > 0 && time.Since(d.began) >= t.Duration+max(time.Duration(at)-d.plan.Recall.At, 0)
			}) {
				return
			}
		}
		if t.Settle <= 0 {
			return
		}
		from := time.Since(d.began)
		for {
			busy := d.stillMeasuring(recallDone.Load())
			if busy == "" {
				if held := time.Since(d.began) - from; held > 50*time.Millisecond {
					d.log.Info("traffic held until the drill settled", "held", held.Round(time.Millisecond))
				}
				return
			}
			if time.Since(d.began)-from >= t.Settle {
				d.log.Warn("traffic.settle ran out with the drill still measuring", "settle", t.Settle, "still", busy)
				return
			}
			select {
			case <-tctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return sctx, loadFor + hold + t.Settle
}

// waitForBaseline holds the recall until every probed victim pair has an accept at each
// component that accepted any, or Recall.WaitForBaseline has passed; it records the hold in
// the report. It returns false when tctx ended first.
func (d *drill) waitForBaseline(tctx context.Context) bool {
	limit := d.plan.Recall.WaitForBaseline
	from := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := ""
		for _, b := range d.tr.Baseline() {
			if b.Accepted > 0 && b.Accepted < b.Pairs {
				missing = fmt.Sprintf("%s: %d of %d probed victim pairs seen accepted", b.Name, b.Accepted, b.Pairs)
				break
			}
		}
		held := time.Since(from)
		if missing == "" || held >= limit {
			if held >= 50*time.Millisecond {
				d.rep.Recall.HeldForBaselineMS = millis(held)
				if missing != "" {
					d.log.Warn("recall.wait_for_baseline ran out: recalling with pairs that have no baseline", "held", held.Round(time.Millisecond), "missing", missing)
				} else {
					d.log.Info("recall held until the baseline was complete", "held", held.Round(time.Millisecond))
				}
			}
			return true
		}
		select {
		case <-tctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// stillMeasuring says why the drill is not settled ("" when it is): the recall has not
// returned, or a component has converged some of its recalled pairs but not all.
func (d *drill) stillMeasuring(recallReturned bool) string {
	if !recallReturned {
		return "the recall has not returned"
	}
	for _, c := range d.tr.Progress().Components {
		if c.Unconverged > 0 && c.Unconverged < c.Recalled {
			return fmt.Sprintf("%s: %d of %d recalled pairs not converged", c.Name, c.Unconverged, c.Recalled)
		}
	}
	return ""
}

// attack runs the probe load until loadFor has passed or ctx ends, observing every result.
func (d *drill) attack(ctx context.Context, targeter vegeta.Targeter, timeout time.Duration, maxBody int64, loadFor time.Duration,
	iso *load.Isolation, nTok uint64, total, dropped, afterRecall, firstAck *atomic.Int64) {
	p := d.plan
	load.Attack(ctx, targeter, load.Pacer(p.Traffic.Rate, p.Traffic.RampFrom, p.Traffic.RampFor),
		load.Options{Workers: uint64(p.Traffic.Workers), Timeout: timeout, MaxBody: maxBody, Duration: loadFor,
			Isolation: iso},
		func(r *vegeta.Result) {
			tag, ok := load.TagOf(r.URL)
			if !ok || tag >= uint64(len(d.probes))*nTok {
				dropped.Add(1)
				return
			}
			c, t := int(tag/nTok), int(tag%nTok)
			if load.Saturated(r) {
				// Never sent: the component already had its workers' worth of probes in
				// flight (it is slow or hanging). It measures nothing, so it is not observed.
				d.loads[c].notSent.Add(1)
				return
			}
			total.Add(1)
			sent := r.Timestamp.Sub(d.began)
			d.sentRate.add(sent)
			phase := 0
			if int64(sent) > firstAck.Load() {
				afterRecall.Add(1)
				phase = 1
			}
			out := d.probes[c].Classify(int(r.Code), r.Body)
			// Errors inside a fault's window are the fault's doing, not unavailability.
			if out != Error || !d.faults.inWindow(c, sent) {
				d.loads[c].probes[phase].Add(1)
				if out == Error {
					d.loads[c].errors[phase].Add(1)
				}
			}
			d.tr.Observe(Observation{
				Component: c, Token: t,
				Sent:    sent,
				Latency: r.Latency,
				Outcome: out,
				Status:  int(r.Code),
			})
			d.faults.observe(c, t, sent, out)
		})
}

// drawSample sizes and draws the per-component sample of victims (nil when every victim is
// probed) and says so before traffic starts, with the revisit interval it aims at.
func (d *drill) drawSample(names []string, unconvShare float64) *Sample {
	p := d.plan
	spec, victims := p.Traffic.Sample, p.Population.Victims
	if spec.IsZero() || victims == 0 {
		return nil
	}
	n := spec.Size(victims, len(names), p.Traffic.Rate, unconvShare)
	revisit := time.Duration(0)
	if perS := p.Traffic.Rate * unconvShare; perS > 0 {
		revisit = time.Duration(float64(n*len(names)) / perS * float64(time.Second))
	}
	attrs := []any{"sample", n, "of", victims, "components", len(names), "rate_per_s", p.Traffic.Rate,
		"revisit", revisit.Round(100 * time.Microsecond)}
	if spec.Resolution > 0 {
		d.log.Info("sampling for resolution: every victim is recalled, a sample is probed at each component", append([]any{"resolution", spec.Resolution}, attrs...)...)
		if n == victims && revisit > spec.Resolution {
			d.log.Warn("resolution out of reach even probing every victim: raise traffic.rate", "resolution", spec.Resolution, "revisit", revisit.Round(time.Millisecond))
		}
	} else {
		d.log.Info("sampling: every victim is recalled, a sample is probed at each component", attrs...)
	}
	return NewSample(p.Seed, names, victims, n)
}

// recall fires the action and registers each acknowledgement with the tracker and scheduler as
// it arrives, so that every credential's TTC counts from its own acknowledgement.
func (d *drill) recall(ctx context.Context) error {
	p := d.plan
	d.setPhase(PhaseRecall)
	victims := d.tokens[:p.Population.Victims]
	sent := time.Now()
	d.tr.SetTrigger(sent.Sub(d.began))
	d.record(Event{Kind: EventTrigger, Wall: sent, AtNS: int64(sent.Sub(d.began))})
	var mu sync.Mutex
	d.family = d.newFamily()
	err := p.Recall.Action.Do(withRotated(ctx, d.family), *d.prov, victims, func(i int, a Ack) {
		mu.Lock()
		d.acks[i] = a
		mu.Unlock()
		own := d.receiverRecalls(a)
		if d.plan.Observer != nil {
			ev := &AckEvent{Token: i, FP: victims[i].Access.Fingerprint(), SentNS: int64(a.Sent.Sub(d.began)), AckedNS: int64(a.Acked.Sub(d.began))}
			if a.Sent.IsZero() {
				ev.SentNS = 0
			}
			if a.Err != nil {
				ev.Err, ev.AckedNS = redact.Excerpt([]byte(a.Err.Error())), 0
			}
			for _, o := range own {
				ev.Receivers = append(ev.Receivers, ReceiverEvent{C: o.Component, Stream: o.stream, Method: o.method, Attempts: o.attempts,
					SentNS: int64(o.Sent), DeliveredNS: int64(o.Delivered), AckedNS: int64(o.Acked)})
			}
			d.record(Event{Kind: EventAck, AtNS: d.offset(), Ack: ev})
		}
		if a.Err == nil {
			d.onFirstAck(a.Acked.Sub(d.began))
			d.tr.Recalled(i, a.Sent.Sub(d.began), a.Acked.Sub(d.began), ownOnly(own)...)
			d.sched.Recalled(i)
			d.family.follow(ctx, i, a)
		}
	})
	d.setPhase(PhaseObserve)
	d.log.Info("recall acknowledged", "credentials", len(victims), "took", time.Since(sent).Round(time.Millisecond), "err", err)
	if ctx.Err() == nil {
		d.startRecovery(ctx, victims)
	}
	if p.Recall.Confirm && ctx.Err() == nil {
		// Paced by the probe rate the machine achieved in the second before the recall (the
		// results of the last 200 ms may still be in flight), not the rate asked: on a loaded
		// machine a tenth of the asked rate is a much larger share of what it can do.
		now := time.Since(d.began)
		left := p.Traffic.Duration - now - confirmDelay
		probeRate := p.Traffic.Rate
		if _, r := d.sentRate.around(now-200*time.Millisecond, time.Second, 0, time.Second); len(r) == 1 && r[0] > 0 {
			probeRate = min(probeRate, r[0])
		}
		perS := confirmPace(len(victims), probeRate, left)
		cb := time.Now()
		d.confirm(ctx, victims, confirmDelay, perS)
		d.log.Info("recall confirmed at the source", "credentials", len(victims), "from", cb.Sub(d.began).Round(time.Millisecond),
			"took", time.Since(cb).Round(time.Millisecond), "paced_per_s", math.Round(perS))
	}
	return err
}

// receiverRecall is an OwnRecall with its stream, as the journal keeps it.
type receiverRecall struct {
	OwnRecall
	stream, method string
	attempts       int
}

// ownRecalls maps an acknowledgement's receivers to the probed components they name, on the
// drill's timeline; receivers that are not probed components are left out (nothing measures
// them).
func (d *drill) receiverRecalls(a Ack) []receiverRecall {
	if a.Err != nil {
		return nil
	}
	var out []receiverRecall
	for _, r := range a.Receivers {
		c := slices.IndexFunc(d.comps, func(c Component) bool { return c.Name == r.Component })
		if c < 0 || r.Sent.IsZero() || r.Acked.IsZero() {
			continue
		}
		out = append(out, receiverRecall{OwnRecall: OwnRecall{Component: c, Sent: r.Sent.Sub(d.began),
			Delivered: r.Delivered.Sub(d.began), Acked: r.Acked.Sub(d.began)}, stream: r.Stream, method: r.Method, attempts: r.Attempts})
	}
	return out
}

func ownOnly(own []receiverRecall) []OwnRecall {
	if len(own) == 0 {
		return nil
	}
	out := make([]OwnRecall, len(own))
	for i, o := range own {
		out[i] = o.OwnRecall
	}
	return out
}

func newReport(p *Plan) *report.Report {
	return &report.Report{
		SchemaVersion: report.SchemaVersion,
		Scenario:      report.Scenario{Name: p.Name, Seed: p.Seed},
		StartedAt:     time.Now(),
		Environment:   report.Environment{Runtime: p.Runtime},
		Tokens: report.Tokens{Grant: p.Population.Grant, Victims: p.Population.Victims,
			Controls: p.Population.Controls, Users: p.Population.Users, Clients: p.Population.Clients},
		Recall:       report.Recall{Action: p.Recall.Kind, Mode: p.Recall.Mode, Credentials: p.Population.Victims},
		Faults:       []report.Fault{},
		Findings:     []report.Finding{},
		Expectations: []report.Expectation{},
		Timeline:     []report.Series{},
		CDF:          []report.Series{},
	}
}

// storeMin lowers v to x if x is smaller. Acknowledgements arrive from up to
// DefaultRecallConcurrency RFC 7009 workers at once: a load, compare and store would let a later
// acknowledgement overwrite an earlier one, so this is a compare-and-swap loop.
func storeMin(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x >= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// throughLink returns a client like hc whose every connection dials addr, the proxy of the
// declared link harness->issuer, whatever the URL's host: requests keep their URL and Host, the
// provider sees them as it sees hc's.
func throughLink(hc *http.Client, addr string) *http.Client {
	tr, ok := hc.Transport.(*http.Transport)
	if !ok || tr == nil {
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	tr.Proxy = nil
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, Timeout: hc.Timeout}
}
