package truth

import (
	"sync"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// Instances is the ground truth of one component across restarts: one Source per instance (a
// process or a container run), in start order, each with the instant it was ready to serve and
// the instant it was killed. Each restart brings a fresh truth log, so the last instance's log
// alone would date a recall that an earlier instance enforced from the restart on (outside
// what the probes saw); Instances answers for the whole component.
//
// EnforcedSince is the instant from which the component has enforced a recall without a break
// until its last instance, which is what a harness's bracket measures (the last accept before
// the last run of rejects):
//   - an instance that enforced it from before it was ready (it synced before serving) carries
//     on the enforcement of the instance before it, when that one enforced it too; when that
//     one did not, enforcement began between the two, at the earliest when the previous one
//     was killed;
//   - an instance that began enforcing while it served (a stale snapshot resynced later)
//     starts the enforcement anew;
//   - an instance that did not enforce it while it served breaks it.
//
// Instances is safe for concurrent use.
type Instances struct {
	mu   sync.Mutex
	list []instance
}

type instance struct {
	src         Source
	ready, kill time.Time // kill is zero while the instance runs
}

var _ Source = (*Instances)(nil)

// Started adds an instance: src answers for it, and it was ready to serve at ready. An instance
// still running is killed at that instant.
func (s *Instances) Started(src Source, ready time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.list); n > 0 && s.list[n-1].kill.IsZero() {
		s.list[n-1].kill = ready
	}
	s.list = append(s.list, instance{src: src, ready: ready})
}

// Killed records that the running instance stopped serving at at; src, when not nil, replaces
// its source (a snapshot taken just before the kill, for a source that cannot be read after).
func (s *Instances) Killed(at time.Time, src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.list)
	if n == 0 || !s.list[n-1].kill.IsZero() {
		return
	}
	s.list[n-1].kill = at
	if src != nil {
		s.list[n-1].src = src
	}
}

// Len is the number of instances started.
func (s *Instances) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list)
}

// EnforcedSince implements Source (see the type's documentation).
func (s *Instances) EnforcedSince(c revocation.Claims) (time.Time, bool) {
	s.mu.Lock()
	list := append([]instance(nil), s.list...)
	s.mu.Unlock()
	var since time.Time
	found := false
	for i := len(list) - 1; i >= 0; i-- {
		in := list[i]
		at, ok := in.src.EnforcedSince(c)
		if !ok || (!in.kill.IsZero() && !at.Before(in.kill)) {
			break // it did not enforce while it served
		}
		since, found = at, true
		if i == 0 || at.After(in.ready) {
			break // it began enforcing while it served
		}
		// Enforcing from its first request: since the previous instance's kill at the latest
		// if that one did not enforce, since whenever it began if it did.
		if prev := list[i-1].kill; since.Before(prev) {
			since = prev
		}
	}
	return since, found
}

// Starts returns every instant at which an unbroken run of enforcement of a recall began, in
// order: the first instance's, then one per instance that began enforcing anew while it served
// (a stale restart that resynced). A harness that did not probe a credential while a restarted
// instance honoured it again brackets the earlier start; one that saw the resurrection brackets
// the later: both are true.
func (s *Instances) Starts(c revocation.Claims) []time.Time {
	s.mu.Lock()
	list := append([]instance(nil), s.list...)
	s.mu.Unlock()
	var out []time.Time
	running := false // the previous instance enforced until its kill
	for i, in := range list {
		at, ok := in.src.EnforcedSince(c)
		if !ok || (!in.kill.IsZero() && !at.Before(in.kill)) {
			running = false
			continue
		}
		if i > 0 && !at.After(in.ready) {
			if running {
				continue // carried on from the previous instance
			}
			at = maxTime(at, list[i-1].kill)
		}
		out = append(out, at)
		running = true
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
