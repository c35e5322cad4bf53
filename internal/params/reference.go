package params

import (
	"slices"

	"errors"
	"time"
)

// The reference components' with: keys, typed once: internal/scenario validates a scenario's
// with: blocks against [Reference], the embedded runtime turns [DecodeGateway]'s result into a
// Go config and the docker runtime into container flags.

// Strategies lists how a reference gateway or service learns of recalls (targets/gateway).
var Strategies = []string{"push", "poll", "introspect", "jwt-only", "ssf"}

// SSFEvents lists the Shared Signals event types by the short names scenarios write
// (internal/ssf.EventTypes): CAEP 1.0 and RISC 1.0.
var SSFEvents = []string{"session-revoked", "credential-change", "token-claims-change",
	"credential-compromise", "account-disabled", "sessions-revoked"}

// SSFDeliveries lists how a reference gateway of strategy ssf receives SETs: push (RFC 8935)
// or poll (RFC 8936).
var SSFDeliveries = []string{"push", "poll"}

// FailModes lists what a reference gateway does when its revocation source is unreachable.
var FailModes = []string{"closed", "open"}

// JWKSRefetches lists when a reference gateway fetches the issuer's keys again (jwks_refetch;
// targets/gateway's JWKSRefetch): on an unknown kid (the default), only after jwks_ttl, never.
var JWKSRefetches = []string{"unknown-kid", "ttl", "never"}

// APIKeyStrategies lists how a reference/apikey-service learns of recalls.
var APIKeyStrategies = []string{"push", "poll", "lookup", "offline"}

// Restart snapshots of a reference gateway (restart_snapshot).
const (
	// RestartSnapshotFresh (the default) restarts a gateway with empty state and a full sync.
	RestartSnapshotFresh = "fresh"
	// RestartSnapshotStale makes a restarted gateway restore the revocation rules it held
	// right after its first start and resync only after restart_resync_delay.
	RestartSnapshotStale = "stale"
	// DefaultRestartResyncDelay is the default restart_resync_delay.
	DefaultRestartResyncDelay = 5 * time.Second
)

// ReferenceKind describes a reference component (use: reference/...).
type ReferenceKind struct {
	// Kind is the component kind it is (issuer, gateway, service, bus).
	Kind string
	// Probe is true when it has a built-in probe.
	Probe bool
	// Params are the keys its with: accepts.
	Params Spec
}

// guard returns the keys of the reference gateway and service, which share targets/gateway's
// enforcement; a gateway must say its strategy, a service may leave it to the default.
func guard(strategyRequired bool, strategies []string) Spec {
	pushPoll := &When{Key: "strategy", Values: []string{"push", "poll"}}
	return Spec{
		{Key: "strategy", Type: Enum, Enum: strategies, Required: strategyRequired, Doc: "how it learns of recalls"},
		{Key: "interval", Type: Duration, When: &When{Key: "strategy", Values: []string{"push", "poll", "ssf"}}, Doc: "how often it fetches the revocation list (poll), resyncs (push) or polls its SSF stream (ssf, delivery poll)"},
		{Key: "cache_ttl", Type: Duration, When: &When{Key: "strategy", Values: []string{"introspect"}}, Doc: "how long an introspection answer is cached"},
		{Key: "fail_mode", Type: Enum, Enum: FailModes, When: &When{Key: "strategy", Values: []string{"push", "poll", "introspect"}}, Doc: "what it does when its revocation source is unreachable"},
		{Key: "max_staleness", Type: Duration, When: pushPoll, Doc: "how old its revocation state may get before fail_mode applies"},
	}
}

// ssfKeys returns strategy ssf's keys, which the reference gateway and service share.
func ssfKeys() Spec {
	ssfOnly := &When{Key: "strategy", Values: []string{"ssf"}}
	return Spec{
		{Key: "delivery", Type: Enum, Enum: SSFDeliveries, When: ssfOnly, Doc: "how SETs reach it: push (RFC 8935, to its /ssf/events; the default) or poll (RFC 8936, every interval)"},
		{Key: "transmitter", Type: Component, When: ssfOnly, Doc: "the reference/ssf component it creates its stream at (default: the only one)"},
		{Key: "ignore_event", Type: Enum, Enum: SSFEvents, When: ssfOnly, Doc: "an event type it acknowledges without enforcing: the planted defect of a receiver that does not know it"},
	}
}

