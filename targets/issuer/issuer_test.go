package issuer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/revocation"
)

var b64 = base64.RawURLEncoding.DecodeString

func TestNewRequiresAdminSecret(t *testing.T) {
	t.Parallel()
	if _, err := issuer.New(issuer.Config{}); !errors.Is(err, issuer.ErrInvalidRequest) {
		t.Fatalf("New without AdminSecret: err = %v, want ErrInvalidRequest", err)
	}
}

func TestClientCredentialsToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	status, m := e.post("/token", "app", "app-secret", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, m)
	}
	if m["token_type"] != "Bearer" || m["scope"] != "read" || m["expires_in"] != float64(600) {
		t.Errorf("token response = %v, want Bearer, scope read, expires_in 600", m)
	}
	if _, ok := m["refresh_token"]; ok {
		t.Errorf("client_credentials returned a refresh token")
	}
	tok := str(m["access_token"])
	h := header(t, tok)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] != e.iss.ActiveKeyID() {
		t.Errorf("header = %v, want typ at+jwt, alg ES256, kid %s", h, e.iss.ActiveKeyID())
	}
	c := claims(t, tok)
	for _, k := range []string{"iss", "sub", "aud", "client_id", "scope", "jti", "sid", "iat", "exp"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing in %v", k, c)
		}
	}
	if c["sub"] != "app" || c["client_id"] != "app" || c["aud"] != issuer.DefaultAudience || c["iss"] != e.srv.URL {
		t.Errorf("claims = %v", c)
	}
	// Every token has its own jti and, for client_credentials, its own sid.
	c2 := claims(t, e.cc())
	if c2["jti"] == c["jti"] || c2["sid"] == c["sid"] {
		t.Errorf("two tokens share jti or sid: %v / %v", c["jti"], c2["jti"])
	}
	in := e.introspect(tok)
	want := map[string]any{
		"active": true, "sub": "app", "client_id": "app", "scope": "read", "exp": c["exp"], "iat": c["iat"],
		"jti": c["jti"], "sid": c["sid"], "iss": e.srv.URL, "aud": issuer.DefaultAudience, "token_type": "Bearer",
	}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("introspection (-want +got):\n%s", d)
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := []struct {
		name         string
		id, secret   string
		form         url.Values
		status       int
		code         string
		authenticate bool // expect WWW-Authenticate
	}{
		{"wrong secret", "app", "nope", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client", true},
		{"unknown client", "ghost", "app-secret", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client", true},
		{"no client auth", "", "", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client", true},
		{"post auth wrong secret", "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"x"}}, 401, "invalid_client", true},
		{"two auth methods", "app", "app-secret", url.Values{"grant_type": {"client_credentials"}, "client_secret": {"app-secret"}}, 400, "invalid_request", false},
		{"no grant type", "app", "app-secret", url.Values{}, 400, "invalid_request", false},
		{"unsupported grant", "app", "app-secret", url.Values{"grant_type": {"authorization_code"}}, 400, "unsupported_grant_type", false},
		{"scope not allowed", "other", "other-secret", url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}, 400, "invalid_scope", false},
		{"wrong password", "app", "app-secret", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}, 400, "invalid_grant", false},
		{"unknown user", "app", "app-secret", url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"x"}}, 400, "invalid_grant", false},
		{"unknown refresh token", "app", "app-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, 400, "invalid_grant", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, m := e.post("/token", tc.id, tc.secret, tc.form)
			if status != tc.status || m["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, m, tc.status, tc.code)
			}
			if _, ok := m["access_token"]; ok {
				t.Fatal("error response carries a token")
			}
		})
	}
}

func TestClientSecretPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	status, m := e.post("/token", "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"app-secret"}})
	if status != http.StatusOK || str(m["access_token"]) == "" {
		t.Fatalf("client_secret_post: %d %v", status, m)
	}
}

func TestClientAuthOnIntrospectAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.cc()
	for _, path := range []string{"/introspect", "/revoke"} {
		for _, cred := range [][2]string{{"gw", "bad"}, {"nobody", "gw-secret"}, {"", ""}} {
			status, m := e.post(path, cred[0], cred[1], url.Values{"token": {tok}})
			if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
				t.Errorf("%s as %q: got %d %v, want 401 invalid_client", path, cred[0], status, m)
			}
		}
	}
	if !e.active(tok) {
		t.Fatal("token inactive after refused revocations")
	}
}

