package drill

// This file is the measurement (docs/measurement.md): a streaming, exact computation of
// time to consistency, stale accepts, resurrections and false rejects from probe results. It is
// pure: no clock, no I/O. See [Tracker] for the definitions it implements.

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/estimate"
	"github.com/recall-drills/recall/report"
)

// Outcome is how a probe's answer was classified. The zero value is not an outcome: an
// [Observation] carrying it is counted as invalid and otherwise ignored.
type Outcome uint8

// Outcomes.
const (
	// Accept: the component honoured the credential.
	Accept Outcome = iota + 1
	// Reject: the component refused the credential (401, 403, active=false, ...).
	Reject
	// Error: neither (5xx, timeout, refused). Errors never move a measurement.
	Error
)

// String returns "accept", "reject" or "error".
func (o Outcome) String() string {
	switch o {
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Error:
		return "error"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Observation is one probe result as the tracker needs it.
type Observation struct {
	// Component indexes TrackerConfig.Components.
	Component int
	// Token is the credential: victims are 0..Victims-1, controls Victims..Victims+Controls-1.
	Token int
	// Sent is when the probe was sent, as an offset from the drill's start (monotonic clock).
	Sent time.Duration
	// Latency is how long the answer took; negative values count as 0.
	Latency time.Duration
	Outcome Outcome
	// Status is the protocol status (HTTP code, 0 on transport failure); informational.
	Status int
}

// Default tracker settings.
const (
	// DefaultMaxLag is the default TrackerConfig.MaxLag.
	DefaultMaxLag = 10 * time.Second
	// DefaultTimelineBucket is the default TrackerConfig.TimelineBucket.
	DefaultTimelineBucket = 100 * time.Millisecond
	// DefaultTimelineBefore is the default TrackerConfig.TimelineBefore.
	DefaultTimelineBefore = 5 * time.Second
	// DefaultCDFPoints is the default TrackerConfig.CDFPoints.
	DefaultCDFPoints = 200
)

// maxTimelineBuckets bounds the points of a timeline series (29 hours at 100 ms buckets); later
// instants are left out of the timeline, nothing else.
const maxTimelineBuckets = 1 << 20

// TrackerConfig configures a [Tracker]. Zero values take the defaults.
type TrackerConfig struct {
	// Components names the probed components; Observation.Component indexes it.
	Components []string
	// Victims and Controls count the credentials: victims are tokens 0..Victims-1 and controls
	// Victims..Victims+Controls-1.
	Victims, Controls int
	// MaxLag bounds how long after its send time a result reaches Observe (probe timeout plus
	// queueing slack). Results within it are handled exactly in any arrival order; memory per
	// pair is the number of its probes sent within MaxLag. Default DefaultMaxLag.
	MaxLag time.Duration
	// TimelineBucket is the width of the timeline's buckets. Default DefaultTimelineBucket.
	TimelineBucket time.Duration
	// TimelineBefore and TimelineAfter bound the timeline around the first acknowledgement.
	// Defaults DefaultTimelineBefore, and 0 for After: until the end of the drill.
	TimelineBefore, TimelineAfter time.Duration
	// CDFPoints caps the points of each CDF series. Default DefaultCDFPoints.
	CDFPoints int
	// Sample is the set of victims probed at each component (nil: all). Victim pairs outside
	// it are PairUnsampled: they measure nothing and are counted nowhere.
	Sample *Sample
	// Estimate configures the estimated TTC distribution Finalize adds beside the upper bounds
	// (see [EstimateConfig]); the zero value estimates with the defaults and seed 0.
	Estimate EstimateConfig
	// OnPair, when set, is called (under the component's lock: it must be quick) each time a
	// victim pair's folded state changes in a way its measurement reads: its first folded
	// result, the converging reject found, changed or forgotten, a first stale accept, a first
	// resurrection; and in Finalize for every pair changed in any way since its last call. The
	// last snapshot of each pair, restored with [Tracker.Restore], gives the pair's result as
	// the fold had it then (see internal/journal).
	OnPair func(PairSnapshot)
}

// Time sentinels: offsets are int64 nanoseconds.
const (
	noTime  = math.MinInt64 // "never"/"unset" for maxima and R
	endTime = math.MaxInt64 // "never" for minima; the unset trigger (every send is before it)
)

// Tracker turns a stream of probe results into the measurement of docs/measurement.md. It is
// safe for concurrent use: Observe, Recalled, SetTrigger, State and Progress may be called from
// any goroutine; Finalize after the last Observe. Finalize also hands every measured pair's
// bracket to package estimate (see [EstimateConfig] and docs/measurement.md, "Estimating the
// distribution"): the estimate goes beside the upper bounds, never in their place.
//
// # Definitions
//
// Times are offsets from the drill's start on one monotonic clock. For a recalled victim t with
// acknowledged recall instant R(t) (its own: a one-by-one recall gives each credential its own;
// and a component with an [OwnRecall] for t, an SSF receiver, counts from that instead), and a
// component c whose probes of t were sent at s1 < s2 < … with latencies lat_i (results may
// arrive in any order):
//
//   - Errors are neither accept nor reject: they never move or break convergence and are only
//     counted (availability).
//   - A is the largest send time of an accept of (c,t) over the whole run, baseline included.
//     The converging probe k is the reject with the smallest send time greater than A (among
//     rejects sent at the same instant, the one answered first). Without such a reject, or
//     without any accept or reject of (c,t) sent after R(t), the pair is NOT CONVERGED.
//   - The component started enforcing within the bracket [A, s_k+lat_k]. docs/measurement.md
//     writes [s_(k−1), s_k+lat_k]; the probe before k is the last accept unless errors sit
//     between, and an error tells nothing, so A is the honest (possibly wider) lower end.
//   - TTC(c,t) is the bracket minus R(t): Upper = s_k+lat_k−R(t), the figure gates use, reported
//     clamped at 0 (a push gateway can learn of a recall before the harness receives the
//     acknowledgement); Lower = A−R(t), which may be negative; Resolution = Upper−Lower
//     computed before clamping.
//   - A stale accept is an accept sent after R(t); counted per probe.
//   - A resurrection is an accept sent after a post-recall reject had already come back: its send
//     time exceeds s_r+lat_r for some reject r of (c,t) with s_r > R(t). (Send order alone is
//     wrong: a reject sent at 10 ms and answered at 15 ms, then an accept sent at 11 ms, is the
//     ordinary in-flight flip, not a resurrection.) Counted per pair and per probe, with the
//     first instant (send time of the first resurrected accept).
//   - A false reject is a reject of a control credential, at any time; counted per probe and
//     per pair.
//   - Baseline: a (c, victim) pair must be seen accepted by a probe sent before the trigger
//     (SetTrigger). Pairs without one are "never accepted": they measure nothing and are left
//     out of TTC, stale accepts and resurrections, and counted apart. Without a trigger, any
//     accept counts.
//   - Probes of a victim whose recall is not acknowledged count as baseline/pre-recall traffic
//     only; victims never acknowledged are reported as not recalled.
//
// # Streaming with bounded memory
//
// The tracker keeps no per-probe history. Each pair has O(1) summary state plus a reorder
// buffer. The order-free figures (counts, the first accept, timeline, latency histogram, false
// rejects) are updated on arrival; A and the latest decisive probe are read from the fold and
// the buffer. The order-dependent ones
// (k, stale accepts, resurrections) are computed by folding the pair's results in send order:
//
//	Observe ─► counters, timeline, histogram (any order)
//	        └► pair's reorder buffer (sorted by send) ─► fold, oldest first, once final ─► k, stale, resurrections
//
// A result with send time s is final once the component has seen a send time W with
// s < W − MaxLag: seeing W means the clock is past W, and every result yet to come arrives
// within MaxLag of its own send time, so it was sent at W − MaxLag or later. Folding final
// results oldest first therefore sees the exact send order, so the fold is exact: on an accept
// it forgets k; on a reject, if no k is held, it becomes k; rejects sent after R(t) lower
// D = min(s_r + lat_r), and an accept sent after D is a resurrection (a reject answered before
// an accept was sent was necessarily sent before it, hence already folded). A pair folds when
// one of its results arrives (and at Finalize), so its buffer holds only its results sent
// within MaxLag of the watermark at its latest arrival, independent of the run's length: 16
// bytes each, the first inline in the pair (a pair of a mass recall, revisited less often than every
// MaxLag, holds just that one) and the others in a ring from a per-component pool. A tracked
// pair costs about 110 bytes (BenchmarkTracker1MPairs).
//
// Two contracts make this exact; both are checked, and breaking them is counted, never silent:
//
//   - every result reaches Observe within MaxLag of its send time. A result that arrives after
//     a later-sent result of its pair was already folded is "late" (Measurement.Late, and the
//     pair is marked Inexact): it is folded at once. Counts and A stay exact and a late reject
//     still finds its exact k, but a late accept that overtakes k loses the exact successor:
//     a later reject stands in (still a valid upper bound on the enforcement instant, not the
//     one the definition picks) or, if none follows, the pair is reported not converged; and
//     resurrections revealed only by a late reject are missed;
//   - Recalled(t) is called within MaxLag of R(t) (the engine calls it as the acknowledgement
//     arrives). Otherwise results sent after R(t) may have been folded without R(t), and the
//     pair's stale-accept and resurrection counts may be low (Measurement.LateRecalls).
//
// Results may reach Observe before or after Recalled for their token and before or after
// SetTrigger: nothing depends on the order of those calls within those bounds.
type Tracker struct {
	names             []string
	victims, controls int
	maxLag            int64
	bucket            int64
	before, after     time.Duration
	cdfPoints         int
	sample            *Sample
	estimate          EstimateConfig
	onPair            func(PairSnapshot)

	trigger   atomic.Int64   // endTime until SetTrigger
	recallAck []atomic.Int64 // per victim: R(t), noTime until Recalled
	recallSnt []atomic.Int64 // per victim: when the recall was sent
	recallMu  sync.Mutex     // serializes Recalled (taken before any component's lock)
	invalid   atomic.Int64

	comps []*compState
}

// compState is one component's state, behind its own lock (allocated apart: no false sharing).
type compState struct {
	mu sync.Mutex
	// w is the watermark: the largest send time observed at this component.
	w int64

	probes, accepts, rejects, errors int64
	falseRejects                     int64
	firstFalseReject                 int64
	late, lateRecalls                int64

	lat histogram

	pairs []pairState // indexed by token
	// spare holds reorder rings no pair uses any more, for the next pair that needs one.
	spare []*obsRing
	// own holds, per victim, the component's own recall instants (see [OwnRecall]); nil until
	// Recalled names the component, so components that have none spend nothing on it.
	own []ownRecall
}

// OwnRecall is one component's own recall of a victim: when the recall reaches the component
// by a path of its own, its pairs count from its own instants rather than the victim's. An SSF
// receiver is one: the SET about the victim on the receiver's stream was sent, delivered
// (push: the receiver's 202; poll: fetched) and acknowledged (push: the 202; poll: the ack) at
// its own instants, and its R(t) is its own acknowledgement, not the last receiver's.
type OwnRecall struct {
	// Component indexes TrackerConfig.Components.
	Component int
	// Sent, Delivered and Acked are offsets from the drill's start; Acked is the component's
	// R(t), Sent its RecallSent.
	Sent, Delivered, Acked time.Duration
}

// ownRecall is OwnRecall as a component keeps it; acked is noTime when it has none.
type ownRecall struct{ sent, delivered, acked int64 }

// recallOf returns R(tok) at cs: the component's own acknowledgement when it has one, else the
// victim's. The caller holds cs.mu.
func (t *Tracker) recallOf(cs *compState, tok int) int64 {
	if cs.own != nil {
		if r := cs.own[tok].acked; r != noTime {
			return r
		}
	}
	return t.recallAck[tok].Load()
}

// pairState is one (component, token) pair: 104 bytes, the most a tracker holds per pair (see
// BenchmarkTracker1MPairs). The order-free figures are the counts and firstAccept; the rest is
// the send-ordered fold and its reorder buffer. The order-free A and the latest decisive probe
// are not kept: every decisive result of a victim pair is either folded or buffered, and the
// buffered ones were all sent after the frontier, so they are read from the fold and the
// buffer (lastDecisive, lastWasReject; A is foldA once Finalize has flushed). Times are exact
// int64 nanoseconds.
type pairState struct {
	firstAccept int64 // smallest accept send time (endTime: none)

	// fold: results folded so far, oldest first
	frontier   int64 // largest folded send time, hence accept or reject (noTime: nothing folded)
	foldA      int64 // largest folded accept send time (noTime: none)
	kSend      int64
	kLat       int64
	d          int64 // min s_r+lat_r over folded rejects sent after R
	firstResur int64

	// The reorder buffer, sorted by send time: b0 (when flagBuffered), then more's entries.
	// Most pairs hold at most one result in flight, so b0 is inline and more is allocated
	// (from compState.spare) only while a pair holds two or more.
	b0   obsEntry
	more *obsRing

	accepts, rejects, errors uint32
	stale, resurrect         uint32
	flags                    pairFlags
}

// pairFlags are a pair's booleans.
type pairFlags uint8

const (
	flagDirty        pairFlags = 1 << iota // folded since the last OnPair snapshot
	flagHasK                               // k is held (kSend, kLat)
	flagHasD                               // d is set
	flagLate                               // a late result or a late recall touched this pair
	flagFoldedReject                       // the latest folded decisive probe (ties: accept wins) is a reject
	flagBuffered                           // b0 holds the oldest buffered result
)

func (p *pairState) has(f pairFlags) bool { return p.flags&f != 0 }

func (p *pairState) set(f pairFlags, on bool) {
	if on {
		p.flags |= f
	} else {
		p.flags &^= f
	}
}

// buffered returns how many results the pair's reorder buffer holds.
func (p *pairState) buffered() int {
	switch {
	case !p.has(flagBuffered):
		return 0
	case p.more == nil:
		return 1
	}
	return 1 + p.more.n
}

// bufAt returns the i-th buffered result, oldest first.
func (p *pairState) bufAt(i int) obsEntry {
	if i == 0 {
		return p.b0
	}
	return *p.more.at(i - 1)
}

// insert buffers x after every result sent no later than it (a stable insertion).
func (p *pairState) insert(x obsEntry, cs *compState) {
	if !p.has(flagBuffered) {
		p.b0 = x
		p.set(flagBuffered, true)
		return
	}
	if p.more == nil {
		if n := len(cs.spare); n > 0 {
			p.more, cs.spare = cs.spare[n-1], cs.spare[:n-1]
		} else {
			p.more = &obsRing{}
		}
	}
	if x.before(p.b0) {
		p.more.pushFront(p.b0)
		p.b0 = x
		return
	}
	p.more.insert(x)
}

// pop drops the oldest buffered result; a ring left empty goes back to cs.spare.
func (p *pairState) pop(cs *compState) {
	if p.more == nil {
		p.set(flagBuffered, false)
		return
	}
	p.b0 = p.more.front()
	p.more.pop()
	if p.more.n == 0 {
		cs.spare = append(cs.spare, p.more)
		p.more = nil
	}
}

// lastDecisive is the largest accept or reject send time (noTime: none): the newest buffered
// result's, else the frontier.
func (p *pairState) lastDecisive() int64 {
	if n := p.buffered(); n > 0 {
		return p.bufAt(n - 1).send
	}
	return p.frontier
}

// lastWasReject reports whether the latest decisive probe is a reject; at equal send times an
// accept counts as the later one.
func (p *pairState) lastWasReject() bool {
	n := p.buffered()
	if n == 0 {
		return p.has(flagFoldedReject)
	}
	last := p.bufAt(n - 1).send
	for i := n - 1; i >= 0; i-- {
		e := p.bufAt(i)
		if e.send != last {
			break
		}
		if e.reject() {
			continue
		}
		return false
	}
	return true
}

// NewTracker returns a Tracker for cfg; negative counts are taken as 0.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.TimelineBucket <= 0 {
		cfg.TimelineBucket = DefaultTimelineBucket
	}
	if cfg.TimelineBefore <= 0 {
		cfg.TimelineBefore = DefaultTimelineBefore
	}
	if cfg.CDFPoints <= 0 {
		cfg.CDFPoints = DefaultCDFPoints
	}
	t := &Tracker{
		names:     append([]string(nil), cfg.Components...),
		victims:   max(cfg.Victims, 0),
		controls:  max(cfg.Controls, 0),
		maxLag:    int64(cfg.MaxLag),
		bucket:    int64(cfg.TimelineBucket),
		before:    cfg.TimelineBefore,
		after:     cfg.TimelineAfter,
		cdfPoints: cfg.CDFPoints,
		sample:    cfg.Sample,
		estimate:  cfg.Estimate,
		onPair:    cfg.OnPair,
	}
	t.trigger.Store(endTime)
	t.recallAck = make([]atomic.Int64, t.victims)
	t.recallSnt = make([]atomic.Int64, t.victims)
	for i := range t.recallAck {
		t.recallAck[i].Store(noTime)
		t.recallSnt[i].Store(noTime)
	}
	nTok := t.victims + t.controls
	t.comps = make([]*compState, len(t.names))
	for c := range t.comps {
		cs := &compState{w: noTime, firstFalseReject: endTime, pairs: make([]pairState, nTok)}
		for i := range cs.pairs {
			cs.pairs[i] = pairState{
				firstAccept: endTime, frontier: noTime, foldA: noTime, firstResur: endTime,
			}
		}
		t.comps[c] = cs
	}
	return t
}

