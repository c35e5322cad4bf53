package drill

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// TestRefusedForGood: the bracket of the instant a rotated access token was refused for good is
// acceptedForGood with the outcomes swapped, from the baseline's accept when no probe after the
// acknowledgement accepted.
func TestRefusedForGood(t *testing.T) {
	t.Parallel()
	const base = time.Second
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		probes       []freshProbe
		ok           bool
		lower, upper time.Duration
	}{
		{"refused at once: from the baseline's accept", seq(2*base, Reject, Reject), true, base, 2*base + 5*ms},
		{"honoured, then refused", seq(2*base, Accept, Accept, Reject, Reject), true, 2*base + 100*ms, 2*base + 205*ms},
		{"honoured again: the last run of rejects", seq(2*base, Reject, Accept, Reject), true, 2*base + 100*ms, 2*base + 205*ms},
		{"errors say nothing", seq(2*base, Accept, Error, Reject), true, 2 * base, 2*base + 205*ms},
		{"still honoured", seq(2*base, Reject, Accept), false, 0, 0},
		{"never answered", seq(2*base, Error, Error), false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lo, up, ok := forGood(Reject, base, tc.probes)
			if ok != tc.ok || (ok && (lo != tc.lower || up != tc.upper)) {
				t.Errorf("got [%v, %v] ok=%v, want [%v, %v] ok=%v", lo, up, ok, tc.lower, tc.upper, tc.ok)
			}
		})
	}
}

// TestFamilyStats: per component the time from each family's acknowledgement to the upper end
// of its token's bracket; overall the latest component; a token still honoured somewhere counts
// as alive there and overall, and is left out of the figures.
func TestFamilyStats(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	ack := 2 * time.Second
	cred := func(v int, a, b []freshProbe) *familyCred {
		return &familyCred{victim: v, acked: ack, followed: true, base: []time.Duration{time.Second, time.Second}, probes: [][]freshProbe{a, b}}
	}
	f := &familyResult{comps: []string{"push", "poll"}, creds: []*familyCred{
		cred(0, seq(ack, Reject), seq(ack, Accept, Accept, Reject)),                // push ≤ 5 ms, poll ≤ 205 ms
		cred(1, seq(ack, Accept, Reject), seq(ack, Accept, Accept, Accept)),        // push ≤ 105 ms, poll alive
		{victim: 2, base: []time.Duration{0, 0}, probes: [][]freshProbe{nil, nil}}, // baselined, never acknowledged
	}}
	push, alive := f.stats(0)
	if push.Count != 2 || len(alive) != 0 || push.Max != float64(105*ms)/float64(ms) || push.P50 != 5 {
		t.Errorf("push: %+v alive %d; want 2 refused, p50 5 ms, max 105 ms", push, len(alive))
	}
	poll, alive := f.stats(1)
	if poll.Count != 1 || len(alive) != 1 || alive[0].victim != 1 || poll.Max != 205 {
		t.Errorf("poll: %+v alive %v; want 1 refused at 205 ms and victim 1 alive", poll, alive)
	}
	all, alive := f.stats(-1)
	if all.Count != 1 || len(alive) != 1 || all.Max != 205 || all.ResolutionMaxMS != 105 {
		t.Errorf("overall: %+v alive %d; want victim 0 at 205 ms (bracket 105 ms) and victim 1 alive", all, len(alive))
	}
}

// TestFinishFamily: the report gets the figures per component and overall, and one critical
// finding per component that still honoured a rotated access token, which fails the drill.
func TestFinishFamily(t *testing.T) {
	t.Parallel()
	ack := 2 * time.Second
	tok := source.NewSecret("rotated-access-token")
	p := &Plan{}
	d := &drill{plan: p, rep: newReport(p)}
	d.rep.Components = []report.Component{{Name: "push"}, {Name: "poll"}}
	d.family = &familyResult{d: d, comps: []string{"push", "poll"}, client: &http.Client{}, creds: []*familyCred{
		{victim: 0, tok: tok, acked: ack, followed: true, base: []time.Duration{time.Second, time.Second},
			probes: [][]freshProbe{seq(ack, Reject), seq(ack, Accept, Accept)}},
	}}
	d.finishFamily()
	rep := d.rep
	if rep.RotatedAccess == nil || rep.RotatedAccess.Sampled != 1 {
		t.Fatalf("rotated access %+v; want 1 sampled", rep.RotatedAccess)
	}
	if c := rep.Components[0]; c.RotatedAccessMS == nil || c.RotatedAccessMS.Count != 1 || c.RotatedAlive != 0 {
		t.Errorf("push: %+v alive %d; want refused", c.RotatedAccessMS, c.RotatedAlive)
	}
	if c := rep.Components[1]; c.RotatedAlive != 1 {
		t.Errorf("poll: alive %d; want 1", c.RotatedAlive)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "rotated_access_alive" || rep.Findings[0].Component != "poll" ||
		rep.Findings[0].Severity != report.Critical || len(rep.Findings[0].Tokens) != 1 || rep.Findings[0].Tokens[0] != tok.Fingerprint() {
		t.Errorf("findings %+v; want one critical rotated_access_alive at poll naming the token's fingerprint", rep.Findings)
	}
	if rep.Overall.RotatedAlive != 1 {
		t.Errorf("overall alive %d; want 1", rep.Overall.RotatedAlive)
	}
}

// TestProbeFreshBacksOff: a credential that never gets the outcome waited for is probed half as
// often for every Hold, down to every Backoff; without Backoff it would be probed every
// Interval. Only an upper bound on the count is asserted: a loaded machine sends fewer.
func TestProbeFreshBacksOff(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	pr, err := NewProbe("gw", base, "", "", "", nil, "", Match{}, Match{})
	if err != nil {
		t.Fatal(err)
	}
	d := &drill{began: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var cnt atomic.Int64
	cfg := Recovery{Interval: 5 * time.Millisecond, Hold: 100 * time.Millisecond, Recheck: time.Second, Backoff: 80 * time.Millisecond}
	out := d.probeFresh(ctx, srv.Client(), pr, time.Second, cfg, Reject, source.NewSecret("t"), &cnt)
	// Every 5 ms for 100 ms (20), 10 ms (10), 20 ms (5), 40 ms (2.5), then every 80 ms (about 8):
	// about 46 in the second; every 5 ms it would be 200.
	if len(out) < 5 || len(out) > 80 {
		t.Errorf("%d probes in 1s; want between 5 and 80 (backing off from every 5 ms to every 80 ms)", len(out))
	}
	for _, p := range out {
		if p.Outcome != Accept {
			t.Fatalf("probe %+v; want accepted (200)", p)
		}
	}
}
