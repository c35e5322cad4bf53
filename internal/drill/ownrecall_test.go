package drill

import (
	"sync"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/report"
)

// ownRecallEvents is the known-answer drill of TestTrackerOwnRecall. Components: 0 a push
// receiver (its own recall of victim 0: sent 1000, delivered and acknowledged 1010 ms), 1 a
// component without a stream, 2 a poll receiver (sent 1000, fetched 1300, acknowledged 1500
// ms, the last receiver: R(0) = 1500). Victim 1 is recalled without own instants (R = 2000).
func ownRecallEvents() []event {
	evs := []event{trig(100)}
	for c := 0; c < 3; c++ {
		for tok := 0; tok < 2; tok++ {
			evs = append(evs, acc(c, tok, 50, 1))
		}
	}
	return append(evs,
		acc(0, 0, 1005, 1), acc(0, 0, 1015, 1), rej(0, 0, 1020, 2), // stale after its own 1010, before 1500
		acc(1, 0, 1600, 1), rej(1, 0, 1700, 10),
		acc(2, 0, 1400, 1), rej(2, 0, 1450, 5), rej(2, 0, 1550, 5), // enforced before its ack
		acc(0, 1, 1950, 1), rej(0, 1, 2100, 0),
		acc(1, 1, 1950, 1), rej(1, 1, 2100, 0),
		acc(2, 1, 1950, 1), rej(2, 1, 2100, 0),
	)
}

func ownRecallTracker(evs []event) *Tracker {
	tr := NewTracker(TrackerConfig{Components: []string{"push", "service", "poll"}, Victims: 2, Estimate: EstimateConfig{Off: true}})
	recalled := false
	for _, e := range evs {
		if !recalled && e.obs != nil && e.obs.Sent > tms(1000) {
			// Registered as the acknowledgements come (within MaxLag), before the results
			// sent after them have been folded.
			tr.Recalled(0, tms(1000), tms(1500),
				OwnRecall{Component: 0, Sent: tms(1000), Delivered: tms(1010), Acked: tms(1010)},
				OwnRecall{Component: 2, Sent: tms(1000), Delivered: tms(1300), Acked: tms(1500)})
			tr.Recalled(1, tms(1900), tms(2000))
			recalled = true
		}
		apply(tr, []event{e})
	}
	return tr
}