// Components returns the number of components.
func (t *Tracker) Components() int { return len(t.names) }

// Victims returns the number of victim credentials (tokens 0..Victims()-1).
func (t *Tracker) Victims() int { return t.victims }

// Controls returns the number of control credentials (tokens Victims()..).
func (t *Tracker) Controls() int { return t.controls }

// SetTrigger records the trigger instant: the end of the baseline, when the recall is sent.
// Only probes sent before it establish a baseline. The first call wins.
func (t *Tracker) SetTrigger(at time.Duration) {
	t.trigger.CompareAndSwap(endTime, int64(at))
}

// Triggered reports whether SetTrigger was called.
func (t *Tracker) Triggered() bool { return t.trigger.Load() != endTime }

// Recalled records that the recall of victim token was sent at sent and acknowledged at acked:
// R(token) = acked. own gives the components that have their own recall instants for it (see
// [OwnRecall]): their pairs of token count from those instead. Call it as the acknowledgement
// arrives (within MaxLag of acked, and of each own Acked). The first call for a token wins;
// calls for non-victims, and own entries naming no component, are counted as invalid.
func (t *Tracker) Recalled(token int, sent, acked time.Duration, own ...OwnRecall) {
	if token < 0 || token >= t.victims {
		t.invalid.Add(1)
		return
	}
	r := int64(acked)
	if r == noTime {
		return
	}
	t.recallMu.Lock()
	defer t.recallMu.Unlock()
	if t.recallAck[token].Load() != noTime {
		return
	}
	// The components' own instants first: a result folded from now on sees its R at once.
	for _, o := range own {
		if o.Component < 0 || o.Component >= len(t.comps) || int64(o.Acked) == noTime {
			t.invalid.Add(1)
			continue
		}
		cs := t.comps[o.Component]
		cs.mu.Lock()
		if cs.own == nil {
			cs.own = make([]ownRecall, t.victims)
			for i := range cs.own {
				cs.own[i].acked = noTime
			}
		}
		if cs.own[token].acked == noTime {
			cs.own[token] = ownRecall{sent: int64(o.Sent), delivered: int64(o.Delivered), acked: int64(o.Acked)}
		}
		cs.mu.Unlock()
	}
	t.recallSnt[token].Store(int64(sent))
	t.recallAck[token].Store(r)
	// Results sent after R that were already folded were folded without R: flag the pair.
	for _, cs := range t.comps {
		cs.mu.Lock()
		p := &cs.pairs[token]
		if p.frontier > t.recallOf(cs, token) {
			p.set(flagLate, true)
			cs.lateRecalls++
		}
		cs.mu.Unlock()
	}
}

