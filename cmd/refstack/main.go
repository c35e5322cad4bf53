// Command refstack starts the whole reference identity stack on 127.0.0.1 — the issuer, NATS, one
// gateway of each recall strategy and the resource service — and prints, as the first line of
// stdout, one JSON object with their URLs, the demo credentials and the admin secret (random per
// run unless -admin-secret is given). It runs until SIGINT or
// SIGTERM, then shuts down cleanly.
//
// It is the same in-process stack a drill starts with the embedded runtime.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
)

// Defaults of the demo client's credentials; override them with flags when the stack is
// reachable by anyone else. The admin secret has no default: unless -admin-secret is given, each
// run generates a random one and prints it in the stack JSON.
const (
	DefaultClientID     = "demo"
	DefaultClientSecret = "demo-secret"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

// Stack is the first line refstack prints.
type Stack struct {
	Issuer       string            `json:"issuer"`
	Gateways     map[string]string `json:"gateways"`
	Service      string            `json:"service"`
	NATS         string            `json:"nats,omitempty"`
	ClientID     string            `json:"client_id"`
	ClientSecret string            `json:"client_secret"`
	AdminSecret  string            `json:"admin_secret"`
}

// run starts the stack and blocks until a signal arrives or stop is closed (tests).
func run(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("refstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	poll := fs.Duration("poll-interval", 2*time.Second, "revocation-list polling interval of the poll gateway")
	ttl := fs.Duration("cache-ttl", 5*time.Second, "positive-answer cache TTL of the introspect gateway")
	clientID := fs.String("client-id", DefaultClientID, "demo client id")
	clientSecret := fs.String("client-secret", DefaultClientSecret, "demo client secret")
	adminSecret := fs.String("admin-secret", "", "admin API and /debug/recalls secret (Bearer); default: a random one per run, printed in the stack JSON")
	failMode := fs.String("fail-mode", "closed", "gateways' behaviour when their revocation source is unreachable: closed or open")
	verbose := fs.Bool("v", false, "log the components' operations to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *adminSecret == "" {
		*adminSecret = randomHex()
		fmt.Fprintln(stderr, "refstack: admin secret generated for this run: admin_secret in the stack JSON (or pass -admin-secret)")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	gw := func(name string, with map[string]any) runtime.Spec {
		with["upstream"] = "service"
		with["fail_mode"] = *failMode
		return runtime.Spec{Name: name, Kind: "gateway", Use: runtime.UseGateway, With: with}
	}
	specs := []runtime.Spec{
		{Name: "nats", Kind: "bus", Use: runtime.UseNATS},
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "service", Kind: "service", Use: runtime.UseService},
		gw("push", map[string]any{"strategy": "push"}),
		gw("poll", map[string]any{"strategy": "poll", "interval": poll.String()}),
		gw("introspect", map[string]any{"strategy": "introspect", "cache_ttl": ttl.String()}),
		gw("jwt-only", map[string]any{"strategy": "jwt-only"}),
	}
	env, err := embedded.New(specs, runtime.Secrets{AdminSecret: *adminSecret, GatewayID: "refstack-gateways", GatewaySecret: randomHex()}, embedded.WithLogger(log))
	if err != nil {
		fmt.Fprintln(stderr, "refstack:", err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := env.Close(cctx); err != nil {
			fmt.Fprintln(stderr, "refstack: shutdown:", err)
		}
	}()
	if err := env.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "refstack:", err)
		return 2
	}
	url := func(name string) string {
		u, err := env.Endpoint(name)
		if err != nil {
			return ""
		}
		return u.String()
	}
	if err := registerClient(ctx, url("issuer"), *adminSecret, *clientID, *clientSecret); err != nil {
		fmt.Fprintln(stderr, "refstack: register demo client:", err)
		return 2
	}
	st := Stack{
		Issuer:   url("issuer"),
		Service:  url("service"),
		Gateways: map[string]string{"push": url("push"), "poll": url("poll"), "introspect": url("introspect"), "jwt-only": url("jwt-only")},
		ClientID: *clientID, ClientSecret: *clientSecret, AdminSecret: *adminSecret,
	}
	line, _ := json.Marshal(st)
	fmt.Fprintln(stdout, string(line))
	fmt.Fprintln(stderr, "refstack: running; Ctrl-C to stop")
	select {
	case <-ctx.Done():
	case <-stop:
	}
	fmt.Fprintln(stderr, "refstack: shutting down")
	return 0
}

func registerClient(ctx context.Context, issuer, admin, id, secret string) error {
	body, _ := json.Marshal(map[string]any{"clients": []map[string]any{{"client_id": id, "client_secret": secret}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}
