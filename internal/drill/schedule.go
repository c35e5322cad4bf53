package drill

import (
	"cmp"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sync"
	"time"
)

// Default schedule shares.
const (
	// DefaultControlShare is the default share of post-trigger probes spent on controls.
	DefaultControlShare = 0.10
	// DefaultRecheck is the default share of post-trigger probes spent re-checking pairs that
	// look converged (to catch resurrections).
	DefaultRecheck = 0.10
	// DefaultBaselineRetry is the default share of baseline probes spent on pairs still
	// lacking a baseline accept, once each has been probed once.
	DefaultBaselineRetry = 0.50
)

// ScheduleConfig configures a [Scheduler]. For the shares, zero means the default and a
// negative value means none.
type ScheduleConfig struct {
	// Components, Victims and Controls must match the tracker's; zero takes the tracker's.
	Components, Victims, Controls int
	// ControlShare is the share of probes after the trigger sent to controls, round-robin.
	// Default DefaultControlShare.
	ControlShare float64
	// Recheck is the share of probes after the trigger that re-check pairs that look converged.
	// Default DefaultRecheck. The rest goes to pairs not yet converged. When ControlShare +
	// Recheck exceeds 1 both are scaled down to sum to 1.
	Recheck float64
	// BaselineRetry is, before the trigger and once every victim pair has been probed once,
	// the share of probes that go to pairs still lacking a baseline accept; the rest cycles
	// over every pair, controls included. Default DefaultBaselineRetry.
	BaselineRetry float64
}

// Probe kinds, for ScheduleStats.
const (
	kindBaseline = iota
	kindUnconverged
	kindRecheck
	kindControl
	numKinds
)

// Scheduler decides which (component, credential) pair to probe next. It is pure (no clock,
// no sleeps), safe for concurrent use, and O(1) amortised per Next: every set is a FIFO of pair
// ids and a pair moves between sets only when Next finds, by asking the [Tracker], that its
// state changed.
//
// Policy (docs/measurement.md: resolution as fine as the probe budget allows):
//
//   - Before the trigger (Tracker.Triggered is false): victim pairs lacking a baseline accept
//     first, round-robin, until each was probed once; then a BaselineRetry share keeps going to
//     those still lacking one, and of the rest a ControlShare goes to controls and the remainder
//     cycles over the victim pairs (a fresh permutation each cycle), so that they are revisited
//     before the trigger about as often as after it: the last accept before a recall, the lower
//     end of its bracket, is then recent.
//   - Only the victims in the tracker's Sample are probed at each component (every victim is
//     still recalled); sampling is how a mass recall gets a fine resolution.
//   - After the trigger: a ControlShare of probes to controls round-robin, a Recheck share to
//     pairs that look converged (round-robin, to catch resurrections), and the rest to every
//     other victim pair (round-robin: each gets one probe per cycle, so the resolution is the
//     cycle's length). Pairs of victims whose recall is not yet acknowledged are in that last
//     set (probed as pre-recall: it tightens the bracket's lower end); pairs known never
//     accepted leave the rotation. The rotation starts in the order of the pairs' last probes,
//     so no pair waits more than one cycle across the trigger. The budget follows convergence:
//     a converged pair leaves the rotation, so the components whose pairs have not converged
//     get the probes, and every pair still in it is revisited at the finest interval the
//     budget allows (the rotation's length ÷ its share of the rate).
//   - When a recall is acknowledged (Recalled) the token's pairs are queued for a first probe
//     ahead of the rotation, its components in a random order, so a component that already
//     enforces is caught at once and first-probe offsets spread. When that queue already holds
//     a quarter of the rotation (a batch acknowledgement), the queue is dropped and the whole
//     batch is left to the rotation for a cycle (see Recalled); a queued pair the rotation
//     reached first is not probed again.
//
// Shares are dealt by smooth weighted round-robin (deterministic credits, exact over every
// window of calls), not by random draws. The rng only shuffles the credentials' order once, so
// that probing order is not correlated with token ids (a one-by-one recall in id order would
// otherwise meet probes at a systematic phase). A share whose set is empty passes its turn on.
type Scheduler struct {
	mu  sync.Mutex
	tr  *Tracker
	rng *rand.Rand // seeded; nil: no randomness

	nComp, nVict, nCtrl int

	all       []int32 // every pair, credentials interleaved by component: baseline cycle
	allPos    int
	ctrl      []int32 // control pairs
	ctrlPos   int
	victPairs []int32 // victim pairs, in probing order

	lacking      pairQueue
	lackingPops  int
	lackingFirst int
	baseW        [2]float64
	baseCur      [2]float64

	measuring bool
	unconv    pairQueue
	conv      pairQueue
	urgent    pairQueue
	acked     []int64 // per victim: the call count when Recalled was seen (0: not yet)
	batchLeft int     // rotation turns left to a batch acknowledgement (no first probes queued)
	w         [numKinds]float64
	cur       [numKinds]float64

	calls     int64
	lastVisit []int64 // per victim pair: call number of its last unconverged-kind probe
	lastProbe []int64 // per victim pair: call number of its last probe of any kind

	vcycle    []int32 // victim pairs, reshuffled every cycle before the trigger
	vcyclePos int
	restW     [2]float64 // before the trigger, past the retries: victim pairs, controls
	restCur   [2]float64
	comp      []schedCounts

	// Look-ahead past full components (SetBusy): a pair whose component has its maximum of
	// probes in flight is held back, keeping its turn, and the next pair is taken instead.
	busy      func(component int) bool
	lookAhead int
	turns     []int64 // per component: see Turns
	maxHeld   int
	held      []heldQueue // per component
	nHeld     int
	heldPos   int // the component the next scan of held pairs starts at
}

