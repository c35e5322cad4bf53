package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// enforcer is a strategy: how recalls are learnt and checked.
type enforcer interface {
	// start performs the first sync, bounded by ctx, and starts background work that lasts
	// until life ends.
	start(ctx, life context.Context) error
	// check returns nil (not recalled), a *TokenError wrapping ErrRevoked, or an error wrapping
	// ErrUnavailable. It is called concurrently for every request.
	check(ctx context.Context, raw string, t *Token) error
	// status returns nil while the revocation source is fresh, else why not.
	status() error
	// close stops background work; it is called once, after life ended.
	close() error
}

// Decision is what Guard.Check decided for an accepted token.
type Decision struct {
	// Token is the validated token (shared: read-only).
	Token *Token
	// FailOpen is true when the token was accepted on signature alone because the revocation
	// source was unreachable and the fail mode is open.
	FailOpen bool
}

// Guard authenticates bearer tokens: local validation by a Validator, then the recall check of
// its Strategy, then the fail mode. It is the part of a Gateway that a resource service reuses
// for defence in depth. A Guard is safe for concurrent use.
type Guard struct {
	cfg    Config
	v      *Validator
	verify func(ctx context.Context, raw string) (*Token, error)
	enf    enforcer
	truth  *truth.Log
	m      *metrics
	log    *slog.Logger
	extra  []prometheus.Collector

	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// NewGuard returns a Guard for cfg once its first sync succeeded: JWKS fetched and, for Push and
// Poll, the revocation list loaded. It returns an error if cfg is invalid or ctx ends first; a
// Guard returned with an error has been closed.
func NewGuard(ctx context.Context, cfg Config) (*Guard, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	m := newMetrics(cfg)
	g := &Guard{cfg: cfg, m: m, log: cfg.Logger.With("component", cfg.Name)}
	g.v = newValidator(cfg, m)
	g.v.log = g.log
	var upstream truth.Source
	if cfg.Strategy == Introspect {
		upstream = cfg.Truth
	}
	g.truth = truth.NewLog(cfg.Name, upstream)
	g.v.onKeysRemoved = g.keysRemoved
	switch cfg.Strategy {
	case Push:
		g.enf = newPush(cfg, g.newSetState())
	case Poll:
		g.enf = newPoll(cfg, g.newSetState())
	case Introspect:
		g.enf = newIntrospect(cfg, g.truth, m, g.log)
	case JWTOnly:
		g.enf = jwtOnly{}
	case SSF:
		g.enf = newSSF(cfg, g.newSetState())
	}
	if ss, ok := g.enf.(interface{ held() *setState }); ok {
		s := ss.held()
		g.extra = append(g.extra, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: cfg.MetricsNamespace, Name: "rules_held", ConstLabels: prometheus.Labels{"component": cfg.Name},
			Help: "Distinct recall rules held.",
		}, func() float64 { return float64(s.set.Len()) }))
	}
	if err := m.register(cfg.Registry, g.extra...); err != nil {
		m.unregister(cfg.Registry, g.extra...)
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	life, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.verify = g.v.Verify
	if cfg.Verifier != nil {
		g.verify = cfg.Verifier.Verify
	} else if err := g.v.Refresh(ctx); err != nil {
		_ = g.Close()
		return nil, fmt.Errorf("first sync: %w", err)
	}
	if err := g.enf.start(ctx, life); err != nil {
		_ = g.Close()
		return nil, fmt.Errorf("first sync: %w", err)
	}
	if cfg.Verifier == nil {
		go g.v.keepFresh(life)
	}
	g.log.Info("guard ready", "strategy", cfg.Strategy, "fail_mode", cfg.FailMode, "jwks_refetch", cfg.JWKSRefetch)
	return g, nil
}

// keysRemoved records, as a rule record, that tokens signed by kids are rejected from at on:
// a JWKS fetch dropped their key. This is ground truth for every strategy, jwt-only included.
func (g *Guard) keysRemoved(kids []string, at time.Time) {
	for _, kid := range kids {
		g.truth.RuleApplied(revocation.Rule{Type: revocation.Key, Value: kid, RecallID: JWKSRecallID}, at)
	}
	g.log.Info("signing keys left the jwks", "kids", kids)
}

