package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
)

// fakeIssuer serves /jwks and /revocations and mints ES256 access tokens.
type fakeIssuer struct {
	t   testing.TB
	URL string
	key *ecdsa.PrivateKey

	mu    sync.Mutex
	rules []revocation.Rule
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: k}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /revocations", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		f.mu.Lock()
		l := revocation.List{Version: uint64(len(f.rules)), Full: since == 0, Rules: []revocation.Rule{}}
		for _, rule := range f.rules {
			if rule.Version > since {
				l.Rules = append(l.Rules, rule)
			}
		}
		f.mu.Unlock()
		w.Header().Set("ETag", `"`+strconv.FormatUint(l.Version, 10)+`"`)
		_ = json.NewEncoder(w).Encode(l)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeIssuer) recall(r revocation.Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Version = uint64(len(f.rules) + 1)
	r.RecallID = "rc-" + strconv.FormatUint(r.Version, 10)
	f.rules = append(f.rules, r)
}

func (f *fakeIssuer) mint(sub string) (raw, jti string) {
	f.t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	jti = hex.EncodeToString(b)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now()
	raw, err = jwt.Signed(sig).Claims(map[string]any{
		"iss": f.URL, "sub": sub, "aud": gateway.DefaultAudience, "client_id": "client-1", "scope": "read",
		"jti": jti, "sid": "s-" + sub, "iat": now.Unix() - 1, "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw, jti
}

func newTestService(t testing.TB, cfg Config) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	code      int
	challenge string
	id        identity
}

func whoami(t testing.TB, base, token string, hdr ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/whoami", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&a.id); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestBehindGateway(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	svc := newTestService(t, Config{Name: "api"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gw, err := gateway.New(ctx, gateway.Config{Name: "edge", Strategy: gateway.JWTOnly, IssuerURL: f.URL, Upstream: svc.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	edge := httptest.NewServer(gw.Handler())
	t.Cleanup(edge.Close)

	tok, _ := f.mint("alice")
	got := whoami(t, edge.URL, tok, gateway.HeaderSubject, "mallory")
	want := identity{Sub: "alice", Scope: "read", ClientID: "client-1", Via: ViaGateway}
	if got.code != http.StatusOK || got.id != want {
		t.Errorf("through the gateway: %d %+v, want 200 %+v", got.code, got.id, want)
	}
	if got := whoami(t, svc.URL, ""); got.code != http.StatusUnauthorized || got.challenge != "Bearer" {
		t.Errorf("no identity headers: %d %q, want 401 Bearer", got.code, got.challenge)
	}
	if got := whoami(t, edge.URL, "forged"); got.code != http.StatusUnauthorized {
		t.Errorf("bad token at the gateway: %d, want 401", got.code)
	}
}

func TestDefenceInDepth(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	reg := prometheus.NewRegistry()
	svc := newTestService(t, Config{Name: "api", Registry: reg, DebugSecret: "dbg-secret", Validate: &gateway.Config{
		Strategy: gateway.Poll, IssuerURL: f.URL, PollInterval: 50 * time.Millisecond, MaxStaleness: 10 * time.Second}})

	victim, jti := f.mint("bob")
	control, _ := f.mint("carol")
	got := whoami(t, svc.URL, victim)
	if want := (identity{Sub: "bob", Scope: "read", ClientID: "client-1", Via: ViaSelf}); got.code != http.StatusOK || got.id != want {
		t.Fatalf("valid token: %d %+v, want 200 %+v", got.code, got.id, want)
	}
	// Forged identity headers do not help without a token.
	if got := whoami(t, svc.URL, "", gateway.HeaderSubject, "bob"); got.code != http.StatusUnauthorized || got.challenge != "Bearer" {
		t.Errorf("forged headers, no token: %d %q, want 401 Bearer", got.code, got.challenge)
	}
	if got := whoami(t, svc.URL, victim+"x"); got.code != http.StatusUnauthorized || !strings.Contains(got.challenge, `error="invalid_token"`) {
		t.Errorf("tampered token: %d %q, want 401 invalid_token", got.code, got.challenge)
	}

	f.recall(revocation.Rule{Type: revocation.JTI, Value: jti})
	deadline := time.Now().Add(3 * time.Second)
	for whoami(t, svc.URL, victim).code != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("recalled token still accepted by the service")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := whoami(t, svc.URL, control); got.code != http.StatusOK {
		t.Errorf("control: %d, want 200", got.code)
	}

	// Ground truth and endpoints.
	if r := whoamiPath(t, svc.URL, "/debug/recalls", ""); r != http.StatusUnauthorized {
		t.Errorf("/debug/recalls without the admin secret: %d, want 401", r)
	}
	if r := whoamiPath(t, svc.URL, "/debug/recalls", "wrong"); r != http.StatusUnauthorized {
		t.Errorf("/debug/recalls with a wrong secret: %d, want 401", r)
	}
	req, _ := http.NewRequest(http.MethodGet, svc.URL+"/debug/recalls", nil)
	req.Header.Set("Authorization", "Bearer dbg-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var dbg struct {
		Component string `json:"component"`
		Records   []struct {
			Kind string `json:"kind"`
		} `json:"records"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&dbg)
	resp.Body.Close()
	if dbg.Component != "api" || len(dbg.Records) != 1 || dbg.Records[0].Kind != "rule" {
		t.Errorf("/debug/recalls = %+v, want one rule record for api", dbg)
	}
	resp, err = http.Get(svc.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`service_http_requests_total{code="200",component="api",path="/api/whoami"}`,
		`service_requests_total{component="api",result="reject"}`,
		`service_recalls_applied_total{component="api"} 1`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if mfs, _ := reg.Gather(); len(mfs) == 0 {
		t.Error("shared registry received no metrics")
	}
	if resp, err := http.Get(svc.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", resp, err)
	}
}

func TestNewFailsOnBadValidateConfig(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), Config{Validate: &gateway.Config{Strategy: "nope", IssuerURL: "http://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), `strategy: unknown "nope"`) {
		t.Errorf("New = %v, want a strategy error", err)
	}
}

// whoamiPath GETs path with the bearer secret (none when empty) and returns the status.
func whoamiPath(t *testing.T, base, path, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