// Observe records one probe result. It is safe for concurrent use and cheap (one lock per
// component, no allocation in the steady state). Results with an unknown component, token or
// outcome are counted as invalid and ignored.
func (t *Tracker) Observe(o Observation) {
	nTok := t.victims + t.controls
	if o.Component < 0 || o.Component >= len(t.comps) || o.Token < 0 || o.Token >= nTok ||
		o.Outcome < Accept || o.Outcome > Error {
		t.invalid.Add(1)
		return
	}
	s, lat := int64(o.Sent), max(int64(o.Latency), 0)
	victim := o.Token < t.victims
	cs := t.comps[o.Component]

	cs.mu.Lock()
	defer cs.mu.Unlock()
	p := &cs.pairs[o.Token]
	cs.probes++
	cs.lat.add(lat)
	if s > cs.w {
		cs.w = s
	}
	switch o.Outcome {
	case Accept:
		cs.accepts++
		p.accepts++
		p.firstAccept = min(p.firstAccept, s)
	case Reject:
		cs.rejects++
		p.rejects++
		if !victim {
			cs.falseRejects++
			cs.firstFalseReject = min(cs.firstFalseReject, s)
		}
	case Error:
		cs.errors++
		p.errors++
		return // errors touch nothing else
	}
	if !victim {
		return
	}
	r := t.recallOf(cs, o.Token)
	e := newObsEntry(s, lat, o.Outcome)
	key := p.snapKey()
	if s <= p.frontier {
		// Late: a later-sent result of this pair is already folded (MaxLag was exceeded).
		cs.late++
		p.set(flagLate, true)
		p.fold(e, r)
	} else {
		p.insert(e, cs)
	}
	if cs.w >= math.MinInt64+t.maxLag { // no overflow
		p.foldBefore(cs.w-t.maxLag, r, cs)
	}
	t.snapshot(o.Component, o.Token, p, key, false)
}

