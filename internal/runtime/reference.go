package runtime

import (
	"time"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/gateway"
)

// Reference component names for Spec.Use: the reference stack (targets/), which the embedded
// runtime runs in process and the docker runtime in containers.
const (
	UseIssuer  = "reference/issuer"
	UseGateway = "reference/gateway"
	UseService = "reference/service"
	UseNATS    = "reference/nats"
	// UseAPIKeys is the API-key authority: it mints long-lived keys through its admin API and
	// recalls them.
	UseAPIKeys = "reference/apikeys"
	// UseAPIKeyService is a resource service that accepts API keys and learns of their recall by
	// with.strategy: push, poll, lookup (with a cache) or offline.
	UseAPIKeyService = "reference/apikey-service"
	// UseRP is the reference relying party (targets/rp): cookie sessions, a session cache and
	// OpenID Connect Back-Channel Logout 1.0 against the reference issuer's keys.
	UseRP = "reference/rp"
	// UseSSF is the drill's OpenID Shared Signals transmitter (internal/ssf): reference gateways
	// of strategy ssf create their streams at it and the ssf-event action emits on them.
	UseSSF = "reference/ssf"
)

// ReferenceUses lists the reference components, for validation (params.ReferenceUses).
var ReferenceUses = params.ReferenceUses

// DefaultStartTimeout bounds the start of one component.
const DefaultStartTimeout = 30 * time.Second

// GatewayRestart is how a reference gateway restarts (with: restart_snapshot,
// restart_resync_delay).
type GatewayRestart struct {
	// Stale makes the restarted gateway restore the revocation rules it held right after its
	// first start (before any recall) and resync only after Delay: a gateway restoring a stale
	// cache from disk. When false it restarts with empty state and a full sync.
	Stale bool
	Delay time.Duration
}

// GatewayConfig reads a reference gateway's with: parameters, restart ones included, through
// internal/params: the rules validation applies. Every runtime that runs the reference gateway
// reads them here.
func GatewayConfig(s Spec) (gateway.Config, GatewayRestart, error) {
	g, err := params.DecodeGateway(s.With)
	if err != nil {
		return gateway.Config{}, GatewayRestart{Delay: params.DefaultRestartResyncDelay}, err
	}
	return guardConfig(g), GatewayRestart{Stale: g.StaleRestart, Delay: g.ResyncDelay}, nil
}

// ServiceConfig reads a reference service's with: parameters: nil without a strategy (the
// service trusts the X-Auth-* headers of the gateway in front of it), else the config of the
// gateway.Guard it validates tokens with itself (service.Config.Validate), whose strategy's
// keys mean what they mean for a gateway. The runtime fills in where the issuer, bus and
// transmitter are.
func ServiceConfig(s Spec) (*gateway.Config, error) {
	g, err := params.DecodeService(s.With)
	if err != nil || g.Strategy == "" {
		return nil, err
	}
	c := guardConfig(g)
	return &c, nil
}

// guardConfig is the Guard's part of a gateway's config: what the gateway and service share.
func guardConfig(g params.Gateway) gateway.Config {
	c := gateway.Config{Strategy: gateway.Strategy(g.Strategy), PollInterval: g.Interval, CacheTTL: g.CacheTTL,
		MaxStaleness: g.MaxStaleness, FailMode: gateway.FailMode(g.FailMode),
		JWKSTTL: g.JWKSTTL, JWKSRefetch: gateway.JWKSRefetch(g.JWKSRefetch), JWKSMinRefresh: g.JWKSMinRefresh,
		UpstreamMaxConns: g.UpstreamMaxConns, UpstreamMaxInflight: g.UpstreamMaxInflight,
		SSF: gateway.SSFReceiver{Delivery: g.Delivery}}
	if ev, ok := ssf.EventTypes[g.IgnoreEvent]; ok {
		c.SSF.Ignore = []string{ev}
	}
	return c
}