// JWKSRecallID is the RecallID of the rule records a Guard writes when a JWKS fetch drops a
// signing key (see Guard.Truth).
const JWKSRecallID = "jwks"

func (g *Guard) newSetState() *setState {
	return &setState{set: new(revocation.Set), truth: g.truth, m: g.m, log: g.log}
}

// Check authenticates raw (the bearer token; empty gives ErrMissingToken). It returns the
// Decision for an accepted token, or ErrMissingToken, a *TokenError (reject: invalid or
// recalled), or an error wrapping ErrUnavailable (fail closed). It counts the request in
// <namespace>_requests_total.
func (g *Guard) Check(ctx context.Context, raw string) (Decision, error) {
	start := time.Now()
	d, err := g.check(ctx, raw)
	g.m.duration.Observe(time.Since(start).Seconds())
	g.m.requests.WithLabelValues(string(Classify(err))).Inc()
	if err != nil && g.log.Enabled(ctx, slog.LevelDebug) {
		g.log.Debug("token refused", "token", fingerprintOrEmpty(raw), "err", err)
	}
	return d, err
}

func (g *Guard) check(ctx context.Context, raw string) (Decision, error) {
	t, err := g.verify(ctx, raw)
	if err != nil {
		return Decision{}, err
	}
	err = g.enf.check(ctx, raw, t)
	switch {
	case err == nil:
		return Decision{Token: t}, nil
	case errors.Is(err, ErrUnavailable) && g.cfg.FailMode == FailOpen:
		g.m.failOpen.Inc()
		return Decision{Token: t, FailOpen: true}, nil
	}
	return Decision{}, err
}

func fingerprintOrEmpty(raw string) string {
	if raw == "" {
		return ""
	}
	return Fingerprint(raw)
}

// SSFPush returns the push endpoint (RFC 8935) of a Guard of strategy SSF with delivery push,
// which whoever serves the Guard mounts at SSFPushPath (Config.SSF.PushURL's path); nil for
// any other strategy or delivery. It authenticates the transmitter by the authorization header
// of the Guard's stream and enforces each valid SET before it answers 202.
func (g *Guard) SSFPush() http.Handler {
	if r, ok := g.enf.(*ssfReceiver); ok && g.cfg.SSF.Delivery == SSFPush {
		return r
	}
	return nil
}

// Validator returns the Guard's token validator.
func (g *Guard) Validator() *Validator { return g.v }

// Truth returns the Guard's ground-truth log: a rule record per recall rule applied (Push, Poll),
// a cache record per positive introspection cached (Introspect, deferring to Config.Truth), and
// for every strategy a Key rule record (RecallID JWKSRecallID) when a JWKS fetch drops a key.
// JWTOnly records nothing else: it never learns of any other recall.
func (g *Guard) Truth() *truth.Log { return g.truth }

// Snapshot returns the revocation rules the gateway holds and their version, for a restart
// from a snapshot (Config.Snapshot); ok is false for strategies that hold no rules.
func (g *Guard) Snapshot() (l revocation.List, ok bool) {
	ss, ok := g.enf.(interface{ held() *setState })
	if !ok {
		return revocation.List{}, false
	}
	s := ss.held().set
	return revocation.List{Version: s.Version(), Rules: s.Rules(), Full: true}, true
}

// Status returns nil while the revocation source is fresh, else an error saying why (for
// /healthz).
func (g *Guard) Status() error { return g.enf.status() }

// Metrics returns the Guard's private registry (what /metrics serves).
func (g *Guard) Metrics() prometheus.Gatherer { return g.m.reg }

// Close stops background work (poller, NATS subscription, drained) and unregisters the metrics
// from Config.Registry. It is idempotent and safe to call concurrently.
func (g *Guard) Close() error {
	g.closeOnce.Do(func() {
		if g.cancel != nil {
			g.cancel()
		}
		g.closeErr = g.enf.close()
		g.m.unregister(g.cfg.Registry, g.extra...)
	})
	return g.closeErr
}

// jwtOnly never learns of a recall.
type jwtOnly struct{}

func (jwtOnly) start(context.Context, context.Context) error { return nil }
func (jwtOnly) check(context.Context, string, *Token) error  { return nil }
func (jwtOnly) status() error                                { return nil }
func (jwtOnly) close() error                                 { return nil }