// ReferenceUses lists every reference component's use: value, the one list validation and
// the runtimes name: the issuer, gateway, service and bus first, then the others sorted.
var ReferenceUses = func() []string {
	out := []string{"reference/issuer", "reference/gateway", "reference/service", "reference/nats"}
	var rest []string
	for use := range Reference {
		if !slices.Contains(out, use) {
			rest = append(rest, use)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}()

// Reference describes the reference components by their use: value.
var Reference = func() map[string]ReferenceKind {
	gw := append(guard(true, Strategies),
		Param{Key: "upstream", Type: Component, Doc: "the component requests are proxied to"},
		Param{Key: "restart_snapshot", Type: Enum, Enum: []string{RestartSnapshotFresh, RestartSnapshotStale}, Default: RestartSnapshotFresh,
			When: &When{Key: "strategy", Values: []string{"push", "poll"}}, Doc: "state after a restart"},
		Param{Key: "restart_resync_delay", Type: Duration, Default: DefaultRestartResyncDelay.String(),
			When: &When{Key: "strategy", Values: []string{"push", "poll"}}, Doc: "how long a stale restart waits before resyncing"},
		Param{Key: "jwks_ttl", Type: Duration, Doc: "how long fetched signing keys are used before a background refetch (default 5m)"},
		Param{Key: "jwks_refetch", Type: Enum, Enum: JWKSRefetches, Doc: "when the keys are fetched again: unknown-kid (default), ttl or never"},
		Param{Key: "jwks_min_refresh", Type: Duration, Doc: "least time between two fetches triggered by unknown key ids (default 1s)"},
		Param{Key: "upstream_max_conns", Type: Int, Doc: "connections to the upstream at most (default 256)"},
		Param{Key: "upstream_max_inflight", Type: Int, Doc: "requests proxied at once at most; beyond, 503 (default 2048)"},
	)
	gw = append(gw, ssfKeys()...)
	// A service validating tokens itself (defence in depth) takes the gateway's strategies,
	// ssf included: it receives SETs as a gateway does.
	svc := append(guard(false, Strategies), ssfKeys()...)
	apiPushPoll := &When{Key: "strategy", Values: []string{"push", "poll"}}
	return map[string]ReferenceKind{
		"reference/issuer": {Kind: "issuer", Probe: true, Params: Spec{
			{Key: "token_ttl", Type: Duration, Doc: "access token lifetime"},
			{Key: "admin_secret", Type: String, Doc: "admin secret of an issuer already running (runtime external)"},
			{Key: "issued_before_bound", Type: Enum, Enum: []string{"exclusive", "inclusive"}, Default: "exclusive",
				Doc: "an issued_before recall of instant T takes iat < T (exclusive), or iat <= T (inclusive: the planted same-second boundary bug)"},
			{Key: "mfa_recall_recovery_codes", Type: Enum, Enum: []string{"recall", "keep"}, Default: "recall",
				Doc: "an mfa recall deletes the factors' recovery codes with them (recall), or leaves them usable (keep: the planted incomplete MFA recall)"},
			{Key: "refresh_rotation_session", Type: Enum, Enum: []string{"same", "new"}, Default: "same",
				Doc: "a refresh-token rotation mints its access token in the family's session (same), or in a new one that reuse detection's family kill does not reach (new: the planted rotated access token that outlives the theft)"},
			{Key: "signing_keys", Type: Int, Doc: "signing keys published at start (default 2): the first signs, the others are published ahead of a rotation; 1: a rotation's new key is in no verifier's cache"},
			{Key: "ssf_token", Type: String, Doc: "the issuer is also an SSF transmitter of its recalls (metadata at /.well-known/ssf-configuration/ssf) for one receiver holding this bearer token, as ${VAR}: a CAEP session-revoked per recalled user, session, token or client (embedded runtime)"},
		}},
		"reference/gateway": {Kind: "gateway", Probe: true, Params: gw},
		"reference/service": {Kind: "service", Probe: true, Params: svc},
		"reference/nats":    {Kind: "bus", Params: Spec{}},
		"reference/apikeys": {Kind: "other", Params: Spec{}},
		"reference/ssf": {Kind: "other", Params: Spec{
			{Key: "push_attempts", Type: Int, Default: "3", Doc: "tries of one push delivery (transport errors and 5xx are retried)"},
			{Key: "push_backoff", Type: Duration, Default: "200ms", Doc: "wait before the first retry, doubled each time"},
		}},
		"reference/apikey-service": {Kind: "service", Params: Spec{
			{Key: "strategy", Type: Enum, Enum: APIKeyStrategies, Required: true, Doc: "how it learns of recalls"},
			{Key: "authority", Type: Component, Doc: "the reference/apikeys component it trusts (default: the only one)"},
			{Key: "interval", Type: Duration, When: apiPushPoll, Doc: "how often it fetches the recall list (poll) or resyncs (push)"},
			{Key: "cache_ttl", Type: Duration, When: &When{Key: "strategy", Values: []string{"lookup"}}, Doc: "how long a lookup answer is cached"},
			{Key: "max_staleness", Type: Duration, When: apiPushPoll, Doc: "how old its recall state may get before fail_mode applies"},
			{Key: "fail_mode", Type: Enum, Enum: FailModes, When: &When{Key: "strategy", Values: []string{"push", "poll", "lookup"}}, Doc: "what it does when the authority is unreachable"},
		}},
		"reference/rp": {Kind: "service", Params: Spec{
			{Key: "client_id", Type: String, Default: "recall-rp", Doc: "its client id at the issuer (back-channel logout)"},
			{Key: "session_cache_ttl", Type: Duration, AllowZero: true, Doc: "how long a positive session lookup is honoured (0s, the default: no cache)"},
			{Key: "cache_on_logout", Type: Enum, Enum: []string{"evict", "keep"}, Default: "evict",
				Doc: "what a back-channel logout does to the cached lookups of the sessions it kills: evict them, or keep them (the planted defect: a logged-out session is honoured until its cached answer ends)"},
		}},
	}
}()

// Gateway is a reference gateway's with:, decoded.
type Gateway struct {
	Strategy, FailMode, Upstream string
	Interval, CacheTTL           time.Duration
	MaxStaleness                 time.Duration
	// StaleRestart is restart_snapshot: stale; ResyncDelay its restart_resync_delay.
	StaleRestart bool
	ResyncDelay  time.Duration
	// JWKSTTL, JWKSRefetch and JWKSMinRefresh are jwks_ttl, jwks_refetch, jwks_min_refresh
	// (zero: the gateway's default).
	JWKSTTL        time.Duration
	JWKSRefetch    string
	JWKSMinRefresh time.Duration
	// UpstreamMaxConns and UpstreamMaxInflight are upstream_max_conns, upstream_max_inflight
	// (0: the gateway's default).
	UpstreamMaxConns, UpstreamMaxInflight int
	// Delivery, Transmitter and IgnoreEvent are strategy ssf's delivery, transmitter and
	// ignore_event.
	Delivery, Transmitter, IgnoreEvent string
}

// DecodeGateway checks and decodes a reference gateway's with: for a runtime ([Spec.CheckTypes]:
// the runtime resolves upstream itself, and Go callers may pass keys that do not apply).
func DecodeGateway(with map[string]any) (Gateway, error) {
	spec := Reference["reference/gateway"].Params
	if err := join(spec.CheckTypes(with, "reference/gateway")); err != nil {
		return Gateway{}, err
	}
	v := spec.Decode(with)
	return Gateway{Strategy: v.String("strategy"), FailMode: v.String("fail_mode"), Upstream: v.String("upstream"),
		Interval: v.Duration("interval"), CacheTTL: v.Duration("cache_ttl"), MaxStaleness: v.Duration("max_staleness"),
		StaleRestart: v.String("restart_snapshot") == RestartSnapshotStale, ResyncDelay: v.Duration("restart_resync_delay"),
		JWKSTTL: v.Duration("jwks_ttl"), JWKSRefetch: v.String("jwks_refetch"), JWKSMinRefresh: v.Duration("jwks_min_refresh"),
		UpstreamMaxConns: v.Int("upstream_max_conns"), UpstreamMaxInflight: v.Int("upstream_max_inflight"),
		Delivery: v.String("delivery"), Transmitter: v.String("transmitter"), IgnoreEvent: v.String("ignore_event")}, nil
}

// DecodeService checks and decodes a reference service's with: for a runtime
// ([Spec.CheckTypes]), as the gateway's keys it shares (an empty Strategy: the service trusts
// the gateway in front of it).
func DecodeService(with map[string]any) (Gateway, error) {
	spec := Reference["reference/service"].Params
	if err := join(spec.CheckTypes(with, "reference/service")); err != nil {
		return Gateway{}, err
	}
	v := spec.Decode(with)
	return Gateway{Strategy: v.String("strategy"), FailMode: v.String("fail_mode"),
		Interval: v.Duration("interval"), CacheTTL: v.Duration("cache_ttl"), MaxStaleness: v.Duration("max_staleness"),
		Delivery: v.String("delivery"), Transmitter: v.String("transmitter"), IgnoreEvent: v.String("ignore_event")}, nil
}

// SSF is a reference/ssf's with:, decoded.
type SSF struct {
	PushAttempts int
	PushBackoff  time.Duration
}

// DecodeSSF checks and decodes a reference/ssf's with: for a runtime ([Spec.CheckTypes]).
func DecodeSSF(with map[string]any) (SSF, error) {
	spec := Reference["reference/ssf"].Params
	if err := join(spec.CheckTypes(with, "reference/ssf")); err != nil {
		return SSF{}, err
	}
	v := spec.Decode(with)
	return SSF{PushAttempts: v.Int("push_attempts"), PushBackoff: v.Duration("push_backoff")}, nil
}

// APIKeyService is a reference/apikey-service's with:, decoded.
type APIKeyService struct {
	Strategy, Authority, FailMode    string
	Interval, CacheTTL, MaxStaleness time.Duration
}

// DecodeAPIKeyService checks and decodes a reference/apikey-service's with: for a runtime
// ([Spec.CheckTypes]; strategy is still required).
func DecodeAPIKeyService(with map[string]any) (APIKeyService, error) {
	spec := Reference["reference/apikey-service"].Params
	if err := join(spec.CheckTypes(with, "reference/apikey-service")); err != nil {
		return APIKeyService{}, err
	}
	v := spec.Decode(with)
	return APIKeyService{Strategy: v.String("strategy"), Authority: v.String("authority"), FailMode: v.String("fail_mode"),
		Interval: v.Duration("interval"), CacheTTL: v.Duration("cache_ttl"), MaxStaleness: v.Duration("max_staleness")}, nil
}

// RP is a reference/rp's with:, decoded.
type RP struct {
	ClientID        string
	SessionCacheTTL time.Duration
	// CacheOnLogout is evict or keep.
	CacheOnLogout string
}

// DecodeRP checks and decodes a reference/rp's with: for a runtime ([Spec.CheckTypes]).
func DecodeRP(with map[string]any) (RP, error) {
	spec := Reference["reference/rp"].Params
	if err := join(spec.CheckTypes(with, "reference/rp")); err != nil {
		return RP{}, err
	}
	v := spec.Decode(with)
	return RP{ClientID: v.String("client_id"), SessionCacheTTL: v.Duration("session_cache_ttl"), CacheOnLogout: v.String("cache_on_logout")}, nil
}

// Issuer is a reference issuer's with:, decoded.
type Issuer struct {
	// TokenTTL is 0 when not set (the issuer's default).
	TokenTTL    time.Duration
	AdminSecret string
	// IssuedBeforeInclusive is issued_before_bound: inclusive, the planted boundary bug.
	IssuedBeforeInclusive bool
	// SigningKeys is signing_keys (0: the issuer's default).
	SigningKeys int
	// KeepRecoveryCodes is mfa_recall_recovery_codes: keep, the planted incomplete MFA recall.
	KeepRecoveryCodes bool
	// RotationNewSession is refresh_rotation_session: new, the planted rotation that escapes
	// the family kill.
	RotationNewSession bool
	// SSFToken is ssf_token: the bearer token of the issuer's SSF transmitter ("" runs none).
	SSFToken string
}

// DecodeIssuer checks and decodes a reference issuer's with: for a runtime ([Spec.CheckTypes]).
func DecodeIssuer(with map[string]any) (Issuer, error) {
	spec := Reference["reference/issuer"].Params
	if err := join(spec.CheckTypes(with, "reference/issuer")); err != nil {
		return Issuer{}, err
	}
	v := spec.Decode(with)
	return Issuer{TokenTTL: v.Duration("token_ttl"), AdminSecret: v.String("admin_secret"),
		IssuedBeforeInclusive: v.String("issued_before_bound") == "inclusive", SigningKeys: v.Int("signing_keys"),
		KeepRecoveryCodes: v.String("mfa_recall_recovery_codes") == "keep", SSFToken: v.String("ssf_token"),
		RotationNewSession: v.String("refresh_rotation_session") == "new"}, nil
}

func join(errs []*Error) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
