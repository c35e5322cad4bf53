package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

func runNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func token(t *testing.T, base string) (raw string, c revocation.Claims) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", "app-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr issuer.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /token: %d %v", resp.StatusCode, err)
	}
	tok, err := jwt.ParseSigned(tr.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var std jwt.Claims
	var ext struct {
		ClientID string `json:"client_id"`
		SID      string `json:"sid"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&std, &ext); err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken, revocation.Claims{JTI: std.ID, Subject: std.Subject, ClientID: ext.ClientID,
		Session: ext.SID, KeyID: tok.Headers[0].KeyID, IssuedAt: int64(*std.IssuedAt)}
}

func status(t *testing.T, h http.Handler, raw string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

// TestStrategiesAgainstTheIssuer recalls one token at the real issuer and checks, per strategy,
// when each gateway started rejecting it against its ground truth.
func TestStrategiesAgainstTheIssuer(t *testing.T) {
	ns := runNATS(t)
	iss, err := issuer.New(issuer.Config{AdminSecret: "admin", NATSURL: ns.ClientURL(), Clients: []issuer.Client{
		{ID: "app", Secret: "app-secret"}, {ID: "edge", Secret: "edge-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	srv := httptest.NewServer(iss.Handler())
	t.Cleanup(srv.Close)
	iss.SetBaseURL(srv.URL)

	const interval, ttl = 200 * time.Millisecond, 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gws := map[gateway.Strategy]*gateway.Gateway{}
	for _, cfg := range []gateway.Config{
		{Strategy: gateway.Push, NATSURL: ns.ClientURL()},
		{Strategy: gateway.Poll, PollInterval: interval},
		{Strategy: gateway.Introspect, CacheTTL: ttl, ClientID: "edge", ClientSecret: "edge-secret", Truth: iss.Truth()},
		{Strategy: gateway.JWTOnly},
	} {
		cfg.Name, cfg.IssuerURL = "edge-"+string(cfg.Strategy), srv.URL
		g, err := gateway.New(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Strategy, err)
		}
		t.Cleanup(func() { _ = g.Close() })
		gws[cfg.Strategy] = g
	}

	victim, vc := token(t, srv.URL)
	control, _ := token(t, srv.URL)
	for s, g := range gws {
		for _, raw := range []string{victim, control} {
			if st := status(t, g.Handler(), raw); st != http.StatusOK {
				t.Fatalf("%s before the recall: status %d", s, st)
			}
		}
	}
	res, err := iss.RecallTokens(ctx, vc.JTI)
	if err != nil {
		t.Fatal(err)
	}
	bounds := map[gateway.Strategy]time.Duration{
		gateway.Push:       100 * time.Millisecond,
		gateway.Poll:       interval + 100*time.Millisecond,
		gateway.Introspect: ttl + 100*time.Millisecond,
	}
	deadline := time.Now().Add(3 * time.Second)
	for s, bound := range bounds {
		g := gws[s]
		for status(t, g.Handler(), victim) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("%s never rejected the recalled token", s)
			}
			time.Sleep(5 * time.Millisecond)
		}
		at, ok := g.Truth().EnforcedSince(vc)
		if !ok {
			t.Errorf("%s: truth has no enforcement of the recalled token", s)
			continue
		}
		if lag := at.Sub(res.AppliedAt); lag < 0 || lag > bound {
			t.Errorf("%s: enforced %s after the issuer applied the recall, want within [0, %s]", s, lag, bound)
		}
		if s == gateway.Introspect {
			var until time.Time
			for _, r := range g.Truth().Records() {
				if r.Kind == "cache" && r.JTI == vc.JTI {
					until = r.At
				}
			}
			if want := later(res.AppliedAt, until); !at.Equal(want) {
				t.Errorf("introspect truth %v, want max(issuer %v, cache %v)", at, res.AppliedAt, until)
			}
		}
	}
	if st := status(t, gws[gateway.JWTOnly].Handler(), victim); st != http.StatusOK {
		t.Errorf("jwt-only: status %d, want 200 (never learns)", st)
	}
	var _ truth.Source = gws[gateway.JWTOnly].Truth()
	if _, ok := gws[gateway.JWTOnly].Truth().EnforcedSince(vc); ok {
		t.Error("jwt-only truth claims enforcement")
	}
	for s, g := range gws {
		if st := status(t, g.Handler(), control); st != http.StatusOK {
			t.Errorf("%s: control rejected after the recall (%d)", s, st)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
