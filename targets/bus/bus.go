// Package bus runs an embedded NATS server in-process: the message bus over which the reference
// issuer pushes recall events to gateways (revocation.EventSubject).
//
//	issuer ──publish──► bus.Server (nats-server, 127.0.0.1:random) ──deliver──► push gateways
//
// The server listens on 127.0.0.1 only, on a random port unless Port is given, handles no OS
// signals, and logs nothing unless a Logger is given. Unlike running a nats-server binary, it
// needs nothing installed and its lifetime is the caller's: Close shuts it down.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults for the options of Start.
const (
	// DefaultHost is the address the server listens on.
	DefaultHost = "127.0.0.1"
	// DefaultPort asks for a random free port.
	DefaultPort = server.RANDOM_PORT
	// DefaultReadyTimeout bounds the wait for the server to accept clients.
	DefaultReadyTimeout = 10 * time.Second
	// DefaultMaxPayload is the largest message the server accepts: 32 MiB, so that one recall of
	// 100k tokens (about 9 MB of JSON) fits in one event. NATS' own default is 1 MiB; above 8 MiB
	// the server warns (through the Logger, when one is given).
	DefaultMaxPayload = 32 << 20
)

// ErrNotReady is returned by Start when the server does not accept clients within the ready
// timeout.
var ErrNotReady = errors.New("bus: server not ready for connections")

// Server is a running embedded NATS server. It is safe for concurrent use.
type Server struct {
	ns        *server.Server
	closeOnce sync.Once
}

type config struct {
	host         string
	port         int
	readyTimeout time.Duration
	maxPayload   int32
	logger       *slog.Logger
	name         string
}

// Option configures Start.
type Option func(*config)

// Port sets the TCP port to listen on; DefaultPort (-1) picks a random free port.
func Port(p int) Option { return func(c *config) { c.port = p } }

// Host sets the listen address; default DefaultHost (127.0.0.1). Use "0.0.0.0" only inside a
// container.
func Host(h string) Option { return func(c *config) { c.host = h } }

// ReadyTimeout sets how long Start waits for the server to accept clients; default
// DefaultReadyTimeout.
func ReadyTimeout(d time.Duration) Option { return func(c *config) { c.readyTimeout = d } }

// MaxPayload sets the largest message accepted, in bytes; default DefaultMaxPayload.
func MaxPayload(n int32) Option { return func(c *config) { c.maxPayload = n } }

// Logger makes the server log through l (notices at Info, traces and debug at Debug). Without it
// the server logs nothing.
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Name sets the server name reported to clients; default "recall-bus".
func Name(n string) Option { return func(c *config) { c.name = n } }

// Start starts an embedded NATS server and waits until it accepts clients. On a readiness
// timeout it shuts the server down and returns ErrNotReady.
func Start(opts ...Option) (*Server, error) {
	c := config{
		host:         DefaultHost,
		port:         DefaultPort,
		readyTimeout: DefaultReadyTimeout,
		maxPayload:   DefaultMaxPayload,
		name:         "recall-bus",
	}
	for _, o := range opts {
		o(&c)
	}
	sopts := &server.Options{
		ServerName: c.name,
		Host:       c.host,
		Port:       c.port,
		NoSigs:     true,
		NoLog:      c.logger == nil,
		MaxPayload: c.maxPayload,
		// HTTP monitoring, clustering, JetStream: all off (zero values).
	}
	if int64(c.maxPayload) > server.MAX_PENDING_SIZE {
		sopts.MaxPending = int64(c.maxPayload)
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("bus: new server: %w", err)
	}
	if c.logger != nil {
		ns.SetLoggerV2(slogAdapter{c.logger}, true, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(c.readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w within %s", ErrNotReady, c.readyTimeout)
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the URL clients connect to, such as nats://127.0.0.1:41234.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// NATS returns the underlying server, for what this package does not wrap (connection counts,
// lame-duck mode).
func (s *Server) NATS() *server.Server { return s.ns }

// Close shuts the server down and waits until it has stopped. It is idempotent and safe to call
// concurrently.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}

// slogAdapter implements server.Logger over slog. Fatalf logs at Error: an embedded server must
// not exit the process.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }

var _ server.Logger = slogAdapter{}
