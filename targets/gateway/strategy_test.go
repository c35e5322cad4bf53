package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/recall-drills/recall/targets/revocation"
)

// Tests that bound a propagation time do not call t.Parallel: they run alone in the package, so
// that the -race build on two cores measures the mechanism, not the scheduler.

func TestPushLearnsWithinMilliseconds(t *testing.T) {
	ns := runNATS(t, -1)
	f := newFakeIssuer(t)
	f.connectNATS(ns.ClientURL())
	g, gw := newTestGateway(t, Config{Strategy: Push, IssuerURL: f.URL, NATSURL: ns.ClientURL()})

	victim, control := f.mint(), f.mint(claim("sub", "user-2"), claim("sid", "sess-2"))
	for _, tok := range []string{victim, control} {
		if st := status(t, gw.URL, tok); st != http.StatusOK {
			t.Fatalf("before recall: status %d, want 200", st)
		}
	}
	c := claimsOf(t, victim)
	published, v := f.recall(revocation.Rule{Type: revocation.JTI, Value: c.JTI})
	var rec struct{ at time.Time }
	waitFor(t, 2*time.Second, "rule applied", func() bool {
		r, ok := ruleRecord(g.Truth(), "rc-1")
		rec.at = r.At
		return ok
	})
	if lag := rec.at.Sub(published); lag < 0 || lag >= 100*time.Millisecond {
		t.Errorf("push applied the recall %s after it was published, want within [0, 100ms)", lag)
	}
	if at, ok := g.Truth().EnforcedSince(c); !ok || !at.Equal(rec.at) {
		t.Errorf("EnforcedSince = %v, %v; want %v, true", at, ok, rec.at)
	}
	resp := get(t, gw.URL, "/api/whoami", victim)
	if resp.StatusCode != http.StatusUnauthorized || !isInvalidTokenChallenge(resp.Header.Get("WWW-Authenticate")) {
		t.Errorf("recalled token: status %d, WWW-Authenticate %q; want 401 invalid_token",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if st := status(t, gw.URL, control); st != http.StatusOK {
		t.Errorf("control after recall: status %d, want 200 (false reject)", st)
	}
	// The gauge is set just after the rule is recorded; give it the moment in between.
	waitFor(t, 2*time.Second, "list version metric at "+itoa(v),
		func() bool { return metricValue(g.m.listVersion) == float64(v) })
}

func TestPushResyncsOnVersionGap(t *testing.T) {
	t.Parallel()
	ns := runNATS(t, -1)
	f := newFakeIssuer(t)
	f.connectNATS(ns.ClientURL())
	// A long poll interval: only the gap can make the gateway fetch the list again.
	g, gw := newTestGateway(t, Config{Strategy: Push, IssuerURL: f.URL, NATSURL: ns.ClientURL(), PollInterval: time.Minute})
	lost, seen := f.mint(), f.mint()
	f.noPublish.Store(true)
	f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, lost).JTI}) // version 1: event lost
	f.noPublish.Store(false)
	f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, seen).JTI}) // version 2: gap
	waitFor(t, 3*time.Second, "lost recall applied through resync", func() bool {
		_, ok := ruleRecord(g.Truth(), "rc-1")
		return ok
	})
	for _, tok := range []string{lost, seen} {
		if st := status(t, gw.URL, tok); st != http.StatusUnauthorized {
			t.Errorf("recalled token: status %d, want 401", st)
		}
	}
}

func TestPushResyncsAfterReconnect(t *testing.T) {
	t.Parallel()
	ns := runNATS(t, -1)
	port := natsPort(ns)
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: Push, IssuerURL: f.URL, NATSURL: ns.ClientURL(),
		PollInterval: time.Minute, ReconnectWait: 20 * time.Millisecond})
	p := g.enf.(*push)
	victim := f.mint()

	ns.Shutdown()
	ns.WaitForShutdown()
	waitFor(t, 3*time.Second, "gateway sees NATS down", func() bool { return !p.connected.Load() })
	hitsBefore := f.listHits.Load()
	f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, victim).JTI}) // recalled while the bus is down
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Fatalf("while NATS is down (stale window): status %d, want 200", st)
	}

	runNATS(t, port)
	waitFor(t, 5*time.Second, "rule applied after reconnect", func() bool {
		_, ok := ruleRecord(g.Truth(), "rc-1")
		return ok
	})
	if !p.connected.Load() {
		t.Error("rule applied but gateway not reconnected: it came from elsewhere than the reconnect resync")
	}
	if f.listHits.Load() == hitsBefore {
		t.Error("no list fetch after reconnect")
	}
	if st := status(t, gw.URL, victim); st != http.StatusUnauthorized {
		t.Errorf("after reconnect: status %d, want 401", st)
	}
}

func TestPollLearnsWithinInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: Poll, IssuerURL: f.URL, PollInterval: interval})
	victim := f.mint(claim("sub", "user-9"))
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Fatalf("before recall: status %d", st)
	}
	for i := range 3 {
		// Recall a different user each round, at a different phase of the poll cycle.
		time.Sleep(time.Duration(i) * interval / 3)
		sub := "user-" + string(rune('a'+i))
		recalled, v := f.recall(revocation.Rule{Type: revocation.Subject, Value: sub, IssuedBefore: time.Now().Unix()})
		id := "rc-" + itoa(v)
		var rec time.Time
		waitFor(t, 2*time.Second, "poll applied "+id, func() bool {
			r, ok := ruleRecord(g.Truth(), id)
			rec = r.At
			return ok
		})
		// One interval, plus the fetch itself (allowance for -race on a busy machine).
		if lag := rec.Sub(recalled); lag < 0 || lag > interval+100*time.Millisecond {
			t.Errorf("%s applied %s after the recall, want within the %s interval", id, lag, interval)
		}
	}
	f.recall(revocation.Rule{Type: revocation.Subject, Value: "user-9", IssuedBefore: time.Now().Unix()})
	waitFor(t, 2*time.Second, "victim rejected", func() bool { return status(t, gw.URL, victim) == http.StatusUnauthorized })
	// The rule takes effect before the counter is incremented, so the 401 can come first.
	waitFor(t, 2*time.Second, "fourth recall counted", func() bool { return metricValue(g.m.recallsApplied) >= 4 })
	if got := metricValue(g.m.recallsApplied); got != 4 {
		t.Errorf("recalls applied = %v, want 4", got)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestIntrospectHonoursCacheThenEnforces(t *testing.T) {
	t.Parallel()
	const ttl = 400 * time.Millisecond
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: Introspect, IssuerURL: f.URL, CacheTTL: ttl,
		ClientID: f.introspectID, ClientSecret: f.introspectPW, Truth: f.truth})
	victim := f.mint()
	c := claimsOf(t, victim)
	filled := time.Now()
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Fatalf("before recall: status %d", st)
	}
	recalled, _ := f.recall(revocation.Rule{Type: revocation.JTI, Value: c.JTI})
	// The cached positive answer is still honoured: the stale window is real.
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Errorf("right after the recall, within the cache TTL: status %d, want 200", st)
	}
	var cached time.Time
	for _, r := range g.Truth().Records() {
		if r.Kind == "cache" && r.JTI == c.JTI {
			cached = r.At
		}
	}
	if cached.IsZero() || cached.Before(filled.Add(ttl)) || cached.After(time.Now().Add(ttl)) {
		t.Fatalf("cache record until %v, want about %v", cached, filled.Add(ttl))
	}
	at, ok := g.Truth().EnforcedSince(c)
	if want := maxTime(recalled, cached); !ok || !at.Equal(want) {
		t.Errorf("EnforcedSince = %v, %v; want max(upstream %v, cache %v) = %v", at, ok, recalled, cached, want)
	}
	// The truth instant must lie in the bracket the harness would measure: after the send of the
	// last accepted probe, before the answer to the first rejected one.
	var lastAccepted, rejected time.Time
	waitFor(t, 3*time.Second, "recalled token rejected", func() bool {
		sent := time.Now()
		st := status(t, gw.URL, victim)
		if st == http.StatusOK {
			lastAccepted = sent
			return false
		}
		rejected = time.Now()
		return st == http.StatusUnauthorized
	})
	if !lastAccepted.Before(at) || rejected.Before(at) {
		t.Errorf("truth instant %v outside the measured bracket [%v, %v]", at, lastAccepted, rejected)
	}
	if lag := at.Sub(recalled); lag > ttl {
		t.Errorf("enforced %s after the recall, want within TTL %s", lag, ttl)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func TestIntrospectCoalescesConcurrentCalls(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	g, _ := newTestGateway(t, Config{Strategy: Introspect, IssuerURL: f.URL, ClientID: f.introspectID,
		ClientSecret: f.introspectPW, CacheTTL: time.Minute})
	tok := f.mint()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := g.Check(context.Background(), tok); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.introHits.Load(); n != 1 {
		t.Errorf("introspected %d times for one token, want 1", n)
	}
}

func TestIntrospectWrongClientSecretFails(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	_, gw := newTestGateway(t, Config{Strategy: Introspect, IssuerURL: f.URL, ClientID: f.introspectID,
		ClientSecret: "wrong"})
	if st := status(t, gw.URL, f.mint()); st != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503 (introspection refused, fail closed)", st)
	}
}

