// Package rp is the reference relying party of the recall drills: a web app that keeps
// server-side sessions behind a cookie, with a session cache, and supports OpenID Connect
// Back-Channel Logout 1.0: the OP posts a signed logout token to its back-channel URI when a
// session or a user is recalled, and the app kills the matching sessions.
//
//	admin ── POST /admin/sessions ──► RP ── Set: rp_session=<id> ──► browser (the drill)
//	browser ── Cookie: rp_session=<id> ── GET /api/whoami ──► session cache ─miss─► store
//	OP ── POST /backchannel-logout logout_token=<JWT> ──► validate ──► store kills sid / sub
//
// A logout token is validated as section 2.6 of the spec says: an ES256 JWS signed by a key of
// the OP's JWKS, typ logout+jwt when present, iss the OP, aud holding the app's client id, iat
// within MaxTokenAge, exp present (required since errata set 1, 2023) and not passed, a jti never seen before, an events claim
// holding http://schemas.openid.net/event/backchannel-logout with a JSON object, sub or sid,
// and no nonce. Every failure answers 400 and kills nothing.
//
// A logout evicts the cached lookups of the sessions it kills (CacheOnLogout "evict", the
// default); with "keep", the planted defect, the cache goes on honouring a logged-out session
// until its cached answer ends.
//
// Ground truth: the store records, as a rule, the instant it killed the sessions of a sid (or
// each session of a sub live at the logout); the app's cache records how long it honours each
// positive lookup, cut short when a logout evicts it, and defers to the store, as an
// introspecting gateway defers to the issuer.
package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// BackchannelLogoutEvent is the member of a logout token's events claim that makes it one.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// CookieName is the session cookie.
const CookieName = "rp_session"

// StorePrefix is where the session store's own ground truth is served, under the same path as
// the app's: GET {StorePrefix}/debug/recalls (its rules; the app's /debug/recalls holds the
// cache records that defer to it), for a harness reading the truth over HTTP.
const StorePrefix = "/store"

// Defaults applied to zero Config fields.
const (
	// DefaultMaxTokenAge is how old a logout token's iat may be.
	DefaultMaxTokenAge = 2 * time.Minute
	// DefaultJWKSMinRefresh is the least time between two JWKS fetches for unknown kids.
	DefaultJWKSMinRefresh = time.Second
	// MaxSessions is the most sessions one POST /admin/sessions creates.
	MaxSessions = 100_000
)

// What a logout does to the cached lookups of the sessions it kills (Config.CacheOnLogout).
const (
	// CacheEvict drops them: the next request asks the store, which says the session is dead.
	CacheEvict = "evict"
	// CacheKeep leaves them: the planted defect of an app whose session cache serves a
	// logged-out session until the cached answer ends.
	CacheKeep = "keep"
)

// Config configures an RP.
type Config struct {
	// Name is the component name (truth log); default "rp".
	Name string
	// IssuerURL is the OP's base URL: keys at {IssuerURL}/jwks. Required.
	IssuerURL string
	// Issuer is the iss a logout token must carry (default IssuerURL).
	Issuer string
	// ClientID is the app's client id: a logout token's aud must hold it. Required.
	ClientID string
	// AdminSecret is the Bearer secret of /admin/* and /debug/recalls. Required.
	AdminSecret string
	// SessionCacheTTL is how long a positive session lookup is honoured without asking the
	// store again (0: no cache; every request asks the store).
	SessionCacheTTL time.Duration
	// CacheOnLogout is CacheEvict (default) or CacheKeep.
	CacheOnLogout string
	// MaxTokenAge bounds a logout token's age by its iat (default DefaultMaxTokenAge).
	MaxTokenAge time.Duration
	// Leeway is the clock skew allowed on iat and exp (default 0).
	Leeway time.Duration
	// JWKSMinRefresh rate-limits refetches for unknown kids (default DefaultJWKSMinRefresh).
	JWKSMinRefresh time.Duration
	// HTTPClient fetches the JWKS (default: a client with a 5 s timeout and no proxy).
	HTTPClient *http.Client
	// Logger receives operational logs (default: discarded). Session ids and tokens appear only
	// as fingerprints.
	Logger *slog.Logger
}

