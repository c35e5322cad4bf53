package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// Limits of the admin API.
const (
	// MaxMint is the most keys one POST /admin/keys mints.
	MaxMint = 100_000
	// maxAdminBody bounds an admin request body.
	maxAdminBody = 16 << 20
)

// Client is a service allowed to look keys up (POST /introspect, HTTP Basic).
type Client struct {
	ID, Secret string
}

// AuthorityConfig configures an Authority.
type AuthorityConfig struct {
	// Name is the component name (truth log); default "apikeys".
	Name string
	// AdminSecret is the Bearer secret of /admin/* and /debug/recalls. Required.
	AdminSecret string
	// SigningSecret is the HMAC secret keys are minted under; Services that verify offline hold
	// it too. Default: 32 random bytes (see Authority.SigningSecret).
	SigningSecret []byte
	// Clients may look keys up.
	Clients []Client
	// NATSURL, when set, is where recalls are published on EventSubject (push).
	NATSURL string
	// Logger receives operational logs (default: discarded). Keys appear only as fingerprints.
	Logger *slog.Logger
}

// Authority mints and recalls API keys. It is safe for concurrent use.
//
//	POST /admin/keys     {"owners": ["a", …]} or {"count": n}  ─► {"keys": [{"id","key","owner"}]}
//	POST /admin/recalls  {"ids": ["…"]}                         ─► {"recall_id","version","revoked","at"}
//	GET  /revocations[?since=V]                                  revocation.List (ETag, 304)
//	POST /introspect     token=<key> (HTTP Basic client)         RFC 7662 {"active", "sub", "jti"}
//	GET  /debug/recalls  (Bearer AdminSecret)                    ground truth
//	GET  /healthz
type Authority struct {
	cfg     AuthorityConfig
	secret  []byte
	admin   [sha256.Size]byte
	clients map[string][sha256.Size]byte
	truth   *truth.Log
	log     *slog.Logger
	nc      *nats.Conn
	handler http.Handler

	mu      sync.RWMutex
	keys    map[string]*record // by id
	rules   []revocation.Rule
	version uint64
}

type record struct {
	owner   string
	created time.Time
	revoked bool
}

// NewAuthority returns an Authority for cfg, connected to NATS when cfg.NATSURL is set (it
// reconnects on its own; a recall published while disconnected is only in the list).
func NewAuthority(cfg AuthorityConfig) (*Authority, error) {
	if cfg.AdminSecret == "" {
		return nil, errors.New("apikey authority: admin secret required")
	}
	if cfg.Name == "" {
		cfg.Name = "apikeys"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authority{cfg: cfg, secret: cfg.SigningSecret, admin: sha256.Sum256([]byte(cfg.AdminSecret)),
		clients: map[string][sha256.Size]byte{}, truth: truth.NewLog(cfg.Name, nil),
		log: cfg.Logger.With("component", cfg.Name), keys: map[string]*record{}}
	if len(a.secret) == 0 {
		a.secret = make([]byte, 32)
		_, _ = rand.Read(a.secret)
	}
	for _, c := range cfg.Clients {
		a.clients[c.ID] = sha256.Sum256([]byte(c.Secret))
	}
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("recall-"+cfg.Name), nats.MaxReconnects(-1),
			nats.RetryOnFailedConnect(true), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("apikey authority: nats connect %s: %w", cfg.NATSURL, err)
		}
		a.nc = nc
	}
	mux := http.NewServeMux()
	mux.Handle("POST /admin/keys", a.requireAdmin(http.HandlerFunc(a.handleMint)))
	mux.Handle("POST /admin/recalls", a.requireAdmin(http.HandlerFunc(a.handleRecall)))
	mux.HandleFunc("GET /revocations", a.handleRevocations)
	mux.HandleFunc("POST /introspect", a.handleIntrospect)
	mux.Handle("GET /debug/recalls", truth.RequireBearer(cfg.AdminSecret, a.truth))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.handler = mux
	return a, nil
}

// Handler serves the Authority's API.
func (a *Authority) Handler() http.Handler { return a.handler }

// Truth returns the Authority's ground truth: a rule record per key recalled, at the instant the
// recall took effect at the Authority (lookups answer inactive from then on).
func (a *Authority) Truth() *truth.Log { return a.truth }

// SigningSecret returns the HMAC secret keys are minted under (for offline Services).
func (a *Authority) SigningSecret() []byte { return append([]byte(nil), a.secret...) }

// Close drains the NATS connection, if any.
func (a *Authority) Close() error {
	if a.nc != nil {
		return a.nc.Drain()
	}
	return nil
}

// Key is a minted key.
type Key struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Owner string `json:"owner,omitempty"`
}

