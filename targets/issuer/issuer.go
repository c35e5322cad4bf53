// Package issuer is the reference OAuth 2.0 authorization server of the recall stack: the system
// under test that mints the credentials a drill recalls, and the source every enforcing component
// learns recalls from. It keeps all state in memory and is built to mint thousands of tokens per
// second and to recall 100k of them in one call.
//
//	           POST /token ──────────► JWT access tokens (ES256, kid, jti, sid, fid)
//	                                   opaque rotating refresh tokens (reuse ⇒ family recalled)
//	POST /admin/recalls, /revoke,      ┌──────────────────────┐
//	refresh-token reuse, Recall() ───► │ revocation.Set       │──► truth.Log (instant applied)
//	                                   │ (one version/recall) │──► GET /revocations?since=V (poll)
//	                                   └──────────────────────┘──► NATS recall.events     (push)
//	           POST /introspect ◄───── signature + key status + Set
//
// Every way of revoking something — RFC 7009 revocation, refresh-token reuse detection, the admin
// recall API and [Issuer.Recall] — goes through one code path that turns it into revocation rules,
// applies them to the Set atomically, records the instant in the ground-truth log, appends them to
// the revocation list and only then publishes them on the bus. So whatever a gateway enforces, it
// learned from the same rules the issuer enforces itself.
//
// Endpoints (see [Issuer.Handler]):
//
//	POST /token                          client_credentials, password (+otp), refresh_token
//	POST /revoke                         RFC 7009
//	POST /introspect                     RFC 7662
//	GET  /.well-known/oauth-authorization-server, /.well-known/openid-configuration (RFC 8414)
//	GET  /jwks                           signing keys that are neither pending revocation nor revoked
//	GET  /revocations[?since=V]          revocation.List, ETag "V", If-None-Match → 304
//	POST /admin/recalls                  bulk recall (Bearer AdminSecret)
//	POST /admin/users, /admin/clients    bulk registration
//	POST /admin/users/{username}/factors TOTP enrolment
//	POST /admin/keys/rotate              new active signing key
//	GET  /debug/recalls                  ground truth (Bearer AdminSecret)
//	GET  /metrics, /healthz
package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// Defaults for Config.
const (
	// DefaultAudience is the aud claim of access tokens when Config.Audience is empty.
	DefaultAudience = "recall-api"
	// DefaultKeys is how many signing keys New creates when Config.Keys is zero: one active and
	// one published in advance, which the next rotation promotes.
	DefaultKeys = 2
	// DefaultTokenTTL is the access-token lifetime when Config.TokenTTL is zero.
	DefaultTokenTTL = 10 * time.Minute
	// DefaultRefreshTTL is the refresh-token lifetime when Config.RefreshTTL is zero.
	DefaultRefreshTTL = 24 * time.Hour
	// DefaultComponent is the component name of the ground-truth log.
	DefaultComponent = "issuer"
	// DefaultSweepInterval is how often expired refresh tokens are dropped from memory.
	DefaultSweepInterval = time.Minute
)

// Client is an OAuth client. The JSON form is the one POST /admin/clients accepts.
type Client struct {
	// ID is the client_id.
	ID string `json:"client_id"`
	// Secret is the client secret (client_secret_basic or client_secret_post).
	Secret string `json:"client_secret"`
	// Scopes are the scopes the client may request; a token request without scope gets all of
	// them.
	Scopes []string `json:"scopes,omitempty"`
	// BackchannelLogoutURI, when set, is where the client receives OpenID Connect Back-Channel
	// Logout tokens (see AddBackchannelClient): an absolute http(s) URL.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
}

// User is a resource owner for the password grant. The JSON form is the one POST /admin/users
// accepts.
type User struct {
	// Username is the token subject (sub).
	Username string `json:"username"`
	// Password is the user's password.
	Password string `json:"password"`
}