// RP is the relying party. It is safe for concurrent use.
type RP struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	storeTruth *truth.Log // the store's: rules applied at logout
	appTruth   *truth.Log // the app's: cache records, deferring to the store's

	mu       sync.RWMutex
	sessions map[string]*session // by cookie id
	killed   revocation.Set
	cache    map[string]time.Time // cookie id -> honoured until
	seen     map[string]time.Time // logout jti -> remembered until

	keys      atomic.Pointer[map[string]*ecdsa.PublicKey]
	lastFetch atomic.Int64
	fetchMu   sync.Mutex
}

type session struct {
	sub, sid string
	created  time.Time
}

func (s *session) claims(id string) revocation.Claims {
	return revocation.Claims{JTI: id, Subject: s.sub, Session: s.sid, IssuedAt: s.created.Unix()}
}

// New returns an RP once it fetched the OP's JWKS, or an error if cfg is invalid or the fetch
// fails.
func New(ctx context.Context, cfg Config) (*RP, error) {
	switch {
	case cfg.IssuerURL == "":
		return nil, errors.New("rp config: issuer url: required")
	case cfg.ClientID == "":
		return nil, errors.New("rp config: client id: required")
	case cfg.AdminSecret == "":
		return nil, errors.New("rp config: admin secret: required")
	}
	cfg.IssuerURL = strings.TrimRight(cfg.IssuerURL, "/")
	if cfg.Name == "" {
		cfg.Name = "rp"
	}
	switch cfg.CacheOnLogout {
	case "":
		cfg.CacheOnLogout = CacheEvict
	case CacheEvict, CacheKeep:
	default:
		return nil, fmt.Errorf("rp config: cache on logout: %q is not %s or %s", cfg.CacheOnLogout, CacheEvict, CacheKeep)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = cfg.IssuerURL
	}
	if cfg.MaxTokenAge <= 0 {
		cfg.MaxTokenAge = DefaultMaxTokenAge
	}
	if cfg.JWKSMinRefresh <= 0 {
		cfg.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	store := truth.NewLog(cfg.Name+"-store", nil)
	r := &RP{cfg: cfg, log: cfg.Logger.With("component", cfg.Name), storeTruth: store,
		appTruth: truth.NewLog(cfg.Name, store), sessions: map[string]*session{},
		cache: map[string]time.Time{}, seen: map[string]time.Time{}}
	if err := r.fetchKeys(ctx); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /admin/sessions", truth.RequireBearer(cfg.AdminSecret, http.HandlerFunc(r.handleSessions)))
	mux.Handle("GET /admin/sessions/{id}", truth.RequireBearer(cfg.AdminSecret, http.HandlerFunc(r.handleSessionStatus)))
	mux.HandleFunc("POST /backchannel-logout", r.handleLogout)
	mux.HandleFunc("GET /api/whoami", r.handleWhoami)
	mux.Handle("GET /debug/recalls", truth.RequireBearer(cfg.AdminSecret, r.appTruth))
	mux.Handle("GET "+StorePrefix+"/debug/recalls", truth.RequireBearer(cfg.AdminSecret, r.storeTruth))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.handler = mux
	return r, nil
}

// Handler serves the app.
func (r *RP) Handler() http.Handler { return r.handler }

// Truth returns the app's ground truth: when it stopped honouring each session (the store's kill,
// or the end of the cached answer it still honoured, whichever is later).
func (r *RP) Truth() *truth.Log { return r.appTruth }

// Session is a created session.
type Session struct {
	// ID is the cookie value.
	ID string `json:"id"`
	// Cookie is the Cookie header value that carries it.
	Cookie string `json:"cookie"`
	Sub    string `json:"sub"`
	SID    string `json:"sid,omitempty"`
}

// CreateSession creates a session for sub at the OP session sid, as a completed login would.
func (r *RP) CreateSession(sub, sid string) Session {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	r.mu.Lock()
	r.sessions[id] = &session{sub: sub, sid: sid, created: time.Now()}
	r.mu.Unlock()
	return Session{ID: id, Cookie: CookieName + "=" + id, Sub: sub, SID: sid}
}

// alive reports whether session id is live, through the cache. A miss asks the store and fills
// the cache under the lock a logout takes, so that a logout cannot fall between the store's
// answer and the cache fill (which would cache a session just killed).
func (r *RP) alive(id string, now time.Time) (*session, bool) {
	r.mu.RLock()
	s := r.sessions[id]
	until, cached := r.cache[id]
	r.mu.RUnlock()
	if s == nil {
		return nil, false
	}
	if cached && now.Before(until) {
		return s, true
	}
	ttl := r.cfg.SessionCacheTTL
	if ttl <= 0 {
		_, dead := r.killed.Revoked(s.claims(id))
		return s, !dead
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dead := r.killed.Revoked(s.claims(id)); dead {
		return s, false
	}
	until = time.Now().Add(ttl)
	r.cache[id] = until
	r.appTruth.Cached(id, until)
	return s, true
}

// Active reports whether the store holds session id live, without the cache: what the app's
// admin answers at GET /admin/sessions/{id}.
func (r *RP) Active(id string) bool {
	r.mu.RLock()
	s := r.sessions[id]
	r.mu.RUnlock()
	if s == nil {
		return false
	}
	_, dead := r.killed.Revoked(s.claims(id))
	return !dead
}

func (r *RP) handleSessionStatus(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"active": r.Active(req.PathValue("id"))})
}