// Mint mints one key per owner (n keys without owners when owners is empty).
func (a *Authority) Mint(owners []string, n int) []Key {
	if len(owners) > 0 {
		n = len(owners)
	}
	out := make([]Key, n)
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range out {
		id := newID()
		for a.keys[id] != nil {
			id = newID()
		}
		owner := ""
		if len(owners) > 0 {
			owner = owners[i]
		}
		a.keys[id] = &record{owner: owner, created: now}
		out[i] = Key{ID: id, Key: format(a.secret, id), Owner: owner}
	}
	return out
}

// Recall is the answer to a recall.
type Recall struct {
	RecallID string    `json:"recall_id"`
	Version  uint64    `json:"version"`
	Revoked  int       `json:"revoked"`
	At       time.Time `json:"at"`
}

// Recall revokes the keys with the given ids (unknown and already revoked ids are skipped),
// records it in the truth log, and publishes it. It returns an error naming the first unknown id
// when none is known.
func (a *Authority) Recall(ids []string) (Recall, error) {
	a.mu.Lock()
	var rules []revocation.Rule
	a.version++
	v := a.version
	rc := Recall{RecallID: "ak-" + strconv.FormatUint(v, 10), Version: v}
	for _, id := range ids {
		k := a.keys[id]
		if k == nil || k.revoked {
			continue
		}
		k.revoked = true
		rules = append(rules, revocation.Rule{Version: v, RecallID: rc.RecallID, Type: revocation.JTI, Value: id})
	}
	if len(rules) == 0 {
		a.version--
		a.mu.Unlock()
		return Recall{}, errors.New("no known, live key among the ids")
	}
	a.rules = append(a.rules, rules...)
	rc.At = time.Now()
	for _, r := range rules {
		a.truth.RuleApplied(r, rc.At)
	}
	rc.Revoked = len(rules)
	a.mu.Unlock()
	if a.nc != nil {
		b, _ := json.Marshal(revocation.Event{Version: v, RecallID: rc.RecallID, Rules: rules, At: rc.At})
		if err := a.nc.Publish(EventSubject, b); err != nil {
			a.log.Warn("publish recall failed", "recall_id", rc.RecallID, "err", err)
		}
	}
	a.log.Info("api keys recalled", "recall_id", rc.RecallID, "revoked", rc.Revoked)
	return rc, nil
}

// active reports whether raw is a minted, unrecalled key, and its id.
func (a *Authority) active(raw string) (string, bool) {
	id, sum, ok := parse(raw)
	if !ok || subtle.ConstantTimeCompare([]byte(sum), []byte(mac(a.secret, id))) != 1 {
		return "", false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	k := a.keys[id]
	return id, k != nil && !k.revoked
}

func (a *Authority) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(tok))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], a.admin[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="recall-apikeys-admin"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"unauthorized", "admin bearer secret required"})
			return
		}
		h.ServeHTTP(w, r)
	})
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

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "malformed JSON body"})
		return false
	}
	return true
}

func (a *Authority) handleMint(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Owners []string `json:"owners"`
		Count  int      `json:"count"`
	}
	if !decode(w, r, &req) {
		return
	}
	n := req.Count
	if len(req.Owners) > 0 {
		n = len(req.Owners)
	}
	if n < 1 || n > MaxMint || (len(req.Owners) > 0 && req.Count != 0 && req.Count != len(req.Owners)) {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", fmt.Sprintf("owners or count: want 1..%d keys", MaxMint)})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]Key{"keys": a.Mint(req.Owners, n)})
}

func (a *Authority) handleRecall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if !decode(w, r, &req) {
		return
	}
	if len(req.IDs) == 0 {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "ids: at least one key id"})
		return
	}
	rc, err := a.Recall(req.IDs)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{"not_found", err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

func (a *Authority) handleRevocations(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "since must be a non-negative integer"})
			return
		}
	}
	a.mu.RLock()
	l := revocation.List{Version: a.version, Full: since == 0, Rules: []revocation.Rule{}}
	for _, rule := range a.rules {
		if rule.Version > since {
			l.Rules = append(l.Rules, rule)
		}
	}
	a.mu.RUnlock()
	etag := `"` + strconv.FormatUint(l.Version, 10) + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, l)
}

func (a *Authority) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	want, known := a.clients[id]
	got := sha256.Sum256([]byte(secret))
	if !ok || !known || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="recall-apikeys"`)
		writeJSON(w, http.StatusUnauthorized, apiError{"invalid_client", "client authentication failed"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_request", "malformed form"})
		return
	}
	kid, active := a.active(r.PostForm.Get("token"))
	if !active {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "jti": kid, "sub": "apikey:" + kid, "token_type": "api_key"})
}
