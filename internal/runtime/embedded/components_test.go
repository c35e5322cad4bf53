package embedded

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/targets/apikey"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
)

// TestEmbeddedAPIKeys runs the API-key authority and one service per strategy in process: keys
// minted through the admin API work everywhere, a recall kills the key at push, poll and lookup
// and not at offline, each component's ground truth records it, and a killed and restarted
// authority keeps its keys.
func TestEmbeddedAPIKeys(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "keys", Kind: "issuer", Use: runtime.UseAPIKeys},
	}
	for _, s := range apikey.Strategies {
		with := map[string]any{"strategy": string(s), "interval": "100ms", "cache_ttl": "300ms"}
		specs = append(specs, runtime.Spec{Name: "api-" + string(s), Kind: "service", Use: runtime.UseAPIKeyService, With: with})
	}
	sec := runtime.Secrets{AdminSecret: "admin-test", GatewayID: "gw", GatewaySecret: "gw-secret"}
	e, err := New(specs, sec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _ = e.Close(ctx) })
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	keysURL, _ := e.Endpoint("keys")
	do := func(method, u, body string, hdr ...string) (int, []byte) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}
	code, b := do(http.MethodPost, keysURL.JoinPath("/admin/keys").String(), `{"count":2}`, "Authorization", "Bearer "+sec.AdminSecret)
	var minted struct{ Keys []apikey.Key }
	if err := json.Unmarshal(b, &minted); err != nil || code != http.StatusOK || len(minted.Keys) != 2 {
		t.Fatalf("mint: %d %s", code, b)
	}
	victim, control := minted.Keys[0], minted.Keys[1]
	probe := func(svc string, k apikey.Key) int {
		ep, _ := e.Endpoint(svc)
		code, _ := do(http.MethodGet, ep.JoinPath("/api/whoami").String(), "", apikey.Header, k.Key)
		return code
	}
	for _, s := range apikey.Strategies {
		if c := probe("api-"+string(s), victim); c != http.StatusOK {
			t.Fatalf("api-%s before the recall: %d", s, c)
		}
	}
	if code, b := do(http.MethodPost, keysURL.JoinPath("/admin/recalls").String(), `{"ids":["`+victim.ID+`"]}`,
		"Authorization", "Bearer "+sec.AdminSecret); code != http.StatusOK {
		t.Fatalf("recall: %d %s", code, b)
	}
	claims := revocation.Claims{JTI: victim.ID, Subject: "apikey:" + victim.ID, ClientID: "apikey"}
	for _, s := range []apikey.Strategy{apikey.Push, apikey.Poll, apikey.Lookup} {
		name := "api-" + string(s)
		deadline := time.Now().Add(10 * time.Second)
		for probe(name, victim) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts the recalled key", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		src, ok := e.Truth(name)
		if !ok {
			t.Fatalf("%s has no ground truth", name)
		}
		if _, ok := src.EnforcedSince(claims); !ok {
			t.Errorf("%s ground truth: no record of the recall", name)
		}
		if c := probe(name, control); c != http.StatusOK {
			t.Errorf("%s control: %d, want 200", name, c)
		}
	}
	if c := probe("api-offline", victim); c != http.StatusOK {
		t.Errorf("offline service: %d after the recall, want 200 (it never learns)", c)
	}
	if err := e.Restart(ctx, "keys"); err != nil {
		t.Fatal(err)
	}
	if c := probe("api-lookup", control); c != http.StatusOK {
		t.Errorf("lookup of a key minted before the authority restarted: %d, want 200", c)
	}
}

func TestEmbeddedAPIKeysConfigErrors(t *testing.T) {
	sec := runtime.Secrets{AdminSecret: "a", GatewayID: "gw", GatewaySecret: "s"}
	for _, tc := range []struct {
		with map[string]any
		want string
	}{
		{map[string]any{}, "with.strategy: required for reference/apikey-service: one of push, poll, lookup, offline"},
		{map[string]any{"strategy": "sometimes"}, `unknown strategy "sometimes"`},
		{map[string]any{"strategy": "poll", "colour": "red"}, `with.colour: unknown key "colour" for reference/apikey-service`},
		{map[string]any{"strategy": "lookup", "cache_ttl": 5}, "with.cache_ttl: bad duration 5: want a Go duration like 150ms, 2s or 1m30s"},
		{map[string]any{"strategy": "poll", "authority": "other"}, `no reference/apikeys component "other"`},
	} {
		specs := []runtime.Spec{{Name: "issuer", Use: runtime.UseIssuer}, {Name: "keys", Use: runtime.UseAPIKeys}, {Name: "svc", Use: runtime.UseAPIKeyService, With: tc.with}}
		if _, err := New(specs, sec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("with %v: %v, want an error containing %q", tc.with, err, tc.want)
		}
	}
}

