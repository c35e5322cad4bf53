package docker

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

// The plan of declared links: a toxiproxy container, each `from` reaching `to` through its proxy
// (gateways still expecting the issuer's own URL as iss), and dependencies on the proxy.
func TestDockerLinksPlan(t *testing.T) {
	t.Parallel()
	d, err := New([]runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "edge-push", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
		{Name: "edge-poll", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "restart_snapshot": "stale", "restart_resync_delay": "2s"}},
	}, runtime.Secrets{AdminSecret: "adm"}, WithDrillID("links"), WithLinks(
		runtime.Link{From: "edge-push", To: "bus"}, runtime.Link{From: "edge-poll", To: "issuer"}, runtime.Link{From: "issuer", To: "bus"}))
	if err != nil {
		t.Fatal(err)
	}
	tx, ok := d.byName[DefaultToxiproxyAlias]
	if !ok || !tx.implicit || tx.ref != RefToxiproxy || tx.httpPort != toxiproxyAPIPort {
		t.Fatalf("no toxiproxy container in the plan: %+v", tx)
	}
	for name, want := range map[string][]string{
		"edge-push": {"-issuer-url http://issuer:8080", "-nats nats://toxiproxy:10001"},
		"edge-poll": {"-issuer-url http://toxiproxy:10002", "-issuer http://issuer:8080", "-snapshot " + snapshotFile + " -resync-delay 2s"},
		"issuer":    {"-issuer http://issuer:8080", "-nats nats://toxiproxy:10003"},
	} {
		cmd := strings.Join(d.byName[name].cmd, " ")
		for _, w := range want {
			if !strings.Contains(cmd, w) {
				t.Errorf("%s command %q lacks %q", name, cmd, w)
			}
		}
		if !slices.Contains(d.byName[name].deps, DefaultToxiproxyAlias) {
			t.Errorf("%s does not wait for the toxiproxy container: deps %v", name, d.byName[name].deps)
		}
	}
	if d.byName["edge-push"].snapshot || !d.byName["edge-poll"].snapshot {
		t.Errorf("snapshot file: edge-push %v, edge-poll %v; want only the stale one", d.byName["edge-push"].snapshot, d.byName["edge-poll"].snapshot)
	}
	if got := d.Links(); len(got) != 3 || got[0] != (runtime.Link{From: "edge-push", To: "bus"}) {
		t.Errorf("Links() = %v", got)
	}
	if got := d.names(); strings.Join(got, ",") != "issuer,edge-push,edge-poll" {
		t.Errorf("names() = %v: toxiproxy is not a component of the scenario", got)
	}
	if err := d.Cut(context.Background(), runtime.Link{From: "edge-push", To: "bus"}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Cut before Start = %v, want toxiproxy not running", err)
	}
	if err := d.Cut(context.Background(), runtime.Link{From: "edge-push", To: "issuer"}); err == nil || !strings.Contains(err.Error(), "no proxied link edge-push->issuer") {
		t.Errorf("Cut of an undeclared link = %v", err)
	}

	// Without links: no toxiproxy container, direct URLs.
	d, err = New([]runtime.Spec{{Name: "issuer", Use: runtime.UseIssuer}, {Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}}},
		runtime.Secrets{AdminSecret: "adm"}, WithDrillID("nolinks"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.byName[DefaultToxiproxyAlias]; ok || strings.Contains(strings.Join(d.byName["edge"].cmd, " "), "toxiproxy") {
		t.Errorf("a toxiproxy container without links: %+v", d.byName["edge"].cmd)
	}
}

// TestDockerHarnessLinkPlan: the harness's link to the issuer is a proxy whose port the
// toxiproxy container publishes (the harness dials it from the host); no component waits for
// it, and HarnessLink knows no address before the container is up.
func TestDockerHarnessLinkPlan(t *testing.T) {
	t.Parallel()
	d, err := New([]runtime.Spec{{Name: "issuer", Use: runtime.UseIssuer}, {Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}}},
		runtime.Secrets{AdminSecret: "adm"}, WithDrillID("harness"), WithLinks(runtime.Link{From: runtime.Harness, To: "issuer"}))
	if err != nil {
		t.Fatal(err)
	}
	tx, ok := d.byName[DefaultToxiproxyAlias]
	if !ok || !slices.Equal(tx.ports, []string{toxiproxyAPIPort, "10001/tcp"}) {
		t.Fatalf("toxiproxy container %+v: want the API port and the harness link's published", tx)
	}
	if dl := d.lk.byLink[runtime.Link{From: runtime.Harness, To: "issuer"}]; dl.upstream != "issuer:8080" {
		t.Errorf("harness->issuer proxy %+v, want upstream issuer:8080", dl)
	}
	if slices.Contains(d.byName["edge"].deps, DefaultToxiproxyAlias) || strings.Contains(strings.Join(d.byName["edge"].cmd, " "), "toxiproxy") {
		t.Errorf("edge goes through toxiproxy: deps %v, cmd %v", d.byName["edge"].deps, d.byName["edge"].cmd)
	}
	if a, ok := d.HarnessLink("issuer"); ok {
		t.Errorf("HarnessLink before Start = %s", a)
	}
}

