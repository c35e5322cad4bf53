package params

import (
	"errors"
	"time"
)

// The reference components' with: keys, typed once: internal/scenario validates a scenario's
// with: blocks against [Reference], the embedded runtime turns [DecodeGateway]'s result into a
// Go config and the docker runtime into container flags.

// Strategies lists how a reference gateway or service learns of recalls (targets/gateway).
var Strategies = []string{"push", "poll", "introspect", "jwt-only"}

// FailModes lists what a reference gateway does when its revocation source is unreachable.
var FailModes = []string{"closed", "open"}

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
func guard(strategyRequired bool) Spec {
	pushPoll := &When{Key: "strategy", Values: []string{"push", "poll"}}
	return Spec{
		{Key: "strategy", Type: Enum, Enum: Strategies, Required: strategyRequired, Doc: "how it learns of recalls"},
		{Key: "interval", Type: Duration, When: pushPoll, Doc: "how often it fetches the revocation list (poll) or resyncs (push)"},
		{Key: "cache_ttl", Type: Duration, When: &When{Key: "strategy", Values: []string{"introspect"}}, Doc: "how long an introspection answer is cached"},
		{Key: "fail_mode", Type: Enum, Enum: FailModes, When: &When{Key: "strategy", Values: []string{"push", "poll", "introspect"}}, Doc: "what it does when its revocation source is unreachable"},
		{Key: "max_staleness", Type: Duration, When: pushPoll, Doc: "how old its revocation state may get before fail_mode applies"},
	}
}

// Reference describes the reference components by their use: value.
var Reference = func() map[string]ReferenceKind {
	gw := append(guard(true),
		Param{Key: "upstream", Type: Component, Doc: "the component requests are proxied to"},
		Param{Key: "restart_snapshot", Type: Enum, Enum: []string{RestartSnapshotFresh, RestartSnapshotStale}, Default: RestartSnapshotFresh,
			When: &When{Key: "strategy", Values: []string{"push", "poll"}}, Doc: "state after a restart"},
		Param{Key: "restart_resync_delay", Type: Duration, Default: DefaultRestartResyncDelay.String(),
			When: &When{Key: "strategy", Values: []string{"push", "poll"}}, Doc: "how long a stale restart waits before resyncing"},
	)
	return map[string]ReferenceKind{
		"reference/issuer": {Kind: "issuer", Probe: true, Params: Spec{
			{Key: "token_ttl", Type: Duration, Doc: "access token lifetime"},
			{Key: "admin_secret", Type: String, Doc: "admin secret of an issuer already running (runtime external)"},
			{Key: "issued_before_bound", Type: Enum, Enum: []string{"exclusive", "inclusive"}, Default: "exclusive",
				Doc: "an issued_before recall of instant T takes iat < T (exclusive), or iat <= T (inclusive: the planted same-second boundary bug)"},
		}},
		"reference/gateway": {Kind: "gateway", Probe: true, Params: gw},
		"reference/service": {Kind: "service", Probe: true, Params: guard(false)},
		"reference/nats":    {Kind: "bus", Params: Spec{}},
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
		StaleRestart: v.String("restart_snapshot") == RestartSnapshotStale, ResyncDelay: v.Duration("restart_resync_delay")}, nil
}

// Issuer is a reference issuer's with:, decoded.
type Issuer struct {
	// TokenTTL is 0 when not set (the issuer's default).
	TokenTTL    time.Duration
	AdminSecret string
	// IssuedBeforeInclusive is issued_before_bound: inclusive, the planted boundary bug.
	IssuedBeforeInclusive bool
}

// DecodeIssuer checks and decodes a reference issuer's with: for a runtime ([Spec.CheckTypes]).
func DecodeIssuer(with map[string]any) (Issuer, error) {
	spec := Reference["reference/issuer"].Params
	if err := join(spec.CheckTypes(with, "reference/issuer")); err != nil {
		return Issuer{}, err
	}
	v := spec.Decode(with)
	return Issuer{TokenTTL: v.Duration("token_ttl"), AdminSecret: v.String("admin_secret"),
		IssuedBeforeInclusive: v.String("issued_before_bound") == "inclusive"}, nil
}

func join(errs []*Error) error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