// TestEmbeddedReferenceParamsFromSpec: the embedded runtime reads the gateway's JWKS and
// upstream keys and the relying party's keys through internal/params, so a bad value is refused
// with what validation says and a good one reaches the component's config.
func TestEmbeddedReferenceParamsFromSpec(t *testing.T) {
	t.Parallel()
	c, _, err := runtime.GatewayConfig(runtime.Spec{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll",
		"jwks_ttl": "30s", "jwks_refetch": "ttl", "jwks_min_refresh": "2s", "upstream_max_conns": 8, "upstream_max_inflight": 64}})
	if err != nil {
		t.Fatal(err)
	}
	if c.JWKSTTL != 30*time.Second || c.JWKSRefetch != gateway.RefetchTTL || c.JWKSMinRefresh != 2*time.Second ||
		c.UpstreamMaxConns != 8 || c.UpstreamMaxInflight != 64 {
		t.Errorf("GatewayConfig = %+v", c)
	}
	sec := runtime.Secrets{AdminSecret: "a", GatewayID: "gw", GatewaySecret: "s"}
	for _, tc := range []struct {
		spec runtime.Spec
		want string
	}{
		{runtime.Spec{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "jwks_refetch": "sometimes"}},
			`component edge: with.jwks_refetch: unknown jwks_refetch "sometimes" (have: unknown-kid, ttl, never)`},
		{runtime.Spec{Name: "edge", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "upstream_max_conns": 0}},
			"component edge: with.upstream_max_conns: want a whole number > 0, got 0"},
		{runtime.Spec{Name: "app", Use: runtime.UseRP, With: map[string]any{"session_cache_ttl": 10}},
			"component app: with.session_cache_ttl: bad duration 10"},
	} {
		if _, err := New([]runtime.Spec{{Name: "issuer", Use: runtime.UseIssuer}, tc.spec}, sec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.spec.Name, err, tc.want)
		}
	}
	cfg, err := rpConfig(runtime.Spec{Name: "app", Use: runtime.UseRP, With: map[string]any{"session_cache_ttl": "10s"}})
	if err != nil || cfg.ClientID != "recall-rp" || cfg.SessionCacheTTL != 10*time.Second {
		t.Errorf("rpConfig = %+v, %v", cfg, err)
	}
}

