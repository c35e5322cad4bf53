package issuer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/bus"
	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/revocation"
)

func startBus(t *testing.T, opts ...bus.Option) *bus.Server {
	t.Helper()
	b, err := bus.Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// subscribe returns a channel of the events published on revocation.EventSubject.
func subscribe(t *testing.T, url string) <-chan revocation.Event {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan revocation.Event, 64)
	if _, err := nc.Subscribe(revocation.EventSubject, func(m *nats.Msg) {
		var ev revocation.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("event is not JSON: %v", err)
			return
		}
		ch <- ev
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func nextEvent(t *testing.T, ch <-chan revocation.Event) revocation.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return revocation.Event{}
	}
}

// waitConnected waits until the issuer has published one event successfully, by recalling a
// dummy jti until an event arrives (the issuer connects in the background).
func waitConnected(t *testing.T, e *env, ch <-chan revocation.Event) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.iss.RecallTokens(context.Background(), "warm-up"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("issuer not publishing within 10s")
		}
	}
}

func TestEventPublishedAfterStore(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	e := newEnv(t, func(c *issuer.Config) { c.NATSURL = b.ClientURL() })
	ch := subscribe(t, b.ClientURL())
	waitConnected(t, e, ch)

	victims := []string{e.cc(), e.cc()}
	control := e.cc()
	jtis := []string{str(claims(t, victims[0])["jti"]), str(claims(t, victims[1])["jti"])}
	res := e.recall(map[string]any{"type": "jti", "values": jtis})
	ev := nextEvent(t, ch)
	if ev.Version != uint64(res["version"].(float64)) || ev.RecallID != res["recall_id"] || len(ev.Rules) != 2 {
		t.Fatalf("event = %+v, want version %v, recall %v, 2 rules", ev, res["version"], res["recall_id"])
	}
	var got []string
	for _, r := range ev.Rules {
		if r.Type != revocation.JTI || r.Version != ev.Version || r.RecallID != ev.RecallID || r.IssuedBefore != 0 {
			t.Errorf("rule %+v", r)
		}
		got = append(got, r.Value)
	}
	sort.Strings(got)
	sort.Strings(jtis)
	if strings.Join(got, ",") != strings.Join(jtis, ",") {
		t.Errorf("event values %v, want %v", got, jtis)
	}
	// The event is sent after the store changed: the issuer already refuses the victims.
	for _, v := range victims {
		if e.active(v) {
			t.Error("victim active at the issuer after its event arrived")
		}
	}
	if !e.active(control) {
		t.Error("control inactive")
	}
	want := e.iss.Truth().Records()[len(e.iss.Truth().Records())-1].At
	if !ev.At.Equal(want) {
		t.Errorf("event At %v, want the ground-truth instant %v", ev.At, want)
	}

	// Refresh-token reuse publishes a session rule too.
	s := e.login("alice", "alice-pw")
	e.post("/token", "app", "app-secret", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {s.refresh}})
	e.post("/token", "app", "app-secret", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {s.refresh}})
	ev = nextEvent(t, ch)
	if len(ev.Rules) != 1 || ev.Rules[0].Type != revocation.Session || ev.Rules[0].Value != claims(t, s.access)["sid"] {
		t.Errorf("reuse event = %+v, want one sid rule", ev)
	}
}

// A bus with a small payload limit: a large recall is split into several events that together
// carry every rule.
func TestLargeRecallSplitsEvents(t *testing.T) {
	t.Parallel()
	b := startBus(t, bus.MaxPayload(64<<10))
	e := newEnv(t, func(c *issuer.Config) { c.NATSURL = b.ClientURL() })
	ch := subscribe(t, b.ClientURL())
	waitConnected(t, e, ch)

	const n = 5000
	vals := make([]string, n)
	for k := range vals {
		vals[k] = fmt.Sprintf("jti-%05d", k)
	}
	res, err := e.iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallJTI, Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	events := 0
	for len(seen) < n {
		ev := nextEvent(t, ch)
		if ev.Version != res.Version || ev.RecallID != res.RecallID {
			t.Fatalf("event of another recall: %d %s", ev.Version, ev.RecallID)
		}
		events++
		for _, r := range ev.Rules {
			seen[r.Value] = true
		}
	}
	if events < 2 {
		t.Errorf("%d events for ~450 KB of rules under a 64 KiB limit, want several", events)
	}
}

func TestPublishFailureIsNotFatal(t *testing.T) {
	t.Parallel()
	b, err := bus.Start()
	if err != nil {
		t.Fatal(err)
	}
	url := b.ClientURL()
	b.Close() // nothing listens: the issuer keeps retrying in the background
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *issuer.Config) { c.NATSURL = url; c.Registry = reg })
	tok := e.cc()
	big := make([]string, 120000) // ~10 MB of events: more than the 8 MiB reconnect buffer holds
	for k := range big {
		big[k] = fmt.Sprintf("jti-%07d", k)
	}
	big = append(big, str(claims(t, tok)["jti"]))
	if _, err := e.iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallJTI, Values: big}); err != nil {
		t.Fatalf("recall with the bus down: %v", err)
	}
	if e.active(tok) {
		t.Error("recall not applied with the bus down")
	}
	if got := counter(t, reg, "recall_issuer_bus_publish_failures_total"); got < 1 {
		t.Errorf("publish failures = %v, want >= 1", got)
	}
	if resp, _ := e.get("/revocations?since=0", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("revocation list with the bus down: %d", resp.StatusCode)
	}
}

// counter returns the value of an unlabelled counter from g.
func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
