// Package gateway is the reference API gateway of the recall drills: it authenticates bearer
// tokens (ES256 JWT access tokens of the reference issuer) and enforces recalls with one of the
// propagation strategies found in the field, chosen by Config.Strategy:
//
//	            ┌──────────── Guard ───────────────────────────────┐
//	request ──► │ Validator (sig, kid, typ, iss, aud, exp) ──► strategy │ ──► upstream (reverse proxy)
//	            └───────────────┬──────────────────────┬──────────┘      or 200 {"sub",...}
//	                      401 invalid_token      503 (fail closed) / accept (fail open)
//
//	push        NATS recall.events, resync from GET /revocations   (milliseconds)
//	poll        GET /revocations?since=V every PollInterval         (≤ PollInterval)
//	introspect  POST /introspect, positive answers cached           (≤ CacheTTL)
//	jwt-only    nothing                                             (never; until exp)
//	ssf         Shared Signals SETs, pushed (RFC 8935) or polled    (milliseconds; ≤ PollInterval)
//
// Every component records in a truth.Log the instant it started enforcing each recall (ground
// truth for the harness), served at /debug/recalls to the bearer of Config.DebugSecret. Unlike a production gateway it exposes that
// log, its strategy's staleness in /healthz and everything in /metrics, so that a drill can
// check what it measured.
package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recall-drills/recall/targets/truth"
)

// The headers an accepted request carries upstream. Values sent by the client are removed.
const (
	HeaderSubject  = "X-Auth-Subject"
	HeaderScope    = "X-Auth-Scope"
	HeaderClient   = "X-Auth-Client"
	HeaderFailOpen = "X-Auth-Fail-Open" // "1" when accepted on signature alone (fail open)
)

// Gateway is the reference API gateway: a Guard in front of a reverse proxy.
type Gateway struct {
	*Guard
	name    string
	handler http.Handler
}

// New returns a Gateway once its first sync succeeded (JWKS fetched and, for push and poll, the
// revocation list loaded; background sync then runs until Close), or an error if cfg is invalid
// or ctx ends first.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	g, err := NewGuard(ctx, cfg)
	if err != nil {
		return nil, err
	}
	gw := &Gateway{Guard: g, name: g.cfg.Name}
	var next http.Handler = http.HandlerFunc(gw.answer)
	if g.cfg.Upstream != "" {
		u, _ := url.Parse(g.cfg.Upstream) // checked by withDefaults
		next = gw.proxy(u)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", gw.healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(g.m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/recalls", truth.RequireBearer(g.cfg.DebugSecret, g.truth))
	mux.Handle("/debug/keys", truth.RequireBearer(g.cfg.DebugSecret, http.HandlerFunc(gw.keys)))
	if h := g.SSFPush(); h != nil {
		mux.Handle(SSFPushPath, h) // authenticated by the stream's authorization header
	}
	mux.Handle("/", g.Middleware(next))
	gw.handler = mux
	return gw, nil
}

// Handler serves /healthz, /metrics, /debug/recalls and /debug/keys (both Bearer DebugSecret)
// itself and authenticates everything
// else, proxying it to Config.Upstream or answering 200 {"sub","scope","gateway"}.
func (gw *Gateway) Handler() http.Handler { return gw.handler }

// Truth returns the gateway's ground-truth log.
func (gw *Gateway) Truth() *truth.Log { return gw.Guard.Truth() }

// Close stops background sync and drains NATS. It is idempotent.
func (gw *Gateway) Close() error { return gw.Guard.Close() }

// SSFPushPath is where a gateway of strategy SSF with push delivery receives SETs (RFC 8935).
const SSFPushPath = "/ssf/events"

type ctxKey struct{}

// Middleware authenticates every request with the Guard before next: 401 (RFC 6750) for a
// missing, invalid or recalled token, 503 with Retry-After: 1 when the revocation source is
// unreachable and the fail mode is closed. Accepted requests reach next with the Decision in
// their context (see DecisionFrom) and HeaderFailOpen set on the response when fail-open.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := BearerToken(r)
		d, err := g.Check(r.Context(), raw)
		if err != nil {
			WriteError(w, err)
			return
		}
		if d.FailOpen {
			w.Header().Set(HeaderFailOpen, "1")
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
	})
}

// DecisionFrom returns the Decision Middleware stored in ctx.
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(ctxKey{}).(Decision)
	return d, ok
}

func (gw *Gateway) answer(w http.ResponseWriter, r *http.Request) {
	d, _ := DecisionFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Sub     string `json:"sub"`
		Scope   string `json:"scope"`
		Gateway string `json:"gateway"`
	}{d.Token.Subject, d.Token.Scope, gw.name})
}

// proxy returns the reverse proxy to u. At most UpstreamMaxInflight requests are proxied at
// once, over at most UpstreamMaxConns connections; a request beyond is answered 503 with
// Retry-After: 1 at once, so that a flood in front turns into backpressure, not into dial
// failures and 502s. 502 is kept for an upstream that fails.
func (gw *Gateway) proxy(u *url.URL) http.Handler {
	tr := gw.cfg.UpstreamTransport
	if tr == nil {
		t := newTransport()
		t.MaxConnsPerHost = gw.cfg.UpstreamMaxConns
		t.MaxIdleConnsPerHost = gw.cfg.UpstreamMaxConns
		tr = t
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			h := pr.Out.Header
			for _, k := range []string{HeaderSubject, HeaderScope, HeaderClient, HeaderFailOpen} {
				h.Del(k)
			}
			if d, ok := DecisionFrom(pr.In.Context()); ok {
				h.Set(HeaderSubject, d.Token.Subject)
				h.Set(HeaderScope, d.Token.Scope)
				h.Set(HeaderClient, d.Token.ClientID)
				if d.FailOpen {
					h.Set(HeaderFailOpen, "1")
				}
			}
		},
		Transport:  tr,
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left: nobody reads the answer
			}
			gw.m.upstreamErrors.Inc()
			gw.log.Warn("upstream failed", "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	slots := make(chan struct{}, gw.cfg.UpstreamMaxInflight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			gw.m.upstreamShed.Inc()
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"upstream busy"}` + "\n"))
			return
		}
		defer func() { <-slots }()
		rp.ServeHTTP(w, r)
	})
}

// bufferPool recycles the proxy's copy buffers (httputil.ReverseProxy otherwise allocates and
// zeroes 32 KiB per request).
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// keys serves the Validator's KeyEvents as {"component", "refetch", "events": [...]}: when the
// gateway started accepting each signing key and stopped honouring each removed one.
func (gw *Gateway) keys(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Component string      `json:"component"`
		Refetch   JWKSRefetch `json:"refetch"`
		Events    []KeyEvent  `json:"events"`
	}{gw.name, gw.cfg.JWKSRefetch, gw.v.KeyEvents()})
}

func (gw *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := gw.Status(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "stale", "error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "strategy": string(gw.cfg.Strategy)})
}

// newTransport returns a pooled transport sized for thousands of requests per second to one
// host.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // drills talk to 127.0.0.1 and named containers only
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
