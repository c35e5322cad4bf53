// Package service is the reference resource server of the recall drills. GET /api/whoami
// answers who the caller is, in one of two modes:
//
//	behind a gateway (Config.Validate nil):  identity from the X-Auth-* headers the gateway set
//	defence in depth (Config.Validate set):  validates the bearer token itself with a
//	                                         gateway.Guard (own strategy, own caches) and 401s
//
// With strategy ssf and delivery push, the service also serves its Guard's RFC 8935 push
// endpoint at gateway.SSFPushPath, where its transmitter delivers the SETs it enforces.
//
// In the first mode the service enforces nothing itself: whoever reaches it directly with
// forged headers is believed, which is why drills probe it through the gateway. In the second
// it is a component with its own stale window, recorded in its own truth log.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/truth"
)

// DefaultName is the component name when Config.Name is empty.
const DefaultName = "service"

// DefaultMetricsNamespace prefixes the service's metric names, and those of its Guard unless
// Validate.MetricsNamespace is set.
const DefaultMetricsNamespace = "service"

// Config configures a Service.
type Config struct {
	// Name is the component name (metrics label, truth log); default DefaultName.
	Name string
	// Validate, when set, makes the service validate bearer tokens itself with a gateway.Guard
	// built from it (Upstream is ignored; Name, Logger and Registry default to the service's).
	// Nil: trust the X-Auth-* headers set by the gateway in front.
	Validate *gateway.Config
	// DebugSecret is the Bearer secret GET /debug/recalls requires (the stack's admin secret);
	// empty: /debug/recalls answers 401 to everyone.
	DebugSecret string
	// Logger receives operational logs (default: discarded).
	Logger *slog.Logger
	// Registry, when set, also receives the metrics; /metrics always serves the service's own.
	Registry prometheus.Registerer
}

// Via values in /api/whoami answers.
const (
	ViaGateway = "gateway" // identity taken from the gateway's X-Auth-* headers
	ViaSelf    = "self"    // token validated by the service itself
)

// Service is the reference resource server.
type Service struct {
	name     string
	guard    *gateway.Guard // nil behind a gateway
	truth    *truth.Log
	log      *slog.Logger
	reg      *prometheus.Registry
	shared   prometheus.Registerer
	requests *prometheus.CounterVec
	handler  http.Handler

	closeOnce sync.Once
	closeErr  error
}

// New returns a Service. With Config.Validate it returns once the Guard's first sync succeeded
// (see gateway.NewGuard), or an error when ctx ends first.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{name: cfg.Name, log: cfg.Logger.With("component", cfg.Name), reg: prometheus.NewRegistry(),
		shared: cfg.Registry}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: DefaultMetricsNamespace, Name: "http_requests_total", ConstLabels: prometheus.Labels{"component": cfg.Name},
		Help: "Requests to /api/ by path and status code.",
	}, []string{"path", "code"})
	if err := s.reg.Register(s.requests); err != nil {
		return nil, err
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(s.requests); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	gatherers := prometheus.Gatherers{s.reg}
	if cfg.Validate != nil {
		gc := *cfg.Validate
		gc.Upstream = ""
		if gc.Name == "" {
			gc.Name = cfg.Name
		}
		if gc.Logger == nil {
			gc.Logger = cfg.Logger
		}
		if gc.Registry == nil {
			gc.Registry = cfg.Registry
		}
		if gc.MetricsNamespace == "" {
			gc.MetricsNamespace = DefaultMetricsNamespace
		}
		g, err := gateway.NewGuard(ctx, gc)
		if err != nil {
			s.unregister()
			return nil, fmt.Errorf("service %s: %w", cfg.Name, err)
		}
		s.guard = g
		s.truth = g.Truth()
		gatherers = append(gatherers, g.Metrics())
	} else {
		s.truth = truth.NewLog(cfg.Name, nil)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{}))
	mux.Handle("/debug/recalls", truth.RequireBearer(cfg.DebugSecret, s.truth))
	mux.HandleFunc("GET /api/whoami", s.whoami)
	if s.guard != nil {
		if h := s.guard.SSFPush(); h != nil {
			// Strategy ssf, delivery push: the transmitter POSTs its SETs here (RFC 8935), as to
			// a gateway's.
			mux.Handle(gateway.SSFPushPath, h)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
	})
	s.handler = mux
	return s, nil
}

// Handler serves GET /api/whoami, /healthz, /metrics and /debug/recalls (Bearer
// Config.DebugSecret), and POST gateway.SSFPushPath for strategy ssf, delivery push.
func (s *Service) Handler() http.Handler { return s.handler }

// Truth returns the service's ground-truth log: its Guard's with Config.Validate, else an
// empty log (behind a gateway the service enforces no recall itself).
func (s *Service) Truth() *truth.Log { return s.truth }

// Close stops the Guard, if any, and unregisters the metrics. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		if s.guard != nil {
			s.closeErr = s.guard.Close()
		}
		s.unregister()
	})
	return s.closeErr
}

func (s *Service) unregister() {
	if s.shared != nil {
		s.shared.Unregister(s.requests)
	}
}

// identity is the /api/whoami answer.
type identity struct {
	Sub      string `json:"sub"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	Via      string `json:"via"`
}

func (s *Service) whoami(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	defer func() { s.requests.WithLabelValues("/api/whoami", strconv.Itoa(code)).Inc() }()
	var id identity
	if s.guard != nil {
		raw, _ := gateway.BearerToken(r)
		d, err := s.guard.Check(r.Context(), raw)
		if err != nil {
			code = statusOf(err)
			gateway.WriteError(w, err)
			return
		}
		if d.FailOpen {
			w.Header().Set(gateway.HeaderFailOpen, "1")
		}
		id = identity{Sub: d.Token.Subject, Scope: d.Token.Scope, ClientID: d.Token.ClientID, Via: ViaSelf}
	} else {
		id = identity{Sub: r.Header.Get(gateway.HeaderSubject), Scope: r.Header.Get(gateway.HeaderScope),
			ClientID: r.Header.Get(gateway.HeaderClient), Via: ViaGateway}
		if id.Sub == "" {
			code = http.StatusUnauthorized
			gateway.WriteError(w, gateway.ErrMissingToken)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(id)
}

func statusOf(err error) int {
	var te *gateway.TokenError
	if errors.Is(err, gateway.ErrMissingToken) || errors.As(err, &te) {
		return http.StatusUnauthorized
	}
	return http.StatusServiceUnavailable
}

func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.guard != nil {
		if err := s.guard.Status(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "stale", "error": err.Error()})
			return
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}
