package apikey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/truth"
)

// Strategy is how a Service learns of recalled keys.
type Strategy string

// The strategies.
const (
	// Push applies recalls as the Authority publishes them on EventSubject (and resyncs from
	// GET /revocations), verifying keys offline.
	Push Strategy = "push"
	// Poll fetches GET /revocations?since=V every PollInterval, verifying keys offline.
	Poll Strategy = "poll"
	// Lookup asks the Authority about each key (POST /introspect) and caches positive answers
	// for CacheTTL.
	Lookup Strategy = "lookup"
	// Offline verifies keys with the signing secret only: it never learns of a recall.
	Offline Strategy = "offline"
)

// Strategies lists every strategy, for validation.
var Strategies = []Strategy{Push, Poll, Lookup, Offline}

// ServiceConfig configures a Service. Zero durations take the reference gateway's defaults
// (targets/gateway: DefaultPollInterval, DefaultCacheTTL, …).
type ServiceConfig struct {
	// Name is the component name (metrics label, truth log); default "apikey-service".
	Name string
	// Strategy is how recalls are learnt. Required.
	Strategy Strategy
	// AuthorityURL is the Authority's base URL (/revocations, /introspect). Required.
	AuthorityURL string
	// SigningSecret verifies keys offline; required for Push, Poll and Offline, unused by Lookup.
	SigningSecret []byte
	// NATSURL is the bus, for Push.
	NATSURL string
	// PollInterval is Poll's period (and Push's while NATS is down).
	PollInterval time.Duration
	// CacheTTL is how long Lookup honours a positive answer.
	CacheTTL time.Duration
	// MaxStaleness is how long Poll and Push may go without a successful sync before the fail
	// mode applies.
	MaxStaleness time.Duration
	// FailMode is what to do when the Authority is unreachable (default closed: 503).
	FailMode gateway.FailMode
	// ClientID and ClientSecret authenticate Lookup's calls (HTTP Basic).
	ClientID, ClientSecret string
	// DebugSecret is the Bearer secret GET /debug/recalls requires (empty: 401 to everyone).
	DebugSecret string
	// Truth is the Authority's ground truth, which a Lookup service defers to.
	Truth truth.Source
	// Logger receives operational logs (default: discarded). Keys appear only as fingerprints.
	Logger *slog.Logger
}

// Service is a resource server that accepts API keys: GET /api/whoami answers 200 {"sub",
// "key_id", "service"} for a live key in X-API-Key (or Authorization: ApiKey <key>), 401 for a
// missing, unknown or recalled one, 503 (Retry-After: 1) when it cannot learn a key's status
// and fails closed.
type Service struct {
	name    string
	guard   *gateway.Guard
	handler http.Handler
}

// NewService returns a Service once its first sync succeeded (Push and Poll load the recall
// list), or an error if cfg is invalid or ctx ends first.
func NewService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if cfg.Name == "" {
		cfg.Name = "apikey-service"
	}
	gc := gateway.Config{
		Name: cfg.Name, IssuerURL: cfg.AuthorityURL, NATSURL: cfg.NATSURL, EventSubject: EventSubject,
		PollInterval: cfg.PollInterval, CacheTTL: cfg.CacheTTL, MaxStaleness: cfg.MaxStaleness,
		FailMode: cfg.FailMode, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		DebugSecret: cfg.DebugSecret, Truth: cfg.Truth, Logger: cfg.Logger, MetricsNamespace: "apikey_service",
	}
	switch cfg.Strategy {
	case Push, Poll, Offline:
		if len(cfg.SigningSecret) == 0 {
			return nil, fmt.Errorf("apikey service %s: signing secret: required for strategy %s", cfg.Name, cfg.Strategy)
		}
		gc.Verifier = NewVerifier(cfg.SigningSecret)
		gc.Strategy = map[Strategy]gateway.Strategy{Push: gateway.Push, Poll: gateway.Poll, Offline: gateway.JWTOnly}[cfg.Strategy]
	case Lookup:
		gc.Verifier = lookupOnly{}
		gc.Strategy = gateway.Introspect
	default:
		return nil, fmt.Errorf("apikey service %s: strategy: unknown %q (one of push, poll, lookup, offline)", cfg.Name, cfg.Strategy)
	}
	g, err := gateway.NewGuard(ctx, gc)
	if err != nil {
		return nil, fmt.Errorf("apikey service %s: %w", cfg.Name, err)
	}
	s := &Service{name: cfg.Name, guard: g}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/whoami", s.whoami)
	mux.Handle("/debug/recalls", truth.RequireBearer(cfg.DebugSecret, g.Truth()))
	mux.Handle("/metrics", promhttp.HandlerFor(g.Metrics(), promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", s.healthz)
	s.handler = mux
	return s, nil
}

// Handler serves GET /api/whoami, /healthz, /metrics and /debug/recalls.
func (s *Service) Handler() http.Handler { return s.handler }

// Truth returns the Service's ground truth (see gateway.Guard.Truth: rule records for Push and
// Poll, cache records deferring to the Authority for Lookup, nothing for Offline).
func (s *Service) Truth() *truth.Log { return s.guard.Truth() }

// Close stops background sync. It is idempotent.
func (s *Service) Close() error { return s.guard.Close() }

// KeyFrom returns the API key of a request: X-API-Key, else Authorization: ApiKey <key>.
func KeyFrom(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get(Header)); k != "" {
		return k
	}
	if scheme, k, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "ApiKey") {
		return strings.TrimSpace(k)
	}
	return ""
}

func (s *Service) whoami(w http.ResponseWriter, r *http.Request) {
	d, err := s.guard.Check(r.Context(), KeyFrom(r))
	if err != nil {
		var te *gateway.TokenError
		if errors.Is(err, gateway.ErrMissingToken) || errors.As(err, &te) {
			w.Header().Set("WWW-Authenticate", `ApiKey realm="recall"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"invalid_api_key", "missing, unknown or recalled api key"})
			return
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, apiError{"temporarily_unavailable", "key status unknown"})
		return
	}
	if d.FailOpen {
		w.Header().Set(gateway.HeaderFailOpen, "1")
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": d.Token.Subject, "key_id": d.Token.JTI, "service": s.name})
}

func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.guard.Status(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stale", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
