// Command issuer runs the reference authorization server (targets/issuer) as a process: the
// entry point of the recall-issuer image built from docker/issuer.Dockerfile.
//
//	issuer [-listen :8080] [-issuer http://issuer:8080] [-nats nats://bus:4222] [-token-ttl 10m]
//	       [-backchannel-logout web=http://web:8080/backchannel-logout]...
//
// Environment: RECALL_ADMIN_SECRET (required) is the Bearer secret of /admin/* and /debug/*;
// RECALL_CLIENT_ID and RECALL_CLIENT_SECRET, when set, register one client at start (the
// gateways' introspection client). Every flag also reads an environment variable, named in
// -help.
//
// Set -issuer to the URL the gateways reach the issuer at (http://<network alias>:8080 in a
// drill): it is the iss claim of every token, so it must not depend on how a request reached the
// issuer — the harness mints through a mapped port, gateways validate inside the network.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/targets/cmd/internal/serve"
	"github.com/recall-drills/recall/targets/issuer"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("issuer", flag.ContinueOnError)
	listen := fs.String("listen", serve.Env("RECALL_LISTEN", serve.DefaultListen), "HTTP listen address (env RECALL_LISTEN)")
	iss := fs.String("issuer", serve.Env("RECALL_ISSUER", ""), "iss claim and metadata base URL; empty derives it from each request's Host (env RECALL_ISSUER)")
	natsURL := fs.String("nats", serve.Env("RECALL_NATS_URL", ""), "NATS URL to publish recall events on; empty publishes nothing (env RECALL_NATS_URL)")
	audience := fs.String("audience", serve.Env("RECALL_AUDIENCE", issuer.DefaultAudience), "aud claim of access tokens (env RECALL_AUDIENCE)")
	tokenTTL := fs.Duration("token-ttl", serve.EnvDuration("RECALL_TOKEN_TTL", issuer.DefaultTokenTTL), "access-token lifetime (env RECALL_TOKEN_TTL)")
	var bcl []issuer.BackchannelClient
	fs.Func("backchannel-logout", "CLIENT_ID=URI: post that relying party a back-channel logout token when one of its sessions or users is recalled (repeatable)", func(v string) error {
		id, uri, ok := strings.Cut(v, "=")
		if u, err := url.Parse(uri); !ok || id == "" || err != nil || !u.IsAbs() {
			return fmt.Errorf("want CLIENT_ID=URI with an absolute URI, got %q", v)
		}
		bcl = append(bcl, issuer.BackchannelClient{ClientID: id, URI: uri})
		return nil
	})
	inclusive := fs.Bool("issued-before-inclusive", false, "plant the same-second boundary bug: an issued_before recall of T also takes iat == T")
	rotNewSID := fs.Bool("rotation-new-session", false, "plant the rotation that escapes the family kill: a refresh-token rotation mints its access token in a new session, which reuse detection's session recall does not reach")
	keepCodes := fs.Bool("mfa-recall-keeps-recovery-codes", false, "plant the incomplete MFA recall: a factor's recovery codes outlive its recall and still log the user in")
	keys := fs.Int("signing-keys", issuer.DefaultKeys, "signing keys published at start: the first signs, the others are published ahead of a rotation")
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
	secret := serve.Env("RECALL_ADMIN_SECRET", "")
	if secret == "" {
		return serve.Usage(errors.New("RECALL_ADMIN_SECRET is required"))
	}
	cfg := issuer.Config{
		Issuer:                      *iss,
		Audience:                    *audience,
		AdminSecret:                 secret,
		TokenTTL:                    *tokenTTL,
		IssuedBeforeInclusive:       *inclusive,
		MFARecallKeepsRecoveryCodes: *keepCodes,
		RotationNewSession:          *rotNewSID,
		Keys:                        *keys,
		NATSURL:                     *natsURL,
		Logger:                      log,
		Registry:                    prometheus.NewRegistry(),
	}
	if id := serve.Env("RECALL_CLIENT_ID", ""); id != "" {
		cfg.Clients = []issuer.Client{{ID: id, Secret: serve.Env("RECALL_CLIENT_SECRET", "")}}
	}
	srv, err := issuer.New(cfg)
	if err != nil {
		return fmt.Errorf("start issuer: %w", err)
	}
	defer srv.Close()
	for _, c := range bcl {
		srv.AddBackchannelClient(c)
	}
	log.Info("issuer ready", "issuer", cfg.Issuer, "nats", cfg.NATSURL, "clients", len(cfg.Clients))
	ctx, stop := serve.Context()
	defer stop()
	return serve.HTTP(ctx, log, *listen, srv.Handler())
}
