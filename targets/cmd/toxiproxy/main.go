// Command toxiproxy runs toxiproxy's server (github.com/Shopify/toxiproxy/v2, the version in
// recall's go.mod, as a library: the same code the embedded runtime runs in process) as the
// entry point of the recall-toxiproxy image built from docker/toxiproxy.Dockerfile. The docker
// runtime starts one on a drill's network when the scenario declares links, creates a proxy per
// link through its API and cuts or degrades them there.
//
//	toxiproxy [-host 0.0.0.0] [-port 8474] [-log-level info]
//
// The API serves GET /version (the readiness check), /proxies, /proxies/{proxy}/toxics and
// POST /reset, as toxiproxy-server does.
package main

import (
	"flag"
	"os"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	_ "github.com/recall-drills/recall/internal/chaos/answerloss" // the lose_answers toxic, as in the embedded runtime
	"github.com/recall-drills/recall/targets/cmd/internal/serve"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("toxiproxy", flag.ContinueOnError)
	host := fs.String("host", serve.Env("RECALL_TOXIPROXY_HOST", "0.0.0.0"), "API listen host (env RECALL_TOXIPROXY_HOST)")
	port := fs.String("port", serve.Env("RECALL_TOXIPROXY_PORT", "8474"), "API listen port (env RECALL_TOXIPROXY_PORT)")
	level := fs.String("log-level", serve.Env("RECALL_LOG_LEVEL", "info"), "debug, info, warn or error (env RECALL_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return serve.Usage(err)
	}
	if err := serve.Check(); err != nil {
		return serve.Usage(err)
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		return serve.Usage(err)
	}
	logger := zerolog.New(os.Stdout).With().Timestamp().Logger().Level(lvl)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	ctx, stop := serve.Context()
	defer stop()
	// Listen blocks and exits the process on a listen error; a signal ends the drill's container.
	go srv.Listen(*host, *port)
	<-ctx.Done()
	return nil
}