// snapKey is what of a pair's folded state makes an OnPair snapshot when it changes.
type snapKey struct {
	folded, hasK, stale, resurrect bool
	kSend, kLat                    int64
}

func (p *pairState) snapKey() snapKey {
	return snapKey{folded: p.frontier != noTime, hasK: p.has(flagHasK), stale: p.stale > 0, resurrect: p.resurrect > 0,
		kSend: p.kSend, kLat: p.kLat}
}

// snapshot calls OnPair when the pair's snapKey changed since before, or (final) when anything
// was folded since the last call. The caller holds the component's lock.
func (t *Tracker) snapshot(c, tok int, p *pairState, before snapKey, final bool) {
	if t.onPair == nil {
		return
	}
	if p.snapKey() == before && !(final && p.has(flagDirty)) {
		return
	}
	p.set(flagDirty, false)
	t.onPair(PairSnapshot{C: c, Token: tok, Accepts: p.accepts, Rejects: p.rejects, Errors: p.errors,
		FirstAccept: p.firstAccept, LastAccept: p.foldA, LastDecisive: p.frontier,
		HasK: p.has(flagHasK), KSend: p.kSend, KLat: p.kLat, HasD: p.has(flagHasD), D: p.d,
		Stale: p.stale, Resurrect: p.resurrect, FirstResur: p.firstResur, Late: p.has(flagLate)})
}

// Restore sets a victim pair to a snapshot taken by OnPair, as if its results had been folded:
// how internal/journal rebuilds a measurement. Call Recalled and SetTrigger as the journal has
// them, Restore each pair's last snapshot and RestoreCounters, then Finalize. Out-of-range
// snapshots are ignored.
func (t *Tracker) Restore(s PairSnapshot) {
	if s.C < 0 || s.C >= len(t.comps) || s.Token < 0 || s.Token >= t.victims {
		return
	}
	cs := t.comps[s.C]
	cs.mu.Lock()
	defer cs.mu.Unlock()
	p := &cs.pairs[s.Token]
	if p.more != nil {
		cs.spare = append(cs.spare, p.more)
		p.more.head, p.more.n = 0, 0
	}
	*p = pairState{accepts: s.Accepts, rejects: s.Rejects, errors: s.Errors,
		firstAccept: s.FirstAccept, frontier: s.LastDecisive, foldA: s.LastAccept,
		kSend: s.KSend, kLat: s.KLat, d: s.D,
		stale: s.Stale, resurrect: s.Resurrect, firstResur: s.FirstResur}
	p.set(flagHasK, s.HasK)
	p.set(flagHasD, s.HasD)
	p.set(flagLate, s.Late)
}

// Counters returns the running per-component counts (for a journal).
func (t *Tracker) Counters() Counters {
	out := Counters{Invalid: t.invalid.Load(), Components: make([]ComponentCounters, len(t.comps))}
	for c, cs := range t.comps {
		cs.mu.Lock()
		cc := ComponentCounters{Probes: cs.probes, Accepts: cs.accepts, Rejects: cs.rejects, Errors: cs.errors,
			FalseRejects: cs.falseRejects, FirstFalseReject: cs.firstFalseReject, Late: cs.late, LateRecalls: cs.lateRecalls}
		if cs.falseRejects > 0 {
			for tok := t.victims; tok < t.victims+t.controls; tok++ {
				if cs.pairs[tok].rejects > 0 {
					cc.FalseRejectTokens = append(cc.FalseRejectTokens, tok)
				}
			}
		}
		cs.mu.Unlock()
		out.Probes += cc.Probes
		out.Components[c] = cc
	}
	return out
}

// RestoreCounters sets the per-component counts from a Counters snapshot.
func (t *Tracker) RestoreCounters(k Counters) {
	t.invalid.Store(k.Invalid)
	for c, cc := range k.Components {
		if c >= len(t.comps) {
			break
		}
		cs := t.comps[c]
		cs.mu.Lock()
		cs.probes, cs.accepts, cs.rejects, cs.errors = cc.Probes, cc.Accepts, cc.Rejects, cc.Errors
		cs.falseRejects, cs.firstFalseReject, cs.late, cs.lateRecalls = cc.FalseRejects, cc.FirstFalseReject, cc.Late, cc.LateRecalls
		for _, tok := range cc.FalseRejectTokens {
			if tok >= t.victims && tok < t.victims+t.controls && cs.pairs[tok].rejects == 0 {
				cs.pairs[tok].rejects = 1
			}
		}
		cs.mu.Unlock()
	}
}

// fold applies one result, in send order, to the pair's ordered state; r is R(t) or noTime.
func (p *pairState) fold(e obsEntry, r int64) {
	send := e.send
	// The latest decisive probe; at equal send times an accept counts as the later one.
	switch {
	case send > p.frontier:
		p.set(flagFoldedReject, e.reject())
	case send == p.frontier && !e.reject():
		p.set(flagFoldedReject, false)
	}
	if !e.reject() {
		if r != noTime && send > r {
			p.stale++
		}
		if p.has(flagHasD) && send > p.d {
			p.resurrect++
			p.firstResur = min(p.firstResur, send)
		}
		p.foldA = max(p.foldA, send)
		// In order, k was sent no later than this accept: forget it. (A late accept: if k is
		// still after A it stays; if not, its exact successor may already be folded and lost,
		// and the next reject folded takes its place; see the contracts on Tracker.)
		if p.has(flagHasK) && p.kSend <= p.foldA {
			p.set(flagHasK, false)
		}
	} else {
		lat := e.lat()
		if send > p.foldA && (!p.has(flagHasK) || send < p.kSend || (send == p.kSend && lat < p.kLat)) {
			p.set(flagHasK, true)
			p.kSend, p.kLat = send, lat
		}
		if r != noTime && send > r {
			if done := send + lat; !p.has(flagHasD) || done < p.d {
				p.set(flagHasD, true)
				p.d = done
			}
		}
	}
	p.frontier = max(p.frontier, send)
	p.set(flagDirty, true)
}

// foldBefore folds, oldest first, every buffered result sent before limit.
func (p *pairState) foldBefore(limit, r int64, cs *compState) {
	for p.has(flagBuffered) {
		e := p.b0
		if e.send >= limit {
			return
		}
		p.pop(cs)
		p.fold(e, r)
	}
}

// PairState is the state of a (component, credential) pair: tentative while the drill runs
// ([Tracker.State]), final in a [Measurement].
type PairState uint8