func TestRevokeUnknownTokenIs200(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tok := range []string{"not-a-token", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"} {
		status, m := e.post("/revoke", "app", "app-secret", url.Values{"token": {tok}})
		if status != http.StatusOK {
			t.Errorf("revoke %q: %d %v, want 200", tok, status, m)
		}
	}
	if v := e.iss.Version(); v != 0 {
		t.Errorf("unknown tokens created recalls: version %d", v)
	}
}

func TestRevokeAccessToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	victim, control := e.cc(), e.cc()
	if status, m := e.post("/revoke", "other", "other-secret", url.Values{"token": {victim}}); status != http.StatusBadRequest || m["error"] != "unauthorized_client" {
		t.Fatalf("revoke by another client: %d %v, want 400 unauthorized_client", status, m)
	}
	if !e.active(victim) {
		t.Fatal("revocation by another client took effect")
	}
	if status, m := e.post("/revoke", "app", "app-secret", url.Values{"token": {victim}, "token_type_hint": {"access_token"}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, m)
	}
	if e.active(victim) {
		t.Error("revoked token still active")
	}
	if !e.active(control) {
		t.Error("control token inactive after revoking another")
	}
	// Revoking again: 200, and no new recall.
	v := e.iss.Version()
	if status, _ := e.post("/revoke", "app", "app-secret", url.Values{"token": {victim}}); status != http.StatusOK {
		t.Errorf("second revoke: %d", status)
	}
	if e.iss.Version() != v {
		t.Error("revoking a revoked token applied a new recall")
	}
}

func TestIntrospectInactive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *issuer.Config) { c.TokenTTL = time.Second })
	tok := e.cc()
	if !e.active(tok) {
		t.Fatal("fresh token inactive")
	}
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[10] ^= 0x01
	if sig[10] == '-' || sig[10] == '_' { // keep it base64url
		sig[10] = 'A'
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)

	// A token signed by a foreign key under our kid.
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: foreign, KeyID: e.iss.ActiveKeyID()}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := b64(parts[1])
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	// Same claims, payload altered.
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	c["sub"] = "root"
	alt, _ := json.Marshal(c)
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(alt) + "." + parts[2]

	revoked := e.cc()
	if _, err := e.iss.RecallTokens(context.Background(), str(claims(t, revoked)["jti"])); err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{
		"bad signature": tampered, "foreign key": forged, "altered payload": altered, "revoked": revoked,
		"unknown": "nothing", "garbage jwt": "a.b.c",
	} {
		if m := e.introspect(tok); m["active"] != false || len(m) != 1 {
			t.Errorf("%s: introspection = %v, want only active:false", name, m)
		}
	}

	// Expiry: TokenTTL is one second; poll with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for e.active(tok) {
		if time.Now().After(deadline) {
			t.Fatal("token with 1s TTL still active after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.login("alice", "alice-pw")
	if first.refresh == "" {
		t.Fatal("password grant returned no refresh token")
	}
	refresh := func(rt string) (int, map[string]any) {
		return e.post("/token", "app", "app-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	// Another client cannot use it, and that does not count as reuse.
	if status, m := e.post("/token", "other", "other-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.refresh}}); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh by another client: %d %v", status, m)
	}
	status, m := refresh(first.refresh)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, m)
	}
	second := tokens{access: str(m["access_token"]), refresh: str(m["refresh_token"])}
	if second.refresh == "" || second.refresh == first.refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	if claims(t, second.access)["sid"] != claims(t, first.access)["sid"] {
		t.Error("refreshed access token has another sid")
	}
	if !e.active(first.access) || !e.active(second.access) || !e.active(second.refresh) {
		t.Fatal("session tokens inactive before reuse")
	}
	if e.active(first.refresh) {
		t.Error("rotated refresh token still active at introspection")
	}
	other := e.login("alice", "alice-pw") // another session of the same user

	// Reuse of the rotated token: refused, and the whole family dies.
	v := e.iss.Version()
	if status, m := refresh(first.refresh); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v, want 400 invalid_grant", status, m)
	}
	if status, m := refresh(second.refresh); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("newest refresh token after reuse: %d %v, want invalid_grant", status, m)
	}
	for name, tok := range map[string]string{"first access": first.access, "second access": second.access, "second refresh": second.refresh} {
		if e.active(tok) {
			t.Errorf("%s still active after reuse detection", name)
		}
	}
	if !e.active(other.access) || !e.active(other.refresh) {
		t.Error("another session of the same user was recalled")
	}
	if e.iss.Version() != v+1 {
		t.Errorf("reuse detection applied %d recalls, want 1", e.iss.Version()-v)
	}
	l := e.iss.Revocations(v)
	if len(l.Rules) != 1 || l.Rules[0].Type != revocation.Session || l.Rules[0].Value != claims(t, first.access)["sid"] {
		t.Errorf("reuse rules = %+v, want one sid rule for the session", l.Rules)
	}
}

func TestRevokeRefreshTokenKillsFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := e.login("bob", "bob-pw")
	if status, _ := e.post("/revoke", "app", "app-secret", url.Values{"token": {s.refresh}, "token_type_hint": {"refresh_token"}}); status != 200 {
		t.Fatalf("revoke refresh: %d", status)
	}
	if e.active(s.access) || e.active(s.refresh) {
		t.Error("session tokens active after revoking the refresh token")
	}
	if status, _ := e.post("/token", "app", "app-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.refresh}}); status != 400 {
		t.Errorf("refresh after revocation: %d, want 400", status)
	}
	if !e.active(e.login("bob", "bob-pw").access) {
		t.Error("new login after revocation inactive")
	}
}

func TestMFA(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	en := e.enroll("alice")
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}}
	if status, m := e.post("/token", "app", "app-secret", pw); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("enrolled user without otp: %d %v, want 400 invalid_grant", status, m)
	}
	bad := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "otp": {"000000"}}
	if code, _ := totpCode(en.Secret); code == "000000" {
		bad.Set("otp", "111111")
	}
	if status, m := e.post("/token", "app", "app-secret", bad); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("wrong otp: %d %v", status, m)
	}
	s := e.loginOTP("alice", "alice-pw", en.Secret)
	c := claims(t, s.access)
	if c["fid"] != en.FactorID {
		t.Errorf("fid = %v, want %s", c["fid"], en.FactorID)
	}
	if amr, _ := c["amr"].([]any); !slices.Contains(amr, any("otp")) {
		t.Errorf("amr = %v, want otp in it", c["amr"])
	}
	if !e.active(s.access) {
		t.Fatal("MFA token inactive")
	}
	// Users without a factor are unaffected.
	plain := e.login("bob", "bob-pw")
	if _, ok := claims(t, plain.access)["fid"]; ok {
		t.Error("token of a user without factor carries fid")
	}
	if status, _ := e.adminJSON(http.MethodPost, "/admin/users/nobody/factors", nil, nil); status != http.StatusNotFound {
		t.Errorf("enrol unknown user: %d, want 404", status)
	}
}

func TestMFARecall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	en := e.enroll("alice")
	s := e.loginOTP("alice", "alice-pw", en.Secret)
	enBob := e.enroll("bob")
	bob := e.loginOTP("bob", "bob-pw", enBob.Secret)

	res := e.recall(map[string]any{"type": "mfa", "values": []string{"alice"}})
	if res["count"] != float64(1) {
		t.Errorf("mfa recall count = %v, want 1", res["count"])
	}
	if e.active(s.access) || e.active(s.refresh) {
		t.Error("session established with the recalled factor still active")
	}
	if !e.active(bob.access) {
		t.Error("another user's MFA session recalled")
	}
	code, err := totpCode(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "otp": {code}}
	if status, m := e.post("/token", "app", "app-secret", form); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("old factor's code after recall: %d %v, want invalid_grant", status, m)
	}
	form.Del("otp")
	if status, m := e.post("/token", "app", "app-secret", form); status != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("login without factor after mfa recall: %d %v, want invalid_grant", status, m)
	}
	re := e.enroll("alice")
	if re.FactorID == en.FactorID {
		t.Fatal("re-enrolment reused the factor id")
	}
	again := e.loginOTP("alice", "alice-pw", re.Secret)
	if claims(t, again.access)["fid"] != re.FactorID || !e.active(again.access) {
		t.Error("token from the re-enrolled factor not active")
	}

	// all: every user's factor.
	res = e.recall(map[string]any{"type": "mfa", "all": true})
	if res["count"] != float64(2) {
		t.Errorf("mfa all count = %v, want 2 (alice's new factor and bob's)", res["count"])
	}
	if e.active(again.access) || e.active(bob.access) {
		t.Error("mfa all left an MFA session active")
	}
}