// TestEmbeddedRP runs the relying party in process: the admin API creates a cookie session the
// app honours, a logout token not signed by the issuer is refused, and ground truth needs the
// admin secret.
func TestEmbeddedRP(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "web", Kind: "service", Use: runtime.UseRP, With: map[string]any{"session_cache_ttl": "1s"}}}
	sec := runtime.Secrets{AdminSecret: "admin-test", GatewayID: "gw", GatewaySecret: "gw-secret"}
	e, err := New(specs, sec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _ = e.Close(ctx) })
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	web, _ := e.Endpoint("web")
	req, _ := http.NewRequest(http.MethodPost, web.JoinPath("/admin/sessions").String(), strings.NewReader(`{"sessions":[{"sub":"alice","sid":"s1"}]}`))
	req.Header.Set("Authorization", "Bearer "+sec.AdminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Sessions []struct{ Cookie string } }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(out.Sessions) != 1 {
		t.Fatalf("create session: %d %+v", resp.StatusCode, out)
	}
	req, _ = http.NewRequest(http.MethodGet, web.JoinPath("/api/whoami").String(), nil)
	req.Header.Set("Cookie", out.Sessions[0].Cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("session: %d, want 200", resp.StatusCode)
	}
	resp, err = http.Post(web.JoinPath("/backchannel-logout").String(), "application/x-www-form-urlencoded", strings.NewReader("logout_token=e30.e30.sig"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged logout token: %d, want 400", resp.StatusCode)
	}
	resp, err = http.Get(web.JoinPath("/debug/recalls").String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/debug/recalls without the admin secret: %d, want 401", resp.StatusCode)
	}
	src, ok := e.Truth("web")
	if !ok {
		t.Fatal("no ground truth for the relying party")
	}
	// A session recall at the issuer reaches the app as a back-channel logout token: the
	// session dies once the app's cached answer (1 s) ends, when ground truth says it does.
	iss, _ := e.Endpoint("issuer")
	req, _ = http.NewRequest(http.MethodPost, iss.JoinPath("/admin/recalls").String(), strings.NewReader(`{"type":"sid","values":["s1"]}`))
	req.Header.Set("Authorization", "Bearer "+sec.AdminSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("recall sid s1 at the issuer: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ = http.NewRequest(http.MethodGet, web.JoinPath("/api/whoami").String(), nil)
		req.Header.Set("Cookie", out.Sessions[0].Cookie)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session outlived its recall at the issuer by 10 s: no back-channel logout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	id := strings.TrimPrefix(out.Sessions[0].Cookie, "rp_session=")
	at, ok := src.EnforcedSince(revocation.Claims{JTI: id, Subject: "alice", Session: "s1"})
	if !ok || at.After(time.Now()) {
		t.Errorf("ground truth of the logged-out session: %v %v, want an instant before now", at, ok)
	}
}

// TestEmbeddedOwnComponentAtURL: a component of the user's own (no use:) at a url runs beside
// the reference stack: Start waits for its wait path, Endpoint gives its url, a bad url is
// refused at New, and faults the runtime cannot do to it say why.
func TestEmbeddedOwnComponentAtURL(t *testing.T) {
	t.Parallel()
	var ready atomic.Int64
	mine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" && ready.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable) // not ready on the first two asks
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer mine.Close()
	secrets := runtime.Secrets{AdminSecret: "adm", GatewayID: "gw", GatewaySecret: "gws"}
	specs := []runtime.Spec{{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "mine", Kind: "gateway", URL: mine.URL, Wait: &runtime.Wait{HTTP: "/ready"}}}
	e, err := New(specs, secrets)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	if ready.Load() < 3 {
		t.Errorf("Start returned after %d asks of the wait path; want it to wait for the 200", ready.Load())
	}
	if u, err := e.Endpoint("mine"); err != nil || u.String() != mine.URL {
		t.Errorf("Endpoint(mine) = %v, %v; want %s", u, err, mine.URL)
	}
	if err := e.Pause(ctx, "mine"); err == nil || !strings.Contains(err.Error(), "outside recall") {
		t.Errorf("Pause(mine): %v", err)
	}
	if err := e.Restart(ctx, "mine"); err == nil || !strings.Contains(err.Error(), "outside recall") {
		t.Errorf("Restart(mine): %v", err)
	}
	if _, err := New([]runtime.Spec{specs[0], {Name: "bad", Kind: "gateway", URL: "not a url"}}, secrets); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("New with a bad url: %v", err)
	}
}

// TestEmbeddedServiceStrategies: a reference service with a strategy validates tokens itself
// (forged identity headers without a token are refused), one without trusts them; a service of
// strategy ssf has its own stream at the transmitter, aud its name, pushed through the proxy of
// the declared link ssf->api-ssf rather than at its own address.
func TestEmbeddedServiceStrategies(t *testing.T) {
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Use: runtime.UseIssuer},
		{Name: "ssf", Use: runtime.UseSSF},
		{Name: "api", Use: runtime.UseService},
		{Name: "api-poll", Use: runtime.UseService, With: map[string]any{"strategy": "poll", "interval": "100ms"}},
		{Name: "api-ssf", Use: runtime.UseService, With: map[string]any{"strategy": "ssf"}},
	}
	e, err := New(specs, runtime.Secrets{AdminSecret: "admin-test", GatewayID: "gw", GatewaySecret: "gw-secret"},
		WithLinks(runtime.Link{From: "ssf", To: "api-ssf"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _ = e.Close(ctx) })
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"api": http.StatusOK, "api-poll": http.StatusUnauthorized, "api-ssf": http.StatusUnauthorized} {
		u, _ := e.Endpoint(name)
		req, _ := http.NewRequest(http.MethodGet, u.JoinPath("/api/whoami").String(), nil)
		req.Header.Set(gateway.HeaderSubject, "mallory")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: forged %s, no token: %d, want %d", name, gateway.HeaderSubject, resp.StatusCode, want)
		}
	}
	streams := e.SSFTransmitters()["ssf"].Streams()
	own, _ := e.Endpoint("api-ssf")
	if len(streams) != 1 || len(streams[0].Aud) != 1 || streams[0].Aud[0] != "api-ssf" || streams[0].Delivery == nil {
		t.Fatalf("streams %+v: want api-ssf's one", streams)
	}
	if ep := streams[0].Delivery.EndpointURL; !strings.HasSuffix(ep, gateway.SSFPushPath) || strings.Contains(ep, own.Host) {
		t.Errorf("push endpoint %s: want the link's proxy, not api-ssf's own %s, at %s", ep, own.Host, gateway.SSFPushPath)
	}
}
