// Command rp runs the reference relying party (targets/rp) as a process: the entry point of the
// recall-rp image built from docker/rp.Dockerfile.
//
//	rp -issuer-url http://issuer:8080 [-issuer URL] [-client-id recall-rp]
//	   [-session-cache-ttl 0s] [-cache-on-logout evict|keep] [-name rp] [-listen :8080]
//
// Environment: RECALL_ADMIN_SECRET (required) is the Bearer secret of /admin/sessions and
// /debug/recalls. The OP posts logout tokens to POST /backchannel-logout. Every flag also reads
// an environment variable, named in -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/recall-drills/recall/targets/cmd/internal/serve"
	"github.com/recall-drills/recall/targets/rp"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("rp", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	name := fs.String("name", serve.Env("RECALL_NAME", "rp"), "component name: ground-truth log (env RECALL_NAME)")
	issuerURL := fs.String("issuer-url", serve.Env("RECALL_ISSUER_URL", ""), "OP base URL, for /jwks (env RECALL_ISSUER_URL)")
	iss := fs.String("issuer", serve.Env("RECALL_ISSUER", ""), "iss a logout token must carry; default -issuer-url (env RECALL_ISSUER)")
	clientID := fs.String("client-id", serve.Env("RECALL_RP_CLIENT_ID", "recall-rp"), "this app's client id: a logout token's aud (env RECALL_RP_CLIENT_ID)")
	cacheTTL := fs.Duration("session-cache-ttl", serve.EnvDuration("RECALL_SESSION_CACHE_TTL", 0), "how long a session lookup is cached; 0 asks the store every time (env RECALL_SESSION_CACHE_TTL)")
	onLogout := fs.String("cache-on-logout", serve.Env("RECALL_CACHE_ON_LOGOUT", rp.CacheEvict), "what a logout does to the cached lookups of the sessions it kills: evict, or keep (the planted defect) (env RECALL_CACHE_ON_LOGOUT)")
	startTimeout := fs.Duration("start-timeout", serve.EnvDuration("RECALL_START_TIMEOUT", serve.DefaultStartTimeout), "how long to retry the first JWKS fetch (env RECALL_START_TIMEOUT)")
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
	admin := serve.Env("RECALL_ADMIN_SECRET", "")
	if *issuerURL == "" || admin == "" {
		return serve.Usage(errors.New("-issuer-url and RECALL_ADMIN_SECRET are required"))
	}
	cfg := rp.Config{Name: *name, IssuerURL: *issuerURL, Issuer: *iss, ClientID: *clientID, AdminSecret: admin,
		SessionCacheTTL: *cacheTTL, CacheOnLogout: *onLogout, Logger: log}
	ctx, stop := serve.Context()
	defer stop()
	app, err := serve.Retry(ctx, *startTimeout, 250*time.Millisecond, log, "first jwks fetch", func(ctx context.Context) (*rp.RP, error) {
		return rp.New(ctx, cfg)
	})
	if err != nil {
		return fmt.Errorf("start rp: %w", err)
	}
	return serve.HTTP(ctx, log, *listen, app.Handler())
}
