package embedded

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

// This file gives the embedded runtime its fault capabilities: Pauser (a gate in front of each
// component's handler, plus a black hole on its links), Killer (close the server; start again on
// the same address) and Linker (in-process toxiproxy on the declared links).

// pauseToxic names the toxics a pause adds to the paused component's links.
const pauseToxic = "recall-pause"

// gate holds requests while its component is paused. The handler behind it is swapped on
// restart; the gate outlives the server.
type gate struct {
	h  atomic.Pointer[http.Handler]
	mu sync.Mutex
	// open is closed while the component runs; a paused gate holds a fresh, open channel.
	open chan struct{}
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-r.Context().Done():
		return
	}
	(*g.h.Load()).ServeHTTP(w, r)
}

func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// gateLocked returns name's gate, creating it; e.mu must be held.
func (e *Env) gateLocked(name string) *gate {
	if r, ok := e.running[name]; ok && r.gate != nil {
		return r.gate
	}
	return newGate()
}

func (e *Env) allGates() []*gate {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*gate
	for _, r := range e.running {
		if r.gate != nil {
			out = append(out, r.gate)
		}
	}
	return out
}

func (e *Env) spec(name string) (runtime.Spec, bool) {
	for _, s := range e.specs {
		if s.Name == name {
			return s, true
		}
	}
	return runtime.Spec{}, false
}

// checkLinks validates the declared links: the embedded runtime can route a reference gateway
// or service to the issuer or an explicit reference/nats, and the issuer to the bus.
func (e *Env) checkLinks() []error {
	var errs []error
	seen := map[runtime.Link]bool{}
	for _, l := range e.links {
		from, okF := e.spec(l.From)
		to, okT := e.spec(l.To)
		switch {
		case l.From == runtime.Harness && !okF:
			if seen[l] {
				errs = append(errs, fmt.Errorf("link %s: declared twice", l))
			} else if !okT || to.Use != runtime.UseIssuer {
				errs = append(errs, fmt.Errorf("link %s: the harness's only link is to the reference issuer", l))
			}
		case !okF:
			errs = append(errs, fmt.Errorf("link %s: unknown component %q", l, l.From))
		case !okT:
			errs = append(errs, fmt.Errorf("link %s: unknown component %q", l, l.To))
		case seen[l]:
			errs = append(errs, fmt.Errorf("link %s: declared twice", l))
		case from.Use == runtime.UseSSF:
			// The transmitter's pushes to one receiver (its proxy is made in ssfReceiver).
			if err := runtime.CheckSSFLink(e.specs, l); err != nil {
				errs = append(errs, err)
			}
		case to.Use != runtime.UseIssuer && to.Use != runtime.UseNATS:
			errs = append(errs, fmt.Errorf("link %s: the embedded runtime proxies links to the issuer or a %s component only, not to %s", l, runtime.UseNATS, to.Use))
		case from.Use == runtime.UseIssuer && to.Use != runtime.UseNATS:
			errs = append(errs, fmt.Errorf("link %s: the issuer's only outgoing link is to the bus", l))
		case from.Use != runtime.UseGateway && from.Use != runtime.UseService && from.Use != runtime.UseIssuer:
			errs = append(errs, fmt.Errorf("link %s: the embedded runtime proxies links from gateways, services and the issuer only, not from %s", l, from.Use))
		}
		seen[l] = true
	}
	return errs
}

// proxyLinksTo starts the proxies of the links towards a component that just started.
func (e *Env) proxyLinksTo(name string) error {
	for _, l := range e.links {
		if l.To != name {
			continue
		}
		to, _ := e.spec(name)
		var upstream string
		switch to.Use {
		case runtime.UseNATS:
			u, err := url.Parse(e.busURL())
			if err != nil || u.Host == "" {
				return fmt.Errorf("link %s: no bus address", l)
			}
			upstream = u.Host
		default:
			r, ok := e.get(name)
			if !ok || r.endpoint == nil {
				return fmt.Errorf("link %s: %s has no endpoint", l, name)
			}
			upstream = r.endpoint.Host
		}
		if _, err := e.px.add(l, upstream); err != nil {
			return err
		}
	}
	return nil
}

// linkAddr returns the proxy address of link from->to, if declared.
func (e *Env) linkAddr(from, to string) (string, bool) {
	px, err := e.px.get(runtime.Link{From: from, To: to})
	if err != nil {
		return "", false
	}
	return px.Listen, true
}

// HarnessLink implements runtime.HarnessLinker: the proxy of the declared link harness->to.
func (e *Env) HarnessLink(to string) (string, bool) { return e.linkAddr(runtime.Harness, to) }

var _ runtime.HarnessLinker = (*Env)(nil)

// issuerURLFor is the issuer URL component from uses: through its link, if declared.
func (e *Env) issuerURLFor(from string, iss *running) string {
	if a, ok := e.linkAddr(from, iss.name); ok {
		return "http://" + a
	}
	return iss.endpoint.String()
}

// natsURLFor is the bus URL component from uses: through its link to a reference/nats, if
// declared.
func (e *Env) natsURLFor(from string) string {
	for _, s := range e.specs {
		if s.Use != runtime.UseNATS {
			continue
		}
		if a, ok := e.linkAddr(from, s.Name); ok {
			return "nats://" + a
		}
	}
	return e.busURL()
}

// linksOf lists the declared links from or to name.
func (e *Env) linksOf(name string) []runtime.Link {
	var out []runtime.Link
	for _, l := range e.px.links() {
		if l.From == name || l.To == name {
			out = append(out, l)
		}
	}
	return out
}