// TestTrackerOwnRecall: a component with its own recall instants counts its pairs from its own
// acknowledgement (TTC, stale accepts, RecallSent), the others from the victim's; victims
// without own instants count from theirs everywhere; only a component with own instants has a
// delivery section, and its figures are the known answers.
func TestTrackerOwnRecall(t *testing.T) {
	t.Parallel()
	m := ownRecallTracker(ownRecallEvents()).Finalize(tms(3000))
	want := map[[2]int]wantPair{
		{0, 0}: {State: PairConverged, LowerMS: 5, UpperMS: 12, ResolutionMS: 7, Stale: 1}, // from its 1010, not 1500
		{1, 0}: {State: PairConverged, LowerMS: 100, UpperMS: 210, ResolutionMS: 110, Stale: 1},
		{2, 0}: {State: PairConverged, LowerMS: -100, UpperMS: 0, ResolutionMS: 55},
		{0, 1}: {State: PairConverged, LowerMS: -50, UpperMS: 100, ResolutionMS: 150},
		{1, 1}: {State: PairConverged, LowerMS: -50, UpperMS: 100, ResolutionMS: 150},
		{2, 1}: {State: PairConverged, LowerMS: -50, UpperMS: 100, ResolutionMS: 150},
	}
	for k, w := range want {
		p := m.Components[k[0]].Pairs[k[1]]
		if g := gotPair(p); g != w {
			t.Errorf("pair %v: %+v, want %+v", k, g, w)
		}
	}
	if p := m.Components[0].Pairs[0]; p.Recalled != tms(1010) || p.RecallSent != tms(1000) {
		t.Errorf("push pair 0: recalled %v sent %v, want its own 1.01s and 1s", p.Recalled, p.RecallSent)
	}
	if p := m.Components[1].Pairs[1]; p.Recalled != tms(2000) || p.RecallSent != tms(1900) {
		t.Errorf("service pair 1: recalled %v sent %v, want the victim's 2s and 1.9s", p.Recalled, p.RecallSent)
	}
	if m.Recalled != 2 || m.FirstAck != tms(1500) || m.LastAck != tms(2000) {
		t.Errorf("recalled %d, acks %v..%v; want 2, the victims' 1.5s..2s", m.Recalled, m.FirstAck, m.LastAck)
	}
	if m.Components[1].Delivery != nil {
		t.Errorf("service: delivery %+v, want none (no own instants)", m.Components[1].Delivery)
	}
	// Victim 0 only: victim 1 had no own instants at the receivers.
	wantDel := map[int]report.Delivery{
		0: {Events: 1,
			DeliveredMS:    report.Stats{Count: 1, P50: 10, P90: 10, P99: 10, Max: 10, LowerP50: 10},
			AcknowledgedMS: report.Stats{Count: 1, P50: 10, P90: 10, P99: 10, Max: 10, LowerP50: 10},
			TTCFromSentMS:  report.Stats{Count: 1, P50: 22, P90: 22, P99: 22, Max: 22, ResolutionMS: 7, ResolutionMaxMS: 7, LowerP50: 15},
			EnforcementMS:  report.Stats{Count: 1, P50: 12, P90: 12, P99: 12, Max: 12, ResolutionMS: 7, ResolutionMaxMS: 7, LowerP50: 5}},
		2: {Events: 1,
			DeliveredMS:    report.Stats{Count: 1, P50: 300, P90: 300, P99: 300, Max: 300, LowerP50: 300},
			AcknowledgedMS: report.Stats{Count: 1, P50: 500, P90: 500, P99: 500, Max: 500, LowerP50: 500},
			TTCFromSentMS:  report.Stats{Count: 1, P50: 455, P90: 455, P99: 455, Max: 455, ResolutionMS: 55, ResolutionMaxMS: 55, LowerP50: 400},
			EnforcementMS:  report.Stats{Count: 1, P50: 155, P90: 155, P99: 155, Max: 155, ResolutionMS: 55, ResolutionMaxMS: 55, LowerP50: 100}},
	}
	for c, w := range wantDel {
		if g := m.Components[c].Delivery; g == nil || *g != w {
			t.Errorf("%s: delivery %+v, want %+v", m.Components[c].Name, g, w)
		}
	}
	if m.Late != 0 || m.LateRecalls != 0 || m.Invalid != 0 {
		t.Errorf("late %d, late recalls %d, invalid %d; want none", m.Late, m.LateRecalls, m.Invalid)
	}
}

// TestTrackerOwnRecallMemory: the own instants are allocated only for components that have
// some; a tracker without them allocates none.
func TestTrackerOwnRecallMemory(t *testing.T) {
	t.Parallel()
	tr := ownRecallTracker(ownRecallEvents())
	for c, wantOwn := range []bool{true, false, true} {
		if got := tr.comps[c].own != nil; got != wantOwn {
			t.Errorf("component %d: own instants allocated %v, want %v", c, got, wantOwn)
		}
	}
	plain := NewTracker(TrackerConfig{Components: []string{"a", "b"}, Victims: 3})
	apply(plain, []event{trig(10), acc(0, 0, 5, 1), recall(0, 20), rej(0, 0, 30, 1)})
	for c, cs := range plain.comps {
		if cs.own != nil {
			t.Errorf("plain component %d: own instants allocated", c)
		}
	}
}