// heldQueue holds the pairs of one full component that wait for it: the stalest (least
// recently probed) goes first, so that what the component can take goes to the pairs that
// waited longest, whatever the phase of the rotation when a slot freed.
type heldQueue struct {
	ids   []int32
	kinds []uint8
}

func (q *heldQueue) len() int { return len(q.ids) }

// stalest returns the index of the held pair probed longest ago (ties: the first held).
func (q *heldQueue) stalest(lastProbe func(int32) int64) int {
	best := 0
	for i := 1; i < len(q.ids); i++ {
		if lastProbe(q.ids[i]) < lastProbe(q.ids[best]) {
			best = i
		}
	}
	return best
}

// freshest returns the index of the held pair probed most recently.
func (q *heldQueue) freshest(lastProbe func(int32) int64) int {
	best := 0
	for i := 1; i < len(q.ids); i++ {
		if lastProbe(q.ids[i]) > lastProbe(q.ids[best]) {
			best = i
		}
	}
	return best
}

func (q *heldQueue) remove(i int) (int32, int) {
	id, kind := q.ids[i], int(q.kinds[i])
	last := len(q.ids) - 1
	q.ids[i], q.kinds[i] = q.ids[last], q.kinds[last]
	q.ids, q.kinds = q.ids[:last], q.kinds[:last]
	return id, kind
}

type schedCounts struct {
	kinds          [numKinds]int64
	gapSum, gapNum int64
	lostTurns      int64
}

