package embedded

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

func startFaultStack(t *testing.T) *Env {
	t.Helper()
	specs := []runtime.Spec{
		{Name: "bus", Use: runtime.UseNATS},
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "push", "restart_snapshot": "stale", "restart_resync_delay": "1s"}},
	}
	e, err := New(specs, runtime.Secrets{AdminSecret: "admin-secret-for-tests", GatewayID: "gw", GatewaySecret: "gw-secret"},
		WithLinks(runtime.Link{From: "edge", To: "bus"}, runtime.Link{From: "edge", To: "issuer"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func httpGet(t *testing.T, url string, timeout time.Duration) (int, error) {
	t.Helper()
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestEmbeddedLinksRouteThroughProxies(t *testing.T) {
	t.Parallel()
	e := startFaultStack(t)
	addr, ok := e.linkAddr("edge", "issuer")
	if !ok {
		t.Fatal("no proxy for edge->issuer")
	}
	ctx := context.Background()
	l := runtime.Link{From: "edge", To: "issuer"}
	if code, err := httpGet(t, "http://"+addr+"/healthz", 2*time.Second); err != nil || code != 200 {
		t.Fatalf("issuer through the proxy: %d %v", code, err)
	}
	// Latency: a round trip through the link takes at least the injected delay.
	if err := e.AddToxic(ctx, l, runtime.Toxic{Name: "lat", Type: "latency", Attributes: map[string]any{"latency": 300}}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := httpGet(t, "http://"+addr+"/healthz", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("round trip with 300ms latency took %s", took)
	}
	if err := e.RemoveToxic(ctx, l, "lat"); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveToxic(ctx, l, "lat"); err != nil {
		t.Errorf("removing an absent toxic: %v", err)
	}
	// Cut: refused; heal: back on the same address. Cuts nest.
	_ = e.Cut(ctx, l)
	_ = e.Cut(ctx, l)
	if _, err := httpGet(t, "http://"+addr+"/healthz", time.Second); err == nil {
		t.Error("a cut link passed a request")
	}
	_ = e.Heal(ctx, l)
	if _, err := httpGet(t, "http://"+addr+"/healthz", time.Second); err == nil {
		t.Error("a link cut twice and healed once passed a request")
	}
	_ = e.Heal(ctx, l)
	if code, err := httpGet(t, "http://"+addr+"/healthz", 2*time.Second); err != nil || code != 200 {
		t.Fatalf("healed link: %d %v", code, err)
	}
}

func TestEmbeddedPauseKillRestart(t *testing.T) {
	t.Parallel()
	e := startFaultStack(t)
	ctx := context.Background()
	ep, err := e.Endpoint("edge")
	if err != nil {
		t.Fatal(err)
	}
	health := ep.JoinPath("/healthz").String()
	if err := e.Pause(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if _, err := httpGet(t, health, 300*time.Millisecond); err == nil {
		t.Error("a paused gateway answered")
	}
	if err := e.Unpause(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if err := e.Unpause(ctx, "edge"); err != nil {
		t.Errorf("second unpause: %v", err)
	}
	if code, err := httpGet(t, health, 2*time.Second); err != nil || code != 200 {
		t.Fatalf("unpaused gateway: %d %v", code, err)
	}
	if err := e.Kill(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if err := e.Kill(ctx, "edge"); err != nil {
		t.Errorf("second kill: %v", err)
	}
	if _, err := httpGet(t, health, time.Second); err == nil {
		t.Error("a killed gateway answered")
	}
	if err := e.Restart(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if code, err := httpGet(t, health, 2*time.Second); err != nil || code != 200 {
		t.Fatalf("restarted gateway on the same address: %d %v", code, err)
	}
	// The issuer keeps its state over a restart; the bus comes back on its port.
	if err := e.Restart(ctx, "issuer"); err != nil {
		t.Fatal(err)
	}
	if err := e.Restart(ctx, "bus"); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedCheckLinks(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}},
		{Name: "svc", Use: runtime.UseService},
	}
	_, err := New(specs, runtime.Secrets{AdminSecret: "x"},
		WithLinks(runtime.Link{From: "edge", To: "svc"}, runtime.Link{From: "edge", To: "nowhere"}, runtime.Link{From: runtime.Harness, To: "edge"}))
	if err == nil {
		t.Fatal("bad links accepted")
	}
	for _, want := range []string{"link edge->svc: the embedded runtime proxies links to the issuer or a reference/nats component only", `link edge->nowhere: unknown component "nowhere"`,
		"link harness->edge: the harness's only link is to the reference issuer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestEmbeddedCheckSSFLinks: a transmitter's only link is to a push receiver of its own, whose
// pushes it carries; the one to edge-push is accepted.
func TestEmbeddedCheckSSFLinks(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "ssf", Use: runtime.UseSSF},
		{Name: "edge-push", Use: runtime.UseGateway, With: map[string]any{"strategy": "ssf"}},
		{Name: "edge-poll", Use: runtime.UseGateway, With: map[string]any{"strategy": "ssf", "delivery": "poll"}},
	}
	if _, err := New(specs, runtime.Secrets{AdminSecret: "x"}, WithLinks(runtime.Link{From: "ssf", To: "edge-push"})); err != nil {
		t.Errorf("link ssf->edge-push: %v", err)
	}
	_, err := New(specs, runtime.Secrets{AdminSecret: "x"},
		WithLinks(runtime.Link{From: "ssf", To: "edge-poll"}, runtime.Link{From: "ssf", To: "issuer"}))
	for _, want := range []string{"link ssf->edge-poll: edge-poll receives by poll",
		"link ssf->issuer: a reference/ssf component's only link is to a reference gateway or service of strategy ssf, delivery push"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
