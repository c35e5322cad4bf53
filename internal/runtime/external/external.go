package external

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

// Env is a system that already runs somewhere (staging, Kubernetes): the harness only
// talks to it. Start checks that every component with a health path answers.
type Env struct {
	specs     []runtime.Spec
	endpoints map[string]*url.URL
	names     []string
	// Health maps a component to a path that must answer 2xx before the drill starts.
	health  map[string]string
	client  *http.Client
	startup map[string]time.Duration
}

var (
	_ runtime.Environment = (*Env)(nil)
	_ runtime.Startup     = (*Env)(nil)
)

// New checks that every component has an absolute URL. health maps component names to
// a health path (optional).
func New(specs []runtime.Spec, health map[string]string) (*Env, error) {
	e := &Env{specs: specs, endpoints: map[string]*url.URL{}, health: health,
		client: noProxyClient(5 * time.Second), startup: map[string]time.Duration{}}
	var errs []error
	for _, s := range specs {
		e.names = append(e.names, s.Name)
		u, err := url.Parse(s.URL)
		if s.URL == "" || err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("component %s: the external runtime needs an absolute url, got %q", s.Name, s.URL))
			continue
		}
		e.endpoints[s.Name] = u
	}
	return e, errors.Join(errs...)
}

// Start waits (until ctx ends) for each component's health path to answer 2xx.
func (e *Env) Start(ctx context.Context) error {
	for _, s := range e.specs {
		path, ok := e.health[s.Name]
		if !ok {
			continue
		}
		began := time.Now()
		if err := runtime.WaitHTTP(ctx, e.client, e.endpoints[s.Name].JoinPath(path).String(), http.StatusOK); err != nil {
			return fmt.Errorf("component %s: not healthy: %w", s.Name, err)
		}
		e.startup[s.Name] = time.Since(began)
	}
	return nil
}

// Endpoint implements Environment.
func (e *Env) Endpoint(name string) (*url.URL, error) {
	u, ok := e.endpoints[name]
	if !ok {
		return nil, runtime.UnknownComponent(name, e.names)
	}
	return u, nil
}

// Close does nothing: the harness did not start the system.
func (e *Env) Close(context.Context) error { return nil }

// StartupTimes implements Startup.
func (e *Env) StartupTimes() map[string]time.Duration { return e.startup }

// noProxyClient is an HTTP client that ignores HTTP_PROXY and HTTPS_PROXY: a drill talks to its
// system directly, never through a proxy the environment names.
func noProxyClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{Timeout: timeout, Transport: tr}
}
