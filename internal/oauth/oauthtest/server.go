// Package oauthtest is an OAuth 2.0 authorization server and a gateway in front of it, written
// apart from the reference stack (targets/) for tests of the harness against a provider it
// does not know: pre-registered clients (and users, for the password grant) only, opaque
// tokens, no admin API, RFC 8414 discovery, RFC 7009 revocation that answers 200 to a
// revocation by another client without revoking, RFC 7662 introspection on its own listener
// with its own basic credentials, the refresh_token grant with rotation (a refresh token is
// bound to its client and good for one use: RFC 6749 section 6 and RFC 9700 section 4.14.2; with
// RevokeFamilyOnReuse a reuse revokes its whole grant),
// and a gateway with a TTL cache of positive introspections. With EnableJWT its access tokens
// are JWTs signed by keys it rotates and revokes through an admin API, and KeySetGateway
// verifies them with go-oidc, a verifier we did not write.
// Both record ground truth: when each token became inactive, and when the gateway last
// honoured it.
package oauthtest

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Server is the authorization server.
type Server struct {
	// Issuer serves discovery, token and revocation; Introspection serves RFC 7662.
	Issuer, Introspection *httptest.Server
	// IntrospectUser and IntrospectPassword authenticate introspection (HTTP Basic).
	IntrospectUser, IntrospectPassword string
	// TokenTTL is the expires_in of new tokens; change it with SetTokenTTL once the server
	// may be answering.
	TokenTTL time.Duration
	// RevokeFamilyOnReuse, set before the server answers, makes a refresh token presented
	// after its one use revoke its whole grant (RFC 9700 section 4.14.2): every refresh token
	// and every access token issued from the same original refresh token. Unset, the reuse is
	// only refused, and the family lives on.
	RevokeFamilyOnReuse bool
	// AdminToken is the Bearer secret of the signing-key admin API (set by EnableJWT).
	AdminToken string

	mu      sync.Mutex
	clients map[string]string           // id -> secret
	keys    map[string]crypto.PublicKey // id -> key of its private_key_jwt assertions
	jtis    map[string]bool             // assertion jti seen
	users   map[string]string           // username -> password (the password grant)
	tokens  map[string]*token
	refresh map[string]*refreshToken
	issued  map[string]int // grant_type -> tokens issued
	subs    map[string]int // sub -> tokens issued
	reused  int            // refresh tokens presented after their one use

	// JWT access tokens (EnableJWT): the audience, and the signing keys, the current one last.
	audience string
	sign     []*signingKey
}

// refreshToken is a refresh token: the client it is bound to, its subject, and whether it was
// used (rotated).
type refreshToken struct {
	client, sub string
	used        bool
	// family is the grant it belongs to: the refresh token IssueRefresh made, and every one
	// rotated from it.
	family string
}

type token struct {
	client, sub, jti string
	family           string // the refresh-token grant it came from ("" for other grants)
	exp              time.Time
	inactiveAt       time.Time // zero while active
}

// NewServer starts a server with the given pre-registered clients (id -> secret).
func NewServer(clients map[string]string) *Server {
	s := &Server{clients: clients, users: map[string]string{}, tokens: map[string]*token{},
		refresh: map[string]*refreshToken{}, keys: map[string]crypto.PublicKey{}, jtis: map[string]bool{}, issued: map[string]int{}, subs: map[string]int{}, IntrospectUser: "introspector",
		IntrospectPassword: randHex(12), TokenTTL: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /oauth2/revoke", s.revoke)
	mux.HandleFunc("GET /jwks", s.jwks)
	mux.HandleFunc("POST /admin/keys/rotate", s.rotateKey)
	mux.HandleFunc("DELETE /admin/keys/{kid}", s.revokeKey)
	s.Issuer = httptest.NewServer(mux)
	s.Introspection = httptest.NewServer(http.HandlerFunc(s.introspect))
	return s
}

// AddUser registers a resource owner for the password grant (RFC 6749 §4.3): its tokens have
// the username as sub.
func (s *Server) AddUser(username, password string) {
	s.mu.Lock()
	s.users[username] = password
	s.mu.Unlock()
}

// AddKeyClient registers a client that authenticates with private_key_jwt (RFC 7523 section
// 2.2): a JWT signed with the private half of pub, iss and sub its client_id, aud the issuer
// identifier or the token endpoint URL (section 3), not expired, its jti used once.
func (s *Server) AddKeyClient(id string, pub crypto.PublicKey) {
	s.mu.Lock()
	s.keys[id] = pub
	s.mu.Unlock()
}

// SetTokenTTL sets the lifetime of the tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.TokenTTL = d
	s.mu.Unlock()
}

