package drill

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	goruntime "runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	refsource "github.com/recall-drills/recall/internal/source/reference"
	"github.com/recall-drills/recall/report"
)

// withFakes is the embedded reference stack plus components served by httptest fakes on
// 127.0.0.1 (hostile systems under test).
type withFakes struct {
	*embedded.Env
	fakes map[string]*url.URL
}

func (e *withFakes) Endpoint(name string) (*url.URL, error) {
	if u, ok := e.fakes[name]; ok {
		return u, nil
	}
	return e.Env.Endpoint(name)
}

// hostilePlan is a short drill on a reference issuer and push gateway ("push"), plus one
// component per handler, served by an httptest server.
func hostilePlan(t *testing.T, rate float64, workers int, handlers map[string]http.HandlerFunc) *Plan {
	t.Helper()
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "push", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
	}
	secrets := runtime.Secrets{AdminSecret: "test-admin-secret", GatewayID: "gw", GatewaySecret: "gw-secret"}
	emb, err := embedded.New(specs, secrets)
	if err != nil {
		t.Fatal(err)
	}
	env := &withFakes{Env: emb, fakes: map[string]*url.URL{}}
	probe := &ProbeSpec{Path: DefaultProbePath, Accept: DefaultAccept, Reject: DefaultReject, Timeout: time.Second}
	comps := []Component{{Name: "issuer", Kind: "issuer"}, {Name: "push", Kind: "gateway", Probe: probe}}
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		env.fakes[name] = u
		comps = append(comps, Component{Name: name, Kind: "gateway", Probe: probe})
	}
	action, err := NewAction("revoke-tokens", ActionParams{Mode: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	return &Plan{
		Name: "hostile", Seed: 1, DrillID: "hostile", Env: env, Runtime: "embedded",
		Components: comps, Issuer: "issuer", Provider: refsource.Open(NewSecret(secrets.AdminSecret), "hostile"),
		Population: Population{Grant: "client_credentials", Victims: 40, Controls: 10, Clients: 2},
		Traffic:    Traffic{Rate: rate, Duration: 4 * time.Second, Workers: workers, Timeout: time.Second},
		Recall:     Recall{At: 2 * time.Second, Kind: "revoke-tokens", Mode: "batch", Action: action},
	}
}

func findingsOf(rep *report.Report, kind string) map[string]report.Finding {
	out := map[string]report.Finding{}
	for _, f := range rep.Findings {
		if f.Kind == kind {
			out[f.Component] = f
		}
	}
	return out
}

func componentOf(rep *report.Report, name string) report.Component {
	for _, c := range rep.Components {
		if c.Name == name {
			return c
		}
	}
	return report.Component{}
}

// TestDrillUnavailableComponent: a component answering every probe with 500 is reported
// unavailable (critical), before and after the recall, with its error shares in the report;
// the healthy gateway beside it is not.
func TestDrillUnavailableComponent(t *testing.T) {
	t.Parallel()
	p := hostilePlan(t, 200, 16, map[string]http.HandlerFunc{
		"broken": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
	})
	rep, err := Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("findings: %+v", rep.Findings)
	un := findingsOf(rep, "unavailable")
	f, ok := un["broken"]
	if !ok || f.Severity != report.Critical {
		t.Fatalf("no critical unavailable finding for broken; findings: %+v", rep.Findings)
	}
	if !strings.Contains(f.Message, "100% of its") || !strings.Contains(f.Message, "before the recall") || !strings.Contains(f.Message, "after the recall") {
		t.Errorf("message %q: want both phases at 100%%", f.Message)
	}
	if _, bad := un["push"]; bad {
		t.Errorf("the healthy gateway is reported unavailable: %+v", un["push"])
	}
	// The drill has no expectation naming broken, yet it measured nothing there: a CI job
	// gating on the verdict must not see PASS.
	if rep.Verdict != report.Fail || !strings.Contains(rep.Headline, "broken") || !strings.Contains(rep.Headline, "unavailable") {
		t.Errorf("verdict %s, headline %q: want FAIL naming broken as unavailable", rep.Verdict, rep.Headline)
	}
	b, push := componentOf(rep, "broken"), componentOf(rep, "push")
	if b.ErrorShareBaseline != 1 || b.ErrorShareAfterRecall != 1 || push.ErrorShareBaseline > 0.1 {
		t.Errorf("error shares: broken %v/%v, push %v/%v", b.ErrorShareBaseline, b.ErrorShareAfterRecall, push.ErrorShareBaseline, push.ErrorShareAfterRecall)
	}
	if b.TargetRatePerSec <= 0 || push.RatePerSec <= 0 {
		t.Errorf("rates: broken asked %v, push achieved %v", b.TargetRatePerSec, push.RatePerSec)
	}
}

// TestDrillRateShortfall: a component that never answers holds the probe workers for the whole
// timeout; a drill asking far more than the workers can then carry reports the shortfall
// against the asked rate, per component, with achieved and asked rates in the report.
func TestDrillRateShortfall(t *testing.T) {
	t.Parallel()
	// 2 workers, each probe of "hang" holds one for the 1 s timeout: at most ~2 probes/s of
	// every component's share reach the wire, against 100/s asked.
	p := hostilePlan(t, 300, 2, map[string]http.HandlerFunc{
		"hang": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	})
	rep, err := Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("findings: %+v", rep.Findings)
	short := findingsOf(rep, "rate_shortfall")
	f, ok := short["hang"]
	if !ok || f.Severity != report.Warning {
		t.Fatalf("no rate_shortfall finding for hang; findings: %+v", rep.Findings)
	}
	h := componentOf(rep, "hang")
	if h.TargetRatePerSec < 50 || h.RatePerSec > 0.5*h.TargetRatePerSec {
		t.Errorf("hang achieved %.1f/s of %.1f/s asked: want a large shortfall", h.RatePerSec, h.TargetRatePerSec)
	}
	if !strings.Contains(f.Message, "asked") {
		t.Errorf("message %q", f.Message)
	}
	// Every probe of hang timed out: it is unavailable too.
	if _, ok := findingsOf(rep, "unavailable")["hang"]; !ok {
		t.Errorf("hang is not reported unavailable")
	}
}

// TestDrillHangingComponentIsolated: a component that never answers must not degrade another
// component's measurement. Two drills with the same shape, push beside a peer fake: the peer
// answers at once in the first and hangs in the second (8 workers, 1 s timeout). push's resolution (the median width of
// its brackets) and its achieved rate stay within 20% of the first drill's. Before isolation the
// hanging peer held every shared worker for the timeout and push's resolution was ~10× worse.
// The two drills of a try run at the same time, so that they see the same machine: a burst of
// load from another process falls on both, not on one of two drills run one after the other.
// Not parallel with other tests, for the same reason.
func TestDrillHangingComponentIsolated(t *testing.T) {
	run := func(peer http.HandlerFunc) (report.Component, error) {
		p := hostilePlan(t, 200, 8, map[string]http.HandlerFunc{"peer": peer})
		rep, err := Run(context.Background(), p)
		if err != nil {
			return report.Component{}, err
		}
		c := componentOf(rep, "push")
		if c.TTCMS.Count == 0 {
			return c, fmt.Errorf("push converged nowhere; findings %+v", rep.Findings)
		}
		return c, nil
	}
	pair := func() (healthy, hanging report.Component) {
		var herr, gerr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			hanging, gerr = run(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		}()
		healthy, herr = run(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
		<-done
		if herr != nil || gerr != nil {
			t.Fatalf("beside a healthy peer: %v; beside a hanging one: %v", herr, gerr)
		}
		for _, x := range []struct {
			what string
			c    report.Component
		}{{"healthy", healthy}, {"hanging", hanging}} {
			t.Logf("push beside a %s peer: resolution %.0f ms over %d converged pairs, %.1f/s of %.1f/s asked",
				x.what, x.c.TTCMS.ResolutionMS, x.c.TTCMS.Count, x.c.RatePerSec, x.c.TargetRatePerSec)
		}
		return healthy, hanging
	}
	// The healthy peer rejects every credential at once: like the hanging one it never accepts
	// a victim, so the scheduler treats both peers alike (their pairs lack a baseline accept)
	// and only the hang differs.
	//
	// One pair of drills on a noisy machine can still differ by more than 20 % for reasons of its
	// own, so the comparison gets three tries and must hold in one. Without isolation it fails every time: beside a hanging peer push got
	// 8 of 53 probes/s and converged on 4 of 40 pairs.
	var misses []string
	for try := 1; try <= 3; try++ {
		healthy, hanging := pair()
		var miss []string
		if ratio := hanging.TTCMS.ResolutionMS / healthy.TTCMS.ResolutionMS; ratio > 1.2 {
			miss = append(miss, fmt.Sprintf("push's resolution beside a hanging peer is %.2f× that beside a healthy one (%.0f ms vs %.0f ms), want within 20%%",
				ratio, hanging.TTCMS.ResolutionMS, healthy.TTCMS.ResolutionMS))
		}
		if hanging.TTCMS.Count < healthy.TTCMS.Count*8/10 {
			miss = append(miss, fmt.Sprintf("push converged on %d pairs beside a hanging peer, %d beside a healthy one", hanging.TTCMS.Count, healthy.TTCMS.Count))
		}
		if hanging.RatePerSec < 0.8*healthy.RatePerSec {
			miss = append(miss, fmt.Sprintf("push's achieved rate beside a hanging peer %.1f/s, beside a healthy one %.1f/s", hanging.RatePerSec, healthy.RatePerSec))
		}
		if len(miss) == 0 {
			return
		}
		t.Logf("try %d: %s", try, strings.Join(miss, "; "))
		misses = append(misses, fmt.Sprintf("try %d: %s", try, strings.Join(miss, "; ")))
	}
	t.Errorf("one hanging component degraded another's measurement in every try:\n%s", strings.Join(misses, "\n"))
}

// TestDrillHangingComponentResolutionRatio is issue 14's done-when as written: "one hanging
// component leaves another's resolution within 20 % of a drill without it". The same drill
// (rate, workers, victims, seed) runs twice at once, so that both see the same machine: push
// alone, and push beside a peer that never answers (each of its probes holds one of the
// peer's 8 workers for the 1 s timeout). push's resolution (the median width of its brackets)
// beside the hanging peer, over its resolution in the drill without the peer, must lie within
// [0.8, 1.2]. The peer's workers hold at most 8 probes/s of the 200/s, and the scheduler gives
// the peer's other turns to push, so push is probed at nearly the same rate in both; a peer
// that took the shared workers (~10x worse) or kept its turns unsent (~2x worse) lands outside.
// On a noisy machine one pair of drills can differ by more for reasons of its own, so the
// ratio gets three tries and must hold in one; every try's ratio is logged.
func TestDrillHangingComponentResolutionRatio(t *testing.T) {
	run := func(handlers map[string]http.HandlerFunc) (report.Component, error) {
		rep, err := Run(context.Background(), hostilePlan(t, 200, 8, handlers))
		if err != nil {
			return report.Component{}, err
		}
		c := componentOf(rep, "push")
		if c.TTCMS.Count == 0 || c.TTCMS.ResolutionMS <= 0 {
			return c, fmt.Errorf("push measured no resolution (%d converged); findings %+v", c.TTCMS.Count, rep.Findings)
		}
		return c, nil
	}
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	var misses []string
	for try := 1; try <= 3; try++ {
		var without, beside report.Component
		var werr, berr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			beside, berr = run(map[string]http.HandlerFunc{"peer": hang})
		}()
		without, werr = run(nil)
		<-done
		if werr != nil || berr != nil {
			t.Fatalf("without the peer: %v; beside the hanging peer: %v", werr, berr)
		}
		ratio := beside.TTCMS.ResolutionMS / without.TTCMS.ResolutionMS
		t.Logf("try %d: push's resolution %.1f ms beside a hanging peer (%.1f/s, %d converged), %.1f ms without it (%.1f/s, %d converged): ratio %.2f",
			try, beside.TTCMS.ResolutionMS, beside.RatePerSec, beside.TTCMS.Count, without.TTCMS.ResolutionMS, without.RatePerSec, without.TTCMS.Count, ratio)
		if ratio >= 0.8 && ratio <= 1.2 {
			return
		}
		misses = append(misses, fmt.Sprintf("try %d: ratio %.2f (%.1f ms beside the hanging peer, %.1f ms without it)",
			try, ratio, beside.TTCMS.ResolutionMS, without.TTCMS.ResolutionMS))
	}
	t.Errorf("push's resolution beside a hanging peer is not within 20%% of a drill without it in any try:\n%s", strings.Join(misses, "\n"))
}

// hostileHandlers are systems under test that misbehave in each way seen in the field: hang,
// answer 5xx only, stream a 1 GiB body, answer garbage that is not HTTP, reset the
// connection, trickle headers (slowloris), redirect to themselves.
func hostileHandlers() map[string]http.HandlerFunc {
	hijack := func(w http.ResponseWriter, f func(net.Conn)) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		f(conn)
	}
	return map[string]http.HandlerFunc{
		"hang": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		"storm": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		},
		"huge": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			buf := make([]byte, 32<<10)
			for n := 0; n < 1<<30; n += len(buf) {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		},
		"garbage": func(w http.ResponseWriter, r *http.Request) {
			hijack(w, func(c net.Conn) { c.Write([]byte("\x00\xff\xfegarbage, not HTTP at all\r\n\r\n\x1b[2J")) })
		},
		"reset": func(w http.ResponseWriter, r *http.Request) {
			hijack(w, func(c net.Conn) {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // close with RST
				}
			})
		},
		"slowloris": func(w http.ResponseWriter, r *http.Request) {
			hijack(w, func(c net.Conn) {
				if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\n")); err != nil {
					return
				}
				for i := 0; i < 50; i++ {
					time.Sleep(100 * time.Millisecond)
					if _, err := c.Write([]byte("X-Slow: 1\r\n")); err != nil {
						return
					}
				}
			})
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
		},
	}
}