// Pair states.
const (
	// PairPending: no baseline accept seen yet, and one may still come (tentative only).
	PairPending PairState = iota
	// PairNeverAccepted: no probe sent before the trigger was accepted; measures nothing.
	PairNeverAccepted
	// PairNotRecalled: baseline accepted, recall not (yet) acknowledged.
	PairNotRecalled
	// PairNotConverged: recalled; not (yet) rejecting for good.
	PairNotConverged
	// PairConverged: recalled and converged (tentatively: the latest decisive probe is a reject
	// sent after R).
	PairConverged
	// PairControl: a control credential.
	PairControl
	// PairUnsampled: a victim recalled but not in the component's sample; never probed there.
	PairUnsampled
)

// String names the state.
func (s PairState) String() string {
	switch s {
	case PairPending:
		return "pending"
	case PairNeverAccepted:
		return "never_accepted"
	case PairNotRecalled:
		return "not_recalled"
	case PairNotConverged:
		return "not_converged"
	case PairConverged:
		return "converged"
	case PairControl:
		return "control"
	case PairUnsampled:
		return "unsampled"
	}
	return fmt.Sprintf("pair_state(%d)", uint8(s))
}

// State returns the tentative state of pair (component, token) from the results seen so far:
// the scheduler's view. A pair is tentatively converged when its token is recalled and its
// latest decisive probe (by send time) is a reject sent after R; results still in flight may
// change that. Out-of-range arguments give PairNeverAccepted.
func (t *Tracker) State(component, token int) PairState {
	if component < 0 || component >= len(t.comps) || token < 0 || token >= t.victims+t.controls {
		return PairNeverAccepted
	}
	if token >= t.victims {
		return PairControl
	}
	if !t.sample.Has(component, token) {
		return PairUnsampled
	}
	trig := t.trigger.Load()
	cs := t.comps[component]
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return t.stateLocked(cs, &cs.pairs[token], trig, t.recallOf(cs, token))
}

func (t *Tracker) stateLocked(cs *compState, p *pairState, trig, r int64) PairState {
	if p.firstAccept >= trig {
		// Every result of a probe sent before the trigger has arrived once the watermark is
		// MaxLag past it.
		if trig != endTime && cs.w >= math.MinInt64+t.maxLag && cs.w-t.maxLag > trig {
			return PairNeverAccepted
		}
		return PairPending
	}
	switch {
	case r == noTime:
		return PairNotRecalled
	case p.lastWasReject() && p.lastDecisive() > r:
		return PairConverged
	}
	return PairNotConverged
}

// Progress is a live snapshot of the measurement. Counts are exact; convergence is tentative
// and stale accepts and resurrections lag by up to MaxLag (they come from the ordered fold).
type Progress struct {
	Components []ComponentProgress
	// Invalid counts observations and recalls with an unknown component, token or outcome.
	Invalid int64
}

// ComponentProgress is one component's live figures.
type ComponentProgress struct {
	Name                             string
	Probes, Accepts, Rejects, Errors int64
	FalseRejects                     int64
	// Recalled counts baseline-accepted pairs whose recall is acknowledged; Unconverged those
	// of them not (tentatively) converged.
	Recalled, Unconverged int
	StaleAccepts          int64
	Resurrections         int64
}

// Progress returns live figures. It walks every pair (O(pairs)): call it about once a second.
func (t *Tracker) Progress() Progress {
	pr := Progress{Components: make([]ComponentProgress, len(t.comps)), Invalid: t.invalid.Load()}
	trig := t.trigger.Load()
	for c, cs := range t.comps {
		cs.mu.Lock()
		cp := ComponentProgress{Name: t.names[c], Probes: cs.probes, Accepts: cs.accepts,
			Rejects: cs.rejects, Errors: cs.errors, FalseRejects: cs.falseRejects}
		for tok := 0; tok < t.victims; tok++ {
			p := &cs.pairs[tok]
			switch t.stateLocked(cs, p, trig, t.recallOf(cs, tok)) {
			case PairNotConverged:
				cp.Recalled++
				cp.Unconverged++
			case PairConverged:
				cp.Recalled++
			default:
				continue
			}
			cp.StaleAccepts += int64(p.stale)
			cp.Resurrections += int64(p.resurrect)
		}
		cs.mu.Unlock()
		pr.Components[c] = cp
	}
	return pr
}

// BaselineProgress is, for one component, how many of its probed victim pairs have been seen
// accepted.
type BaselineProgress struct {
	Name            string
	Pairs, Accepted int
}

// Baseline returns, per component, how many probed victim pairs have an accept (O(pairs): call
// it a few times a second at most).
func (t *Tracker) Baseline() []BaselineProgress {
	out := make([]BaselineProgress, len(t.comps))
	for c, cs := range t.comps {
		b := BaselineProgress{Name: t.names[c]}
		cs.mu.Lock()
		for tok := 0; tok < t.victims; tok++ {
			if !t.sample.Has(c, tok) {
				continue
			}
			b.Pairs++
			if cs.pairs[tok].firstAccept != endTime {
				b.Accepted++
			}
		}
		cs.mu.Unlock()
		out[c] = b
	}
	return out
}

// PairResult is the final measurement of one (component, victim) pair. Absolute instants are
// offsets from the drill's start.
type PairResult struct {
	Component, Token int
	State            PairState
	// Recalled is R(t), the acknowledged recall instant (zero unless the recall was
	// acknowledged); RecallSent when the recall request was sent. Both are the component's own
	// when it has an [OwnRecall] for the victim.
	Recalled, RecallSent time.Duration
	// Lower is A, the send time of the last accept: the bracket's lower end. Set for every
	// baseline-accepted pair.
	Lower time.Duration
	// Upper is s_k+lat_k, the converging reject's send time plus latency: the bracket's upper
	// end. Set only when State is PairConverged.
	Upper time.Duration
	// StaleAccepts counts accepts sent after R(t); Resurrections accepts sent after a
	// post-recall reject had come back, the first of them sent at FirstResurrection.
	StaleAccepts, Resurrections int
	FirstResurrection           time.Duration
	Probes, Accepts, Rejects    int
	Errors                      int
	// Inexact is true when a contract was broken for this pair (a result arrived more than
	// MaxLag late, or its recall was registered more than MaxLag after R): its stale-accept and
	// resurrection counts may be low and its upper bound high.
	Inexact bool
}

// TTC returns the bracket relative to R(t): lower = A−R (may be negative), upper = s_k+lat_k−R
// clamped at 0. Meaningful for converged pairs (lower also for not converged ones: the
// credential was still honoured at least that long).
func (p PairResult) TTC() (lower, upper time.Duration) {
	return p.Lower - p.Recalled, max(p.Upper-p.Recalled, 0)
}

// Resolution returns the bracket's width, Upper−Lower (converged pairs).
func (p PairResult) Resolution() time.Duration { return p.Upper - p.Lower }

// Measured reports whether the pair measures something: baseline accepted and recalled.
func (p PairResult) Measured() bool {
	return p.State == PairConverged || p.State == PairNotConverged
}

