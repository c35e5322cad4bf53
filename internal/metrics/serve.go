package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
)

// DefaultJob is the job label under which Push groups a drill's figures.
const DefaultJob = "recall"

// DefaultPushTimeout bounds a push to the Pushgateway.
const DefaultPushTimeout = 10 * time.Second

// Server serves a registry at /metrics while a drill runs.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	done   chan error
	once   sync.Once
	closed error
}

// Listen starts serving g at http://addr/metrics (":0" picks a free port; see Addr).
func Listen(addr string, g prometheus.Gatherer) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan error, 1)}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, letting scrapes in flight finish until ctx ends. It is idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.once.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		s.closed = errors.Join(err, <-s.done)
	})
	return s.closed
}

// Push replaces the group {job=job, grouping...} on the Pushgateway at url with everything g
// gathers (HTTP PUT, as push.Pusher.Push does).
func Push(ctx context.Context, url, job string, g prometheus.Gatherer, grouping map[string]string) error {
	if job == "" {
		job = DefaultJob
	}
	p := push.New(url, job).Gatherer(g)
	for k, v := range grouping {
		p = p.Grouping(k, v)
	}
	if err := p.PushContext(ctx); err != nil {
		return fmt.Errorf("metrics: push to %s: %w", url, err)
	}
	return nil
}