// TestDrillHostileSystems keeps what the adversarial runs found as a test: one drill beside
// seven components that hang, storm 5xx, stream 1 GiB, answer garbage, reset, trickle headers
// and redirect forever ends on time, with a report, without the harness's heap growing with
// what they send (probe bodies are read up to a bound; here a body matcher makes the drill read
// them), each hostile component reported unavailable and the healthy gateway beside them still
// measured. The heap is sampled while the drill runs; the bound is far below one body.
func TestDrillHostileSystems(t *testing.T) {
	p := hostilePlan(t, 200, 8, hostileHandlers())
	for i := range p.Components {
		if p.Components[i].Name == "huge" {
			pr := *p.Components[i].Probe
			pr.Accept = Match{Status: []int{200}, Body: regexp.MustCompile(`"ok"`)}
			p.Components[i].Probe = &pr
		}
	}
	goruntime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := heapBytes(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	began := time.Now()
	rep, err := Run(context.Background(), p)
	took := time.Since(began)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("drill took %s; heap %d MiB before, peak %d MiB during (growth %d MiB)", took.Round(time.Millisecond), base>>20, peak.Load()>>20, growth>>20)
	// Traffic lasts 4 s; mint, start and the probes' 1 s timeout add a few seconds. A harness
	// held by a hostile answer would not end at all.
	if took > 60*time.Second {
		t.Errorf("the drill took %s beside hostile components", took)
	}
	if growth > 64<<20 {
		t.Errorf("the heap grew by %d MiB during the drill: a hostile answer is held in memory", growth>>20)
	}
	un := findingsOf(rep, "unavailable")
	for name := range hostileHandlers() {
		if _, ok := un[name]; !ok {
			t.Errorf("%s is not reported unavailable (errors %v/%v)", name, componentOf(rep, name).ErrorShareBaseline, componentOf(rep, name).ErrorShareAfterRecall)
		}
	}
	if push := componentOf(rep, "push"); push.TTCMS.Count == 0 || un["push"].Kind != "" {
		t.Errorf("the healthy gateway beside them: %d converged, unavailable %+v", push.TTCMS.Count, un["push"])
	}
	if rep.Verdict != report.Fail {
		t.Errorf("verdict %s beside seven unavailable components, want FAIL", rep.Verdict)
	}
}

// heapBytes is the live heap as the runtime counts it.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