// ComponentMeasurement is one component's final figures.
type ComponentMeasurement struct {
	Name string
	// Summary holds the report figures. Resurrections counts pairs with at least one
	// resurrection (ResurrectionProbes the probes); FalseRejects counts probes (FalseRejectPairs
	// the pairs); Errors, Probes, Accepts and Rejects count every probe of the component;
	// NeverAccepted counts pairs; FailOpen is left to the engine (it needs fault windows).
	// StaleWindowMS is the largest converged TTC upper bound. ProbeLatencyMS covers every
	// probe, errors included, from a histogram (see histogram: values at most 0.79 % high).
	Summary report.Summary
	// ResurrectionProbes counts resurrected accepts; FirstResurrection is the earliest one's
	// send time (valid when Summary.Resurrections > 0).
	ResurrectionProbes int
	FirstResurrection  time.Duration
	// FalseRejectPairs counts control pairs rejected at least once; FirstFalseReject is the
	// earliest false reject's send time (valid when Summary.FalseRejects > 0), and
	// FalseRejectTokens lists the rejected controls' token ids.
	FalseRejectPairs  int
	FirstFalseReject  time.Duration
	FalseRejectTokens []int
	// StalePairs counts measured pairs with at least one stale accept.
	StalePairs int
	// Pairs holds every (component, victim) pair, by token.
	Pairs []PairResult
	// Late counts results that arrived after a later-sent result of their pair had been
	// folded; LateRecalls pairs whose recall was registered after results sent after R had
	// been folded. Both should be 0; see [Tracker].
	Late, LateRecalls int
	// Estimate is the estimated TTC distribution from the measured pairs' brackets (nil when
	// none was measured or the estimate is off); Summary.TTCEstimate is its report form.
	Estimate *estimate.Distribution
	// Delivery splits the TTC of a component with own recall instants (see [OwnRecall]) at the
	// delivery: nil for the others. Its Stream and Method are left to the caller.
	Delivery *report.Delivery

	lat histogram
}

// Measurement is the final result of a [Tracker]. It implements the Env (Summary) and
// Quantiles (TTCQuantile) capabilities of package expect.
type Measurement struct {
	// End is the end of the observation window, as given to Finalize.
	End time.Duration
	// Trigger is SetTrigger's instant (valid when Triggered).
	Trigger   time.Duration
	Triggered bool
	// Recalled counts acknowledged victims; FirstAck and LastAck bound their R (valid when
	// Recalled > 0).
	Recalled          int
	FirstAck, LastAck time.Duration
	// NeverAcceptedVictims counts victims with at least one never-accepted pair.
	NeverAcceptedVictims int
	Components           []ComponentMeasurement
	// Overall aggregates every component: TTC over all measured pairs, counts summed, probe
	// latency over all probes.
	Overall report.Summary
	// Timeline is, per component, the share of recalled credentials still honoured over time
	// (see timelineSeries); CDF the distribution of TTC upper bounds (see cdfPoints).
	Timeline []report.Series
	CDF      []report.Series
	// TimelineLower and CDFLower are the same read from the brackets' lower ends (see
	// timelineLowerSeries, cdfLowerPoints): the truth lies between the two readings.
	TimelineLower []report.Series
	CDFLower      []report.Series
	// Late, LateRecalls: sums over components; Invalid counts ignored observations and recalls.
	Late, LateRecalls int
	Invalid           int
	// Estimate is the estimated TTC distribution over the pairs of every component pooled
	// (Overall.TTCEstimate is its report form); nil when nothing was measured or it is off.
	Estimate *estimate.Distribution
}

// Finalize folds every buffered result and returns the measurement, end being the end of the
// observation window. Call it after the last Observe; calling it again recomputes from the
// same state (results observed in between count as late).
func (t *Tracker) Finalize(end time.Duration) *Measurement {
	m := &Measurement{End: end, Invalid: int(t.invalid.Load())}
	if trig := t.trigger.Load(); trig != endTime {
		m.Trigger, m.Triggered = time.Duration(trig), true
	}
	trig := t.trigger.Load()
	for tok := 0; tok < t.victims; tok++ {
		if r := t.recallAck[tok].Load(); r != noTime {
			if m.Recalled == 0 || time.Duration(r) < m.FirstAck {
				m.FirstAck = time.Duration(r)
			}
			if m.Recalled == 0 || time.Duration(r) > m.LastAck {
				m.LastAck = time.Duration(r)
			}
			m.Recalled++
		}
	}
	neverVictim := make([]bool, t.victims)
	var all histogram
	n := len(t.comps)
	m.Components = make([]ComponentMeasurement, n)
	// The figures read from the pairs: each component's on its own goroutine as soon as its
	// pairs are final, beside its estimate and the next component's finalizing (they write
	// only their own slots and read what is set above, so the result does not depend on the
	// schedule), each set of values sorted once, the overall ones merged from them.
	vals := make([]ttcValues, n)
	m.Timeline, m.CDF = make([]report.Series, n), make([]report.Series, n)
	m.TimelineLower, m.CDFLower = make([]report.Series, n), make([]report.Series, n)
	var wg sync.WaitGroup
	est := t.startEstimates(n)
	for c, cs := range t.comps {
		cm := t.finalizeComponent(c, cs, trig)
		m.Components[c] = cm
		est.component(c, cm.Pairs)
		wg.Go(func() {
			cm := &m.Components[c]
			v := collectTTC(cm.Pairs)
			slices.Sort(v.ups)
			slices.Sort(v.startUps)
			m.CDF[c] = report.Series{Component: cm.Name, Points: cdfFromSorted(v.ups, v.measured, t.cdfPoints)}
			m.CDFLower[c] = report.Series{Component: cm.Name, Points: cdfFromSorted(v.startUps, v.measured, t.cdfPoints)}
			m.Timeline[c] = t.timelineSeries(c, cm, m)
			m.TimelineLower[c] = t.timelineLowerSeries(c, cm, m)
			cm.Summary.TTCMS = v.stats()
			cm.Summary.StaleWindowMS = cm.Summary.TTCMS.Max
			vals[c] = v
		})
		// From here on, read the local copy: the goroutine writes m.Components[c].
		for _, p := range cm.Pairs {
			if p.State == PairNeverAccepted {
				neverVictim[p.Token] = true
			}
		}
		all.merge(&cm.lat)
		m.Late += cm.Late
		m.LateRecalls += cm.LateRecalls
		s := &m.Overall
		s.Probes += cm.Summary.Probes
		s.Accepts += cm.Summary.Accepts
		s.Rejects += cm.Summary.Rejects
		s.Errors += cm.Summary.Errors
		s.FalseRejects += cm.Summary.FalseRejects
		s.StaleAccepts += cm.Summary.StaleAccepts
		s.Resurrections += cm.Summary.Resurrections
		s.NeverAccepted += cm.Summary.NeverAccepted
		s.Pairs += cm.Summary.Pairs
		s.Converged += cm.Summary.Converged
		s.NotConverged += cm.Summary.NotConverged
	}
	for _, nv := range neverVictim {
		if nv {
			m.NeverAcceptedVictims++
		}
	}
	wg.Wait()
	overall := mergeTTC(vals)
	m.Overall.TTCMS = overall.stats()
	m.Overall.StaleWindowMS = m.Overall.TTCMS.Max
	m.Overall.ProbeLatencyMS = all.stats()
	est.finish(m)
	return m
}

