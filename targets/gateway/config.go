package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// Strategy is how a gateway learns of recalls.
type Strategy string

// The strategies found in the field.
const (
	// Push subscribes to revocation.EventSubject on NATS and applies each recall as it arrives;
	// it resyncs from GET /revocations on start, after every reconnect and on a version gap, and
	// polls the list every PollInterval while NATS is disconnected.
	Push Strategy = "push"
	// Poll fetches GET /revocations?since=V every PollInterval.
	Poll Strategy = "poll"
	// Introspect asks the issuer (RFC 7662) about each token and caches positive answers for
	// CacheTTL.
	Introspect Strategy = "introspect"
	// JWTOnly checks signature and claims only: it never learns of a recall.
	JWTOnly Strategy = "jwt-only"
	// SSF is an OpenID Shared Signals receiver: it creates a stream at Config.SSF's
	// transmitter and enforces the CAEP and RISC events it receives on it, pushed (RFC 8935) or
	// polled every PollInterval (RFC 8936).
	SSF Strategy = "ssf"
)

// Strategies lists every strategy, for validation.
var Strategies = []Strategy{Push, Poll, Introspect, JWTOnly, SSF}

// FailMode is what a gateway does with a token whose revocation status it cannot learn because
// its revocation source is unreachable.
type FailMode string

// The fail modes.
const (
	// FailClosed answers 503 with Retry-After: 1 (the default).
	FailClosed FailMode = "closed"
	// FailOpen accepts on signature and claims alone and counts the request in
	// <namespace>_fail_open_accepts_total.
	FailOpen FailMode = "open"
)

// JWKSRefetch is when a Validator fetches the JWKS again after its first fetch.
type JWKSRefetch string

// The refetch policies found in the field.
const (
	// RefetchUnknownKid (the default) refetches once the keys are older than JWKSTTL and, at most
	// every JWKSMinRefresh, when a token names an unknown kid: a new signing key is accepted at
	// once, a removed one is refused within JWKSTTL.
	RefetchUnknownKid JWKSRefetch = "unknown-kid"
	// RefetchTTL refetches only once the keys are older than JWKSTTL: tokens of a new signing key
	// are refused (false rejects) and a removed one honoured until then.
	RefetchTTL JWKSRefetch = "ttl"
	// RefetchNever keeps the keys of the first fetch for good: the stale-verifier bug. A removed
	// key is honoured until its tokens expire; a new one is never accepted.
	RefetchNever JWKSRefetch = "never"
)

// JWKSRefetches lists every policy, for validation.
var JWKSRefetches = []JWKSRefetch{RefetchUnknownKid, RefetchTTL, RefetchNever}

// Defaults applied by New to zero Config fields.
const (
	// DefaultAudience is the aud a token must carry.
	DefaultAudience = "recall-api"
	// DefaultPollInterval is how often Poll fetches the revocation list, and how often Push
	// polls it while NATS is disconnected.
	DefaultPollInterval = 2 * time.Second
	// DefaultCacheTTL is how long Introspect honours a positive introspection answer.
	DefaultCacheTTL = 5 * time.Second
	// DefaultNegativeCacheTTL is how long Introspect remembers a negative answer. Recalls are
	// never undone, so a negative answer cannot become positive; the short TTL only protects
	// the issuer from victims retried at full rate.
	DefaultNegativeCacheTTL = time.Second
	// DefaultJWKSTTL is how long fetched signing keys are used before a background refetch.
	DefaultJWKSTTL = 5 * time.Minute
	// DefaultJWKSMinRefresh is the least time between two JWKS fetches triggered by unknown
	// key ids.
	DefaultJWKSMinRefresh = time.Second
	// DefaultTimeout bounds each call to the issuer (JWKS, list, introspection).
	DefaultTimeout = 2 * time.Second
	// DefaultStalenessFactor times PollInterval is the default MaxStaleness.
	DefaultStalenessFactor = 3
	// DefaultVerifiedCacheSize is how many verified tokens the Validator remembers, keyed by
	// the SHA-256 of the raw token, so that a token seen again skips ES256 verification.
	DefaultVerifiedCacheSize = 16384
	// DefaultIntrospectCacheSize bounds the introspection cache (entries).
	DefaultIntrospectCacheSize = 1 << 17
	// DefaultUpstreamMaxConns bounds the connections a gateway opens to its upstream; requests
	// beyond wait for a free one. A service sized for this many connections is never overrun by
	// its gateway, whatever the load in front.
	DefaultUpstreamMaxConns = 256
	// DefaultUpstreamMaxInflight bounds the requests a gateway proxies at once (waiting for a
	// connection included); beyond, it answers 503 with Retry-After: 1 (backpressure) without
	// reaching the upstream.
	DefaultUpstreamMaxInflight = 2048
	// DefaultReconnectWait is the pause between two NATS reconnect attempts.
	DefaultReconnectWait = 250 * time.Millisecond
	// DefaultMetricsNamespace prefixes every metric name.
	DefaultMetricsNamespace = "gateway"
)

