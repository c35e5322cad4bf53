package drill

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/report"
)

// seq builds a probe sequence from outcomes, one probe every 100 ms from start, each taking 5 ms.
func seq(start time.Duration, outs ...Outcome) []freshProbe {
	ps := make([]freshProbe, len(outs))
	for i, o := range outs {
		ps[i] = freshProbe{Sent: start + time.Duration(i)*100*time.Millisecond, Latency: 5 * time.Millisecond, Outcome: o}
	}
	return ps
}

func TestAcceptedForGood(t *testing.T) {
	t.Parallel()
	const issued = time.Second
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		probes       []freshProbe
		ok           bool
		lower, upper time.Duration
	}{
		{"accepted at once", seq(issued, Accept, Accept, Accept), true, issued, issued + 5*ms},
		{"reject then accept", seq(issued, Reject, Reject, Accept, Accept), true, issued + 100*ms, issued + 205*ms},
		{"flapping settles on the last run of accepts", seq(issued, Accept, Reject, Accept, Reject, Accept, Accept), true, issued + 300*ms, issued + 405*ms},
		{"errors say nothing", seq(issued, Reject, Error, Accept, Error, Accept), true, issued, issued + 205*ms},
		{"errors only before the accept: bracket from the issuance", seq(issued, Error, Accept), true, issued, issued + 105*ms},
		{"never accepted", seq(issued, Reject, Reject, Reject), false, 0, 0},
		{"accepted then rejected for good", seq(issued, Accept, Accept, Reject), false, 0, 0},
		{"ends on a reject after flapping", seq(issued, Accept, Reject, Accept, Reject), false, 0, 0},
		{"only errors", seq(issued, Error, Error), false, 0, 0},
		{"no probes", nil, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lo, up, ok := acceptedForGood(issued, tc.probes)
			if ok != tc.ok || (ok && (lo != tc.lower || up != tc.upper)) {
				t.Errorf("got [%v, %v] ok=%v, want [%v, %v] ok=%v", lo, up, ok, tc.lower, tc.upper, tc.ok)
			}
		})
	}
}

// TestRecoveryStats: per component the bracket of each identity, overall the latest component;
// identities that never recovered (or were never re-issued a credential) count apart, and as
// +Inf in quantiles.
func TestRecoveryStats(t *testing.T) {
	t.Parallel()
	const from = 2 * time.Second
	at := from + 100*time.Millisecond
	id := func(reissued bool, perComp ...[]freshProbe) *freshIdentity {
		return &freshIdentity{issued: at, reissued: reissued, probes: perComp}
	}
	r := &recoveryResult{from: from, kind: "user", comps: []string{"push", "poll"}, ids: []*freshIdentity{
		// Accepted at once at both: recovery 100 + 5 ms.
		id(true, seq(at, Accept, Accept), seq(at, Accept, Accept)),
		// Accepted at once at push, after 3 rejects at poll: 100 + 305 ms overall.
		id(true, seq(at, Accept, Accept), seq(at, Reject, Reject, Reject, Accept)),
		// Never recovered at poll.
		id(true, seq(at, Accept), seq(at, Reject, Reject)),
		// Never re-issued.
		id(false, nil, nil),
	}}
	for _, tc := range []struct {
		comp          int
		count, notRec int
		max, res      float64
	}{
		{0, 3, 1, 105, 5},
		{1, 2, 2, 405, 105},
		{-1, 2, 2, 405, 105},
	} {
		st, nr := r.stats(tc.comp)
		if st.Count != tc.count || nr != tc.notRec || st.Max != tc.max || st.ResolutionMaxMS != tc.res {
			t.Errorf("component %d: %+v, not recovered %d; want count %d, not recovered %d, max %.0f, resolution max %.0f",
				tc.comp, st, nr, tc.count, tc.notRec, tc.max, tc.res)
		}
	}
	if v, ok := r.RecoveryQuantile("push", 0.5); !ok || v != 105 {
		t.Errorf("push p50 %v %v, want 105", v, ok)
	}
	if v, ok := r.RecoveryQuantile("", 0.5); !ok || v != 405 {
		t.Errorf("overall p50 %v %v, want 405 (2 of 4 recovered)", v, ok)
	}
	if v, ok := r.RecoveryQuantile("", 0.99); !ok || !math.IsInf(v, 1) {
		t.Errorf("overall p99 %v %v, want +Inf", v, ok)
	}
	if _, ok := r.RecoveryQuantile("nope", 0.5); ok {
		t.Error("a component that was not probed has no recovery time")
	}
	// Expectations see it through the drill's evaluation environment.
	rep := &report.Report{Components: []report.Component{{Name: "push"}, {Name: "poll"}}}
	env := evalEnv{expect.ReportEnv(rep), nil, r}
	if res := expect.MustParse(`recovery_time.p50{component="push"} < 200ms`).Eval(env); !res.Pass {
		t.Errorf("push p50 < 200ms: %+v", res)
	}
	if res := expect.MustParse(`recovery_time.max < 1h`).Eval(env); res.Pass {
		t.Errorf("max < 1h passed with identities never recovered: %+v", res)
	}
	if res := expect.MustParse(`recovery_time.p50 < 2s`).Eval(evalEnv{expect.ReportEnv(rep), nil, nil}); res.Pass {
		t.Errorf("recovery_time passed without a measurement: %+v", res)
	}
}