func TestJWTOnlyNeverLearns(t *testing.T) {
	t.Parallel()
	ns := runNATS(t, -1)
	f := newFakeIssuer(t)
	f.connectNATS(ns.ClientURL())
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL})
	victim := f.mint()
	c := claimsOf(t, victim)
	f.recall(revocation.Rule{Type: revocation.JTI, Value: c.JTI})
	f.recall(revocation.Rule{Type: revocation.Subject, Value: c.Subject})
	time.Sleep(100 * time.Millisecond)
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Errorf("jwt-only: status %d, want 200 (never learns)", st)
	}
	if _, ok := g.Truth().EnforcedSince(c); ok {
		t.Error("jwt-only truth claims enforcement")
	}
}

func TestFailModes(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Push, Poll, Introspect} {
		for _, mode := range []FailMode{FailClosed, FailOpen} {
			t.Run(string(strategy)+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				f := newFakeIssuer(t)
				cfg := Config{Strategy: strategy, FailMode: mode, IssuerURL: f.URL, PollInterval: 50 * time.Millisecond,
					MaxStaleness: 200 * time.Millisecond, CacheTTL: 50 * time.Millisecond, NegativeCacheTTL: -1,
					ClientID: f.introspectID, ClientSecret: f.introspectPW, ReconnectWait: 20 * time.Millisecond}
				var ns interface{ Shutdown() }
				if strategy == Push {
					s := runNATS(t, -1)
					cfg.NATSURL, ns = s.ClientURL(), s
					f.connectNATS(s.ClientURL())
				}
				g, gw := newTestGateway(t, cfg)
				victim, control := f.mint(), f.mint()
				f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, victim).JTI})
				waitFor(t, 2*time.Second, "victim rejected", func() bool { return status(t, gw.URL, victim) == http.StatusUnauthorized })

				// Cut the revocation source off: bus and list (push, poll), introspection.
				if ns != nil {
					ns.Shutdown()
				}
				f.listDown.Store(true)
				f.introDown.Store(true)
				want := http.StatusServiceUnavailable
				if mode == FailOpen {
					want = http.StatusOK
				}
				var resp *http.Response
				waitFor(t, 3*time.Second, "source considered unreachable", func() bool {
					resp = get(t, gw.URL, "/api/whoami", control)
					resp.Body.Close()
					return resp.StatusCode != http.StatusOK || mode == FailOpen && resp.Header.Get(HeaderFailOpen) == "1"
				})
				if resp.StatusCode != want {
					t.Fatalf("control while the source is down: status %d, want %d", resp.StatusCode, want)
				}
				opened := metricValue(g.m.failOpen)
				switch mode {
				case FailClosed:
					if ra := resp.Header.Get("Retry-After"); ra != "1" {
						t.Errorf("Retry-After = %q, want 1", ra)
					}
					if opened != 0 {
						t.Errorf("fail-open accepts = %v in closed mode", opened)
					}
				case FailOpen:
					if opened == 0 {
						t.Error("gateway_fail_open_accepts_total not counted")
					}
				}
				if strategy != Introspect {
					// Push and poll still hold the rules they had: a known recall stays enforced.
					if st := status(t, gw.URL, victim); st != http.StatusUnauthorized {
						t.Errorf("recalled token while the source is down: status %d, want 401", st)
					}
				}
				if strategy == Poll || strategy == Push {
					h := get(t, gw.URL, "/healthz", "")
					if h.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("/healthz while stale = %d, want 503", h.StatusCode)
					}
				}
				// The list comes back: the gateway recovers without a restart.
				f.listDown.Store(false)
				f.introDown.Store(false)
				waitFor(t, 3*time.Second, "recovery", func() bool {
					r := get(t, gw.URL, "/api/whoami", control)
					r.Body.Close()
					return r.StatusCode == http.StatusOK && r.Header.Get(HeaderFailOpen) == ""
				})
			})
		}
	}
}