// IssueRefresh creates a refresh token bound to client for subject sub, as an earlier
// authorization (a browser login, a device flow) would have left it, and returns it.
func (s *Server) IssueRefresh(client, sub string) string {
	v := "rt_" + randHex(20)
	s.mu.Lock()
	s.refresh[v] = &refreshToken{client: client, sub: sub, family: v}
	s.mu.Unlock()
	return v
}

// Reused returns how many refresh token requests presented a refresh token already used once:
// a client that does not keep the rotated one.
func (s *Server) Reused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reused
}

// Close stops both listeners.
func (s *Server) Close() {
	s.Issuer.Close()
	s.Introspection.Close()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	jwt := len(s.sign) > 0
	s.mu.Unlock()
	m := map[string]any{
		"issuer":                                s.Issuer.URL,
		"token_endpoint":                        s.Issuer.URL + "/oauth2/token",
		"revocation_endpoint":                   s.Issuer.URL + "/oauth2/revoke",
		"introspection_endpoint":                s.Introspection.URL + "/introspect",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"grant_types_supported":                 []string{"client_credentials", "password", "refresh_token"},
	}
	if jwt {
		m["jwks_uri"] = s.Issuer.URL + "/jwks"
	}
	writeJSON(w, http.StatusOK, m)
}

// client authenticates the request's client (basic, post or private_key_jwt); "" when it
// fails.
func (s *Server) client(r *http.Request) string {
	if r.PostFormValue("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return s.assertedClient(r.PostFormValue("client_id"), r.PostFormValue("client_assertion"))
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want, known := s.clients[id]; known && want == secret && secret != "" {
		return id
	}
	return ""
}

// assertedClient checks an RFC 7523 client assertion: the client it names, "" when it fails.
func (s *Server) assertedClient(formID, assertion string) string {
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA})
	if err != nil {
		return ""
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Subject == "" {
		return ""
	}
	id := unverified.Subject
	s.mu.Lock()
	pub, known := s.keys[id]
	s.mu.Unlock()
	var c jwt.Claims
	if !known || (formID != "" && formID != id) || tok.Claims(pub, &c) != nil || c.ID == "" || c.Expiry == nil {
		return ""
	}
	if c.Validate(jwt.Expected{Issuer: id, Subject: id, AnyAudience: jwt.Audience{s.Issuer.URL, s.Issuer.URL + "/oauth2/token"}, Time: time.Now()}) != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jtis[c.ID] {
		return ""
	}
	s.jtis[c.ID] = true
	return id
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id := s.client(r)
	if id == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	sub := "svc-" + id
	family := ""
	switch r.PostFormValue("grant_type") {
	case "client_credentials":
	case "password":
		user, pw := r.PostFormValue("username"), r.PostFormValue("password")
		s.mu.Lock()
		want, known := s.users[user]
		s.mu.Unlock()
		if !known || want != pw || pw == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		sub = user
	case "refresh_token":
		// Bound to its client and good for one use: the answer carries the rotated one.
		s.mu.Lock()
		rt, known := s.refresh[r.PostFormValue("refresh_token")]
		switch {
		case !known || rt.client != id:
			known = false
		case rt.used:
			s.reused++
			known = false
			if s.RevokeFamilyOnReuse {
				s.revokeFamily(rt.family)
			}
		default:
			rt.used = true
			sub, family = rt.sub, rt.family
		}
		s.mu.Unlock()
		if !known {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	value := "opq_" + randHex(20)
	s.mu.Lock()
	ttl := s.TokenTTL
	now := time.Now()
	t := &token{client: id, sub: sub, jti: randHex(8), exp: now.Add(ttl), family: family}
	if len(s.sign) > 0 {
		var err error
		if value, err = s.signJWT(t, now); err != nil {
			s.mu.Unlock()
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
	}
	s.tokens[value] = t
	s.issued[r.PostFormValue("grant_type")]++
	s.subs[sub]++
	answer := map[string]any{"access_token": value, "token_type": "Bearer",
		"expires_in": int(ttl.Seconds()), "scope": r.PostFormValue("scope")}
	if r.PostFormValue("grant_type") == "refresh_token" {
		next := "rt_" + randHex(20)
		s.refresh[next] = &refreshToken{client: id, sub: sub, family: family}
		answer["refresh_token"] = next
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, answer)
}

// revokeFamily makes every refresh token of the grant family used (refused from now on) and
// every access token from it inactive; s.mu is held.
func (s *Server) revokeFamily(family string) {
	now := time.Now()
	for _, rt := range s.refresh {
		if rt.family == family {
			rt.used = true
		}
	}
	for _, t := range s.tokens {
		if t.family == family && t.inactiveAt.IsZero() {
			t.inactiveAt = now
		}
	}
}

// revoke is RFC 7009: 200 for unknown tokens and, like many providers, for another client's
// token, which it leaves active.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id := s.client(r)
	if id == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	s.mu.Lock()
	if t, ok := s.tokens[r.PostFormValue("token")]; ok && t.client == id && t.inactiveAt.IsZero() {
		t.inactiveAt = time.Now()
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.IntrospectUser || p != s.IntrospectPassword || r.Method != http.MethodPost {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	_ = r.ParseForm()
	s.mu.Lock()
	t, known := s.tokens[r.PostFormValue("token")]
	active := known && t.inactiveAt.IsZero() && time.Now().Before(t.exp)
	var out map[string]any
	if active {
		out = map[string]any{"active": true, "client_id": t.client, "sub": t.sub, "jti": t.jti, "exp": t.exp.Unix()}
	} else {
		out = map[string]any{"active": false}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// Issued returns how many tokens the server issued with each grant type, and to each sub.
func (s *Server) Issued() (byGrant, bySub map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.issued), maps.Clone(s.subs)
}

// InactiveAt returns when the token was revoked at the server (false: still active).
func (s *Server) InactiveAt(value string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok || t.inactiveAt.IsZero() {
		return time.Time{}, false
	}
	return t.inactiveAt, true
}

// bearer is the request's RFC 6750 bearer token ("" when none).
func bearer(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Gateway is a resource server in front of the Server: it honours a bearer token when
// introspection says active, caching positive answers for TTL.
type Gateway struct {
	*httptest.Server
	TTL time.Duration

	srv   *Server
	hc    *http.Client
	mu    sync.Mutex
	cache map[string]time.Time // token -> cached positive answer valid until
	rec   Honoured
}

// NewGateway starts a gateway in front of srv.
func NewGateway(srv *Server, ttl time.Duration) *Gateway {
	g := &Gateway{TTL: ttl, srv: srv, hc: &http.Client{Timeout: 5 * time.Second},
		cache: map[string]time.Time{}}
	g.Server = httptest.NewServer(g.rec.Record(http.HandlerFunc(g.serve)))
	return g
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	now := time.Now()
	g.mu.Lock()
	until, cached := g.cache[tok]
	g.mu.Unlock()
	active := cached && now.Before(until)
	if !active {
		var err error
		if active, err = g.introspect(r, tok); err != nil {
			http.Error(w, "introspection unavailable", http.StatusBadGateway)
			return
		}
		if active {
			g.mu.Lock()
			g.cache[tok] = time.Now().Add(g.TTL)
			g.mu.Unlock()
		}
	}
	if !active {
		http.Error(w, "inactive token", http.StatusUnauthorized)
		return
	}
	w.Write([]byte("ok\n"))
}

func (g *Gateway) introspect(r *http.Request, tok string) (bool, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, g.srv.Introspection.URL+"/introspect",
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(g.srv.IntrospectUser, g.srv.IntrospectPassword)
	resp, err := g.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, err
	}
	return out.Active, nil
}

// LastHonoured returns when the gateway last accepted the token.
func (g *Gateway) LastHonoured(value string) (time.Time, bool) { return g.rec.Last(value) }