// Config configures a Gateway or a Guard. Zero fields take the Default* values.
type Config struct {
	// Name is the component name: the "component" label of every metric and the name of the
	// truth log.
	Name string
	// Strategy is how recalls are learnt. Required.
	Strategy Strategy
	// IssuerURL is the issuer's base URL: {IssuerURL}/jwks, /introspect, /revocations.
	IssuerURL string
	// Issuer is the expected iss claim (default IssuerURL).
	Issuer string
	// Audience is the expected aud (default DefaultAudience).
	Audience string
	// Upstream is the URL requests are reverse-proxied to once accepted; empty: the gateway
	// answers 200 {"sub","scope","gateway"} itself.
	Upstream string
	// UpstreamTransport, when set, carries proxied requests instead of the gateway's own pooled
	// HTTP transport (the embedded runtime passes one that serves an in-process upstream in
	// memory); UpstreamMaxConns then does not apply.
	UpstreamTransport http.RoundTripper
	// UpstreamMaxConns bounds the connections to Upstream (default DefaultUpstreamMaxConns).
	UpstreamMaxConns int
	// UpstreamMaxInflight bounds the requests proxied at once; beyond, the gateway answers 503
	// with Retry-After: 1 (default DefaultUpstreamMaxInflight).
	UpstreamMaxInflight int
	// Verifier, when set, authenticates credentials instead of the JWT Validator (no JWKS is
	// fetched): a reference component for credentials that are not JWTs (API keys) reuses the
	// recall strategies this way. The Introspect strategy then posts the raw credential.
	Verifier CredentialVerifier
	// EventSubject is the NATS subject Push listens on (default revocation.EventSubject).
	EventSubject string
	// NATSURL is the NATS server for Push.
	NATSURL string
	// PollInterval is the Poll period (default DefaultPollInterval); Push uses it as its
	// polling period while NATS is disconnected.
	PollInterval time.Duration
	// CacheTTL is how long Introspect honours a positive answer (default DefaultCacheTTL); the
	// entry never outlives the token's exp.
	CacheTTL time.Duration
	// NegativeCacheTTL is how long Introspect remembers a negative answer (default
	// DefaultNegativeCacheTTL; negative disables).
	NegativeCacheTTL time.Duration
	// ClientID and ClientSecret authenticate introspection calls (HTTP Basic).
	ClientID, ClientSecret string
	// JWKSTTL is how long fetched keys are used before a background refetch (default
	// DefaultJWKSTTL). An unknown kid triggers a refetch at most every JWKSMinRefresh.
	JWKSTTL time.Duration
	// JWKSMinRefresh rate-limits refetches caused by unknown kids (default
	// DefaultJWKSMinRefresh).
	JWKSMinRefresh time.Duration
	// JWKSRefetch is when the JWKS is fetched again (default RefetchUnknownKid).
	JWKSRefetch JWKSRefetch
	// FailMode says what to do when the revocation source is unreachable (default FailClosed).
	FailMode FailMode
	// MaxStaleness is how long Poll and Push may go without a successful sync before the
	// source counts as unreachable (Push: only while NATS is disconnected). Default
	// DefaultStalenessFactor*PollInterval.
	MaxStaleness time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (default 0).
	Leeway time.Duration
	// Timeout bounds each call to the issuer (default DefaultTimeout).
	Timeout time.Duration
	// VerifiedCacheSize bounds the Validator's cache of verified tokens (default
	// DefaultVerifiedCacheSize; negative disables it).
	VerifiedCacheSize int
	// ReconnectWait is the pause between NATS reconnect attempts (default
	// DefaultReconnectWait).
	ReconnectWait time.Duration
	// MetricsNamespace prefixes metric names (default DefaultMetricsNamespace).
	MetricsNamespace string
	// Logger receives operational logs (default: discarded). Tokens appear only as
	// fingerprints.
	Logger *slog.Logger
	// Registry, when set, also receives the metrics; they are always served by the
	// component's own /metrics from a private registry. Never the global registry.
	Registry prometheus.Registerer
	// DebugSecret is the Bearer secret GET /debug/recalls requires (the stack's admin secret,
	// which the harness holds); empty: /debug/recalls answers 401 to everyone.
	DebugSecret string
	// Truth is the upstream ground truth (the issuer's) an Introspect gateway defers to.
	Truth truth.Source
	// Snapshot, when set, is a revocation list a Push or Poll gateway starts from instead of its
	// first sync, as a gateway restoring its state from disk would (nil: sync from the issuer).
	// With a stale snapshot the gateway enforces only the rules it holds until its first sync,
	// which it delays by ResyncDelay: the resurrection a drill must catch.
	Snapshot *revocation.List
	// ResyncDelay delays the first sync of a gateway started from a Snapshot (default 0: sync
	// at once, in the background).
	ResyncDelay time.Duration
	// SSF is the transmitter strategy SSF receives from.
	SSF SSFReceiver
}