// TestTrackerOwnRecallState: the scheduler's view uses each component's own R: the push
// receiver's reject sent after its own acknowledgement (1010) but before the victim's (1500)
// converges the pair there, while the same reject at a component without own instants does not.
func TestTrackerOwnRecallState(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"push", "service"}, Victims: 1})
	apply(tr, []event{trig(100), acc(0, 0, 50, 1), acc(1, 0, 50, 1)})
	tr.Recalled(0, tms(1000), tms(1500), OwnRecall{Component: 0, Sent: tms(1000), Delivered: tms(1010), Acked: tms(1010)})
	apply(tr, []event{rej(0, 0, 1020, 1), rej(1, 0, 1020, 1)})
	if s := tr.State(0, 0); s != PairConverged {
		t.Errorf("push: %s, want converged (reject after its own acknowledgement)", s)
	}
	if s := tr.State(1, 0); s != PairNotConverged {
		t.Errorf("service: %s, want not_converged (reject before the victim's acknowledgement)", s)
	}
	// The first call wins, own instants included.
	tr.Recalled(0, tms(1), tms(2), OwnRecall{Component: 1, Sent: tms(1), Delivered: tms(1), Acked: tms(2)})
	if tr.comps[1].own != nil {
		t.Error("a second Recalled of the same victim set own instants")
	}
	m := tr.Finalize(tms(3000))
	if p := m.Components[0].Pairs[0]; p.State != PairConverged || p.Recalled != tms(1010) {
		t.Errorf("push: %s from %v, want converged from 1.01s", p.State, p.Recalled)
	}
	if p := m.Components[1].Pairs[0]; p.State != PairNotConverged || p.Recalled != tms(1500) {
		t.Errorf("service: %s from %v, want not converged from 1.5s", p.State, p.Recalled)
	}
}

// TestTrackerOwnRecallLateAndInvalid: own instants naming no component are counted invalid and
// the rest applies; an own R registered after results sent after it were folded marks the pair
// inexact (a late recall), judged against the component's own R, not the victim's.
func TestTrackerOwnRecallLateAndInvalid(t *testing.T) {
	t.Parallel()
	tr := NewTracker(TrackerConfig{Components: []string{"push", "service"}, Victims: 1, MaxLag: tms(10)})
	// Folded up to the watermark 1100 − 10 ms: results sent at 1020 are folded.
	apply(tr, []event{trig(100), acc(0, 0, 50, 1), acc(1, 0, 50, 1), rej(0, 0, 1020, 1), rej(1, 0, 1020, 1),
		acc(0, 0, 1100, 1), acc(1, 0, 1100, 1)})
	tr.Recalled(0, tms(1000), tms(1500),
		OwnRecall{Component: 0, Sent: tms(1000), Delivered: tms(1010), Acked: tms(1010)},
		OwnRecall{Component: 7, Acked: tms(1010)})
	m := tr.Finalize(tms(2000))
	if m.Invalid != 1 {
		t.Errorf("invalid %d, want 1 (own instants of component 7)", m.Invalid)
	}
	if !m.Components[0].Pairs[0].Inexact || m.Components[0].LateRecalls != 1 {
		t.Errorf("push: inexact %v, late recalls %d; want a late recall (folded past its own 1.01s)", m.Components[0].Pairs[0].Inexact, m.Components[0].LateRecalls)
	}
	if m.Components[1].Pairs[0].Inexact || m.Components[1].LateRecalls != 0 {
		t.Error("service: late recall, but nothing past its R (1.5s) was folded")
	}
}