func TestRaceConcurrentRequestsDuringRecalls(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Push, Poll, Introspect} {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			f := newFakeIssuer(t)
			cfg := Config{Strategy: strategy, IssuerURL: f.URL, PollInterval: 20 * time.Millisecond, MaxStaleness: 5 * time.Second,
				CacheTTL: 20 * time.Millisecond, ClientID: f.introspectID, ClientSecret: f.introspectPW}
			if strategy == Push {
				ns := runNATS(t, -1)
				cfg.NATSURL = ns.ClientURL()
				f.connectNATS(ns.ClientURL())
			}
			g, _ := newTestGateway(t, cfg)
			h := g.Handler()
			var victims, controls []string
			for i := range 20 {
				victims = append(victims, f.mint(claim("sub", "victim-"+itoa(uint64(i%10)))))
				controls = append(controls, f.mint(claim("sub", "control")))
			}
			// Workers run until every recall is applied at the issuer (bounded in count and time).
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := 0; i < 20000 && ctx.Err() == nil; i++ {
						tok := victims[(i+w)%len(victims)]
						if i%2 == 0 {
							tok = controls[(i+w)%len(controls)]
						}
						rec := serve(h, tok)
						if rec != http.StatusOK && rec != http.StatusUnauthorized {
							t.Errorf("status %d", rec)
							return
						}
					}
				})
			}
			for i := range 10 {
				time.Sleep(5 * time.Millisecond)
				f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, victims[i]).JTI},
					revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, victims[i+10]).JTI})
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
			wg.Wait()
			waitFor(t, 3*time.Second, "every victim rejected", func() bool {
				for _, v := range victims {
					if serve(h, v) != http.StatusUnauthorized {
						return false
					}
				}
				return true
			})
			for _, c := range controls {
				if st := serve(h, c); st != http.StatusOK {
					t.Errorf("control: status %d, want 200", st)
				}
			}
		})
	}
}

// serve runs one request through h in-process.
func serve(h http.Handler, tok string) int {
	req, _ := http.NewRequest(http.MethodGet, "/api/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := &statusWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	return w.code
}

type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *statusWriter) WriteHeader(code int) { w.code = code }

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	panic("not a counter or gauge")
}

// TestRestartFromStaleSnapshot: a gateway started from a snapshot taken before a recall honours
// the recalled token again until its delayed first sync, then rejects it.
func TestRestartFromStaleSnapshot(t *testing.T) {
	t.Parallel()
	for _, st := range []Strategy{Poll, Push} {
		t.Run(string(st), func(t *testing.T) {
			t.Parallel()
			f := newFakeIssuer(t)
			cfg := Config{Strategy: st, IssuerURL: f.URL, PollInterval: 100 * time.Millisecond}
			if st == Push {
				ns := runNATS(t, -1)
				cfg.NATSURL = ns.ClientURL()
				f.connectNATS(cfg.NATSURL)
			}
			first, _ := newTestGateway(t, cfg)
			snap, ok := first.Snapshot()
			if !ok {
				t.Fatal("no snapshot from a list-holding strategy")
			}
			victim := f.mint(claim("sub", "user-s"))
			f.recall(revocation.Rule{Type: revocation.Subject, Value: "user-s", IssuedBefore: time.Now().Unix()})
			cfg.Snapshot, cfg.ResyncDelay = &snap, 600*time.Millisecond
			_, gw := newTestGateway(t, cfg)
			if got := status(t, gw.URL, victim); got != http.StatusOK {
				t.Errorf("restored from a stale snapshot: status %d, want 200 (the resurrection to catch)", got)
			}
			waitFor(t, 3*time.Second, "resync after the delay", func() bool { return status(t, gw.URL, victim) == http.StatusUnauthorized })
		})
	}
}