// Config configures New.
type Config struct {
	// Issuer is the iss claim and the base URL of the metadata document. It may be left empty
	// and set once the listener is known with SetBaseURL; while it is empty, each request uses
	// "http://" + its Host.
	Issuer string
	// Audience is the aud claim of access tokens; default DefaultAudience.
	Audience string
	// AdminSecret is the Bearer secret of /admin/* and /debug/*. Required.
	AdminSecret string
	// Clients are registered at start.
	Clients []Client
	// Users are registered at start.
	Users []User
	// Keys is how many signing keys to create at start; default DefaultKeys. The first signs;
	// the others are published in the JWKS ahead of rotation.
	Keys int
	// TokenTTL is the access-token lifetime; default DefaultTokenTTL.
	TokenTTL time.Duration
	// RefreshTTL is the refresh-token lifetime; default DefaultRefreshTTL.
	RefreshTTL time.Duration
	// IssuedBeforeInclusive plants the second-resolution boundary bug: an issued_before recall
	// with an explicit before also recalls the tokens whose iat is before's second, comparing
	// iat ≤ before instead of iat < before, so that tokens issued in that second after the
	// instant are recalled at birth. For drills that must find it (scenarios/issued-before.yaml).
	IssuedBeforeInclusive bool
	// MFARecallKeepsRecoveryCodes plants the incomplete MFA recall: the factor goes, its
	// recovery codes stay and still log the user in (a session with no factor). For drills
	// that must find it (scenarios/mfa-recall.yaml).
	MFARecallKeepsRecoveryCodes bool
	// RotationNewSession plants the rotation that escapes the family kill: a refresh-token
	// rotation mints its access token in a new session, so that the session recall reuse
	// detection applies (RFC 9700 section 4.14.2) does not reach it, and the access token the
	// legitimate client holds outlives the theft. For drills that must find it
	// (scenarios/refresh-theft.yaml).
	RotationNewSession bool
	// NATSURL is the bus to publish recall events on; empty publishes nothing. The connection
	// reconnects forever; New does not wait for it.
	NATSURL string
	// SSF, when set, is a Shared Signals transmitter the issuer emits on after each recall:
	// one SET per recalled subject, session, token or client on every stream (ssf.go). Its
	// Handler is served beside the issuer's by whoever runs it.
	SSF *ssf.Transmitter
	// Logger receives operational logs; nil discards them. Tokens and secrets are only ever
	// logged as 12-hex SHA-256 fingerprints.
	Logger *slog.Logger
	// Registry receives the issuer's metrics; nil creates a private registry. GET /metrics serves
	// it when it is also a prometheus.Gatherer (a *prometheus.Registry is) and 404 otherwise.
	Registry prometheus.Registerer
}

// Errors returned by the Go API. The HTTP API maps ErrInvalidRecall, ErrUnknownUser and
// ErrInvalidRequest to 400/404 and ErrIdempotencyConflict to 422.
var (
	// ErrInvalidRecall is wrapped by Recall for a request that cannot be applied.
	ErrInvalidRecall = errors.New("invalid recall")
	// ErrIdempotencyConflict is returned by Recall when an idempotency key is reused with a
	// different request.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrUnknownUser is returned for a username that is not registered.
	ErrUnknownUser = errors.New("unknown user")
	// ErrInvalidRequest is wrapped for bad registrations (empty ids, secrets or passwords).
	ErrInvalidRequest = errors.New("invalid request")
)