// NewScheduler returns a Scheduler over tr's pairs. rng (may be nil: token order) shuffles the
// credentials once. It panics if cfg's sizes contradict tr's (a programming error).
func NewScheduler(cfg ScheduleConfig, tr *Tracker, rng *rand.Rand) *Scheduler {
	s := &Scheduler{tr: tr, nComp: tr.Components(), nVict: tr.Victims(), nCtrl: tr.Controls()}
	s.turns = make([]int64, s.nComp)
	for _, d := range []struct {
		name      string
		cfg, have int
	}{{"components", cfg.Components, s.nComp}, {"victims", cfg.Victims, s.nVict}, {"controls", cfg.Controls, s.nCtrl}} {
		if d.cfg != 0 && d.cfg != d.have {
			panic(fmt.Sprintf("drill: ScheduleConfig has %d %s, the tracker %d", d.cfg, d.name, d.have))
		}
	}
	ctrlShare, recheck, rest := cfg.shares(s.nCtrl)
	s.w = [numKinds]float64{kindUnconverged: rest, kindRecheck: recheck, kindControl: ctrlShare}
	retry := share(cfg.BaselineRetry, DefaultBaselineRetry)
	s.baseW = [2]float64{retry, 1 - retry}

	nTok := s.nVict + s.nCtrl
	order := make([]int, nTok)
	for i := range order {
		order[i] = i
	}
	if rng != nil {
		rng.Shuffle(nTok, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	s.rng = rng
	nVP := s.nVict * s.nComp
	s.all = make([]int32, 0, nTok*s.nComp)
	s.victPairs = make([]int32, 0, nVP)
	s.ctrl = make([]int32, 0, s.nCtrl*s.nComp)
	comps := make([]int, s.nComp)
	for _, tok := range order {
		// Each credential's components in a random order: where pairs tie (never probed, or
		// the rotation's order at the trigger), no component always comes first.
		for c := range comps {
			comps[c] = c
		}
		if rng != nil {
			rng.Shuffle(len(comps), func(i, j int) { comps[i], comps[j] = comps[j], comps[i] })
		}
		for _, c := range comps {
			id := int32(tok*s.nComp + c)
			if tok < s.nVict && !tr.sample.Has(c, tok) {
				continue // recalled, not probed here
			}
			s.all = append(s.all, id)
			if tok < s.nVict {
				s.victPairs = append(s.victPairs, id)
			} else {
				s.ctrl = append(s.ctrl, id)
			}
		}
	}
	s.lacking = newPairQueue(nVP)
	for _, id := range s.victPairs {
		s.lacking.push(id)
	}
	s.lackingFirst = len(s.victPairs)
	s.unconv, s.conv, s.urgent = newPairQueue(nVP), newPairQueue(nVP), newPairQueue(nVP)
	s.acked = make([]int64, s.nVict)
	s.lastVisit = make([]int64, nVP)
	s.lastProbe = make([]int64, nVP)
	s.vcycle = slices.Clone(s.victPairs)
	s.restW = [2]float64{1 - ctrlShare, ctrlShare}
	if len(s.vcycle) == 0 || len(s.ctrl) == 0 {
		s.restW = [2]float64{1, 0}
	}
	s.comp = make([]schedCounts, s.nComp)
	return s
}

// shares returns the post-trigger shares of controls, re-checks and pairs not yet converged
// (the rest), given the number of controls.
func (cfg ScheduleConfig) shares(controls int) (ctrlShare, recheck, rest float64) {
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

// UnconvergedShare is the share of post-trigger probes that go to victim pairs not yet
// converged, given the number of controls: what sampling for a resolution divides.
func (cfg ScheduleConfig) UnconvergedShare(controls int) float64 {
	_, _, rest := cfg.shares(controls)
	return rest
}

// share maps a configured share: 0 → def, negative → 0, above 1 → 1.
func share(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return min(v, 1)
}

// Next returns the pair to probe next. It returns (-1, -1) only when there is no pair at all
// (no components or no credentials).
func (s *Scheduler) Next() (component, token int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return -1, -1
	}
	s.calls++
	if !s.measuring && s.tr.Triggered() {
		s.startMeasuring()
	}
	id, kind, ok := s.nextHeld()
	if !ok {
		id, kind = s.pick()
		// The turn is the policy's pick's component, whoever gets the probe: a component's
		// asked share of the rate (Turns) stays its share, full or not.
		s.turns[int(id)%s.nComp]++
		// Look ahead past full components, without blocking on them: a pair whose component
		// cannot take a probe now is held (a few per component) and goes first once the
		// component can; when every component is full the last pair picked is handed out (it
		// will not be sent: there is nothing else to do with the turn).
		for try := 0; try < s.lookAhead && s.busy(int(id)%s.nComp); try++ {
			s.hold(id, kind)
			id, kind = s.pickAgain(kind, try)
		}
	}
	component, token = int(id)%s.nComp, int(id)/s.nComp
	cc := &s.comp[component]
	cc.kinds[kind]++
	if kind == kindUnconverged {
		// The gap since the pair's previous probe of any kind: a pair that converges at its
		// first probe after the trigger still has the gap across the trigger.
		if last := s.lastProbe[id]; last > 0 {
			cc.gapSum += s.calls - last
			cc.gapNum++
		}
		s.lastVisit[id] = s.calls
	}
	if int(id) < len(s.lastProbe) {
		s.lastProbe[id] = s.calls
	}
	return component, token
}

// pick is the policy's next pair.
func (s *Scheduler) pick() (int32, int) {
	if s.measuring {
		return s.nextMeasure()
	}
	return s.nextBaseline(), kindBaseline
}

// Turns returns, per component, how many of Next's turns the policy gave it (its first pick of
// the call), whether the probe went to it or, past it while it was full, to another: the
// component's share of the asked rate. A held pair handed out later is not a new turn.
func (s *Scheduler) Turns() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.turns)
}

