package rp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/recall-drills/recall/targets/revocation"
)

const (
	admin    = "rp-admin-for-tests"
	clientID = "web-app"
)

type op struct {
	url   string
	key   *ecdsa.PrivateKey
	other *ecdsa.PrivateKey // not in the JWKS
}

func newOP(t *testing.T) *op {
	t.Helper()
	gen := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	o := &op{key: gen(), other: gen()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &o.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

// claims returns a valid logout token's claims for sid.
func (o *op) claims(sid string) map[string]any {
	return map[string]any{
		"iss": o.url, "aud": clientID, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		"jti": randomJTI(), "sub": "alice", "sid": sid,
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
}

func randomJTI() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type signOpts struct {
	key *ecdsa.PrivateKey
	kid string
	typ string
}

func (o *op) sign(t *testing.T, claims map[string]any, opts signOpts) string {
	t.Helper()
	if opts.key == nil {
		opts.key = o.key
	}
	if opts.kid == "" {
		opts.kid = "k1"
	}
	so := &jose.SignerOptions{}
	if opts.typ != "-" {
		typ := opts.typ
		if typ == "" {
			typ = "logout+jwt"
		}
		so = so.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: opts.key, KeyID: opts.kid}}, so)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newRP(t *testing.T, o *op, cacheTTL time.Duration, onLogout ...string) (*RP, *httptest.Server) {
	t.Helper()
	cfg := Config{IssuerURL: o.url, ClientID: clientID, AdminSecret: admin, SessionCacheTTL: cacheTTL, JWKSMinRefresh: time.Millisecond}
	if len(onLogout) > 0 {
		cfg.CacheOnLogout = onLogout[0]
	}
	r, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return r, srv
}

func postLogout(t *testing.T, base, token string) (int, string) {
	t.Helper()
	form := url.Values{}
	if token != "" {
		form.Set("logout_token", token)
	}
	resp, err := http.Post(base+"/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Description
}

func whoami(t *testing.T, base string, s Session) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/whoami", nil)
	req.Header.Set("Cookie", s.Cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLogoutTokenRejections: every check of section 2.6 refuses a token that fails it, with 400,
// and kills nothing.
func TestLogoutTokenRejections(t *testing.T) {
	o := newOP(t)
	r, srv := newRP(t, o, 0)
	victim := r.CreateSession("alice", "sid-1")
	hs256 := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1","typ":"logout+jwt"}`))
		b, _ := json.Marshal(o.claims("sid-1"))
		in := h + "." + base64.RawURLEncoding.EncodeToString(b)
		m := hmac.New(sha256.New, []byte("k1"))
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"logout+jwt"}`))
		b, _ := json.Marshal(o.claims("sid-1"))
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	with := func(mod func(map[string]any)) string {
		c := o.claims("sid-1")
		mod(c)
		return o.sign(t, c, signOpts{})
	}
	replayed := o.sign(t, o.claims("sid-other"), signOpts{})
	if code, desc := postLogout(t, srv.URL, replayed); code != http.StatusOK {
		t.Fatalf("first use of a valid token: %d %s", code, desc)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"no token", "", "logout_token is required"},
		{"garbage", "not.a.jwt", "malformed"},
		{"alg none", none(), "malformed"},
		{"alg HS256", hs256(), "malformed"},
		{"unknown kid", o.sign(t, o.claims("sid-1"), signOpts{kid: "k9"}), "unknown kid"},
		{"bad signature", o.sign(t, o.claims("sid-1"), signOpts{key: o.other}), "bad signature"},
		{"typ at+jwt", o.sign(t, o.claims("sid-1"), signOpts{typ: "at+jwt"}), "typ"},
		{"wrong iss", with(func(c map[string]any) { c["iss"] = "https://evil.example" }), "wrong issuer"},
		{"wrong aud", with(func(c map[string]any) { c["aud"] = "other-app" }), "wrong audience"},
		{"missing iat", with(func(c map[string]any) { delete(c, "iat") }), "missing iat"},
		{"iat too old", with(func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }), "iat too old"},
		{"iat in the future", with(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), "iat in the future"},
		{"missing exp", with(func(c map[string]any) { delete(c, "exp") }), "missing exp"},
		{"expired", with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() }), "expired"},
		{"missing jti", with(func(c map[string]any) { delete(c, "jti") }), "missing jti"},
		{"jti replayed", replayed, "jti replayed"},
		{"no events", with(func(c map[string]any) { delete(c, "events") }), "events"},
		{"other event", with(func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }), "events"},
		{"event not an object", with(func(c map[string]any) { c["events"] = map[string]any{BackchannelLogoutEvent: "yes"} }), "not a JSON object"},
		{"nonce", with(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" }), "nonce"},
		{"neither sub nor sid", with(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }), "neither sub nor sid"},
	} {
		code, desc := postLogout(t, srv.URL, tc.token)
		if code != http.StatusBadRequest || !strings.Contains(desc, tc.want) {
			t.Errorf("%s: %d %q, want 400 mentioning %q", tc.name, code, desc, tc.want)
		}
	}
	if code := whoami(t, srv.URL, victim); code != http.StatusOK {
		t.Errorf("session after refused logout tokens: %d, want 200", code)
	}
	// Absent typ is allowed (the spec only recommends explicit typing).
	if code, desc := postLogout(t, srv.URL, o.sign(t, o.claims("sid-1"), signOpts{typ: "-"})); code != http.StatusOK {
		t.Errorf("valid token without typ: %d %s", code, desc)
	}
	if code := whoami(t, srv.URL, victim); code != http.StatusUnauthorized {
		t.Errorf("session after its logout: %d, want 401", code)
	}
}

// TestLogoutBySidAndBySub: a sid logout kills that session only; a sub logout every session of
// the user; other users live on. Ground truth records each kill.
func TestLogoutBySidAndBySub(t *testing.T) {
	o := newOP(t)
	r, srv := newRP(t, o, 0)
	a1, a2, bob := r.CreateSession("alice", "sid-1"), r.CreateSession("alice", "sid-2"), r.CreateSession("bob", "sid-3")
	c := o.claims("sid-1")
	before := time.Now()
	if code, desc := postLogout(t, srv.URL, o.sign(t, c, signOpts{})); code != http.StatusOK {
		t.Fatalf("sid logout: %d %s", code, desc)
	}
	if whoami(t, srv.URL, a1) != http.StatusUnauthorized || whoami(t, srv.URL, a2) != http.StatusOK || whoami(t, srv.URL, bob) != http.StatusOK {
		t.Error("sid logout: want sid-1 dead, sid-2 and bob alive")
	}
	at, ok := r.Truth().EnforcedSince(revocation.Claims{JTI: a1.ID, Subject: "alice", Session: "sid-1"})
	if !ok || at.Before(before) || at.After(time.Now()) {
		t.Errorf("truth for sid-1: %v %v, want an instant during the logout", at, ok)
	}
	c = o.claims("")
	delete(c, "sid")
	if code, desc := postLogout(t, srv.URL, o.sign(t, c, signOpts{})); code != http.StatusOK {
		t.Fatalf("sub logout: %d %s", code, desc)
	}
	if whoami(t, srv.URL, a2) != http.StatusUnauthorized || whoami(t, srv.URL, bob) != http.StatusOK {
		t.Error("sub logout: want every alice session dead, bob alive")
	}
	if _, ok := r.Truth().EnforcedSince(revocation.Claims{JTI: bob.ID, Subject: "bob", Session: "sid-3"}); ok {
		t.Error("truth says bob's session was logged out")
	}
	// A sub logout ends the sessions live at it, however close to it they were opened, and
	// not a login that comes after it, even within the same second.
	for i := 0; i < 20; i++ {
		before := r.CreateSession("carol", "")
		c := o.claims("")
		delete(c, "sid")
		c["sub"] = "carol"
		if code, desc := postLogout(t, srv.URL, o.sign(t, c, signOpts{})); code != http.StatusOK {
			t.Fatalf("sub logout: %d %s", code, desc)
		}
		after := r.CreateSession("carol", "")
		if whoami(t, srv.URL, before) != http.StatusUnauthorized || whoami(t, srv.URL, after) != http.StatusOK {
			t.Fatalf("round %d: want the session opened before the sub logout dead and the one after alive", i)
		}
		if _, ok := r.Truth().EnforcedSince(revocation.Claims{JTI: after.ID, Subject: "carol"}); ok {
			t.Fatalf("round %d: truth says the session opened after the logout was logged out", i)
		}
	}
}

// TestSessionCacheHonoursUntilTTL: with a session cache that a logout leaves alone (the planted
// defect, CacheKeep) the app honours a logged-out session until its cached answer ends, and
// ground truth says so: max(store's kill, cache until).
func TestSessionCacheHonoursUntilTTL(t *testing.T) {
	const ttl = 400 * time.Millisecond
	o := newOP(t)
	r, srv := newRP(t, o, ttl, CacheKeep)
	s := r.CreateSession("alice", "sid-1")
	if code := whoami(t, srv.URL, s); code != http.StatusOK {
		t.Fatalf("before: %d", code)
	}
	if code, desc := postLogout(t, srv.URL, o.sign(t, o.claims("sid-1"), signOpts{})); code != http.StatusOK {
		t.Fatalf("logout: %d %s", code, desc)
	}
	c := revocation.Claims{JTI: s.ID, Subject: "alice", Session: "sid-1"}
	at, ok := r.Truth().EnforcedSince(c)
	if !ok {
		t.Fatal("no truth for the logged-out session")
	}
	for time.Now().Before(at) {
		if code := whoami(t, srv.URL, s); code != http.StatusOK && time.Now().Before(at) {
			t.Fatalf("refused at %v, before the truth's %v: the cache should still honour it", time.Now(), at)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := whoami(t, srv.URL, s); code != http.StatusUnauthorized {
		t.Errorf("after the cached answer ended: %d, want 401", code)
	}
}

// TestLogoutEvictsSessionCache: by default a logout drops the cached lookups of the sessions it
// kills, so a session cached for a minute dies at the logout, and ground truth says so (the
// store's kill, not the cache's end); another user's cached session stays cached and alive.
func TestLogoutEvictsSessionCache(t *testing.T) {
	o := newOP(t)
	r, srv := newRP(t, o, time.Minute)
	s, bob := r.CreateSession("alice", "sid-1"), r.CreateSession("bob", "sid-2")
	if whoami(t, srv.URL, s) != http.StatusOK || whoami(t, srv.URL, bob) != http.StatusOK {
		t.Fatal("sessions refused before any logout")
	}
	before := time.Now()
	if code, desc := postLogout(t, srv.URL, o.sign(t, o.claims("sid-1"), signOpts{})); code != http.StatusOK {
		t.Fatalf("logout: %d %s", code, desc)
	}
	after := time.Now()
	if code := whoami(t, srv.URL, s); code != http.StatusUnauthorized {
		t.Errorf("cached session after its logout: %d, want 401 at once", code)
	}
	if code := whoami(t, srv.URL, bob); code != http.StatusOK {
		t.Errorf("another user's cached session after the logout: %d, want 200", code)
	}
	at, ok := r.Truth().EnforcedSince(revocation.Claims{JTI: s.ID, Subject: "alice", Session: "sid-1"})
	if !ok || at.Before(before) || at.After(after) {
		t.Errorf("truth %v %v, want an instant during the logout (%v..%v), not the cache's end", at, ok, before, after)
	}
	if r.Active(s.ID) || !r.Active(bob.ID) || r.Active("nope") {
		t.Error("Active: want alice's session dead, bob's alive, an unknown one dead")
	}
}

func TestAdminSessions(t *testing.T) {
	o := newOP(t)
	_, srv := newRP(t, o, 0)
	post := func(auth, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/sessions", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
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
	if code, _ := post("", `{"sessions":[{"sub":"a"}]}`); code != http.StatusUnauthorized {
		t.Errorf("without the admin secret: %d, want 401", code)
	}
	if code, _ := post(admin, `{"sessions":[{"sid":"x"}]}`); code != http.StatusBadRequest {
		t.Errorf("session without sub: %d, want 400", code)
	}
	code, b := post(admin, `{"sessions":[{"sub":"a","sid":"s1"}]}`)
	var out struct{ Sessions []Session }
	if err := json.Unmarshal(b, &out); err != nil || code != http.StatusOK || len(out.Sessions) != 1 {
		t.Fatalf("create: %d %s", code, b)
	}
	if code := whoami(t, srv.URL, out.Sessions[0]); code != http.StatusOK {
		t.Errorf("created session: %d, want 200", code)
	}
	if code := whoami(t, srv.URL, Session{Cookie: CookieName + "=nope"}); code != http.StatusUnauthorized {
		t.Errorf("unknown session: %d, want 401", code)
	}
	status := func(auth, id string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/sessions/"+id, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, _ := status("", out.Sessions[0].ID); code != http.StatusUnauthorized {
		t.Errorf("session status without the admin secret: %d, want 401", code)
	}
	if code, b := status(admin, out.Sessions[0].ID); code != http.StatusOK || b != `{"active":true}` {
		t.Errorf("status of a live session: %d %s", code, b)
	}
	if code, b := status(admin, "nope"); code != http.StatusOK || b != `{"active":false}` {
		t.Errorf("status of an unknown session: %d %s", code, b)
	}
}