func TestKeyRotationAndRecall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	jwksKids := func() []string {
		resp, b := e.get("/jwks", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("jwks: %d", resp.StatusCode)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			if !k.IsPublic() || k.Algorithm != "ES256" {
				t.Errorf("jwks key %s: public %v alg %s", k.KeyID, k.IsPublic(), k.Algorithm)
			}
			kids = append(kids, k.KeyID)
		}
		slices.Sort(kids)
		return kids
	}
	k1 := e.iss.ActiveKeyID()
	before := jwksKids()
	if len(before) != 2 || !slices.Contains(before, k1) {
		t.Fatalf("jwks = %v, want the active key and one published ahead", before)
	}
	old := e.cc()

	status, m := e.adminJSON(http.MethodPost, "/admin/keys/rotate", nil, nil)
	k2 := str(m["kid"])
	if status != 200 || k2 == "" || k2 == k1 || e.iss.ActiveKeyID() != k2 {
		t.Fatalf("rotate: %d %v (was %s)", status, m, k1)
	}
	if !slices.Contains(before, k2) {
		t.Errorf("rotation activated %s, not the key published ahead (%v)", k2, before)
	}
	afterRotate := jwksKids()
	if !slices.Contains(afterRotate, k1) || !slices.Contains(afterRotate, k2) || len(afterRotate) != 3 {
		t.Errorf("jwks after rotate = %v, want old, new and a fresh standby", afterRotate)
	}
	fresh := e.cc()
	if header(t, fresh)["kid"] != k2 {
		t.Errorf("new token kid = %v, want %s", header(t, fresh)["kid"], k2)
	}
	if !e.active(old) {
		t.Error("token of the rotated (not revoked) key inactive")
	}

	e.recall(map[string]any{"type": "kid", "values": []string{k1}})
	if slices.Contains(jwksKids(), k1) {
		t.Error("revoked key still in JWKS")
	}
	if e.active(old) {
		t.Error("token of the revoked key still active")
	}
	if !e.active(fresh) {
		t.Error("token of the active key inactive after revoking another key")
	}

	// Recalling the active key rotates away from it first.
	e.recall(map[string]any{"type": "kid", "values": []string{k2}})
	if e.iss.ActiveKeyID() == k2 || e.active(fresh) || slices.Contains(jwksKids(), k2) {
		t.Error("recalling the active key left it signing, verifying or published")
	}
	if !e.active(e.cc()) {
		t.Error("token minted after recalling the active key inactive")
	}
	if status, m := e.adminJSON(http.MethodPost, "/admin/recalls", map[string]any{"type": "kid", "values": []string{"nope"}}, nil); status != 400 {
		t.Errorf("unknown kid: %d %v, want 400", status, m)
	}
}

func TestBoundedRecallThenReissue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		value func(victim tokens) any // recall request values
		typ   string
		all   bool // control is recalled too (issued_before)
	}{
		{name: "sub", typ: "sub", value: func(tokens) any { return []string{"alice"} }},
		{name: "client", typ: "client", value: func(tokens) any { return []string{"app"} }},
		{name: "sid", typ: "sid", value: func(v tokens) any { return []string{str(claimsNoT(v.access)["sid"])} }},
		{name: "issued_before", typ: "issued_before", all: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			victim := e.login("alice", "alice-pw")
			control := e.mustTokenAs("other", "other-secret", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-pw"}})
			body := map[string]any{"type": tc.typ}
			if tc.value != nil {
				body["values"] = tc.value(victim)
			}
			res := e.recall(body)
			if res["count"] != float64(1) {
				t.Errorf("count = %v, want 1", res["count"])
			}
			if e.active(victim.access) || e.active(victim.refresh) {
				t.Error("recalled session still active")
			}
			if status, _ := e.post("/token", "app", "app-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {victim.refresh}}); status != 400 {
				t.Errorf("refresh of a recalled session: %d, want 400", status)
			}
			if e.active(control.access) == tc.all {
				t.Errorf("control active = %v, want %v", !tc.all, !tc.all)
			}
			// Re-issued at once, most likely in the recall's second: works at once.
			again := e.login("alice", "alice-pw")
			if !e.active(again.access) || !e.active(again.refresh) {
				t.Error("credentials re-issued after the recall are not active")
			}
			if l := e.iss.Revocations(0); len(l.Rules) != 1 || l.Rules[0].IssuedBefore == 0 {
				t.Errorf("rules = %+v, want one bounded rule", l.Rules)
			}
		})
	}
}