// pickAgain is the pair to look at after a pick of kind found its component full: first the
// next pair of the same kind (during measurement, for half the look-ahead), so that a full
// component's share of a kind goes to the other components' pairs of that kind — a healthy
// component's pairs not yet converged keep the revisit interval they would have without a
// hanging peer — then the policy's next pair, of whatever kind.
func (s *Scheduler) pickAgain(kind, try int) (int32, int) {
	if s.measuring && kind != kindBaseline && try < s.lookAhead/2 {
		if id, ok := s.take(kind); ok {
			return id, kind
		}
	}
	return s.pick()
}

// SetBusy sets the predicate telling which components cannot take a probe now (they have their
// maximum of probes in flight; load.Isolation.Full). Next then looks ahead past their pairs
// instead of handing out a probe that would not be sent, and holds up to maxHeld of those pairs
// per component, keeping their turn, until their component can take one; past maxHeld the
// freshest loses its turn (it stays in its rotation). A component's bound on probes in flight
// is a good maxHeld: the held pairs are then sent within about one latency of the component.
// Call before the first Next.
func (s *Scheduler) SetBusy(busy func(component int) bool, maxHeld int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = busy
	s.lookAhead = 0
	s.held = nil
	s.maxHeld = min(max(maxHeld, 1), maxHeldCap)
	if busy != nil {
		s.lookAhead = max(2*s.nComp, minLookAhead)
		s.held = make([]heldQueue, s.nComp)
	}
}

// minLookAhead is the fewest pairs Next looks at past full components before it hands out a
// pair that will not be sent. Twice the components was too few: once a healthy component's
// victims converged, the pairs not yet converged were all a hanging one's, and every pick of
// that kind (about 8 in 10 after the trigger) found it full, so its turns were lost, not given
// to the healthy one, which a hanging peer cut from 200 to 137 probes/s (its resolution 1.42x
// that of a drill without the peer). Looking past a full component costs a rotation step.
const minLookAhead = 64

// maxHeldCap bounds SetBusy's maxHeld: holding and choosing among held pairs scans them.
const maxHeldCap = 256

// probedAt is the call number of a victim pair's last probe; a control pair counts as just
// probed (controls yield to victims when a full component's held pairs are chosen).
func (s *Scheduler) probedAt(id int32) int64 {
	if int(id) < len(s.lastProbe) {
		return s.lastProbe[id]
	}
	return math.MaxInt64
}

// hold keeps a pair of a full component for when it can take a probe. Past maxHeld held pairs
// the freshest of them and the new one loses its turn (it stays in its rotation).
func (s *Scheduler) hold(id int32, kind int) {
	c := int(id) % s.nComp
	q := &s.held[c]
	for _, h := range q.ids {
		if h == id {
			return // already waiting (its rotation came round again)
		}
	}
	if q.len() >= s.maxHeld {
		s.comp[c].lostTurns++
		i := q.freshest(s.probedAt)
		if s.probedAt(id) >= s.probedAt(q.ids[i]) {
			return
		}
		q.remove(i)
		s.nHeld--
	}
	q.ids, q.kinds = append(q.ids, id), append(q.kinds, uint8(kind))
	s.nHeld++
}