// Pause implements Pauser: the component's handler holds every request until Unpause (or the
// request's end), and its links stop passing traffic both ways (a toxiproxy timeout toxic with
// no timeout). A bus has no handler: it can be paused only through its links. Pauses nest.
func (e *Env) Pause(ctx context.Context, name string) error {
	r, ok := e.get(name)
	if !ok {
		return e.notRunning(name)
	}
	links := e.linksOf(name)
	if r.gate == nil && len(links) == 0 {
		return fmt.Errorf("pause %s: a bus is paused through its links; declare one (system.links)", name)
	}
	e.mu.Lock()
	e.paused[name]++
	first := e.paused[name] == 1
	e.mu.Unlock()
	if !first {
		return nil
	}
	if r.gate != nil {
		r.gate.pause()
	}
	var errs []error
	for _, l := range links {
		for _, st := range []string{"upstream", "downstream"} {
			t := runtime.Toxic{Name: pauseToxic + "-" + name + "-" + st, Type: "timeout", Stream: st, Attributes: map[string]any{"timeout": 0}}
			if err := e.px.addToxic(l, t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Unpause implements Pauser. Unpausing a component that is not paused is not an error.
func (e *Env) Unpause(ctx context.Context, name string) error {
	e.mu.Lock()
	if e.paused[name] == 0 {
		e.mu.Unlock()
		return nil
	}
	e.paused[name]--
	last := e.paused[name] == 0
	e.mu.Unlock()
	if !last {
		return nil
	}
	var errs []error
	for _, l := range e.linksOf(name) {
		for _, st := range []string{"upstream", "downstream"} {
			if err := e.px.removeToxic(ctx, l, pauseToxic+"-"+name+"-"+st); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if r, ok := e.get(name); ok && r.gate != nil {
		r.gate.release()
	}
	return errors.Join(errs...)
}

func (e *Env) notRunning(name string) error {
	if _, ok := e.own[name]; ok {
		return fmt.Errorf("component %s runs at its url, outside recall: the embedded runtime cannot pause, kill or restart it", name)
	}
	if _, ok := e.spec(name); ok {
		return fmt.Errorf("component %s is not running", name)
	}
	names := make([]string, 0, len(e.specs))
	for _, s := range e.specs {
		names = append(names, s.Name)
	}
	return runtime.UnknownComponent(name, names)
}

// Kill implements Killer: the component's server closes at once (open connections dropped) and
// its state goes, except the issuer's, which a restart serves again (keys and recalls are what
// a real issuer keeps in its database). Killing a dead component is not an error.
func (e *Env) Kill(ctx context.Context, name string) error {
	r, ok := e.get(name)
	if !ok {
		return e.notRunning(name)
	}
	e.mu.Lock()
	if r.down {
		e.mu.Unlock()
		return nil
	}
	r.down = true
	e.mu.Unlock()
	var errs []error
	if r.srv != nil {
		if err := r.srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.issuer == nil && r.apikeys == nil && r.close != nil {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.instanceKilled(name)
	e.log.Info("component killed", "component", name)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	return nil
}

// Restart implements Killer: it kills the component if it runs, then starts it again on the
// same address with fresh state (a gateway with with.restart_snapshot: stale restores the rules
// it held after its first start instead, and resyncs after restart_resync_delay), and waits
// until it is healthy.
func (e *Env) Restart(ctx context.Context, name string) error {
	s, ok := e.spec(name)
	if _, own := e.own[name]; !ok || own {
		return e.notRunning(name)
	}
	old, ok := e.get(name)
	if !ok {
		return e.notRunning(name)
	}
	if err := e.Kill(ctx, name); err != nil {
		return err
	}
	var addr string
	switch {
	case old.endpoint != nil:
		addr = old.endpoint.Host
	case s.Use == runtime.UseNATS:
		if u, err := url.Parse(e.busURL()); err == nil {
			addr = u.Host
		}
	}
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, e.startTimeout)
	defer cancel()
	r, err := e.start(sctx, s, addr)
	if err == nil && r.endpoint != nil {
		err = runtime.WaitHTTP(sctx, &http.Client{Timeout: time.Second}, r.endpoint.JoinPath("/healthz").String(), http.StatusOK)
	}
	if r != nil {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			if r.srv != nil {
				r.srv.Close()
			}
			if r.close != nil && r.issuer == nil && r.apikeys == nil {
				_ = r.close()
			}
			return errors.New("environment closed")
		}
		e.running[name] = r
		if !slices.Contains(e.order, name) {
			e.order = append(e.order, name)
		}
		e.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	e.instanceReady(name, r)
	e.log.Info("component restarted", "component", name, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// Links implements Linker.
func (e *Env) Links() []runtime.Link { return append([]runtime.Link(nil), e.links...) }

// AddToxic implements Linker.
func (e *Env) AddToxic(_ context.Context, l runtime.Link, t runtime.Toxic) error {
	return e.px.addToxic(l, t)
}

// RemoveToxic implements Linker.
func (e *Env) RemoveToxic(ctx context.Context, l runtime.Link, name string) error {
	return e.px.removeToxic(ctx, l, name)
}

// Cut implements Linker.
func (e *Env) Cut(_ context.Context, l runtime.Link) error { return e.px.cut(l) }

// Heal implements Linker.
func (e *Env) Heal(_ context.Context, l runtime.Link) error { return e.px.heal(l) }