// A token requested in the second of a recall that matches it is held until that second has
// passed: it leaves valid (iat after the rule's bound) and not dated in the future.
func TestReissueWaitsForRecallSecond(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res, err := e.iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallSubject, Values: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	bound := res.Rules[0].IssuedBefore
	again := e.login("alice", "alice-pw")
	received := time.Now().Unix()
	iat := int64(claims(t, again.access)["iat"].(float64))
	if iat <= bound || iat > received {
		t.Errorf("iat %d: want after the recall bound %d and not after the response (%d)", iat, bound, received)
	}
	if !e.active(again.access) {
		t.Fatal("re-issued token inactive")
	}
	// A second recall right after still covers it, and a third login works again.
	e.recall(map[string]any{"type": "client", "values": []string{"app"}})
	if e.active(again.access) || e.active(again.refresh) {
		t.Fatal("client recall missed a token of the client issued before it")
	}
	if !e.active(e.cc()) {
		t.Error("token re-issued after the second recall inactive")
	}
	// Unaffected subjects are never held.
	e.recall(map[string]any{"type": "sub", "values": []string{"alice"}})
	waits := metricValue(t, e, "recall_issuer_mint_waits_total")
	e.mustTokenAs("other", "other-secret", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-pw"}})
	if got := metricValue(t, e, "recall_issuer_mint_waits_total"); got != waits {
		t.Errorf("a login no recall matches was held (waits %v -> %v)", waits, got)
	}
}

// metricValue scrapes /metrics for an unlabelled sample.
func metricValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	_, b := e.get("/metrics", nil)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}

func TestIssuedBeforeRecall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.cc()
	// Before is now, within the token's second or after it: the token was issued before it.
	before := time.Now()
	if before.Nanosecond() == 0 {
		before = before.Add(time.Nanosecond) // a whole second spares its own
	}
	res := e.recall(map[string]any{"type": "issued_before", "before": before.Format(time.RFC3339Nano)})
	if res["count"] != float64(1) {
		t.Errorf("count = %v", res["count"])
	}
	if e.active(tok) {
		t.Error("token issued before the bound still active")
	}
	if !e.active(e.cc()) {
		t.Error("token issued after the recall inactive")
	}
	for _, before := range []any{time.Now().Add(time.Hour).Format(time.RFC3339), "yesterday"} {
		if status, m := e.adminJSON(http.MethodPost, "/admin/recalls", map[string]any{"type": "issued_before", "before": before}, nil); status != 400 {
			t.Errorf("before %v: %d %v, want 400", before, status, m)
		}
	}
	// JSON number and RFC 3339 are both accepted.
	e.recall(map[string]any{"type": "issued_before", "before": time.Now().Add(-time.Hour).Unix()})
	e.recall(map[string]any{"type": "issued_before", "before": time.Now().Add(-time.Hour).Format(time.RFC3339Nano)})
}

func TestTokenRecall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, b := e.cc(), e.cc()
	s := e.login("bob", "bob-pw")
	res := e.recall(map[string]any{"type": "token", "values": []string{a, s.refresh, "junk"}})
	if res["count"] != float64(2) || res["unresolved"] != float64(1) {
		t.Errorf("token recall = %v, want count 2, unresolved 1", res)
	}
	if e.active(a) || e.active(s.access) || e.active(s.refresh) {
		t.Error("recalled token (or the refresh token's session) still active")
	}
	if !e.active(b) {
		t.Error("control token recalled")
	}
}

func TestRecallValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := []struct {
		name string
		body string
		want int
	}{
		{"unknown type", `{"type":"user","values":["a"]}`, 400},
		{"no values", `{"type":"jti","values":[]}`, 400},
		{"unknown field", `{"type":"jti","values":["a"],"extra":1}`, 400},
		{"all on jti", `{"type":"jti","values":["a"],"all":true}`, 400},
		{"before on sub", `{"type":"sub","values":["a"],"before":"1"}`, 400},
		{"mfa values and all", `{"type":"mfa","values":["alice"],"all":true}`, 400},
		{"not json", `nope`, 400},
		{"ok", `{"type":"jti","values":["a","a",""]}`, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/recalls", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			if status, m := e.do(req); status != tc.want {
				t.Fatalf("got %d %v, want %d", status, m, tc.want)
			}
		})
	}
}

func TestAdminAuthRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	paths := []struct{ method, path string }{
		{"POST", "/admin/recalls"}, {"POST", "/admin/users"}, {"POST", "/admin/clients"},
		{"POST", "/admin/users/alice/factors"}, {"POST", "/admin/keys/rotate"}, {"GET", "/admin/keys"},
		{"GET", "/debug/recalls"},
	}
	for _, p := range paths {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminSecret)), adminSecret} {
			req, _ := http.NewRequest(p.method, e.srv.URL+p.path, strings.NewReader(`{"type":"jti","values":["x"]}`))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %q: %d, want 401 with WWW-Authenticate", p.method, p.path, auth, resp.StatusCode)
			}
		}
	}
	if e.iss.Version() != 0 || e.iss.ActiveKeyID() != e.iss.KeyInfos()[0].KID {
		t.Error("an unauthenticated admin call took effect")
	}
}

func TestBulkRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	users := make([]map[string]string, 2000)
	for n := range users {
		users[n] = map[string]string{"username": "u" + strconv.Itoa(n), "password": "p" + strconv.Itoa(n)}
	}
	if status, m := e.adminJSON(http.MethodPost, "/admin/users", map[string]any{"users": users}, nil); status != 200 || m["count"] != float64(2000) {
		t.Fatalf("register users: %d %v", status, m)
	}
	clients := []map[string]any{{"client_id": "c1", "client_secret": "s1", "scopes": []string{"x"}}}
	if status, m := e.adminJSON(http.MethodPost, "/admin/clients", map[string]any{"clients": clients}, nil); status != 200 || m["count"] != float64(1) {
		t.Fatalf("register clients: %d %v", status, m)
	}
	s := e.mustTokenAs("c1", "s1", url.Values{"grant_type": {"password"}, "username": {"u1999"}, "password": {"p1999"}})
	if c := claims(t, s.access); c["sub"] != "u1999" || c["client_id"] != "c1" || c["scope"] != "x" {
		t.Errorf("claims = %v", c)
	}
	if status, _ := e.adminJSON(http.MethodPost, "/admin/users", map[string]any{"users": []map[string]string{{"username": "x"}}}, nil); status != 400 {
		t.Errorf("user without password: %d, want 400", status)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := map[string]any{"type": "jti", "values": []string{"j1", "j2"}}
	hdr := map[string]string{"Idempotency-Key": "drill-42"}
	s1, r1 := e.adminJSON(http.MethodPost, "/admin/recalls", body, hdr)
	s2, r2 := e.adminJSON(http.MethodPost, "/admin/recalls", body, hdr)
	if s1 != 200 || s2 != 200 {
		t.Fatalf("status %d, %d", s1, s2)
	}
	if r1["recall_id"] != r2["recall_id"] || r1["version"] != r2["version"] || r1["applied_at"] != r2["applied_at"] || r2["count"] != float64(2) {
		t.Errorf("repeated key returned another result:\n%v\n%v", r1, r2)
	}
	if r2["replayed"] != true {
		t.Error("replayed result not marked")
	}
	if e.iss.Version() != 1 {
		t.Errorf("version = %d after an idempotent repeat, want 1", e.iss.Version())
	}
	if n := len(e.iss.Truth().Records()); n != 2 {
		t.Errorf("truth has %d records, want 2", n)
	}
	if s, m := e.adminJSON(http.MethodPost, "/admin/recalls", map[string]any{"type": "jti", "values": []string{"j3"}}, hdr); s != http.StatusUnprocessableEntity {
		t.Errorf("key reused with another body: %d %v, want 422", s, m)
	}
	// Without a key, re-applying is harmless: a new version, nothing changed.
	_, r3 := e.adminJSON(http.MethodPost, "/admin/recalls", body, nil)
	if r3["count"] != float64(0) || r3["version"] != float64(2) {
		t.Errorf("re-applied recall = %v, want count 0 at version 2", r3)
	}
}