// nextHeld returns the stalest held pair of a component that can take a probe again, scanning
// the components round-robin from the last one served. A held pair that a state change took out
// of its kind's set meanwhile (an unconverged pair that converged, a pair never accepted) is
// dropped.
func (s *Scheduler) nextHeld() (int32, int, bool) {
	if s.nHeld == 0 {
		return 0, 0, false
	}
	for i := range s.nComp {
		c := (s.heldPos + i) % s.nComp
		q := &s.held[c]
		for q.len() > 0 && !s.busy(c) {
			id, kind := q.remove(q.stalest(s.probedAt))
			s.nHeld--
			if st := s.state(id); st == PairNeverAccepted || (kind == kindUnconverged && st == PairConverged) {
				continue
			}
			s.heldPos = (c + 1) % s.nComp
			return id, kind, true
		}
	}
	return 0, 0, false
}

// Recalled tells the scheduler that token's recall was acknowledged (after Tracker.Recalled):
// its pairs get one probe each ahead of the rotation. Optional; repeated calls are ignored.
func (s *Scheduler) Recalled(token int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < 0 || token >= s.nVict || s.acked[token] != 0 {
		return
	}
	s.acked[token] = s.calls + 1
	// While measuring, a backlog of first probes that reaches a quarter of the rotation is a
	// batch acknowledgement: the whole batch, the pairs already queued included, is left to the
	// rotation for one cycle. The rotation visits pairs in the order of their last probes, so
	// each bracket stays within one revisit interval, and its phase is independent of the
	// acknowledgement, so the offsets spread alike. A queue ahead of it would stall it for as
	// long as the queue takes to drain, and the stalest pairs, waiting behind it, would get the
	// widest brackets: 20 % wider at the median than the revisit interval for a push gateway
	// (TestScheduleBatchAckKeepsRotation).
	if s.measuring && (s.batchLeft > 0 || s.leaveBatchToRotation()) {
		return
	}
	// Every sampled component, in a random order: a credential's first probes after its own
	// acknowledgement then fall at offsets spread over the queue's drain time at every component
	// alike, rather than the first component always first.
	var comps [maxShuffledComponents]int
	cs := comps[:0]
	if s.nComp > maxShuffledComponents {
		cs = make([]int, 0, s.nComp)
	}
	for c := 0; c < s.nComp; c++ {
		if s.tr.sample.Has(c, token) {
			cs = append(cs, c)
		}
	}
	if s.rng != nil {
		s.rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
	}
	for _, c := range cs {
		s.urgent.push(int32(token*s.nComp + c))
	}
}

// maxShuffledComponents is how many components Recalled shuffles without allocating.
const maxShuffledComponents = 16

func (s *Scheduler) state(id int32) PairState {
	return s.tr.State(int(id)%s.nComp, int(id)/s.nComp)
}

// swrr is smooth weighted round-robin: every kind earns its weight, the richest is picked and
// pays the total. Over any window each kind gets its share to within one call per kind.
func swrr(cur, w []float64) int {
	var total float64
	pick := 0
	for i := range w {
		cur[i] += w[i]
		total += w[i]
		if cur[i] > cur[pick] {
			pick = i
		}
	}
	cur[pick] -= total
	return pick
}

func (s *Scheduler) nextBaseline() int32 {
	w := s.baseW
	if s.lackingPops < s.lackingFirst {
		w = [2]float64{1, 0}
	}
	if swrr(s.baseCur[:], w[:]) == 0 {
		for s.lacking.n > 0 {
			id := s.lacking.pop()
			s.lackingPops++
			if s.state(id) == PairPending {
				s.lacking.push(id)
				return id
			}
		}
	}
	return s.nextRest()
}