// SSF delivery methods of SSFReceiver.Delivery.
const (
	SSFPush = "push" // RFC 8935: the transmitter POSTs each SET to PushURL
	SSFPoll = "poll" // RFC 8936: the gateway polls every PollInterval and acknowledges
)

// SSFReceiver is how strategy SSF reaches its transmitter.
type SSFReceiver struct {
	// Transmitter is the transmitter's issuer URL; its metadata is at
	// /.well-known/ssf-configuration under it (SSF §7.2.1).
	Transmitter string
	// Token is the bearer token of the stream management API and the poll endpoint (SSF §8).
	Token string
	// Delivery is SSFPush or SSFPoll (default push).
	Delivery string
	// PushURL is where the transmitter reaches this gateway's POST /ssf/events (push).
	PushURL string
	// Ignore lists event type URIs the gateway acknowledges without enforcing them: the planted
	// defect of a receiver that does not know an event type.
	Ignore []string
	// Client reaches the transmitter (default a client with Config.Timeout).
	Client *http.Client
}

// CredentialVerifier checks a raw credential and returns what a Guard needs of it. Errors are
// *TokenError (reject) or ErrMissingToken.
type CredentialVerifier interface {
	Verify(ctx context.Context, raw string) (*Token, error)
}

// withDefaults returns c with defaults applied, or an error naming the first bad field.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "gateway"
	}
	switch c.Strategy {
	case Push, Poll, Introspect, JWTOnly, SSF:
	case "":
		return c, fmt.Errorf("strategy: required (one of %s)", strategyNames())
	default:
		return c, fmt.Errorf("strategy: unknown %q (one of %s)", c.Strategy, strategyNames())
	}
	if c.IssuerURL == "" {
		return c, fmt.Errorf("issuer url: required")
	}
	u, err := url.Parse(c.IssuerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("issuer url: %q is not an absolute http(s) URL", c.IssuerURL)
	}
	c.IssuerURL = strings.TrimRight(c.IssuerURL, "/")
	if c.Issuer == "" {
		c.Issuer = c.IssuerURL
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return c, fmt.Errorf("upstream: %q is not an absolute URL", c.Upstream)
		}
	}
	if c.Strategy == Push && c.NATSURL == "" {
		return c, fmt.Errorf("nats url: required for strategy push")
	}
	if c.Strategy == SSF {
		if c.SSF.Delivery == "" {
			c.SSF.Delivery = SSFPush
		}
		switch {
		case c.SSF.Transmitter == "":
			return c, fmt.Errorf("ssf transmitter: required for strategy ssf")
		case c.SSF.Token == "":
			return c, fmt.Errorf("ssf token: required for strategy ssf")
		case c.SSF.Delivery != SSFPush && c.SSF.Delivery != SSFPoll:
			return c, fmt.Errorf("ssf delivery: unknown %q (one of push, poll)", c.SSF.Delivery)
		case c.SSF.Delivery == SSFPush && c.SSF.PushURL == "":
			return c, fmt.Errorf("ssf push url: required for delivery push")
		}
	}
	if c.Strategy == Introspect && c.ClientID == "" {
		return c, fmt.Errorf("client id: required for strategy introspect")
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.NegativeCacheTTL == 0 {
		c.NegativeCacheTTL = DefaultNegativeCacheTTL
	}
	if c.JWKSTTL <= 0 {
		c.JWKSTTL = DefaultJWKSTTL
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = DefaultJWKSMinRefresh
	}
	switch c.JWKSRefetch {
	case "":
		c.JWKSRefetch = RefetchUnknownKid
	case RefetchUnknownKid, RefetchTTL, RefetchNever:
	default:
		return c, fmt.Errorf("jwks refetch: unknown %q (one of unknown-kid, ttl, never)", c.JWKSRefetch)
	}
	switch c.FailMode {
	case "":
		c.FailMode = FailClosed
	case FailClosed, FailOpen:
	default:
		return c, fmt.Errorf("fail mode: unknown %q (one of closed, open)", c.FailMode)
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = DefaultStalenessFactor * c.PollInterval
	}
	if c.Leeway < 0 {
		return c, fmt.Errorf("leeway: negative")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.VerifiedCacheSize == 0 {
		c.VerifiedCacheSize = DefaultVerifiedCacheSize
	}
	if c.UpstreamMaxConns <= 0 {
		c.UpstreamMaxConns = DefaultUpstreamMaxConns
	}
	if c.UpstreamMaxInflight <= 0 {
		c.UpstreamMaxInflight = DefaultUpstreamMaxInflight
	}
	if c.EventSubject == "" {
		c.EventSubject = revocation.EventSubject
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.MetricsNamespace == "" {
		c.MetricsNamespace = DefaultMetricsNamespace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func strategyNames() string {
	s := make([]string, len(Strategies))
	for i, st := range Strategies {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}
