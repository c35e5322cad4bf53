// Command nats runs the message bus of the reference stack (targets/bus, an embedded NATS
// server) as a process: the entry point of the recall-nats image built from
// docker/nats.Dockerfile. The issuer publishes recall events on it; push gateways subscribe.
//
//	nats [-port 4222] [-http :8222] [-name bus]
//
// Clients connect on -port (all interfaces). GET /healthz on -http answers 200 while the server
// accepts clients: a scratch image has no shell for a port probe.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/recall-drills/recall/targets/bus"
	"github.com/recall-drills/recall/targets/cmd/internal/serve"
)

func main() { serve.Main(run) }

func run(args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	port := fs.Int("port", 4222, "NATS client port, on all interfaces")
	httpAddr := fs.String("http", serve.Env("RECALL_HTTP", ":8222"), "health endpoint listen address (env RECALL_HTTP)")
	name := fs.String("name", serve.Env("RECALL_NAME", "bus"), "server name reported to clients (env RECALL_NAME)")
	level := serve.LogLevelFlag(fs)
	if err := fs.Parse(args); err != nil {
		return serve.Usage(err)
	}
	log, err := serve.Logger(*level)
	if err != nil {
		return serve.Usage(err)
	}
	b, err := bus.Start(bus.Host("0.0.0.0"), bus.Port(*port), bus.Name(*name), bus.Logger(log))
	if err != nil {
		return fmt.Errorf("start bus: %w", err)
	}
	defer b.Close()
	log.Info("bus ready", "url", b.ClientURL())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.NATS().ReadyForConnections(100 * time.Millisecond) {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	ctx, stop := serve.Context()
	defer stop()
	return serve.HTTP(ctx, log, *httpAddr, mux)
}
