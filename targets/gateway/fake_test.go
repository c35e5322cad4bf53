package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// fakeIssuer is a minimal stand-in for the reference issuer: ES256 keys served at /jwks, a
// revocation list at /revocations (ETag, If-None-Match, since), RFC 7662 /introspect with HTTP
// Basic client auth, and recall events on NATS.
type fakeIssuer struct {
	t   testing.TB
	srv *httptest.Server
	URL string

	mu        sync.Mutex
	keys      map[string]*ecdsa.PrivateKey
	published []string // kids served at /jwks
	rules     []revocation.Rule
	version   uint64
	set       revocation.Set
	nc        *nats.Conn

	truth        *truth.Log
	jwksHits     atomic.Int64
	listHits     atomic.Int64
	introHits    atomic.Int64
	listDown     atomic.Bool                   // /revocations answers 503
	introDown    atomic.Bool                   // /introspect answers 503
	noPublish    atomic.Bool                   // recalls are not published (lost events)
	jwksHold     atomic.Pointer[chan struct{}] // when set, /jwks answers once the channel is closed
	introspectID string
	introspectPW string
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{t: t, keys: map[string]*ecdsa.PrivateKey{}, truth: truth.NewLog("issuer", nil),
		introspectID: "gw", introspectPW: "gw-secret"}
	f.addKey("k1", true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", f.jwks)
	mux.HandleFunc("GET /revocations", f.list)
	mux.HandleFunc("POST /introspect", f.introspect)
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// addKey creates a signing key kid; published says whether /jwks serves it.
func (f *fakeIssuer) addKey(kid string, published bool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[kid] = k
	if published {
		f.published = append(f.published, kid)
	}
}

func (f *fakeIssuer) publish(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, kid)
}

func (f *fakeIssuer) unpublish(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = slices.DeleteFunc(f.published, func(k string) bool { return k == kid })
}

func (f *fakeIssuer) key(kid string) *ecdsa.PrivateKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[kid]
}

func (f *fakeIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	f.jwksHits.Add(1)
	if hold := f.jwksHold.Load(); hold != nil {
		<-*hold
	}
	f.mu.Lock()
	var set jose.JSONWebKeySet
	for _, kid := range f.published {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &f.keys[kid].PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func (f *fakeIssuer) list(w http.ResponseWriter, r *http.Request) {
	f.listHits.Add(1)
	if f.listDown.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	f.mu.Lock()
	l := revocation.List{Version: f.version, Full: since == 0, Rules: []revocation.Rule{}}
	for _, rule := range f.rules {
		if rule.Version > since {
			l.Rules = append(l.Rules, rule)
		}
	}
	f.mu.Unlock()
	etag := `"` + strconv.FormatUint(l.Version, 10) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(l)
}

func (f *fakeIssuer) introspect(w http.ResponseWriter, r *http.Request) {
	f.introHits.Add(1)
	if f.introDown.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if id, pw, ok := r.BasicAuth(); !ok || id != f.introspectID || pw != f.introspectPW {
		w.Header().Set("WWW-Authenticate", "Basic")
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	active := false
	if tok, err := jwt.ParseSigned(r.PostFormValue("token"), allowedAlgs); err == nil {
		var c jwt.Claims
		var e extClaims
		if err := tok.UnsafeClaimsWithoutVerification(&c, &e); err == nil && c.Expiry != nil && c.IssuedAt != nil {
			cl := revocation.Claims{JTI: c.ID, Subject: c.Subject, ClientID: e.ClientID, Session: e.SID,
				KeyID: tok.Headers[0].KeyID, Factor: e.FID, IssuedAt: int64(*c.IssuedAt)}
			_, revoked := f.set.Revoked(cl)
			active = !revoked && time.Now().Before(c.Expiry.Time())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"active": active})
}

// connectNATS makes the issuer publish recalls on the server at url.
func (f *fakeIssuer) connectNATS(url string) {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(nc.Close)
	f.mu.Lock()
	f.nc = nc
	f.mu.Unlock()
}

// recall applies rules as one recall and publishes it unless noPublish; it returns the recall
// instant (taken before publishing) and the version.
func (f *fakeIssuer) recall(rules ...revocation.Rule) (time.Time, uint64) {
	f.mu.Lock()
	f.version++
	v := f.version
	id := fmt.Sprintf("rc-%d", v)
	for i := range rules {
		rules[i].Version, rules[i].RecallID = v, id
	}
	f.rules = append(f.rules, rules...)
	f.set.Apply(v, rules)
	now := time.Now()
	for _, r := range rules {
		f.truth.RuleApplied(r, now)
	}
	nc := f.nc
	f.mu.Unlock()
	if nc != nil && !f.noPublish.Load() {
		b, _ := json.Marshal(revocation.Event{Version: v, RecallID: id, Rules: rules, At: now})
		if err := nc.Publish(revocation.EventSubject, b); err != nil {
			f.t.Errorf("publish: %v", err)
		}
		_ = nc.Flush()
	}
	return now, v
}

// tokenSpec describes a token to mint.
type tokenSpec struct {
	kid    string
	typ    string
	claims map[string]any
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mint signs a token with ES256; mods adjust the default claims (iss, sub, aud, client_id,
// scope, jti, sid, iat, exp).
func (f *fakeIssuer) mint(mods ...func(*tokenSpec)) string {
	f.t.Helper()
	now := time.Now()
	s := &tokenSpec{kid: "k1", typ: "at+jwt", claims: map[string]any{
		"iss": f.URL, "sub": "user-1", "aud": []string{DefaultAudience}, "client_id": "client-1",
		"scope": "read write", "jti": randomID(), "sid": "sess-1",
		"iat": now.Add(-time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
	}}
	for _, m := range mods {
		m(s)
	}
	key := f.key(s.kid)
	if key == nil {
		f.t.Fatalf("no key %q", s.kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(s.typ)))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(s.claims).Serialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

func claim(k string, v any) func(*tokenSpec) { return func(s *tokenSpec) { s.claims[k] = v } }

// claimsOf returns the recall claims of a token minted by the fake.
func claimsOf(t testing.TB, raw string) revocation.Claims {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	var e extClaims
	if err := tok.UnsafeClaimsWithoutVerification(&c, &e); err != nil {
		t.Fatal(err)
	}
	return revocation.Claims{JTI: c.ID, Subject: c.Subject, ClientID: e.ClientID, Session: e.SID,
		KeyID: tok.Headers[0].KeyID, Factor: e.FID, IssuedAt: int64(*c.IssuedAt)}
}

// runNATS starts an embedded NATS server on 127.0.0.1 (port -1: any free port).
func runNATS(t testing.TB, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func natsPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// newTestGateway starts a gateway for cfg (IssuerURL and Name defaulted) and closes it with the
// test.
func newTestGateway(t testing.TB, cfg Config) (*Gateway, *httptest.Server) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "gw-" + string(cfg.Strategy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return g, srv
}

// get sends GET path with the bearer token (none when empty).
func get(t testing.TB, base, path, token string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func status(t testing.TB, base, token string) int {
	t.Helper()
	resp := get(t, base, "/api/whoami", token)
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 5ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ruleRecord returns the truth record of the rule of recall id, if any.
func ruleRecord(l *truth.Log, recallID string) (truth.Record, bool) {
	for _, r := range l.Records() {
		if r.Kind == "rule" && r.Rule.RecallID == recallID {
			return r, true
		}
	}
	return truth.Record{}, false
}

func isInvalidTokenChallenge(h string) bool {
	return strings.HasPrefix(h, `Bearer error="invalid_token", error_description="`)
}