// Issuer is the reference authorization server. Create it with New; it is safe for concurrent
// use.
type Issuer struct {
	log        *slog.Logger
	audience   string
	tokenTTL   time.Duration
	refreshTTL time.Duration
	inclusive  bool // Config.IssuedBeforeInclusive
	rotNewSID  bool // Config.RotationNewSession
	base       atomic.Pointer[string]
	bcl        backchannel
	ssf        *ssf.Transmitter // Config.SSF
	ssfWG      sync.WaitGroup   // emissions in flight
	adminHash  [32]byte

	keys    *keyRing
	set     revocation.Set
	truth   *truth.Log
	reg     *registry
	refresh refreshStore
	m       *metrics

	rmu     sync.Mutex // serializes recalls; guards version and idem
	version uint64
	idem    idempotency

	list revList

	pubMu sync.Mutex // keeps events in version order without holding rmu while publishing
	nc    *nats.Conn

	handler   http.Handler
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New returns a ready issuer with its keys, clients and users. It connects to Config.NATSURL in
// the background. Close releases it.
func New(cfg Config) (*Issuer, error) {
	if cfg.AdminSecret == "" {
		return nil, fmt.Errorf("issuer: %w: AdminSecret is required", ErrInvalidRequest)
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Keys <= 0 {
		cfg.Keys = DefaultKeys
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var gatherer prometheus.Gatherer
	if cfg.Registry == nil {
		r := prometheus.NewRegistry()
		cfg.Registry, gatherer = r, r
	} else if g, ok := cfg.Registry.(prometheus.Gatherer); ok {
		gatherer = g
	}

	i := &Issuer{
		bcl: backchannel{sem: make(chan struct{}, backchannelParallel),
			client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}},
		log:        cfg.Logger.With("component", DefaultComponent),
		audience:   cfg.Audience,
		tokenTTL:   cfg.TokenTTL,
		inclusive:  cfg.IssuedBeforeInclusive,
		rotNewSID:  cfg.RotationNewSession,
		refreshTTL: cfg.RefreshTTL,
		adminHash:  sha256.Sum256([]byte(cfg.AdminSecret)),
		truth:      truth.NewLog(DefaultComponent, nil),
		reg:        newRegistry(cfg.MFARecallKeepsRecoveryCodes),
		done:       make(chan struct{}),
		ssf:        cfg.SSF,
	}
	i.refresh.init()
	i.SetBaseURL(cfg.Issuer)

	var err error
	if i.keys, err = newKeyRing(cfg.Keys); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if err := i.AddClients(cfg.Clients); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if err := i.AddUsers(cfg.Users); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if i.m, err = newMetrics(cfg.Registry, i); err != nil {
		return nil, fmt.Errorf("issuer: metrics: %w", err)
	}
	i.handler = i.routes(gatherer)

	if cfg.NATSURL != "" {
		if i.nc, err = i.connect(cfg.NATSURL); err != nil {
			return nil, fmt.Errorf("issuer: nats: %w", err)
		}
	}
	i.wg.Add(1)
	go i.sweep()
	return i, nil
}

// Handler returns the issuer's HTTP API.
func (i *Issuer) Handler() http.Handler { return i.handler }

// SetBaseURL sets the iss claim and metadata base URL, for when the listener address is known
// only after New. Tokens minted under an earlier issuer value are no longer active at
// introspection. A trailing slash is dropped.
func (i *Issuer) SetBaseURL(u string) {
	u = strings.TrimRight(u, "/")
	i.base.Store(&u)
}

// BaseURL returns the configured issuer, or "" when it is derived from each request.
func (i *Issuer) BaseURL() string { return *i.base.Load() }

// Truth returns the ground-truth log: one RuleApplied record for every rule, stamped right after
// the rule became visible to introspection, token refresh and the revocation list.
func (i *Issuer) Truth() *truth.Log { return i.truth }

// Version returns the current revocation-list version (the number of recalls applied).
func (i *Issuer) Version() uint64 {
	i.list.mu.RLock()
	defer i.list.mu.RUnlock()
	return i.list.version
}

// Close stops background work and closes the NATS connection after flushing pending events
// (bounded to one second). It is idempotent. The HTTP handler keeps working after Close, without
// publishing.
func (i *Issuer) Close() error {
	i.closeOnce.Do(func() {
		close(i.done)
		i.wg.Wait()
		i.ssfWG.Wait()
		if i.nc != nil {
			i.pubMu.Lock()
			if i.nc.IsConnected() {
				_ = i.nc.FlushTimeout(time.Second)
			}
			i.nc.Close()
			i.pubMu.Unlock()
		}
	})
	return nil
}

// issuerFor is the iss value for a request: the configured base URL, or one derived from Host.
func (i *Issuer) issuerFor(r *http.Request) string {
	if b := *i.base.Load(); b != "" {
		return b
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// sweep drops expired refresh tokens every DefaultSweepInterval until Close.
func (i *Issuer) sweep() {
	defer i.wg.Done()
	t := time.NewTicker(DefaultSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-i.done:
			return
		case now := <-t.C:
			if n := i.refresh.sweep(now); n > 0 {
				i.log.Debug("dropped expired refresh tokens", "count", n)
			}
		}
	}
}

// fingerprint is the first 12 hex digits of the SHA-256 of a secret: what logs show instead.
func fingerprint(s string) string {
	return redact.Fingerprint(s)
}

// equalHash compares two digests in constant time.
func equalHash(a, b [32]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// background returns a context for work that must finish even if the request is cancelled.
func background(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