// nextRest is the baseline past the retries: the control share to controls round-robin, the
// rest to victim pairs, each cycle a fresh permutation. Victim pairs are thus revisited before
// the trigger about as often as after it, so the last accept before a recall — the lower end of
// every bracket — is recent, however many controls there are.
func (s *Scheduler) nextRest() int32 {
	if len(s.vcycle) == 0 || swrr(s.restCur[:], s.restW[:]) == 1 {
		if len(s.ctrl) == 0 {
			return s.nextAll()
		}
		id := s.ctrl[s.ctrlPos]
		s.ctrlPos = (s.ctrlPos + 1) % len(s.ctrl)
		return id
	}
	if s.vcyclePos == 0 && s.rng != nil {
		s.rng.Shuffle(len(s.vcycle), func(i, j int) { s.vcycle[i], s.vcycle[j] = s.vcycle[j], s.vcycle[i] })
	}
	id := s.vcycle[s.vcyclePos]
	s.vcyclePos = (s.vcyclePos + 1) % len(s.vcycle)
	return id
}

// nextAll cycles over every pair. Before the trigger each cycle is a fresh permutation (from the
// seeded rng): a fixed rotation phase-locks the system's own caches to the probe cycle — an
// introspection cache is then refilled every ceil(TTL/cycle) cycles at the same phase for every
// token, so at the trigger every entry is equally close to expiry, a state no real traffic
// produces. Reshuffling keeps each pair at one probe per cycle but moves its phase every cycle,
// which leaves the caches in a realistic spread. O(1) amortised.
func (s *Scheduler) nextAll() int32 {
	if s.allPos == 0 && s.rng != nil && !s.measuring {
		s.rng.Shuffle(len(s.all), func(i, j int) { s.all[i], s.all[j] = s.all[j], s.all[i] })
	}
	id := s.all[s.allPos]
	s.allPos = (s.allPos + 1) % len(s.all)
	return id
}

// startMeasuring sorts every victim pair once into the rotations (O(pairs), once per drill);
// from then on pairs move lazily.
func (s *Scheduler) startMeasuring() {
	s.measuring = true
	s.lacking.reset()
	// Held baseline pairs are dropped: the rotation below starts from every pair's last probe.
	for c := range s.held {
		s.held[c].ids, s.held[c].kinds = s.held[c].ids[:0], s.held[c].kinds[:0]
	}
	s.nHeld = 0
	// The rotation starts in the order of the pairs' last probes, oldest first: it continues
	// the baseline's cycle, so no pair waits more than one revisit interval across the trigger.
	order := slices.Clone(s.victPairs)
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(s.lastProbe[a], s.lastProbe[b]) })
	for _, id := range order {
		switch s.state(id) {
		case PairNeverAccepted:
		case PairConverged:
			s.conv.push(id)
		default:
			s.unconv.push(id)
		}
	}
	clear(s.lastVisit)
	// A batch acknowledged before the first probe after the trigger: as in Recalled.
	s.leaveBatchToRotation()
}

// leaveBatchToRotation says whether the first probes queued make a batch acknowledgement (a
// quarter of the rotation), and if so drops them and leaves the batch to the rotation for one
// cycle (see Recalled).
func (s *Scheduler) leaveBatchToRotation() bool {
	if s.urgent.n < (s.unconv.n+3)/4 {
		return false
	}
	s.urgent.reset()
	s.batchLeft = max(s.unconv.n, 1)
	return true
}

func (s *Scheduler) nextMeasure() (int32, int) {
	pick := swrr(s.cur[:], s.w[:])
	// The picked kind first, then the others; two rounds because a kind can refill another
	// (a recheck that finds a pair no longer converged moves it to the unconverged set).
	for range 2 {
		for _, k := range [...]int{pick, kindUnconverged, kindRecheck, kindControl} {
			if id, ok := s.take(k); ok {
				return id, k
			}
		}
	}
	return s.nextAll(), kindBaseline // every victim pair left the rotation and there are no controls
}