func (t *Tracker) finalizeComponent(c int, cs *compState, trig int64) ComponentMeasurement {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cm := ComponentMeasurement{Name: t.names[c], Pairs: make([]PairResult, t.victims),
		Late: int(cs.late), LateRecalls: int(cs.lateRecalls)}
	s := &cm.Summary
	s.Probes, s.Accepts, s.Rejects, s.Errors = int(cs.probes), int(cs.accepts), int(cs.rejects), int(cs.errors)
	s.FalseRejects = int(cs.falseRejects)
	cm.FirstFalseReject = time.Duration(cs.firstFalseReject)
	firstResur := int64(endTime)
	for tok := 0; tok < t.victims; tok++ {
		p := &cs.pairs[tok]
		r := t.recallOf(cs, tok)
		key := p.snapKey()
		p.foldBefore(endTime, r, cs) // flush: fold everything, in send order
		t.snapshot(c, tok, p, key, true)
		pr := PairResult{Component: c, Token: tok, Probes: int(p.accepts + p.rejects + p.errors),
			Accepts: int(p.accepts), Rejects: int(p.rejects), Errors: int(p.errors), Inexact: p.has(flagLate)}
		if r != noTime {
			pr.Recalled, pr.RecallSent = time.Duration(r), time.Duration(t.recallSnt[tok].Load())
			if cs.own != nil && cs.own[tok].acked != noTime {
				pr.RecallSent = time.Duration(cs.own[tok].sent)
			}
		}
		switch {
		case !t.sample.Has(c, tok) && pr.Probes == 0:
			pr.State = PairUnsampled
		case p.firstAccept >= trig:
			pr.State = PairNeverAccepted
			s.NeverAccepted++
		case r == noTime:
			pr.State = PairNotRecalled
			pr.Lower = time.Duration(p.foldA) // A: everything is folded
		default:
			s.Pairs++
			pr.Lower = time.Duration(p.foldA) // A: everything is folded
			pr.StaleAccepts, pr.Resurrections = int(p.stale), int(p.resurrect)
			if p.has(flagHasK) && p.frontier > r {
				pr.State = PairConverged
				pr.Upper = time.Duration(p.kSend + p.kLat)
				s.Converged++
			} else {
				pr.State = PairNotConverged
				s.NotConverged++
			}
			s.StaleAccepts += pr.StaleAccepts
			if pr.StaleAccepts > 0 {
				cm.StalePairs++
			}
			if pr.Resurrections > 0 {
				pr.FirstResurrection = time.Duration(p.firstResur)
				s.Resurrections++
				cm.ResurrectionProbes += pr.Resurrections
				firstResur = min(firstResur, p.firstResur)
			}
		}
		cm.Pairs[tok] = pr
	}
	if firstResur != endTime {
		cm.FirstResurrection = time.Duration(firstResur)
	}
	for tok := t.victims; tok < t.victims+t.controls; tok++ {
		if cs.pairs[tok].rejects > 0 {
			cm.FalseRejectPairs++
			cm.FalseRejectTokens = append(cm.FalseRejectTokens, tok)
		}
	}
	cm.lat = cs.lat.clone() // Summary.TTCMS: Finalize
	s.ProbeLatencyMS = cm.lat.stats()
	if cs.own != nil {
		cm.Delivery = deliveryStats(cs.own, cm.Pairs)
	}
	return cm
}

// deliveryStats splits a component's TTC at the delivery of its own recalls (own, by victim):
// the delivery latency of every victim with an own recall (sent → delivered, sent →
// acknowledged: exact instants, so resolution 0), and for its converged pairs the bracket's
// upper end counted from the send (TTC from sent) and from the delivery (enforcement), with the
// brackets' widths as resolution. Upper bounds are clamped at 0, like TTC.
func deliveryStats(own []ownRecall, pairs []PairResult) *report.Delivery {
	instant := func(from, at int64) PairResult {
		return PairResult{State: PairConverged, Recalled: time.Duration(from), Lower: time.Duration(at), Upper: time.Duration(at)}
	}
	var delivered, acked, fromSent, enforced []PairResult
	for tok, o := range own {
		if o.acked == noTime {
			continue
		}
		delivered = append(delivered, instant(o.sent, o.delivered))
		acked = append(acked, instant(o.sent, o.acked))
		if tok < len(pairs) && pairs[tok].State == PairConverged {
			p := pairs[tok]
			fromSent = append(fromSent, PairResult{State: PairConverged, Recalled: time.Duration(o.sent), Lower: p.Lower, Upper: p.Upper})
			enforced = append(enforced, PairResult{State: PairConverged, Recalled: time.Duration(o.delivered), Lower: p.Lower, Upper: p.Upper})
		}
	}
	return &report.Delivery{Events: len(delivered), DeliveredMS: ttcStats(delivered), AcknowledgedMS: ttcStats(acked),
		TTCFromSentMS: ttcStats(fromSent), EnforcementMS: ttcStats(enforced)}
}

// Component returns the named component's measurement.
func (m *Measurement) Component(name string) (*ComponentMeasurement, bool) {
	for i := range m.Components {
		if m.Components[i].Name == name {
			return &m.Components[i], true
		}
	}
	return nil, false
}

// Summary returns the named component's figures, or the overall figures for "" (package
// expect's Env).
func (m *Measurement) Summary(component string) (*report.Summary, bool) {
	if component == "" {
		return &m.Overall, true
	}
	if cm, ok := m.Component(component); ok {
		return &cm.Summary, true
	}
	return nil, false
}

// TTCQuantile returns the nearest-rank q-quantile (0 < q ≤ 1) of TTC upper bounds, in
// milliseconds, over every measured pair of component ("" = all components), counting a pair
// that did not converge as +Inf: converged is false (and ms +Inf) when the quantile falls among
// those. ok is false when there is no such component or it has no measured pair. This is
// package expect's Quantiles capability.
func (m *Measurement) TTCQuantile(component string, q float64) (ms float64, converged bool, ok bool) {
	var uppers []float64
	for i := range m.Components {
		cm := &m.Components[i]
		if component != "" && cm.Name != component {
			continue
		}
		ok = true
		for _, p := range cm.Pairs {
			switch p.State {
			case PairConverged:
				_, up := p.TTC()
				uppers = append(uppers, millis(up))
			case PairNotConverged:
				uppers = append(uppers, math.Inf(1))
			}
		}
	}
	if !ok || len(uppers) == 0 {
		return math.NaN(), false, false
	}
	sort.Float64s(uppers)
	v := nearestRank(uppers, q)
	return v, !math.IsInf(v, 1), true
}

// timelineSeries renders component c's timeline: the share of recalled credentials the
// component still honoured, over time around the recall. A measured pair counts as honoured at
// instant x until the upper end of its bracket (s_k+lat_k: from then on it is proven rejected),
// and throughout when it never converged — the same upper-bound reading as TTC. Before its own
// recall every credential is honoured. X is the bucket's end relative to the anchor (the first
// acknowledgement, else the trigger) in ms, every TimelineBucket from anchor−TimelineBefore to
// anchor+TimelineAfter (TimelineAfter 0: until End); Y is the share of measured pairs honoured.
// Per credential rather than per probe: the scheduler spends more probes on pairs not yet
// converged, so a share of probes would overstate what is still honoured.
func (t *Tracker) timelineSeries(c int, cm *ComponentMeasurement, m *Measurement) report.Series {
	ser := report.Series{Component: t.names[c], Points: []report.Point{}}
	var anchor time.Duration
	switch {
	case m.Recalled > 0:
		anchor = m.FirstAck
	case m.Triggered:
		anchor = m.Trigger
	default:
		return ser
	}
	// proven rejected from the upper end; never for not converged pairs
	t.honouredSeries(&ser, cm, m, anchor, func(p *PairResult) time.Duration { return p.Upper })
	return ser
}

