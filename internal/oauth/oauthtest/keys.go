package oauthtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// signingKey is one of the Server's JWT signing keys.
type signingKey struct {
	kid       string
	priv      *ecdsa.PrivateKey
	revokedAt time.Time // zero while published
}

// EnableJWT, called before the server answers, makes its access tokens RFC 9068 JWTs (typ
// at+jwt, ES256, iss the issuer URL, aud audience, sub, client_id, jti, iat, exp) signed with the
// current signing key, and publishes every key not revoked at jwks_uri (/jwks). Its admin API,
// modelled on a provider's management API for signing keys (Auth0's rotate and revoke), takes
// the Bearer AdminToken: POST /admin/keys/rotate makes a new key the signing key (the previous
// one stays published, as after a rotation), DELETE /admin/keys/{kid} unpublishes a key now
// (the key that signs cannot be revoked: 409; an unknown kid: 404).
func (s *Server) EnableJWT(audience string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audience = audience
	s.AdminToken = "adm_" + randHex(16)
	s.sign = []*signingKey{newSigningKey()}
}

func newSigningKey() *signingKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &signingKey{kid: "k-" + randHex(6), priv: priv}
}

// SigningKid returns the kid of the key that signs now ("" without EnableJWT).
func (s *Server) SigningKid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sign) == 0 {
		return ""
	}
	return s.sign[len(s.sign)-1].kid
}

// KeyRevokedAt returns when kid was unpublished (false: still published, or unknown).
func (s *Server) KeyRevokedAt(kid string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.sign {
		if k.kid == kid && !k.revokedAt.IsZero() {
			return k.revokedAt, true
		}
	}
	return time.Time{}, false
}

// signJWT returns the access token for t, signed with the current key; s.mu is held.
func (s *Server) signJWT(t *token, iat time.Time) (string, error) {
	k := s.sign[len(s.sign)-1]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return "", err
	}
	claims, _ := json.Marshal(map[string]any{"iss": s.Issuer.URL, "aud": s.audience, "sub": t.sub, "client_id": t.client,
		"jti": t.jti, "iat": iat.Unix(), "exp": t.exp.Unix()})
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range s.sign {
		if k.revokedAt.IsZero() {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.ES256), Use: "sig"})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// admin checks the admin API's Bearer token.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	want := s.AdminToken
	s.mu.Unlock()
	if want == "" || r.Header.Get("Authorization") != "Bearer "+want {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return false
	}
	return true
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	k := newSigningKey()
	s.mu.Lock()
	s.sign = append(s.sign, k)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"kid": k.kid})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	kid := r.PathValue("kid")
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.sign {
		if k.kid != kid {
			continue
		}
		if i == len(s.sign)-1 {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "the signing key cannot be revoked: rotate first"})
			return
		}
		if k.revokedAt.IsZero() {
			k.revokedAt = time.Now()
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown kid"})
}

// KeySetGateway is a resource server that verifies JWT access tokens as many Go services do,
// with go-oidc's RemoteKeySet (github.com/coreos/go-oidc/v3): a signature by a cached key is
// good; a token naming a kid it does not hold makes it refetch the JWKS, and nothing else does.
// So it learns of a new key at its first token, and of a removed one only when some later
// token names yet another unknown kid. It records when it last honoured each token.
type KeySetGateway struct {
	*httptest.Server
	keys *oidc.RemoteKeySet
	rec  Honoured
}

// NewKeySetGateway starts a KeySetGateway on jwksURL.
func NewKeySetGateway(jwksURL string) *KeySetGateway {
	g := &KeySetGateway{keys: oidc.NewRemoteKeySet(context.Background(), jwksURL)}
	g.Server = httptest.NewServer(g.rec.Record(http.HandlerFunc(g.serve)))
	return g
}

func (g *KeySetGateway) serve(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	payload, err := g.keys.VerifySignature(r.Context(), tok)
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || time.Now().Unix() >= claims.Exp {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	w.Write([]byte("ok\n"))
}

// LastHonoured returns when the gateway last accepted the token.
func (g *KeySetGateway) LastHonoured(value string) (time.Time, bool) { return g.rec.Last(value) }

// Honoured records, for a handler in front of which it is put, when each bearer token was last
// answered 2xx: the ground truth of a resource server that keeps none of its own.
type Honoured struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// Record wraps h.
func (rec *Honoured) Record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		tok := bearer(r)
		if tok == "" || sw.status/100 != 2 {
			return
		}
		rec.mu.Lock()
		if rec.last == nil {
			rec.last = map[string]time.Time{}
		}
		rec.last[tok] = time.Now()
		rec.mu.Unlock()
	})
}

// Last returns when the token was last answered 2xx.
func (rec *Honoured) Last(value string) (time.Time, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	t, ok := rec.last[value]
	return t, ok
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}