func TestDockerLinksValidation(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "nats", Use: runtime.UseNATS},
		{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll"}},
		{Name: "api", Use: runtime.UseService},
		{Name: "own", Image: "example/own:1", Ports: []string{"9000"}},
	}
	for _, tc := range []struct {
		link runtime.Link
		want string
	}{
		{runtime.Link{From: "edge", To: "nowhere"}, `link edge->nowhere: unknown component "nowhere"`},
		{runtime.Link{From: "ghost", To: "issuer"}, `link ghost->issuer: unknown component "ghost"`},
		{runtime.Link{From: "edge", To: "api"}, "to the issuer or a reference/nats component only, not to reference/service"},
		{runtime.Link{From: "edge", To: "own"}, "not to the user's own component"},
		{runtime.Link{From: "issuer", To: "issuer"}, "the issuer's only outgoing link is to the bus"},
		{runtime.Link{From: "api", To: "issuer"}, "from gateways and the issuer only, not from reference/service"},
		{runtime.Link{From: "own", To: "nats"}, "not from the user's own component"},
		{runtime.Link{From: runtime.Harness, To: "edge"}, "link harness->edge: the harness's only link is to the reference issuer"},
	} {
		t.Run(tc.link.String(), func(t *testing.T) {
			t.Parallel()
			_, err := New(specs, runtime.Secrets{AdminSecret: "adm"}, WithDrillID("bad"), WithLinks(tc.link))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
	_, err := New(specs, runtime.Secrets{AdminSecret: "adm"}, WithDrillID("dup"), WithLinks(runtime.Link{From: "edge", To: "issuer"}, runtime.Link{From: "edge", To: "issuer"}))
	if err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("a link declared twice: %v", err)
	}
}

// TestDockerLinks runs an introspecting gateway whose link to the issuer passes through the
// toxiproxy container, and drives the link from the harness: a cut makes it fail closed
// (nested cuts need as many heals), latency slows its answers, removing the toxic speeds them
// up again; a restart keeps the gateway's endpoint; Close leaves nothing behind.
func TestDockerLinks(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	referenceImages(t)
	id := testDrillID(t)
	secrets := runtime.Secrets{AdminSecret: "admin-" + id, GatewayID: "gateways", GatewaySecret: "gw-" + id}
	link := runtime.Link{From: "edge", To: "issuer"}
	d, err := New([]runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "introspect", "cache_ttl": "50ms"}},
	}, secrets, WithDrillID(id), WithModuleRoot(moduleRoot(t)), WithLogger(testLogger(t)), WithLinks(link))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoLeftovers(t, id) })
	defer closeEnv(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, ok := d.StartupTimes()[DefaultToxiproxyAlias]; ok {
		t.Errorf("toxiproxy has a startup time: it is not a component of the scenario")
	}
	iss, _ := d.Endpoint("issuer")
	raw, _ := token(t, iss, secrets.AdminSecret)
	ep, err := d.Endpoint("edge")
	if err != nil {
		t.Fatal(err)
	}
	u := ep.String() + "/api/whoami"
	if got := status(u, raw, 5*time.Second); got != http.StatusOK {
		t.Fatalf("through the link: %d, want 200 (iss must stay the issuer's own URL)", got)
	}

	// Cut twice (two overlapping faults), heal once: still cut; heal again: through.
	for range 2 {
		if err := d.Cut(ctx, link); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(5*time.Second, func() bool { return status(u, raw, 2*time.Second) == http.StatusServiceUnavailable }) {
		t.Fatalf("cut link: the introspecting gateway still answers %d, want 503", status(u, raw, 2*time.Second))
	}
	if err := d.Heal(ctx, link); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the link must stay cut: poll a while
	if got := status(u, raw, 2*time.Second); got != http.StatusServiceUnavailable {
		t.Errorf("after one heal of two cuts: %d, want 503 (still cut)", got)
	}
	if err := d.Heal(ctx, link); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return status(u, raw, 2*time.Second) == http.StatusOK }) {
		t.Fatal("healed link: the gateway does not accept again")
	}
	if err := d.Heal(ctx, link); err != nil {
		t.Errorf("healing a link that is not cut = %v, want nil", err)
	}

	// Latency on the answers: an introspection (cache expired) takes at least the latency.
	if err := d.AddToxic(ctx, link, runtime.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": 400}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the 50ms cache
	began := time.Now()
	if got := status(u, raw, 5*time.Second); got != http.StatusOK || time.Since(began) < 400*time.Millisecond {
		t.Errorf("with 400ms latency: %d after %s, want 200 after ≥ 400ms", got, time.Since(began))
	}
	if err := d.AddToxic(ctx, link, runtime.Toxic{Name: "slow", Type: "latency"}); err == nil {
		t.Error("adding a second toxic of the same name succeeded")
	}
	for range 2 { // removing an absent toxic is not an error
		if err := d.RemoveToxic(ctx, link, "slow"); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(5*time.Second, func() bool {
		time.Sleep(100 * time.Millisecond)
		began := time.Now()
		return status(u, raw, 5*time.Second) == http.StatusOK && time.Since(began) < 300*time.Millisecond
	}) {
		t.Error("toxic removed: answers still slow")
	}

	// A restarted container comes back on the same endpoint, the link still proxied.
	if err := d.Kill(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if err := d.Restart(ctx, "edge"); err != nil {
		t.Fatal(err)
	}
	if ep2, _ := d.Endpoint("edge"); ep2.String() != ep.String() {
		t.Errorf("endpoint after restart %s, want %s: the drill keeps probing the first", ep2, ep)
	}
	if !eventually(10*time.Second, func() bool { return status(u, raw, 2*time.Second) == http.StatusOK }) {
		t.Error("restarted gateway does not accept on its first endpoint")
	}
}
