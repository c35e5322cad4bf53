package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// upstreamEcho answers with the X-Auth-* headers it received.
func upstreamEcho(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"sub": r.Header.Get(HeaderSubject), "scope": r.Header.Get(HeaderScope),
			"client": r.Header.Get(HeaderClient), "path": r.URL.Path,
			"authorization": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge builds a compact JWS with the given header, the payload of a real token, and a
// signature computed by sign over "header.payload".
func forge(header map[string]any, payload string, sign func(input string) []byte) string {
	in := b64(header) + "." + payload
	return in + "." + base64.RawURLEncoding.EncodeToString(sign(in))
}

func TestJWTSecurity(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	up := upstreamEcho(t)
	_, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, Upstream: up.URL})

	valid := f.mint()
	payload := strings.Split(valid, ".")[1]
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key("k1").PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwksResp, err := http.Get(f.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	jwksBytes, _ := io.ReadAll(jwksResp.Body)
	jwksResp.Body.Close()
	hs256 := func(key []byte) func(string) []byte {
		return func(in string) []byte {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(in))
			return m.Sum(nil)
		}
	}
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 0xff
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	f.addKey("k-unpublished", false)

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}) + "." + payload + "."},
		{"alg none with signature", forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, payload,
			func(string) []byte { return []byte("x") })},
		{"HS256 keyed with public key PEM", forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, payload, hs256(pubPEM))},
		{"HS256 keyed with JWKS bytes", forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, payload, hs256(jwksBytes))},
		{"wrong audience", f.mint(claim("aud", []string{"other-api"}))},
		{"wrong issuer", f.mint(claim("iss", "https://evil.example"))},
		{"expired", f.mint(claim("exp", time.Now().Add(-time.Second).Unix()))},
		{"not yet valid", f.mint(claim("nbf", time.Now().Add(time.Hour).Unix()))},
		{"issued in the future", f.mint(claim("iat", time.Now().Add(time.Hour).Unix()))},
		{"missing exp", f.mint(func(s *tokenSpec) { delete(s.claims, "exp") })},
		{"missing jti", f.mint(func(s *tokenSpec) { delete(s.claims, "jti") })},
		{"bad signature", badSig},
		{"payload swapped", parts[0] + "." + b64(map[string]any{"iss": f.URL, "sub": "admin", "aud": DefaultAudience,
			"jti": "x", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}) + "." + parts[2]},
		{"unknown kid", f.mint(func(s *tokenSpec) { s.kid = "k-unpublished" })},
		{"wrong typ", f.mint(func(s *tokenSpec) { s.typ = "JWT" })},
		{"garbage", "not-a-jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, gw.URL, "/api/whoami", tc.token)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			if h := resp.Header.Get("WWW-Authenticate"); !isInvalidTokenChallenge(h) {
				t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\", error_description=...", h)
			}
		})
	}

	t.Run("missing token", func(t *testing.T) {
		t.Parallel()
		for _, auth := range []string{"", "Basic dXNlcjpwdw==", "Bearer ", "Bearer"} {
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/whoami", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("Authorization %q: status %d, WWW-Authenticate %q; want 401 and exactly \"Bearer\"",
					auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("valid token is proxied with identity headers", func(t *testing.T) {
		t.Parallel()
		resp := get(t, gw.URL, "/api/whoami", valid, HeaderSubject, "spoofed-admin", HeaderScope, "admin")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200", resp.StatusCode)
		}
		var got map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"sub": "user-1", "scope": "read write", "client": "client-1", "path": "/api/whoami",
			"authorization": "Bearer " + valid}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("upstream saw %s = %q, want %q", k, got[k], v)
			}
		}
	})
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	_, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSMinRefresh: 300 * time.Millisecond})
	if n := f.jwksHits.Load(); n != 1 {
		t.Fatalf("jwks fetched %d times at start, want 1", n)
	}
	f.addKey("k2", false)
	tok := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	waitFor(t, time.Second, "min refresh interval since start", func() bool {
		return status(t, gw.URL, tok) == http.StatusUnauthorized && f.jwksHits.Load() == 2
	})
	// A second unknown kid right away must not refetch.
	if st := status(t, gw.URL, tok); st != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", st)
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Fatalf("jwks fetched %d times, want 2 (refetch not rate limited)", n)
	}
	// Key rotation: once published, the new kid is learnt on the next allowed refetch.
	f.publish("k2")
	waitFor(t, 2*time.Second, "new kid accepted", func() bool { return status(t, gw.URL, tok) == http.StatusOK })
	if n := f.jwksHits.Load(); n != 3 {
		t.Errorf("jwks fetched %d times, want 3", n)
	}
}

func TestVerifiedCacheRechecksExpiry(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	v, err := NewValidator(Config{IssuerURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	tok := f.mint(claim("exp", exp.Unix()))
	ctx := t.Context()
	for range 2 { // miss, then hit
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("Validate before exp: %v", err)
		}
	}
	waitFor(t, 4*time.Second, "exp", func() bool { return time.Now().After(exp) })
	if _, err := v.Validate(ctx, tok); Classify(err) != Reject {
		t.Fatalf("Validate after exp from the cache = %v, want a reject", err)
	}
}

func TestKeyLeavingJWKSIsEnforcedAndRecorded(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSMinRefresh: 50 * time.Millisecond})
	old := f.mint()
	if st := status(t, gw.URL, old); st != http.StatusOK {
		t.Fatalf("before: status %d", st)
	}
	// The issuer recalls k1: it leaves the JWKS and k2 signs from now on.
	f.unpublish("k1")
	f.addKey("k2", true)
	fresh := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	waitFor(t, 2*time.Second, "new key learnt", func() bool { return status(t, gw.URL, fresh) == http.StatusOK })
	if st := status(t, gw.URL, old); st != http.StatusUnauthorized {
		t.Errorf("token of the dropped key (verified before, cached): status %d, want 401", st)
	}
	at, ok := g.Truth().EnforcedSince(claimsOf(t, old))
	if !ok || at.IsZero() {
		t.Error("truth has no record of the dropped key")
	}
	if _, ok := g.Truth().EnforcedSince(claimsOf(t, fresh)); ok {
		t.Error("truth recalls the new key's token")
	}
}
