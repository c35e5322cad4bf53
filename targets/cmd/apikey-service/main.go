// Command apikey-service runs the reference API-key service (targets/apikey) as a process: the
// entry point of the recall-apikey-service image built from docker/apikey-service.Dockerfile.
//
//	apikey-service -strategy push|poll|lookup|offline -authority-url http://apikeys:8080
//	               [-nats nats://bus:4222] [-interval 2s] [-cache-ttl 5s] [-max-staleness 6s]
//	               [-fail-mode closed|open] [-name apikey-service] [-listen :8080]
//
// Environment: RECALL_APIKEY_SIGNING_SECRET verifies keys offline (push, poll, offline);
// RECALL_CLIENT_ID and RECALL_CLIENT_SECRET authenticate lookups; RECALL_ADMIN_SECRET is the
// Bearer secret GET /debug/recalls requires. Every flag also reads an environment variable,
// named in -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/recall-drills/recall/targets/apikey"
	"github.com/recall-drills/recall/targets/cmd/internal/serve"
	"github.com/recall-drills/recall/targets/gateway"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("apikey-service", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	name := fs.String("name", serve.Env("RECALL_NAME", "apikey-service"), "component name: metrics label and ground-truth log (env RECALL_NAME)")
	strategy := fs.String("strategy", serve.Env("RECALL_STRATEGY", ""), "how recalls are learnt: push, poll, lookup, offline (env RECALL_STRATEGY)")
	authURL := fs.String("authority-url", serve.Env("RECALL_AUTHORITY_URL", ""), "API-key authority base URL (env RECALL_AUTHORITY_URL)")
	natsURL := fs.String("nats", serve.Env("RECALL_NATS_URL", ""), "NATS URL, for push (env RECALL_NATS_URL)")
	interval := fs.Duration("interval", serve.EnvDuration("RECALL_INTERVAL", 0), "poll period; default "+gateway.DefaultPollInterval.String()+" (env RECALL_INTERVAL)")
	cacheTTL := fs.Duration("cache-ttl", serve.EnvDuration("RECALL_CACHE_TTL", 0), "lookup cache TTL; default "+gateway.DefaultCacheTTL.String()+" (env RECALL_CACHE_TTL)")
	staleness := fs.Duration("max-staleness", serve.EnvDuration("RECALL_MAX_STALENESS", 0), "longest time without a successful sync before the source counts as unreachable (env RECALL_MAX_STALENESS)")
	failMode := fs.String("fail-mode", serve.Env("RECALL_FAIL_MODE", string(gateway.FailClosed)), "closed (503) or open (accept) when the authority is unreachable (env RECALL_FAIL_MODE)")
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
	if *strategy == "" || *authURL == "" {
		return serve.Usage(errors.New("-strategy and -authority-url are required"))
	}
	cfg := apikey.ServiceConfig{
		Name: *name, Strategy: apikey.Strategy(*strategy), AuthorityURL: *authURL, NATSURL: *natsURL,
		SigningSecret: []byte(serve.Env("RECALL_APIKEY_SIGNING_SECRET", "")),
		PollInterval:  *interval, CacheTTL: *cacheTTL, MaxStaleness: *staleness, FailMode: gateway.FailMode(*failMode),
		ClientID: serve.Env("RECALL_CLIENT_ID", ""), ClientSecret: serve.Env("RECALL_CLIENT_SECRET", ""),
		DebugSecret: serve.Env("RECALL_ADMIN_SECRET", ""), Logger: log,
	}
	ctx, stop := serve.Context()
	defer stop()
	svc, err := serve.Retry(ctx, *startTimeout, 250*time.Millisecond, log, "first sync", func(ctx context.Context) (*apikey.Service, error) {
		return apikey.NewService(ctx, cfg)
	})
	if err != nil {
		return fmt.Errorf("start apikey-service: %w", err)
	}
	defer svc.Close()
	return serve.HTTP(ctx, log, *listen, svc.Handler())
}
