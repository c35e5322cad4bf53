package truth

import (
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// TestInstances: the instant a restarted component has enforced a recall since, for each way a
// restart can go, against the instants a harness's probes would bracket.
func TestInstances(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	none := fixed{}
	rule := func(ms int) Source { return fixed{at(ms), true} }
	type inst struct {
		src         Source
		ready, kill int // kill < 0: still running
	}
	for _, tc := range []struct {
		name   string
		list   []inst
		want   int
		wantOK bool
	}{
		{"one instance", []inst{{rule(3000), 0, -1}}, 3000, true},
		{"one instance, not enforcing", []inst{{none, 0, -1}}, 0, false},
		// Fresh restart: the new instance synced before it served, so the enforcement the first
		// one began at 3 s never broke (the probes saw no accept after it).
		{"fresh restart", []inst{{rule(3000), 0, 4500}, {rule(4550), 4600, -1}}, 3000, true},
		// Stale restart: the new instance served its stale snapshot, accepting, then resynced.
		{"stale restart", []inst{{rule(3000), 0, 4500}, {rule(6600), 4600, -1}}, 6600, true},
		// Recalled while the first instance was down: the new one enforced from its start, which
		// is after the first instance was killed, whatever its log says (an upstream's instant).
		{"recalled during the restart", []inst{{none, 0, 4500}, {rule(3000), 4600, -1}}, 4500, true},
		{"synced during the restart", []inst{{none, 0, 4500}, {rule(4550), 4600, -1}}, 4550, true},
		// The first instance's record dates after its kill (a cache until): it never enforced.
		{"first enforced only after its kill", []inst{{rule(5000), 0, 4500}, {rule(4550), 4600, -1}}, 4550, true},
		{"recall after the restart", []inst{{none, 0, 4500}, {rule(5000), 4600, -1}}, 5000, true},
		{"last instance not enforcing", []inst{{rule(3000), 0, 4500}, {none, 4600, -1}}, 0, false},
		{"three instances, fresh then fresh", []inst{{rule(3000), 0, 4500}, {rule(4550), 4600, 6000}, {rule(6050), 6100, -1}}, 3000, true},
		{"three instances, stale in the middle", []inst{{rule(3000), 0, 4500}, {rule(5500), 4600, 6000}, {rule(6050), 6100, -1}}, 5500, true},
		{"killed and not restarted", []inst{{rule(3000), 0, 4500}}, 3000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Instances
			for _, in := range tc.list {
				s.Started(in.src, at(in.ready))
				if in.kill >= 0 {
					s.Killed(at(in.kill), nil)
				}
			}
			if s.Len() != len(tc.list) {
				t.Fatalf("Len %d; want %d", s.Len(), len(tc.list))
			}
			got, ok := s.EnforcedSince(revocation.Claims{JTI: "j"})
			if ok != tc.wantOK || (ok && !got.Equal(at(tc.want))) {
				t.Errorf("EnforcedSince = %v, %v; want %d ms, %v", got.Sub(t0), ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestInstancesKilledSnapshot: the source given at the kill answers for the killed instance
// (a container's log cannot be read once it is gone).
func TestInstancesKilledSnapshot(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	var s Instances
	s.Started(fixed{}, t0)
	s.Killed(t0.Add(2*time.Second), fixed{t0.Add(time.Second), true})
	s.Killed(t0.Add(3*time.Second), fixed{}) // already killed: ignored
	s.Started(fixed{t0.Add(2100 * time.Millisecond), true}, t0.Add(2200*time.Millisecond))
	if got, ok := s.EnforcedSince(revocation.Claims{}); !ok || !got.Equal(t0.Add(time.Second)) {
		t.Errorf("EnforcedSince = %v, %v; want 1 s (the snapshot taken at the kill)", got.Sub(t0), ok)
	}
}

// TestInstancesStarts: a stale restart has two starts (the first instance's and the resync); a
// fresh one carries the first instance's on.
func TestInstancesStarts(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var stale, fresh Instances
	stale.Started(fixed{at(3000), true}, at(0))
	stale.Killed(at(4500), nil)
	stale.Started(fixed{at(6600), true}, at(4600))
	fresh.Started(fixed{at(3000), true}, at(0))
	fresh.Killed(at(4500), nil)
	fresh.Started(fixed{at(4550), true}, at(4600))
	if got := stale.Starts(revocation.Claims{}); len(got) != 2 || !got[0].Equal(at(3000)) || !got[1].Equal(at(6600)) {
		t.Errorf("stale starts %v; want 3 s and 6.6 s", got)
	}
	if got := fresh.Starts(revocation.Claims{}); len(got) != 1 || !got[0].Equal(at(3000)) {
		t.Errorf("fresh starts %v; want 3 s only", got)
	}
}