// TestFinishRecovery: the figures land per component and overall in the report, and identities
// that never recovered (or were never re-issued a credential) give a recovery_failed warning.
func TestFinishRecovery(t *testing.T) {
	t.Parallel()
	const from = time.Second
	at := from + 10*time.Millisecond
	r := &recoveryResult{from: from, kind: "client", comps: []string{"push", "poll"}, ids: []*freshIdentity{
		{issued: at, received: at, reissued: true, probes: [][]freshProbe{seq(at, Accept, Accept), seq(at, Reject, Accept)}},
		{issued: at, received: at, reissued: true, probes: [][]freshProbe{seq(at, Accept), seq(at, Reject, Reject)}},
		{err: context.DeadlineExceeded, probes: [][]freshProbe{nil, nil}},
	}}
	r.probeCnt.Store(7)
	d := &drill{rep: &report.Report{Components: []report.Component{{Name: "issuer"}, {Name: "push", Probed: true}, {Name: "poll", Probed: true}}}, recovery: r}
	d.finishRecovery()
	rep := d.rep
	if rc := rep.Recovery; rc == nil || rc.Identity != "client" || rc.Sampled != 3 || rc.Reissued != 2 || rc.FromMS != 1000 || rc.Probes != 7 || rc.ReissueMS.Max != 10 {
		t.Fatalf("recovery %+v", rep.Recovery)
	}
	if c := rep.Components[0]; c.RecoveryMS != nil || c.NotRecovered != 0 {
		t.Errorf("issuer was not probed, yet has recovery figures %+v", c.RecoveryMS)
	}
	if c := rep.Components[1]; c.RecoveryMS == nil || c.RecoveryMS.Count != 2 || c.NotRecovered != 1 || c.RecoveryMS.Max != 15 {
		t.Errorf("push: %+v not recovered %d; want 2 recovered within 15 ms, 1 not (never re-issued)", c.RecoveryMS, c.NotRecovered)
	}
	if c := rep.Components[2]; c.RecoveryMS == nil || c.RecoveryMS.Count != 1 || c.NotRecovered != 2 || c.RecoveryMS.Max != 115 {
		t.Errorf("poll: %+v not recovered %d; want 1 recovered within 115 ms, 2 not", c.RecoveryMS, c.NotRecovered)
	}
	if o := rep.Overall; o.RecoveryMS == nil || o.RecoveryMS.Count != 1 || o.NotRecovered != 2 || o.RecoveryMS.ResolutionMS != 105 {
		t.Errorf("overall: %+v not recovered %d; want 1 recovered ±105 ms, 2 not", o.RecoveryMS, o.NotRecovered)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "recovery_failed" || rep.Findings[0].Severity != report.Warning || rep.Findings[0].Count != 2 {
		t.Errorf("findings %+v; want one recovery_failed warning for 2 identities", rep.Findings)
	}
	// Without a measurement the report has no recovery section and no finding.
	d = &drill{rep: &report.Report{}}
	d.finishRecovery()
	if d.rep.Recovery != nil || d.rep.Overall.RecoveryMS != nil || len(d.rep.Findings) != 0 {
		t.Errorf("no measurement, yet %+v", d.rep)
	}
}

func TestSampleIdentities(t *testing.T) {
	t.Parallel()
	tok := func(client, user string) *Token {
		return &Token{Client: client, User: user, Access: NewSecret(client + user)}
	}
	victims := []*Token{tok("c1", "u1"), tok("c1", "u2"), tok("c2", "u1"), tok("c2", "u3"), tok("c3", "u4")}
	now := time.Now()
	acks := []Ack{{Acked: now}, {Acked: now}, {Acked: now}, {Acked: now, Err: context.Canceled}, {Acked: now}}
	kind, ids := sampleIdentities(victims, acks, "password", 10)
	if kind != "user" || len(ids) != 3 || ids[0].victim.User != "u1" || ids[1].victim.User != "u2" || ids[2].victim.User != "u4" {
		t.Errorf("password: %s %+v; want users u1, u2, u4 (u3's recall failed)", kind, ids)
	}
	kind, ids = sampleIdentities(victims, acks, "client_credentials", 2)
	if kind != "client" || len(ids) != 2 || ids[0].victim.Client != "c1" || ids[1].victim.Client != "c2" {
		t.Errorf("client_credentials: %s %+v; want clients c1, c2 (sample of 2)", kind, ids)
	}
	// Cookie sessions name a user and no client: their identities are the users, whatever the grant.
	sessions := []*Token{tok("", "u1"), tok("", "u1"), tok("", "u2")}
	kind, ids = sampleIdentities(sessions, acks[:3], "client_credentials", 10)
	if kind != "user" || len(ids) != 2 || ids[0].victim.User != "u1" || ids[1].victim.User != "u2" {
		t.Errorf("sessions: %s %+v; want users u1, u2", kind, ids)
	}
}

// TestDrillRecovery runs short drills on the embedded reference stack and checks that the
// affected identities' fresh credentials are measured as accepted everywhere again: at once after
// revoke-tokens (a fresh jti is valid from birth), within a few seconds after revoke-users (the
// issuer may hold a token request for the recalled subject until the recall's second has passed)
// and after revoke-mfa (the user enrols a new factor first). Bounds are generous: relations, not
// timings.
func TestDrillRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 5 s drills")
	}
	for _, tc := range []struct {
		action string
		pop    func(*Population)
		kind   string
	}{
		{"revoke-tokens", func(p *Population) {}, "client"},
		{"revoke-users", func(p *Population) { p.Grant, p.Users = "password", 6 }, "user"},
		{"revoke-mfa", func(p *Population) { p.Grant, p.Users, p.MFA = "password", 6, true }, "user"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			p := groundTruthPlan(t, time.Second, time.Second)
			// 6 identities split 40:10 between victims and controls: 4 affected ones.
			p.Population = Population{Grant: "client_credentials", Victims: 40, Controls: 10, Clients: 6}
			tc.pop(&p.Population)
			p.Traffic = Traffic{Rate: 300, Duration: 5 * time.Second, Timeout: 2 * time.Second}
			p.Recall.At = 1500 * time.Millisecond
			p.Recall.Kind, p.Recall.Confirm = tc.action, false
			p.Expect = []Expectation{{Text: "recovery_time.p99 < 3s", Expr: expect.MustParse("recovery_time.p99 < 3s"), Severity: report.SeverityFail}}
			var err error
			if p.Recall.Action, err = NewAction(tc.action, ActionParams{}); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), p)
			if err != nil {
				t.Fatalf("drill: %v (%s)", err, rep.Reason)
			}
			rc := rep.Recovery
			if rc == nil || rc.Identity != tc.kind || rc.Sampled != 4 || rc.Reissued != 4 {
				t.Fatalf("recovery %+v: want 4 %ss sampled and re-issued", rc, tc.kind)
			}
			if rc.FromMS < rep.Recall.AcknowledgedAtMS || rc.FromMS > rep.Recall.AcknowledgedAtMS+1 {
				t.Errorf("recovery counts from %.1f ms, want the last acknowledgement %.1f ms", rc.FromMS, rep.Recall.AcknowledgedAtMS)
			}
			o := rep.Overall
			if o.RecoveryMS == nil || o.RecoveryMS.Count != 4 || o.NotRecovered != 0 {
				t.Fatalf("overall recovery %+v, not recovered %d: want all 4 recovered", o.RecoveryMS, o.NotRecovered)
			}
			if o.RecoveryMS.Max >= 3000 {
				t.Errorf("recovery max %.0f ms, want < 3 s", o.RecoveryMS.Max)
			}
			if tc.action == "revoke-tokens" && o.RecoveryMS.Max > rc.ReissueMS.Max+o.RecoveryMS.ResolutionMaxMS+500 {
				t.Errorf("revoke-tokens: recovery max %.0f ms > re-issue %.0f ms + resolution %.0f ms + 500 ms: a fresh jti must be valid at once",
					o.RecoveryMS.Max, rc.ReissueMS.Max, o.RecoveryMS.ResolutionMaxMS)
			}
			// A bracket that starts at the token request means the first probe already accepted.
			if tc.action == "revoke-tokens" && o.RecoveryMS.LowerP50 > rc.ReissueMS.Max {
				t.Errorf("revoke-tokens: recovery brackets start at %.0f ms (median), after the re-issue (%.0f ms): fresh credentials were rejected first",
					o.RecoveryMS.LowerP50, rc.ReissueMS.Max)
			}
			for _, c := range rep.Components {
				if !c.Probed {
					continue
				}
				if c.RecoveryMS == nil || c.RecoveryMS.Count != 4 || c.RecoveryMS.Max > o.RecoveryMS.Max {
					t.Errorf("%s: recovery %+v, want 4 recovered, each no later than overall max %.0f ms", c.Name, c.RecoveryMS, o.RecoveryMS.Max)
				}
			}
			// Probing stops once accepted for good: far fewer probes than the drill could send.
			if limit := 4 * 4 * int(p.Traffic.Duration/DefaultRecoveryInterval); rc.Probes == 0 || rc.Probes >= limit {
				t.Errorf("%d recovery probes, want some and fewer than %d", rc.Probes, limit)
			}
			for _, f := range rep.Findings {
				if f.Kind == "recovery_failed" {
					t.Errorf("finding %+v", f)
				}
			}
			if len(rep.Expectations) != 1 || !rep.Expectations[0].Pass {
				t.Errorf("expectations %+v", rep.Expectations)
			}
			t.Logf("%s: recovery p50 %.0f ms, max %.0f ms ±%.0f ms, re-issue max %.0f ms, %d probes",
				tc.action, o.RecoveryMS.P50, o.RecoveryMS.Max, o.RecoveryMS.ResolutionMaxMS, rc.ReissueMS.Max, rc.Probes)
		})
	}
}