// TestReceiverAcks: each stream's SET gives its receivers (the stream's aud) their instants,
// the method by its short name; a SET without a delivered instant counts as delivered when
// acknowledged; SETs not acknowledged give nothing.
func TestReceiverAcks(t *testing.T) {
	t.Parallel()
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(tms(float64(ms))) }
	streams := []ssf.StreamConfig{
		{ID: "s1", Aud: []string{"edge-push"}, Delivery: &ssf.Delivery{Method: ssf.MethodPush}},
		{ID: "s2", Aud: []string{"edge-poll"}, Delivery: &ssf.Delivery{Method: ssf.MethodPoll}},
		{ID: "s3", Aud: []string{"edge-down"}, Delivery: &ssf.Delivery{Method: ssf.MethodPush}},
	}
	recs := map[string]ssf.Record{
		"j1": {JTI: "j1", Stream: "s1", Method: ssf.MethodPush, Sent: at(10), Delivered: at(12), Acked: at(12), Attempts: 2},
		"j2": {JTI: "j2", Stream: "s2", Sent: at(10), Acked: at(900), Attempts: 1},
		"j3": {JTI: "j3", Stream: "s3", Method: ssf.MethodPush, Sent: at(10), Failed: true},
	}
	got := receiverAcks(recs, []string{"j1", "j2", "j3"}, streams)
	want := []ReceiverAck{
		{Component: "edge-push", Stream: "s1", Method: "push", Sent: at(10), Delivered: at(12), Acked: at(12), Attempts: 2},
		{Component: "edge-poll", Stream: "s2", Method: "poll", Sent: at(10), Delivered: at(900), Acked: at(900), Attempts: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("receivers %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("receiver %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDeliveryNamed: the tracker's figures are kept, the stream and method are the first
// acknowledgement's, and the SETs that took more than one delivery are counted as retried.
func TestDeliveryNamed(t *testing.T) {
	t.Parallel()
	del := &report.Delivery{Events: 3, DeliveredMS: report.Stats{Count: 3, Max: 410}}
	got := deliveryNamed(del, []ReceiverAck{{Stream: "s1", Method: "push", Attempts: 1}, {Stream: "s1", Method: "push", Attempts: 3},
		{Stream: "s1", Method: "push", Attempts: 1}})
	want := report.Delivery{Stream: "s1", Method: "push", Events: 3, Retried: 1, DeliveredMS: report.Stats{Count: 3, Max: 410}}
	if *got != want || del.Stream != "" {
		t.Errorf("deliveryNamed = %+v (input now %+v), want %+v and the input unchanged", *got, *del, want)
	}
}

// TestTrackerOwnRecallConcurrent: Recalled with own instants racing the components' Observe
// calls (within MaxLag, as the contract asks) gives the sequential answer, whatever the
// interleaving (run with -race).
func TestTrackerOwnRecallConcurrent(t *testing.T) {
	t.Parallel()
	want := ownRecallTracker(ownRecallEvents()).Finalize(tms(3000))
	for round := 0; round < 20; round++ {
		tr := NewTracker(TrackerConfig{Components: []string{"push", "service", "poll"}, Victims: 2, Estimate: EstimateConfig{Off: true}})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for c := 0; c < 3; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for _, e := range ownRecallEvents() {
					if e.obs == nil || e.obs.Component == c {
						apply(tr, []event{e})
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tr.Recalled(0, tms(1000), tms(1500),
				OwnRecall{Component: 0, Sent: tms(1000), Delivered: tms(1010), Acked: tms(1010)},
				OwnRecall{Component: 2, Sent: tms(1000), Delivered: tms(1300), Acked: tms(1500)})
			tr.Recalled(1, tms(1900), tms(2000))
		}()
		close(start)
		wg.Wait()
		got := tr.Finalize(tms(3000))
		for c := range want.Components {
			for tok, wp := range want.Components[c].Pairs {
				if gp := got.Components[c].Pairs[tok]; gp != wp {
					t.Fatalf("round %d pair (%d,%d): %+v, want %+v", round, c, tok, gp, wp)
				}
			}
			if w, g := want.Components[c].Delivery, got.Components[c].Delivery; (w == nil) != (g == nil) || (w != nil && *w != *g) {
				t.Fatalf("round %d %s: delivery %+v, want %+v", round, want.Components[c].Name, g, w)
			}
		}
	}
}
