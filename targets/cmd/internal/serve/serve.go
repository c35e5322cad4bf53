// Package serve holds what the reference components' mains share: flags that default from the
// environment, a logger on stderr, and an HTTP server that stops cleanly on SIGTERM (docker stop)
// or SIGINT.
//
// The mains are built into FROM scratch images (docker/), so they need nothing from the image:
// no shell, no CA certificates, no time zone data. Secrets come from the environment only, never
// from flags, so that they do not show in a process list; logs show them as fingerprints.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Defaults shared by the mains.
const (
	// DefaultListen is the address every reference component serves HTTP on in its container.
	DefaultListen = ":8080"
	// DefaultShutdownTimeout bounds the graceful shutdown after SIGTERM.
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultStartTimeout bounds how long a component waits for what it depends on at start.
	DefaultStartTimeout = 60 * time.Second
)

// Env returns the environment variable name, or def when it is unset or empty.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// EnvDuration is Env for a duration; a malformed value is a startup error reported by Check.
func EnvDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		badEnv = append(badEnv, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return d
}

// EnvBool is Env for a boolean.
func EnvBool(name string, def bool) bool {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		badEnv = append(badEnv, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return b
}

var badEnv []error

// Check returns the malformed environment variables met by EnvDuration and EnvBool.
func Check() error { return errors.Join(badEnv...) }

// Logger returns a text logger on stderr at the level given by the -log-level flag value
// (debug, info, warn, error).
func Logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// LogLevelFlag registers -log-level (env RECALL_LOG_LEVEL, default info).
func LogLevelFlag(fs *flag.FlagSet) *string {
	return fs.String("log-level", Env("RECALL_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env RECALL_LOG_LEVEL)")
}

// Context returns a context cancelled by SIGTERM or SIGINT.
func Context() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// HTTP serves h on addr until ctx ends, then shuts down gracefully within
// DefaultShutdownTimeout. It logs "listening" with the address once the listener is open.
func HTTP(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Retry calls f until it succeeds, ctx ends or timeout passes, waiting every between attempts.
// It returns the last error of f when it gives up.
func Retry[T any](ctx context.Context, timeout, every time.Duration, log *slog.Logger, what string, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := f(actx)
		acancel()
		if err == nil {
			return v, nil
		}
		log.Warn(what+" failed, retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		case <-t.C:
		}
	}
}

// Main runs run and exits 1 with the error on stderr when it fails, 2 on a usage error.
func Main(run func(args []string) error) {
	err := run(os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// Usage marks err as a usage error (exit status 2).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}
