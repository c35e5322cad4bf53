// Command apikeys runs the reference API-key authority (targets/apikey) as a process: the entry
// point of the recall-apikeys image built from docker/apikeys.Dockerfile.
//
//	apikeys [-name apikeys] [-listen :8080] [-nats nats://bus:4222]
//
// Environment: RECALL_ADMIN_SECRET (required) is the Bearer secret of /admin/* and
// /debug/recalls; RECALL_APIKEY_SIGNING_SECRET (required, at least 32 bytes) is the HMAC secret
// keys are minted under, which offline services share; RECALL_CLIENT_ID and
// RECALL_CLIENT_SECRET, when set, register one client allowed to look keys up.
package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/recall-drills/recall/targets/apikey"
	"github.com/recall-drills/recall/targets/cmd/internal/serve"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("apikeys", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	name := fs.String("name", serve.Env("RECALL_NAME", "apikeys"), "component name: ground-truth log (env RECALL_NAME)")
	natsURL := fs.String("nats", serve.Env("RECALL_NATS_URL", ""), "NATS URL to publish recalls on; empty publishes nothing (env RECALL_NATS_URL)")
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
	signing := serve.Env("RECALL_APIKEY_SIGNING_SECRET", "")
	if admin == "" || len(signing) < 32 {
		return serve.Usage(errors.New("RECALL_ADMIN_SECRET and RECALL_APIKEY_SIGNING_SECRET (at least 32 bytes) are required"))
	}
	cfg := apikey.AuthorityConfig{Name: *name, AdminSecret: admin, SigningSecret: []byte(signing), NATSURL: *natsURL, Logger: log}
	if id := serve.Env("RECALL_CLIENT_ID", ""); id != "" {
		cfg.Clients = []apikey.Client{{ID: id, Secret: serve.Env("RECALL_CLIENT_SECRET", "")}}
	}
	a, err := apikey.NewAuthority(cfg)
	if err != nil {
		return fmt.Errorf("start apikeys: %w", err)
	}
	defer a.Close()
	log.Info("api-key authority ready", "nats", *natsURL, "clients", len(cfg.Clients))
	ctx, stop := serve.Context()
	defer stop()
	return serve.HTTP(ctx, log, *listen, a.Handler())
}
