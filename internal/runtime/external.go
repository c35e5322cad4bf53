package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// External is a system that already runs somewhere (staging, Kubernetes): the harness only
// talks to it. Start checks that every component with a health path answers.
type External struct {
	specs     []Spec
	endpoints map[string]*url.URL
	names     []string
	// Health maps a component to a path that must answer 2xx before the drill starts.
	health  map[string]string
	client  *http.Client
	startup map[string]time.Duration
}

var (
	_ Environment = (*External)(nil)
	_ Startup     = (*External)(nil)
)

// NewExternal checks that every component has an absolute URL. health maps component names to
// a health path (optional).
func NewExternal(specs []Spec, health map[string]string) (*External, error) {
	e := &External{specs: specs, endpoints: map[string]*url.URL{}, health: health,
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
func (e *External) Start(ctx context.Context) error {
	for _, s := range e.specs {
		path, ok := e.health[s.Name]
		if !ok {
			continue
		}
		began := time.Now()
		if err := waitHTTP(ctx, e.client, e.endpoints[s.Name].JoinPath(path).String(), http.StatusOK); err != nil {
			return fmt.Errorf("component %s: not healthy: %w", s.Name, err)
		}
		e.startup[s.Name] = time.Since(began)
	}
	return nil
}

// Endpoint implements Environment.
func (e *External) Endpoint(name string) (*url.URL, error) {
	u, ok := e.endpoints[name]
	if !ok {
		return nil, unknown(name, e.names)
	}
	return u, nil
}

// Close does nothing: the harness did not start the system.
func (e *External) Close(context.Context) error { return nil }

// StartupTimes implements Startup.
func (e *External) StartupTimes() map[string]time.Duration { return e.startup }

// waitHTTP polls u until it answers want (any 2xx when want is 200), ctx ends, or the deadline of
// ctx passes; the last failure is returned.
func waitHTTP(ctx context.Context, c *http.Client, u string, want int) error {
	var last error
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want || (want == http.StatusOK && resp.StatusCode/100 == 2) {
				return nil
			}
			last = fmt.Errorf("GET %s: %s", u, resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

// noProxyClient is an HTTP client that ignores HTTP_PROXY and HTTPS_PROXY: a drill talks to its
// system directly, never through a proxy the environment names.
func noProxyClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &http.Client{Timeout: timeout, Transport: tr}
}
