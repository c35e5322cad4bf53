// Command gateway runs the reference API gateway (targets/gateway) as a process: the entry point
// of the recall-gateway image built from docker/gateway.Dockerfile.
//
//	gateway -strategy push|poll|introspect|jwt-only|ssf -issuer-url http://issuer:8080
//	        [-nats nats://bus:4222] [-interval 2s] [-cache-ttl 5s] [-max-staleness 6s]
//	        [-fail-mode closed|open] [-upstream http://api:8080] [-name edge] [-listen :8080]
//	        [-snapshot /recall-snapshot.json [-resync-delay 5s]]
//	        [-jwks-ttl 5m] [-jwks-min-refresh 1s] [-jwks-refetch unknown-kid|ttl|never]
//	        [-ssf-transmitter http://172.18.0.1:41000 -ssf-delivery push|poll
//	         -ssf-push-url http://127.0.0.1:32768/ssf/events -ssf-ignore <event type URI>]
//
// Environment: RECALL_CLIENT_ID and RECALL_CLIENT_SECRET authenticate introspection calls;
// RECALL_ADMIN_SECRET is the Bearer secret GET /debug/recalls requires (unset: it answers 401);
// RECALL_SSF_TOKEN is strategy ssf's bearer token of the transmitter's stream management API
// and poll endpoint (SSF §8; a secret, so never a flag).
//
// Strategy ssf is an OpenID Shared Signals receiver (targets/gateway ssf.go): at start it reads
// -ssf-transmitter's metadata and creates its stream there, with delivery push (the transmitter
// POSTs each SET to -ssf-push-url, the address it reaches this gateway's /ssf/events at, which
// only whoever publishes the port knows) or poll (it polls every -interval).
// Every flag also reads an environment variable, named in -help.
//
// The gateway serves nothing until its first sync with the issuer succeeded (JWKS and, for push
// and poll, the revocation list); it retries that for -start-timeout, so it may start before the
// issuer answers.
//
// With -snapshot the gateway keeps its revocation rules across restarts the way a gateway with
// a stale cache on disk would: when the file is empty (first start) it writes the rules it holds
// after its first sync there; when the file holds rules (a restart) it starts from them instead
// of syncing, and resyncs only after -resync-delay. The file must exist and be writable (the
// docker runtime creates it, world-writable, for a gateway with restart_snapshot: stale).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/recall-drills/recall/targets/cmd/internal/serve"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	name := fs.String("name", serve.Env("RECALL_NAME", "gateway"), "component name: metrics label and ground-truth log (env RECALL_NAME)")
	strategy := fs.String("strategy", serve.Env("RECALL_STRATEGY", ""), "how recalls are learnt: push, poll, introspect, jwt-only (env RECALL_STRATEGY)")
	issuerURL := fs.String("issuer-url", serve.Env("RECALL_ISSUER_URL", ""), "issuer base URL for /jwks, /revocations, /introspect (env RECALL_ISSUER_URL)")
	iss := fs.String("issuer", serve.Env("RECALL_ISSUER", ""), "expected iss claim; default -issuer-url (env RECALL_ISSUER)")
	audience := fs.String("audience", serve.Env("RECALL_AUDIENCE", gateway.DefaultAudience), "expected aud claim (env RECALL_AUDIENCE)")
	natsURL := fs.String("nats", serve.Env("RECALL_NATS_URL", ""), "NATS URL, for push (env RECALL_NATS_URL)")
	interval := fs.Duration("interval", serve.EnvDuration("RECALL_INTERVAL", 0), "poll period; default "+gateway.DefaultPollInterval.String()+" (env RECALL_INTERVAL)")
	cacheTTL := fs.Duration("cache-ttl", serve.EnvDuration("RECALL_CACHE_TTL", 0), "introspection cache TTL; default "+gateway.DefaultCacheTTL.String()+" (env RECALL_CACHE_TTL)")
	staleness := fs.Duration("max-staleness", serve.EnvDuration("RECALL_MAX_STALENESS", 0), "longest time without a successful sync before the source counts as unreachable; default 3x interval (env RECALL_MAX_STALENESS)")
	failMode := fs.String("fail-mode", serve.Env("RECALL_FAIL_MODE", string(gateway.FailClosed)), "closed (503) or open (accept) when the revocation source is unreachable (env RECALL_FAIL_MODE)")
	upstream := fs.String("upstream", serve.Env("RECALL_UPSTREAM", ""), "URL accepted requests are proxied to; empty answers 200 itself (env RECALL_UPSTREAM)")
	snapshot := fs.String("snapshot", serve.Env("RECALL_SNAPSHOT", ""), "file the rules held after the first start are kept in, and a restart starts from (env RECALL_SNAPSHOT)")
	resyncDelay := fs.Duration("resync-delay", serve.EnvDuration("RECALL_RESYNC_DELAY", 0), "with -snapshot, how long a restart serves the snapshot's rules before its first sync (env RECALL_RESYNC_DELAY)")
	jwksTTL := fs.Duration("jwks-ttl", serve.EnvDuration("RECALL_JWKS_TTL", 0), "how long fetched signing keys are used before a refetch; default "+gateway.DefaultJWKSTTL.String()+" (env RECALL_JWKS_TTL)")
	jwksMin := fs.Duration("jwks-min-refresh", serve.EnvDuration("RECALL_JWKS_MIN_REFRESH", 0), "least time between two refetches for unknown kids; default "+gateway.DefaultJWKSMinRefresh.String()+" (env RECALL_JWKS_MIN_REFRESH)")
	jwksRefetch := fs.String("jwks-refetch", serve.Env("RECALL_JWKS_REFETCH", string(gateway.RefetchUnknownKid)), "when the JWKS is fetched again: unknown-kid, ttl or never (the stale verifier) (env RECALL_JWKS_REFETCH)")
	ssfTransmitter := fs.String("ssf-transmitter", serve.Env("RECALL_SSF_TRANSMITTER", ""), "strategy ssf: the transmitter's issuer URL, its metadata at /.well-known/ssf-configuration (env RECALL_SSF_TRANSMITTER)")
	ssfDelivery := fs.String("ssf-delivery", serve.Env("RECALL_SSF_DELIVERY", gateway.SSFPush), "strategy ssf: push (RFC 8935) or poll (RFC 8936) (env RECALL_SSF_DELIVERY)")
	ssfPushURL := fs.String("ssf-push-url", serve.Env("RECALL_SSF_PUSH_URL", ""), "strategy ssf, delivery push: the URL the transmitter reaches this gateway's "+gateway.SSFPushPath+" at (env RECALL_SSF_PUSH_URL)")
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
	if *strategy == "" || *issuerURL == "" {
		return serve.Usage(errors.New("-strategy and -issuer-url are required"))
	}
	cfg := gateway.Config{
		Name:           *name,
		Strategy:       gateway.Strategy(*strategy),
		IssuerURL:      *issuerURL,
		Issuer:         *iss,
		Audience:       *audience,
		Upstream:       *upstream,
		NATSURL:        *natsURL,
		PollInterval:   *interval,
		CacheTTL:       *cacheTTL,
		MaxStaleness:   *staleness,
		FailMode:       gateway.FailMode(*failMode),
		ClientID:       serve.Env("RECALL_CLIENT_ID", ""),
		ClientSecret:   serve.Env("RECALL_CLIENT_SECRET", ""),
		DebugSecret:    serve.Env("RECALL_ADMIN_SECRET", ""),
		JWKSTTL:        *jwksTTL,
		JWKSMinRefresh: *jwksMin,
		JWKSRefetch:    gateway.JWKSRefetch(*jwksRefetch),
		Logger:         log,
	}
	if cfg.Strategy == gateway.SSF {
		cfg.SSF = gateway.SSFReceiver{Transmitter: *ssfTransmitter, Token: serve.Env("RECALL_SSF_TOKEN", ""),
			Delivery: *ssfDelivery, PushURL: *ssfPushURL, Ignore: ssfIgnore}
	}
	restored := false
	if *snapshot != "" {
		b, err := os.ReadFile(*snapshot)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if len(b) > 0 {
			var l revocation.List
			if err := json.Unmarshal(b, &l); err != nil {
				return fmt.Errorf("snapshot %s: %w", *snapshot, err)
			}
			cfg.Snapshot, cfg.ResyncDelay, restored = &l, *resyncDelay, true
			log.Info("starting from a snapshot", "file", *snapshot, "version", l.Version, "rules", len(l.Rules), "resync_delay", *resyncDelay)
		}
	}
	ctx, stop := serve.Context()
	defer stop()
	gw, err := serve.Retry(ctx, *startTimeout, 250*time.Millisecond, log, "first sync", func(ctx context.Context) (*gateway.Gateway, error) {
		return gateway.New(ctx, cfg)
	})
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	defer gw.Close()
	if *snapshot != "" && !restored {
		if l, ok := gw.Snapshot(); ok {
			b, err := json.Marshal(l)
			if err == nil {
				err = os.WriteFile(*snapshot, b, 0o666)
			}
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			log.Info("snapshot saved", "file", *snapshot, "version", l.Version, "rules", len(l.Rules))
		}
	}
	return serve.HTTP(ctx, log, *listen, gw.Handler())
}
