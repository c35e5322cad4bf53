package drill

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/external"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// fakeConfirmer answers per token: inactive, active for ever, or an error.
type fakeConfirmer struct {
	active map[string]bool
	fail   map[string]error
	asked  atomic.Int64
}

func (f *fakeConfirmer) Active(_ context.Context, t *Token) (bool, error) {
	f.asked.Add(1)
	if err := f.fail[t.Access.Reveal()]; err != nil {
		return false, err
	}
	return f.active[t.Access.Reveal()], nil
}

// TestConfirmOutcomes: every acknowledged credential comes out confirmed, ineffective or
// unconfirmable with its reason; none is dropped, and the reason never carries the token.
func TestConfirmOutcomes(t *testing.T) {
	t.Parallel()
	vs := victims(4) // tok-a … tok-d
	fc := &fakeConfirmer{
		active: map[string]bool{"tok-b": true},
		fail:   map[string]error{"tok-c": errors.New(`introspect: 401 Unauthorized: {"error":"invalid_client","token":"tok-c"}`)},
	}
	now := time.Now()
	d := &drill{rep: newReport(&Plan{}), prov: &source.Provider{Confirmer: fc},
		acks: []Ack{{Sent: now, Acked: now}, {Sent: now, Acked: now}, {Sent: now, Acked: now}, {Err: errors.New("not sent")}}}
	d.confirm(context.Background(), vs, 0, 0)
	rc := d.rep.Recall
	if rc.Confirmed != 1 || rc.Ineffective != 1 || rc.Unconfirmable != 1 {
		t.Fatalf("confirmed %d, ineffective %d, unconfirmable %d; want 1, 1, 1", rc.Confirmed, rc.Ineffective, rc.Unconfirmable)
	}
	if len(rc.IneffectiveTokens) != 1 || rc.IneffectiveTokens[0] != vs[1].ID() {
		t.Errorf("ineffective tokens %v, want [%s]", rc.IneffectiveTokens, vs[1].ID())
	}
	if len(rc.UnconfirmableTokens) != 1 || rc.UnconfirmableTokens[0].Token != vs[2].ID() ||
		!strings.Contains(rc.UnconfirmableTokens[0].Reason, "401") || strings.Contains(rc.UnconfirmableTokens[0].Reason, "tok-c") {
		t.Errorf("unconfirmable %+v: want tok-c's fingerprint and the 401, never the token", rc.UnconfirmableTokens)
	}
	var kinds []string
	for _, f := range d.rep.Findings {
		kinds = append(kinds, f.Kind)
		if f.Kind == "unconfirmable_recall" && (f.Count != 1 || !strings.Contains(f.Message, "401")) {
			t.Errorf("finding %+v", f)
		}
	}
	if !strings.Contains(strings.Join(kinds, ","), "unconfirmable_recall") {
		t.Errorf("findings %v: want unconfirmable_recall", kinds)
	}
	// No confirmer at all: every acknowledged credential is unconfirmable, saying why.
	d = &drill{rep: newReport(&Plan{}), prov: &source.Provider{}, acks: []Ack{{Acked: now}, {Acked: now}}}
	d.confirm(context.Background(), victims(2), 0, 0)
	if d.rep.Recall.Unconfirmable != 2 || !strings.Contains(d.rep.Recall.UnconfirmableTokens[0].Reason, "introspection") {
		t.Errorf("no confirmer: %+v", d.rep.Recall)
	}
	_ = report.Critical
}