func TestRevocationList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	list := func(q string, hdr map[string]string) (*http.Response, revocation.List) {
		resp, b := e.get("/revocations"+q, hdr)
		var l revocation.List
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
		}
		return resp, l
	}
	resp, l := list("", nil)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"0"` || l.Version != 0 || !l.Full || l.Rules == nil {
		t.Fatalf("empty list: %d %s %+v", resp.StatusCode, resp.Header.Get("ETag"), l)
	}
	r1 := e.recall(map[string]any{"type": "jti", "values": []string{"a", "b"}})
	r2 := e.recall(map[string]any{"type": "sub", "values": []string{"alice"}})

	resp, l = list("", nil)
	if resp.Header.Get("ETag") != `"2"` || l.Version != 2 || !l.Full || len(l.Rules) != 3 {
		t.Fatalf("full list: %s %+v", resp.Header.Get("ETag"), l)
	}
	if l.Rules[0].RecallID != r1["recall_id"] || l.Rules[2].RecallID != r2["recall_id"] || l.Rules[2].IssuedBefore == 0 {
		t.Errorf("rules = %+v", l.Rules)
	}
	resp, l = list("?since=1", nil)
	if l.Full || l.Version != 2 || len(l.Rules) != 1 || l.Rules[0].Type != revocation.Subject || l.Rules[0].Version != 2 {
		t.Errorf("delta since 1 = %+v", l)
	}
	_, l = list("?since=2", nil)
	if len(l.Rules) != 0 || l.Rules == nil || l.Full {
		t.Errorf("delta since current = %+v, want empty rules", l)
	}
	for _, inm := range []string{`"2"`, `W/"2"`, `"1", "2"`, `*`} {
		if resp, _ := list("?since=1", map[string]string{"If-None-Match": inm}); resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != `"2"` {
			t.Errorf("If-None-Match %s: %d, want 304 with ETag", inm, resp.StatusCode)
		}
	}
	if resp, _ := list("", map[string]string{"If-None-Match": `"1"`}); resp.StatusCode != 200 {
		t.Errorf("stale If-None-Match: %d, want 200", resp.StatusCode)
	}
	if resp, _ := list("?since=x", nil); resp.StatusCode != 400 {
		t.Errorf("bad since: %d, want 400", resp.StatusCode)
	}
	// The full list is cached per version: a new recall must show.
	e.recall(map[string]any{"type": "jti", "values": []string{"c"}})
	if _, l = list("", nil); l.Version != 3 || len(l.Rules) != 4 {
		t.Errorf("full list after a third recall = %+v", l)
	}
}

func TestGroundTruth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	victims := []string{e.cc(), e.cc(), e.cc()}
	var jtis []string
	for _, v := range victims {
		jtis = append(jtis, str(claims(t, v)["jti"]))
	}
	before := time.Now()
	res, err := e.iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallJTI, Values: jtis})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	recs := e.iss.Truth().Records()
	if len(recs) != 3 {
		t.Fatalf("truth has %d records, want 3", len(recs))
	}
	for _, r := range recs {
		if r.Kind != "rule" || r.Rule.Version != res.Version || r.Rule.RecallID != res.RecallID || !slices.Contains(jtis, r.Rule.Value) {
			t.Errorf("record %+v does not describe the recall %+v", r, res)
		}
		if r.At.Before(before) || r.At.After(after) || !r.At.Equal(res.AppliedAt) {
			t.Errorf("record instant %v outside the call [%v, %v] or not AppliedAt %v", r.At, before, after, res.AppliedAt)
		}
	}
	for n, v := range victims {
		c := claims(t, v)
		since, ok := e.iss.Truth().EnforcedSince(revocation.Claims{JTI: jtis[n], Subject: "app", ClientID: "app", IssuedAt: int64(c["iat"].(float64))})
		if !ok || !since.Equal(res.AppliedAt) {
			t.Errorf("EnforcedSince = %v %v, want %v", since, ok, res.AppliedAt)
		}
		if e.active(v) {
			t.Error("victim active after recall")
		}
	}
	resp, b := e.get("/debug/recalls", map[string]string{"Authorization": "Bearer " + adminSecret})
	var doc struct {
		Component string `json:"component"`
		Records   []any  `json:"records"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || doc.Component != "issuer" || len(doc.Records) != 3 {
		t.Errorf("/debug/recalls: %d %s", resp.StatusCode, b)
	}
}

func TestMetadataAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, b := e.get(p, nil)
		var md issuer.Metadata
		if resp.StatusCode != 200 || json.Unmarshal(b, &md) != nil {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
		if md.Issuer != e.srv.URL || md.TokenEndpoint != e.srv.URL+"/token" || md.JWKSURI != e.srv.URL+"/jwks" ||
			md.RevocationEndpoint != e.srv.URL+"/revoke" || md.IntrospectionEndpoint != e.srv.URL+"/introspect" {
			t.Errorf("%s: %+v", p, md)
		}
	}
	if resp, _ := e.get("/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	e.cc()
	e.introspect("junk")
	e.recall(map[string]any{"type": "jti", "values": []string{"x"}})
	resp, b := e.get("/metrics", nil)
	for _, want := range []string{
		`recall_issuer_tokens_issued_total{grant="client_credentials"} 1`,
		`recall_issuer_introspections_total{result="unknown"} 1`,
		`recall_issuer_recalls_total{type="jti"} 1`,
		`recall_issuer_rules 1`,
		`recall_issuer_revocation_list_version 1`,
		`recall_issuer_bus_publish_failures_total 0`,
	} {
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestIssuerFromRequestHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.iss.SetBaseURL("")
	tok := e.cc()
	if iss := claims(t, tok)["iss"]; iss != e.srv.URL {
		t.Errorf("iss = %v, want %s derived from Host", iss, e.srv.URL)
	}
	e.iss.SetBaseURL("https://issuer.example/")
	if e.active(tok) {
		t.Error("token of the former issuer value still active")
	}
	if iss := claims(t, e.cc())["iss"]; iss != "https://issuer.example" {
		t.Errorf("iss = %v after SetBaseURL", iss)
	}
}

// TestMFARecoveryCodes: an enrolment gives single-use recovery codes that log the user in in
// place of a one-time password, in a session of that factor; an MFA recall deletes the unused
// ones with the factor (and says how many), kills the session a code established, and spares
// another user's codes.
func TestMFARecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	en, enBob := e.enroll("alice"), e.enroll("bob")
	if len(en.RecoveryCodes) != issuer.RecoveryCodes || en.RecoveryCodes[0] == en.RecoveryCodes[1] {
		t.Fatalf("recovery codes %d, want %d distinct", len(en.RecoveryCodes), issuer.RecoveryCodes)
	}
	form := func(user, pw, code string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "recovery_code": {code}}
	}
	s := e.mustToken(form("alice", "alice-pw", en.RecoveryCodes[0]))
	if claims(t, s.access)["fid"] != en.FactorID || !e.active(s.access) {
		t.Fatal("a recovery code's session is not one of its factor")
	}
	if status, m := e.post("/token", "app", "app-secret", form("alice", "alice-pw", en.RecoveryCodes[0])); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("a used recovery code again: %d %v, want invalid_grant", status, m)
	}
	if status, m := e.post("/token", "app", "app-secret", form("alice", "alice-pw", enBob.RecoveryCodes[0])); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("bob's recovery code for alice: %d %v, want invalid_grant", status, m)
	}
	res := e.recall(map[string]any{"type": "mfa", "values": []string{"alice"}})
	if res["recovery_codes"] != float64(issuer.RecoveryCodes-1) {
		t.Errorf("mfa recall deleted %v recovery codes, want %d (the unused ones)", res["recovery_codes"], issuer.RecoveryCodes-1)
	}
	if e.active(s.access) {
		t.Error("the session a recovery code established survived the recall of its factor")
	}
	if status, m := e.post("/token", "app", "app-secret", form("alice", "alice-pw", en.RecoveryCodes[1])); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("an unused recovery code of the recalled factor: %d %v, want invalid_grant", status, m)
	}
	if b := e.mustToken(form("bob", "bob-pw", enBob.RecoveryCodes[0])); !e.active(b.access) {
		t.Error("another user's recovery code stopped working")
	}
}

// TestMFARecallKeepsRecoveryCodes: the planted incomplete MFA recall deletes the factor (its
// one-time codes are refused, its sessions die) but leaves its unused recovery codes, which
// still log the user in, once each, and are not counted as recalled; re-enrolment drops them.
func TestMFARecallKeepsRecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *issuer.Config) { c.MFARecallKeepsRecoveryCodes = true })
	en := e.enroll("alice")
	s := e.loginOTP("alice", "alice-pw", en.Secret)
	res := e.recall(map[string]any{"type": "mfa", "values": []string{"alice"}})
	if res["count"] != float64(1) || res["recovery_codes"] != nil {
		t.Errorf("mfa recall: %v; want one factor and no recovery codes counted", res)
	}
	if e.active(s.access) {
		t.Error("the session of the recalled factor survived")
	}
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "recovery_code": {en.RecoveryCodes[0]}}
	if kept := e.mustToken(form); !e.active(kept.access) || claims(t, kept.access)["fid"] != nil {
		t.Error("a kept recovery code did not log in with a session of no factor")
	}
	if status, _ := e.post("/token", "app", "app-secret", form); status != 400 {
		t.Errorf("a kept recovery code twice: %d, want 400", status)
	}
	e.enroll("alice")
	form.Set("recovery_code", en.RecoveryCodes[1])
	if status, _ := e.post("/token", "app", "app-secret", form); status != 400 {
		t.Errorf("an old kept recovery code after re-enrolment: %d, want 400", status)
	}
}
