package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/revocation"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no strategy", Config{IssuerURL: "http://127.0.0.1:1"}, "gateway config: strategy: required (one of push, poll, introspect, jwt-only, ssf)"},
		{"bad strategy", Config{Strategy: "pul", IssuerURL: "http://127.0.0.1:1"}, `gateway config: strategy: unknown "pul" (one of push, poll, introspect, jwt-only, ssf)`},
		{"no issuer", Config{Strategy: Poll}, "gateway config: issuer url: required"},
		{"relative issuer", Config{Strategy: Poll, IssuerURL: "/x"}, `gateway config: issuer url: "/x" is not an absolute http(s) URL`},
		{"push without nats", Config{Strategy: Push, IssuerURL: "http://127.0.0.1:1"}, "gateway config: nats url: required for strategy push"},
		{"introspect without client", Config{Strategy: Introspect, IssuerURL: "http://127.0.0.1:1"}, "gateway config: client id: required for strategy introspect"},
		{"bad fail mode", Config{Strategy: Poll, IssuerURL: "http://127.0.0.1:1", FailMode: "ajar"}, `gateway config: fail mode: unknown "ajar" (one of closed, open)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(context.Background(), tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	f.listDown.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	reg := prometheus.NewRegistry()
	_, err := New(ctx, Config{Strategy: Poll, IssuerURL: f.URL, Registry: reg})
	if err == nil || !strings.Contains(err.Error(), "first sync") {
		t.Fatalf("New with the list down = %v, want a first sync error", err)
	}
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("failed New left %d metric families registered", len(mfs))
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	reg := prometheus.NewRegistry()
	g, gw := newTestGateway(t, Config{Name: "edge-poll", Strategy: Poll, IssuerURL: f.URL, Registry: reg,
		PollInterval: 50 * time.Millisecond, MaxStaleness: 10 * time.Second, DebugSecret: "dbg-secret"})
	// A second gateway on the same shared registry must not collide.
	newTestGateway(t, Config{Name: "edge-jwt", Strategy: JWTOnly, IssuerURL: f.URL, Registry: reg})

	tok := f.mint()
	resp := get(t, gw.URL, "/anything", tok)
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body["sub"] != "user-1" || body["scope"] != "read write" || body["gateway"] != "edge-poll" {
		t.Errorf("without upstream: %d %v, want 200 {sub user-1, scope read write, gateway edge-poll}", resp.StatusCode, body)
	}
	_, v := f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, tok).JTI})
	waitFor(t, 2*time.Second, "recall applied", func() bool { _, ok := ruleRecord(g.Truth(), "rc-1"); return ok })
	if st := status(t, gw.URL, tok); st != http.StatusUnauthorized {
		t.Fatalf("recalled: status %d, want 401", st)
	}

	if h := get(t, gw.URL, "/healthz", ""); h.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", h.StatusCode)
	}
	var dbg struct {
		Component string `json:"component"`
		Records   []struct {
			Kind string           `json:"kind"`
			Rule *revocation.Rule `json:"rule"`
		} `json:"records"`
	}
	// Ground truth is for the harness: the admin bearer secret, nothing else.
	for _, tok := range []string{"", "wrong", "dbg-secret-x"} {
		if r := get(t, gw.URL, "/debug/recalls", tok); r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("/debug/recalls with bearer %q: %d, want 401 with a challenge", tok, r.StatusCode)
		}
	}
	if err := json.NewDecoder(get(t, gw.URL, "/debug/recalls", "dbg-secret").Body).Decode(&dbg); err != nil {
		t.Fatal(err)
	}
	if dbg.Component != "edge-poll" || len(dbg.Records) != 1 || dbg.Records[0].Rule.Version != v {
		t.Errorf("/debug/recalls = %+v, want one rule record of version %d", dbg, v)
	}
	m, _ := io.ReadAll(get(t, gw.URL, "/metrics", "").Body)
	for _, want := range []string{
		`gateway_requests_total{component="edge-poll",result="accept"} 1`,
		`gateway_requests_total{component="edge-poll",result="reject"} 1`,
		`gateway_recalls_applied_total{component="edge-poll"} 1`,
		`gateway_rules_held{component="edge-poll"} 1`,
		`gateway_revocation_list_version{component="edge-poll"} 1`,
		`gateway_jwks_refreshes_total{component="edge-poll",outcome="ok"} 1`,
		`gateway_fail_open_accepts_total{component="edge-poll"} 0`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(m), "edge-jwt") {
		t.Error("/metrics of edge-poll shows another gateway's metrics")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, mm := range mf.Metric {
			for _, l := range mm.Label {
				if l.GetName() == "component" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	if !seen["edge-poll"] || !seen["edge-jwt"] {
		t.Errorf("shared registry has components %v, want edge-poll and edge-jwt", seen)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closed: the name can be used again on the same registry.
	newTestGateway(t, Config{Name: "edge-poll", Strategy: Poll, IssuerURL: f.URL, Registry: reg})
}

func TestFingerprintNotToken(t *testing.T) {
	t.Parallel()
	raw := "eyJhbGciOiJFUzI1NiJ9.payload.sig"
	fp := Fingerprint(raw)
	if len(fp) != 12 || strings.Contains(raw, fp) {
		t.Errorf("Fingerprint = %q, want 12 hex digits not taken from the token", fp)
	}
}