// TestEndpointPasswordNotReported: a password in a component url's userinfo (from ${VAR}) is not
// written into environment.components[].endpoint.
func TestEndpointPasswordNotReported(t *testing.T) {
	t.Parallel()
	env, err := external.New([]runtime.Spec{{Name: "api", URL: "https://drill:s3cret-pw@api.example.invalid/v1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{Env: env, Components: []Component{{Name: "api", Kind: "service"}}}
	d := &drill{plan: p, rep: newReport(p)}
	if err := d.describeEnv(); err != nil {
		t.Fatal(err)
	}
	if got := d.rep.Environment.Components[0].Endpoint; strings.Contains(got, "s3cret-pw") || !strings.Contains(got, "api.example.invalid") {
		t.Errorf("endpoint %q", got)
	}
}

// pacedConfirmer records when each question was asked and the most questions in flight at once.
type pacedConfirmer struct {
	mu            sync.Mutex
	asked         []time.Time
	inFlight, max int
}

func (f *pacedConfirmer) Active(context.Context, *Token) (bool, error) {
	f.mu.Lock()
	f.asked = append(f.asked, time.Now())
	f.inFlight++
	f.max = max(f.max, f.inFlight)
	f.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // an answer takes a moment, so questions can overlap
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	return false, nil
}

// TestConfirmPaced: paced confirmation asks nothing before its delay, keeps at most
// confirmConcurrency questions in flight and asks no faster than its rate, so that it does not
// take probing's capacity right after a mass acknowledgement; every credential still gets its
// outcome. Only lower bounds on time are asserted: a slow machine makes them hold more easily.
func TestConfirmPaced(t *testing.T) {
	t.Parallel()
	const n, perS, delay = 40, 200.0, 50 * time.Millisecond
	vs := victims(n)
	now := time.Now()
	acks := make([]Ack, n)
	for i := range acks {
		acks[i] = Ack{Sent: now, Acked: now}
	}
	fc := &pacedConfirmer{}
	d := &drill{rep: newReport(&Plan{}), prov: &source.Provider{Confirmer: fc}, acks: acks}
	began := time.Now()
	d.confirm(context.Background(), vs, delay, perS)
	if d.rep.Recall.Confirmed != n {
		t.Fatalf("confirmed %d of %d: %+v", d.rep.Recall.Confirmed, n, d.rep.Recall)
	}
	slices.SortFunc(fc.asked, func(a, b time.Time) int { return a.Compare(b) })
	if first := fc.asked[0].Sub(began); first < delay {
		t.Errorf("first question %v after the call, before the delay %v", first, delay)
	}
	// A token bucket of one at perS: n questions span at least (n-1)/perS (less a little slack
	// for the clock's granularity).
	if span, least := fc.asked[n-1].Sub(fc.asked[0]), time.Duration(float64(n-1)/perS*float64(time.Second)); span < least*9/10 {
		t.Errorf("%d questions within %v: faster than %v/s (want ≥ %v)", n, span, perS, least)
	}
	// At a rate faster than the answers come, the bound on questions in flight holds.
	fc = &pacedConfirmer{}
	d = &drill{rep: newReport(&Plan{}), prov: &source.Provider{Confirmer: fc}, acks: acks}
	d.confirm(context.Background(), vs, 0, 1e5)
	if fc.max > confirmConcurrency || d.rep.Recall.Confirmed != n {
		t.Errorf("%d questions in flight at once, want ≤ %d; confirmed %d of %d", fc.max, confirmConcurrency, d.rep.Recall.Confirmed, n)
	}
}

// TestConfirmPace: the confirmation's rate is a share of the probe rate, at least
// confirmMinRate, and fast enough to ask every credential within half the time left.
func TestConfirmPace(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n    int
		rate float64
		left time.Duration
		want float64
	}{
		{1000, 3000, 20 * time.Second, 300}, // the quickstart: a tenth of the probe rate
		{1000, 100, 20 * time.Second, 100},  // 1000 in half of 20 s
		{10, 50, 20 * time.Second, 20},      // the floor
		{1000, 3000, 2 * time.Second, 1000}, // little time left: faster
		{1000, 3000, -time.Second, 300},     // none left: the share
	} {
		if got := confirmPace(c.n, c.rate, c.left); got != c.want {
			t.Errorf("confirmPace(%d, %v, %v) = %v, want %v", c.n, c.rate, c.left, got, c.want)
		}
	}
}

// slowConfirmer says a credential is active for its first n questions, inactive after: a
// provider that applies revocations asynchronously, counted in questions rather than time so
// that the outcome does not depend on the machine's speed.
type slowConfirmer struct {
	n     int64
	asked atomic.Int64
}

func (f *slowConfirmer) Active(context.Context, *Token) (bool, error) {
	return f.asked.Add(1) <= f.n, nil
}

// TestConfirmWindow: recall.confirm_window bounds how long a credential may stay active after
// its acknowledgement. A provider that takes 3 questions (at least 400 ms apart from the first)
// to apply the revocation is ineffective within a 100 ms window and confirmed within 10 s; a
// plan without a window uses the default.
func TestConfirmWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		window time.Duration
		want   string
	}{{100 * time.Millisecond, Ineffective}, {10 * time.Second, Confirmed}, {0, Confirmed}} {
		now := time.Now()
		fc := &slowConfirmer{n: 3}
		d := &drill{rep: newReport(&Plan{}), plan: &Plan{Recall: Recall{Confirm: true, ConfirmWindow: tc.window}},
			prov: &source.Provider{Confirmer: fc}, acks: []Ack{{Sent: now, Acked: now}}}
		d.confirm(context.Background(), victims(1), 0, 0)
		rc := d.rep.Recall
		got := map[bool]string{true: Confirmed, false: Ineffective}[rc.Confirmed == 1]
		if rc.Confirmed+rc.Ineffective != 1 || got != tc.want {
			t.Errorf("window %s: %+v after %d questions, want %s", tc.window, rc, fc.asked.Load(), tc.want)
		}
		if tc.want == Ineffective && fc.asked.Load() > 3 {
			t.Errorf("window %s: asked %d times, want the verdict before the provider caught up", tc.window, fc.asked.Load())
		}
	}
}
