// Package oauthtest is an OAuth 2.0 authorization server and a gateway in front of it, written
// apart from the reference stack (targets/) for tests of the harness against a provider it
// does not know: pre-registered clients (and users, for the password grant) only, opaque
// tokens, no admin API, RFC 8414 discovery, RFC 7009 revocation that answers 200 to a
// revocation by another client without revoking, RFC 7662 introspection on its own listener
// with its own basic credentials, and a gateway with a TTL cache of positive introspections.
// Both record ground truth: when each token became inactive, and when the gateway last
// honoured it.
package oauthtest

import (
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
)

// Server is the authorization server.
type Server struct {
	// Issuer serves discovery, token and revocation; Introspection serves RFC 7662.
	Issuer, Introspection *httptest.Server
	// IntrospectUser and IntrospectPassword authenticate introspection (HTTP Basic).
	IntrospectUser, IntrospectPassword string
	// TokenTTL is the expires_in of new tokens.
	TokenTTL time.Duration

	mu      sync.Mutex
	clients map[string]string // id -> secret
	users   map[string]string // username -> password (the password grant)
	tokens  map[string]*token
	issued  map[string]int // grant_type -> tokens issued
	subs    map[string]int // sub -> tokens issued
}

type token struct {
	client, sub, jti string
	exp              time.Time
	inactiveAt       time.Time // zero while active
}

// NewServer starts a server with the given pre-registered clients (id -> secret).
func NewServer(clients map[string]string) *Server {
	s := &Server{clients: clients, users: map[string]string{}, tokens: map[string]*token{},
		issued: map[string]int{}, subs: map[string]int{}, IntrospectUser: "introspector",
		IntrospectPassword: randHex(12), TokenTTL: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /oauth2/revoke", s.revoke)
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
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer.URL,
		"token_endpoint":                        s.Issuer.URL + "/oauth2/token",
		"revocation_endpoint":                   s.Issuer.URL + "/oauth2/revoke",
		"introspection_endpoint":                s.Introspection.URL + "/introspect",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"grant_types_supported":                 []string{"client_credentials", "password"},
	})
}

// client authenticates the request's client (basic or post); "" when it fails.
func (s *Server) client(r *http.Request) string {
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

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id := s.client(r)
	if id == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	sub := "svc-" + id
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
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	value := "opq_" + randHex(20)
	t := &token{client: id, sub: sub, jti: randHex(8), exp: time.Now().Add(s.TokenTTL)}
	s.mu.Lock()
	s.tokens[value] = t
	s.issued[r.PostFormValue("grant_type")]++
	s.subs[sub]++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": value, "token_type": "Bearer",
		"expires_in": int(s.TokenTTL.Seconds()), "scope": r.PostFormValue("scope")})
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
	last  map[string]time.Time // token -> when it was last honoured
}

// NewGateway starts a gateway in front of srv.
func NewGateway(srv *Server, ttl time.Duration) *Gateway {
	g := &Gateway{TTL: ttl, srv: srv, hc: &http.Client{Timeout: 5 * time.Second},
		cache: map[string]time.Time{}, last: map[string]time.Time{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
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
	g.mu.Lock()
	g.last[tok] = time.Now()
	g.mu.Unlock()
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
func (g *Gateway) LastHonoured(value string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.last[value]
	return t, ok
}