// TestRecoveryOff: a drill told not to measure recovery starts nothing after the recall.
func TestRecoveryOff(t *testing.T) {
	t.Parallel()
	d := &drill{plan: &Plan{Recovery: Recovery{Sample: RecoveryOff}}, acks: []Ack{{Acked: time.Now()}}}
	d.startRecovery(context.Background(), []*Token{{Client: "c1", Access: NewSecret("x")}})
	d.recWG.Wait()
	if d.recovery != nil {
		t.Errorf("recovery measured with Sample = RecoveryOff: %+v", d.recovery)
	}
	if got := (Recovery{}).withDefaults(); got.Sample != DefaultRecoverySample || got.Interval != DefaultRecoveryInterval || got.Hold != DefaultRecoveryHold || got.ReissueFor != DefaultReissueFor {
		t.Errorf("defaults %+v", got)
	}
}

// The recovery measurement starts every fresh credential at once, right after the
// acknowledgement: its client dials a few connections at a time, so that the burst does not
// stall the probes whose brackets are being decided then (at 3,000/s it widened the quickstart's
// edge-push median bracket from 36-38 to 43-54 ms).
func TestRecoveryClientDialsFewAtATime(t *testing.T) {
	var now, most atomic.Int32
	slow := func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		return nil, errors.New("no connection")
	}
	c := recoveryClient(20, slow)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct hosts: the transport dials each on its own.
			_, _ = c.Get(fmt.Sprintf("http://127.0.0.%d:1/", i+1))
		}()
	}
	wg.Wait()
	if m := most.Load(); m > recoveryDials || m == 0 {
		t.Errorf("%d dials at once, want at most %d", m, recoveryDials)
	}
}