func (r *RP) handleWhoami(w http.ResponseWriter, req *http.Request) {
	c, err := req.Cookie(CookieName)
	if err != nil || c.Value == "" {
		writeJSON(w, http.StatusUnauthorized, apiError{"login_required", "no session"})
		return
	}
	s, ok := r.alive(c.Value, time.Now())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, apiError{"login_required", "session ended"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": s.sub, "sid": s.sid, "app": r.cfg.Name})
}

func (r *RP) handleSessions(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Sessions []struct {
			Sub string `json:"sub"`
			SID string `json:"sid"`
		} `json:"sessions"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Sessions) == 0 || len(body.Sessions) > MaxSessions {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", fmt.Sprintf("sessions: 1..%d of {sub, sid}", MaxSessions)})
		return
	}
	out := make([]Session, 0, len(body.Sessions))
	for _, s := range body.Sessions {
		if s.Sub == "" {
			writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "sessions: every session needs a sub"})
			return
		}
	}
	for _, s := range body.Sessions {
		out = append(out, r.CreateSession(s.Sub, s.SID))
	}
	writeJSON(w, http.StatusOK, map[string][]Session{"sessions": out})
}

// handleLogout serves POST /backchannel-logout (section 2.5 and 2.8 of the spec).
func (r *RP) handleLogout(w http.ResponseWriter, req *http.Request) {
	req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
	if err := req.ParseForm(); err != nil || req.PostForm.Get("logout_token") == "" {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "logout_token is required"})
		return
	}
	lt, err := r.Validate(req.Context(), req.PostForm.Get("logout_token"), time.Now())
	if err != nil {
		r.log.Info("logout token refused", "err", err)
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", err.Error()})
		return
	}
	n := r.logout(lt)
	r.log.Info("back-channel logout", "sid_set", lt.SID != "", "sub_set", lt.Subject != "", "sessions", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// LogoutToken is a validated logout token's subject of logout.
type LogoutToken struct {
	Subject, SID, JTI string
}

// logout kills the sessions the token names and records it: by sid when it has one (every
// session of that OP session, now and later), else every session of sub live at the logout, each
// by its id, so that one opened earlier in the logout's second dies and one opened after it (a
// new login) lives, which a rule on whole-second issue times could not tell apart. It returns
// how many live sessions died.
func (r *RP) logout(lt LogoutToken) int {
	id := "bcl-" + lt.JTI
	r.mu.Lock()
	var hit []string
	for sid, s := range r.sessions {
		c := s.claims(sid)
		if _, dead := r.killed.Revoked(c); dead {
			continue
		}
		if (lt.SID != "" && s.sid == lt.SID) || (lt.SID == "" && s.sub == lt.Subject) {
			hit = append(hit, sid)
		}
	}
	var rules []revocation.Rule
	if lt.SID != "" {
		rules = []revocation.Rule{{Type: revocation.Session, Value: lt.SID, RecallID: id}}
	} else {
		for _, sid := range hit {
			rules = append(rules, revocation.Rule{Type: revocation.JTI, Value: sid, RecallID: id})
		}
	}
	if len(rules) > 0 {
		r.killed.Apply(r.killed.Version()+1, rules)
	}
	if r.cfg.CacheOnLogout == CacheEvict {
		at := time.Now()
		for _, sid := range hit {
			if _, ok := r.cache[sid]; ok {
				delete(r.cache, sid)
				r.appTruth.CacheEnded(sid, at)
			}
		}
	}
	r.mu.Unlock()
	at := time.Now()
	for _, rule := range rules {
		r.storeTruth.RuleApplied(rule, at)
	}
	return len(hit)
}

// Validate checks a logout token as section 2.6 of the spec says and returns what it logs out.
// Each failure is an error saying which check failed; a valid token's jti is remembered, so the
// same token is refused the next time.
func (r *RP) Validate(ctx context.Context, raw string, now time.Time) (LogoutToken, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return LogoutToken{}, errors.New("malformed logout token or algorithm not ES256")
	}
	if len(tok.Headers) != 1 {
		return LogoutToken{}, errors.New("exactly one signature required")
	}
	h := tok.Headers[0]
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok {
		if t := strings.ToLower(typ); t != "logout+jwt" && t != "application/logout+jwt" {
			return LogoutToken{}, fmt.Errorf("typ %q is not logout+jwt", typ)
		}
	}
	pub := r.key(ctx, h.KeyID)
	if pub == nil {
		return LogoutToken{}, errors.New("unknown kid")
	}
	var std jwt.Claims
	var ext struct {
		SID    string                     `json:"sid"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *json.RawMessage           `json:"nonce"`
	}
	if err := tok.Claims(pub, &std, &ext); err != nil {
		return LogoutToken{}, errors.New("bad signature or claims")
	}
	switch {
	case std.Issuer != r.cfg.Issuer:
		return LogoutToken{}, errors.New("wrong issuer")
	case !std.Audience.Contains(r.cfg.ClientID):
		return LogoutToken{}, errors.New("wrong audience")
	case std.IssuedAt == nil:
		return LogoutToken{}, errors.New("missing iat")
	case std.IssuedAt.Time().After(now.Add(r.cfg.Leeway)):
		return LogoutToken{}, errors.New("iat in the future")
	case std.IssuedAt.Time().Before(now.Add(-r.cfg.MaxTokenAge - r.cfg.Leeway)):
		return LogoutToken{}, errors.New("iat too old")
	case std.Expiry == nil:
		return LogoutToken{}, errors.New("missing exp")
	case !now.Add(-r.cfg.Leeway).Before(std.Expiry.Time()):
		return LogoutToken{}, errors.New("token expired")
	case std.ID == "":
		return LogoutToken{}, errors.New("missing jti")
	case std.Subject == "" && ext.SID == "":
		return LogoutToken{}, errors.New("neither sub nor sid")
	case ext.Nonce != nil:
		return LogoutToken{}, errors.New("nonce present: a logout token must not carry one")
	}
	ev, ok := ext.Events[BackchannelLogoutEvent]
	if !ok {
		return LogoutToken{}, errors.New("events claim without the back-channel logout event")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ev, &obj); err != nil || obj == nil {
		return LogoutToken{}, errors.New("back-channel logout event is not a JSON object")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for jti, until := range r.seen {
		if now.After(until) {
			delete(r.seen, jti)
		}
	}
	if _, replay := r.seen[std.ID]; replay {
		return LogoutToken{}, errors.New("jti replayed")
	}
	// Remembered as long as a token with this iat can be accepted.
	r.seen[std.ID] = std.IssuedAt.Time().Add(r.cfg.MaxTokenAge + 2*r.cfg.Leeway)
	return LogoutToken{Subject: std.Subject, SID: ext.SID, JTI: std.ID}, nil
}

// key returns the OP key kid, refetching the JWKS once per JWKSMinRefresh for an unknown one.
func (r *RP) key(ctx context.Context, kid string) *ecdsa.PublicKey {
	if kid == "" {
		return nil
	}
	if k := (*r.keys.Load())[kid]; k != nil {
		return k
	}
	if time.Since(time.Unix(0, r.lastFetch.Load())) < r.cfg.JWKSMinRefresh {
		return nil
	}
	if err := r.fetchKeys(ctx); err != nil {
		r.log.Warn("jwks refetch failed", "err", err)
	}
	return (*r.keys.Load())[kid]
}

func (r *RP) fetchKeys(ctx context.Context) error {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	r.lastFetch.Store(time.Now().UnixNano())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.IssuerURL+"/jwks", nil)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(*ecdsa.PublicKey); ok && k.KeyID != "" && (k.Use == "" || k.Use == "sig") {
			keys[k.KeyID] = pub
		}
	}
	r.keys.Store(&keys)
	return nil
}

type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