func (s *Scheduler) take(kind int) (int32, bool) {
	switch kind {
	case kindUnconverged:
		for s.urgent.n > 0 {
			id := s.urgent.pop()
			if s.lastProbe[id] >= s.acked[int(id)/s.nComp] {
				continue // the rotation got there first
			}
			if st := s.state(id); st != PairConverged && st != PairNeverAccepted {
				return id, true
			}
		}
		for s.unconv.n > 0 {
			id := s.unconv.pop()
			if s.batchLeft > 0 {
				s.batchLeft--
			}
			switch s.state(id) {
			case PairNeverAccepted: // leaves the rotation
			case PairConverged:
				s.conv.push(id)
			default:
				s.unconv.push(id)
				return id, true
			}
		}
	case kindRecheck:
		for s.conv.n > 0 {
			id := s.conv.pop()
			switch s.state(id) {
			case PairNeverAccepted:
			case PairConverged:
				s.conv.push(id)
				return id, true
			default: // no longer looks converged: back to the rotation
				s.unconv.push(id)
			}
		}
	case kindControl:
		if len(s.ctrl) > 0 {
			id := s.ctrl[s.ctrlPos]
			s.ctrlPos = (s.ctrlPos + 1) % len(s.ctrl)
			return id, true
		}
	}
	return 0, false
}

// ScheduleStats describes what the scheduler handed out.
type ScheduleStats struct {
	// Calls counts Next calls.
	Calls int64
	// Measuring is true once the trigger was seen.
	Measuring bool
	// Unconverged and Converged are the sizes of the two post-trigger rotations (as of the
	// last Next that looked at them).
	Unconverged, Converged int
	// Components holds per-component figures, in tracker order.
	Components []ComponentSchedule
}

// ComponentSchedule is one component's share of the probes.
type ComponentSchedule struct {
	// Probes handed out by kind: baseline (before the trigger), unconverged, recheck, control.
	Baseline, Unconverged, Recheck, Controls int64
	// Revisit is the mean number of Next calls between an unconverged-kind probe of a pair after
	// the trigger and the pair's previous probe of any kind (0 before any): the achieved probe
	// interval of pairs not yet converged, in calls.
	Revisit float64
	// LostTurns counts the pairs that lost their turn because the component had its maximum of
	// probes in flight and as many pairs already held (see SetBusy).
	LostTurns int64
}

// Interval converts Revisit to time at a probe rate of rate Next calls per second: the
// achieved probe interval per unconverged pair, which bounds the measurement's resolution.
func (c ComponentSchedule) Interval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(c.Revisit / rate * float64(time.Second))
}

// Stats returns the scheduler's figures.
func (s *Scheduler) Stats() ScheduleStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ScheduleStats{Calls: s.calls, Measuring: s.measuring, Unconverged: s.unconv.n, Converged: s.conv.n,
		Components: make([]ComponentSchedule, s.nComp)}
	for c, cc := range s.comp {
		cs := ComponentSchedule{Baseline: cc.kinds[kindBaseline], Unconverged: cc.kinds[kindUnconverged],
			Recheck: cc.kinds[kindRecheck], Controls: cc.kinds[kindControl], LostTurns: cc.lostTurns}
		if cc.gapNum > 0 {
			cs.Revisit = float64(cc.gapSum) / float64(cc.gapNum)
		}
		st.Components[c] = cs
	}
	return st
}

// pairQueue is a fixed-capacity FIFO of pair ids (a pair is in a queue at most once, so the
// capacity is the number of victim pairs).
type pairQueue struct {
	ids     []int32
	head, n int
}

func newPairQueue(capacity int) pairQueue { return pairQueue{ids: make([]int32, max(capacity, 1))} }

func (q *pairQueue) push(id int32) {
	q.ids[(q.head+q.n)%len(q.ids)] = id
	q.n++
}

func (q *pairQueue) pop() int32 {
	id := q.ids[q.head]
	q.head = (q.head + 1) % len(q.ids)
	q.n--
	return id
}

func (q *pairQueue) reset() { q.head, q.n = 0, 0 }
