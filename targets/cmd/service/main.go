// Command service runs the reference resource server (targets/service) as a process: the entry
// point of the recall-service image built from docker/service.Dockerfile.
//
//	service [-name service] [-listen :8080]
//	        [-strategy poll -issuer-url http://issuer:8080 [-interval 2s] ...]
//	        [-strategy ssf -issuer-url http://issuer:8080 -ssf-transmitter http://172.18.0.1:41000
//	         -ssf-delivery push|poll -ssf-push-url http://127.0.0.1:32768/ssf/events -ssf-ignore <event type URI>]
//
// Without -strategy the service trusts the X-Auth-* headers of the gateway in front of it. With
// -strategy it validates bearer tokens itself (defence in depth) with the gateway flags'
// meaning; RECALL_CLIENT_ID and RECALL_CLIENT_SECRET authenticate introspection calls.
// RECALL_ADMIN_SECRET is the Bearer secret GET /debug/recalls requires (unset: it answers 401).
// With -strategy ssf the service is an OpenID Shared Signals receiver as the gateway is (see
// targets/cmd/gateway): RECALL_SSF_TOKEN is its bearer token at the transmitter (a secret, so
// never a flag), and with delivery push it serves /ssf/events, where -ssf-push-url reaches it.
// Every flag also reads an environment variable, named in -help.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/recall-drills/recall/targets/cmd/internal/serve"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/service"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	name := fs.String("name", serve.Env("RECALL_NAME", service.DefaultName), "component name (env RECALL_NAME)")
	strategy := fs.String("strategy", serve.Env("RECALL_STRATEGY", ""), "validate tokens itself with this strategy: push, poll, introspect, jwt-only, ssf; empty trusts the gateway (env RECALL_STRATEGY)")
	issuerURL := fs.String("issuer-url", serve.Env("RECALL_ISSUER_URL", ""), "issuer base URL, with -strategy (env RECALL_ISSUER_URL)")
	iss := fs.String("issuer", serve.Env("RECALL_ISSUER", ""), "expected iss claim; default -issuer-url (env RECALL_ISSUER)")
	natsURL := fs.String("nats", serve.Env("RECALL_NATS_URL", ""), "NATS URL, for push (env RECALL_NATS_URL)")
	interval := fs.Duration("interval", serve.EnvDuration("RECALL_INTERVAL", 0), "poll period (env RECALL_INTERVAL)")
	cacheTTL := fs.Duration("cache-ttl", serve.EnvDuration("RECALL_CACHE_TTL", 0), "introspection cache TTL (env RECALL_CACHE_TTL)")
	staleness := fs.Duration("max-staleness", serve.EnvDuration("RECALL_MAX_STALENESS", 0), "longest time without a successful sync (env RECALL_MAX_STALENESS)")
	failMode := fs.String("fail-mode", serve.Env("RECALL_FAIL_MODE", string(gateway.FailClosed)), "closed or open (env RECALL_FAIL_MODE)")
	jwksTTL := fs.Duration("jwks-ttl", serve.EnvDuration("RECALL_JWKS_TTL", 0), "how long fetched signing keys are used before a refetch; default "+gateway.DefaultJWKSTTL.String()+" (env RECALL_JWKS_TTL)")
	jwksMin := fs.Duration("jwks-min-refresh", serve.EnvDuration("RECALL_JWKS_MIN_REFRESH", 0), "least time between two refetches for unknown kids; default "+gateway.DefaultJWKSMinRefresh.String()+" (env RECALL_JWKS_MIN_REFRESH)")
	jwksRefetch := fs.String("jwks-refetch", serve.Env("RECALL_JWKS_REFETCH", string(gateway.RefetchUnknownKid)), "when the JWKS is fetched again: unknown-kid, ttl or never (the stale verifier) (env RECALL_JWKS_REFETCH)")
	ssfTransmitter := fs.String("ssf-transmitter", serve.Env("RECALL_SSF_TRANSMITTER", ""), "strategy ssf: the transmitter's issuer URL, its metadata at /.well-known/ssf-configuration (env RECALL_SSF_TRANSMITTER)")
	ssfDelivery := fs.String("ssf-delivery", serve.Env("RECALL_SSF_DELIVERY", gateway.SSFPush), "strategy ssf: push (RFC 8935) or poll (RFC 8936) (env RECALL_SSF_DELIVERY)")
	ssfPushURL := fs.String("ssf-push-url", serve.Env("RECALL_SSF_PUSH_URL", ""), "strategy ssf, delivery push: the URL the transmitter reaches this service's "+gateway.SSFPushPath+" at (env RECALL_SSF_PUSH_URL)")
	var ssfIgnore []string
	fs.Func("ssf-ignore", "strategy ssf: an event type URI acknowledged without being enforced, the planted defect (repeatable)", func(v string) error {
		ssfIgnore = append(ssfIgnore, v)
		return nil
	})
	startTimeout := fs.Duration("start-timeout", serve.EnvDuration("RECALL_START_TIMEOUT", serve.DefaultStartTimeout), "how long to retry the first sync (env RECALL_START_TIMEOUT)")
	level := serve.LogLevelFlag(fs)
	if err := fs.Parse(args); err != nil {
		return serve.Usage(err)
	}
	if err := serve.Check(); err != nil {
		return serve.Usage(err)
	}
	log, err := serve.Logger(*level)
	if err != nil {
		return serve.Usage(err)
	}
	cfg := service.Config{Name: *name, Logger: log, DebugSecret: serve.Env("RECALL_ADMIN_SECRET", "")}
	if *strategy != "" {
		cfg.Validate = &gateway.Config{
			Strategy: gateway.Strategy(*strategy), IssuerURL: *issuerURL, Issuer: *iss, NATSURL: *natsURL,
			PollInterval: *interval, CacheTTL: *cacheTTL, MaxStaleness: *staleness, FailMode: gateway.FailMode(*failMode),
			ClientID: serve.Env("RECALL_CLIENT_ID", ""), ClientSecret: serve.Env("RECALL_CLIENT_SECRET", ""),
			JWKSTTL: *jwksTTL, JWKSMinRefresh: *jwksMin, JWKSRefetch: gateway.JWKSRefetch(*jwksRefetch),
		}
		if cfg.Validate.Strategy == gateway.SSF {
			cfg.Validate.SSF = gateway.SSFReceiver{Transmitter: *ssfTransmitter, Token: serve.Env("RECALL_SSF_TOKEN", ""),
				Delivery: *ssfDelivery, PushURL: *ssfPushURL, Ignore: ssfIgnore}
		}
	}
	ctx, stop := serve.Context()
	defer stop()
	svc, err := serve.Retry(ctx, *startTimeout, 250*time.Millisecond, log, "start", func(ctx context.Context) (*service.Service, error) {
		return service.New(ctx, cfg)
	})
	if err != nil {
		return fmt.Errorf("start service: %w", err)
	}
	defer svc.Close()
	return serve.HTTP(ctx, log, *listen, svc.Handler())
}