// honouredSeries fills ser with the timeline points every TimelineBucket from
// anchor−TimelineBefore (see timelineSeries): at each point x, the share of the measured pairs
// of cm not yet gone, a converged pair being gone from gone(p) on (≤ x) and a not converged one
// never. It counts the pairs per bucket instead of sorting them: the same counts.
func (t *Tracker) honouredSeries(ser *report.Series, cm *ComponentMeasurement, m *Measurement, anchor time.Duration, gone func(*PairResult) time.Duration) {
	measured := 0
	for i := range cm.Pairs {
		if cm.Pairs[i].Measured() {
			measured++
		}
	}
	if measured == 0 {
		return
	}
	from, to := anchor-t.before, m.End
	if t.after > 0 {
		to = anchor + t.after
	}
	bucket := time.Duration(t.bucket)
	first, last := from+bucket, time.Duration(0)
	for x := first; x <= to && len(ser.Points) < maxTimelineBuckets; x += bucket {
		ser.Points = append(ser.Points, report.Point{X: millis(x - anchor)})
		last = x
	}
	if len(ser.Points) == 0 {
		return
	}
	// perPoint[i]: converged pairs gone at point i (first+i·bucket) and not before.
	perPoint := make([]int, len(ser.Points))
	for i := range cm.Pairs {
		p := &cm.Pairs[i]
		if p.State != PairConverged {
			continue
		}
		switch g := gone(p); {
		case g > last:
		case g <= first:
			perPoint[0]++
		default:
			perPoint[(g-first+bucket-1)/bucket]++
		}
	}
	rejected := 0
	for i := range ser.Points {
		rejected += perPoint[i]
		ser.Points[i].Y = float64(measured-rejected) / float64(measured)
	}
}

// cdfPoints renders the distribution of TTC upper bounds of converged pairs: X = upper bound in
// ms, Y = share of measured pairs (converged or not) with an upper bound ≤ X, so the curve
// tops out below 1 when pairs did not converge. At most maxPts points (at evenly spaced
// ranks, nearest-rank) are kept.
func cdfPoints(pairs []PairResult, maxPts int) []report.Point {
	v := collectTTC(pairs)
	slices.Sort(v.ups)
	return cdfFromSorted(v.ups, v.measured, maxPts)
}

// cdfFromSorted is cdfPoints from the converged pairs' values, sorted, and the number of
// measured pairs.
func cdfFromSorted(ups []float64, measured, maxPts int) []report.Point {
	pts := []report.Point{}
	if len(ups) == 0 {
		return pts
	}
	n := float64(measured)
	add := func(rank int) { // rank is 1-based
		x, y := ups[rank-1], float64(rank)/n
		if l := len(pts); l > 0 && pts[l-1].X == x {
			pts[l-1].Y = y
			return
		}
		pts = append(pts, report.Point{X: x, Y: y})
	}
	if len(ups) <= maxPts {
		for i := range ups {
			add(i + 1)
		}
		return pts
	}
	for i := 1; i <= maxPts; i++ {
		add((i*len(ups) + maxPts - 1) / maxPts)
	}
	return pts
}

// obsEntry is one buffered result (16 bytes): its send time, and its latency (≥ 0, so 63 bits)
// with the outcome in the top bit (set: reject; errors are never buffered).
type obsEntry struct {
	send   int64
	latRej uint64
}

const rejectBit = 1 << 63

func newObsEntry(send, lat int64, out Outcome) obsEntry {
	e := obsEntry{send: send, latRej: uint64(lat)}
	if out == Reject {
		e.latRej |= rejectBit
	}
	return e
}

func (e obsEntry) lat() int64   { return int64(e.latRej &^ rejectBit) }
func (e obsEntry) reject() bool { return e.latRej&rejectBit != 0 }

// before orders results by send time. Ties may fold in any order: the fold compares send
// times strictly (a reject sent with an accept is neither k nor a resurrection's cause).
func (e obsEntry) before(f obsEntry) bool { return e.send < f.send }

// obsRing is the overflow of a pair's reorder buffer: a ring kept sorted by send time. Results
// mostly arrive in order, so insertion is an append; an out-of-order one shifts the few entries
// sent after it.
type obsRing struct {
	e       []obsEntry // len is 0 or a power of two
	head, n int
}

func (r *obsRing) at(i int) *obsEntry { return &r.e[(r.head+i)&(len(r.e)-1)] }

func (r *obsRing) grow() {
	if r.n < len(r.e) {
		return
	}
	grown := make([]obsEntry, max(4, 2*len(r.e)))
	for i := 0; i < r.n; i++ {
		grown[i] = *r.at(i)
	}
	r.e, r.head = grown, 0
}

func (r *obsRing) insert(x obsEntry) {
	r.grow()
	i := r.n
	for ; i > 0 && x.before(*r.at(i - 1)); i-- {
		*r.at(i) = *r.at(i - 1)
	}
	*r.at(i) = x
	r.n++
}

// pushFront inserts x before every entry (x is sent no later than any of them).
func (r *obsRing) pushFront(x obsEntry) {
	r.grow()
	r.head = (r.head - 1) & (len(r.e) - 1)
	r.e[r.head] = x
	r.n++
}

func (r *obsRing) front() obsEntry { return *r.at(0) }

func (r *obsRing) pop() {
	r.head = (r.head + 1) & (len(r.e) - 1)
	r.n--
}

// bracketStart is the earliest instant the component can have started enforcing the pair's
// recall: the bracket's lower end A (the last accept), but never before the recall was sent.
func (p PairResult) bracketStart() time.Duration { return max(p.Lower, p.RecallSent) }

// timelineLowerSeries is timelineSeries read from the other end of each bracket: a converged
// pair counts as honoured until the earliest instant it can have been enforced (bracketStart)
// rather than until it was proven rejected. The true share honoured lies between this series
// and timelineSeries at every instant; the views shade the gap (each pair's bracket).
func (t *Tracker) timelineLowerSeries(c int, cm *ComponentMeasurement, m *Measurement) report.Series {
	ser := report.Series{Component: t.names[c], Points: []report.Point{}}
	var anchor time.Duration
	switch {
	case m.Recalled > 0:
		anchor = m.FirstAck
	case m.Triggered:
		anchor = m.Trigger
	default:
		return ser
	}
	// possibly enforcing from the bracket's start
	t.honouredSeries(&ser, cm, m, anchor, func(p *PairResult) time.Duration { return p.bracketStart() })
	return ser
}

// cdfLowerPoints is cdfPoints read from the brackets' lower ends: X = the earliest TTC each
// converged pair can have had (bracketStart − R, clamped at 0), Y = share of measured pairs with
// a lower end ≤ X. The true CDF lies between this curve and cdfPoints'.
func cdfLowerPoints(pairs []PairResult, maxPts int) []report.Point {
	v := collectTTC(pairs)
	slices.Sort(v.startUps)
	return cdfFromSorted(v.startUps, v.measured, maxPts)
}
