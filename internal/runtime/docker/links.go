package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/recall-drills/recall/internal/runtime"
)

// This file gives the docker runtime its Linker: one toxiproxy container on the drill's network
// carries every declared link.
//
//	gateway "edge" ──http://toxiproxy:10001──► container "toxiproxy" ──http://issuer:8080──► "issuer"
//	                                             ▲ API :8474, mapped to 127.0.0.1:<port>
//	harness ── toxiproxy client (Cut, Heal, AddToxic, RemoveToxic) ──┘
//
// The `from` reference component is configured to reach `to` through its proxy (a gateway's
// -issuer-url and -nats, the issuer's -nats); a gateway still expects the real issuer URL as
// the tokens' iss. The toxiproxy container is labelled like every other, so Close and Cleanup
// remove it.

// Defaults of the docker runtime's links.
const (
	// DefaultToxiproxyAlias is the network alias of the toxiproxy container ("recall-toxiproxy"
	// when a component already has that name).
	DefaultToxiproxyAlias = "toxiproxy"
	// DefaultToxiproxyTimeout bounds each call to toxiproxy's API (its client takes no context).
	DefaultToxiproxyTimeout = 5 * time.Second
	// toxiproxyAPIPort is where the toxiproxy container serves its API.
	toxiproxyAPIPort = "8474/tcp"
	// firstLinkPort is the port, inside the toxiproxy container, of the first link's proxy; the
	// others follow.
	firstLinkPort = 10001
)

// WithLinks routes the declared links through a toxiproxy container, so that faults can
// cut or degrade them (default: none, and no toxiproxy container).
func WithLinks(links ...runtime.Link) Option {
	return func(d *Env) { d.links = append(d.links, links...) }
}

var _ runtime.Linker = (*Env)(nil)

// dlink is the plan of one link's proxy.
type dlink struct {
	name     string // the proxy's name in toxiproxy: link1, link2, …
	port     int    // where it listens in the toxiproxy container
	upstream string // to's alias:port
}

// dockerLinks is the docker runtime's link state.
type dockerLinks struct {
	alias  string // the toxiproxy container's network alias; "" without links
	byLink map[runtime.Link]dlink

	mu     sync.Mutex
	client *toxiclient.Client   // nil until the toxiproxy container is up
	cuts   map[runtime.Link]int // how many faults hold the link cut (overlapping partitions)
	// harness maps a link from the harness (harness->issuer, or a transmitter's to its push
	// receiver) to the 127.0.0.1 address of its proxy.
	harness map[runtime.Link]string
}

var _ runtime.HarnessLinker = (*Env)(nil)

// HarnessLink implements runtime.HarnessLinker: the published port of the proxy of the
// declared link harness->to, once the toxiproxy container is up.
func (d *Env) HarnessLink(to string) (string, bool) {
	return d.harnessAddr(runtime.Link{From: runtime.Harness, To: to})
}

// harnessAddr is the published address of the proxy of a link from the harness side, once the
// toxiproxy container is up.
func (d *Env) harnessAddr(l runtime.Link) (string, bool) {
	d.lk.mu.Lock()
	defer d.lk.mu.Unlock()
	a, ok := d.lk.harness[l]
	return a, ok
}

// fromHarness says whether link l starts in the harness: the drill's own (harness->issuer) or a
// transmitter's (reference/ssf, which runs in the harness) to its push receiver. Its proxy's
// port is published on 127.0.0.1.
func (d *Env) fromHarness(l runtime.Link) bool {
	if l.From == runtime.Harness {
		_, named := d.byName[l.From]
		return !named
	}
	c, ok := d.byName[l.From]
	return ok && c.use == runtime.UseSSF
}

// planLinks checks the declared links and, when there are any, adds the toxiproxy container to
// the plan. A link goes from a reference gateway to the issuer or a reference/nats bus (the
// implicit one included), or from the issuer to the bus. It runs before the components are
// planned: their commands depend on it.
func (d *Env) planLinks(busAlias string) []error {
	d.lk.byLink = map[runtime.Link]dlink{}
	d.lk.cuts = map[runtime.Link]int{}
	if len(d.links) == 0 {
		return nil
	}
	var errs []error
	for i, l := range d.links {
		from, okF := d.byName[l.From]
		to, okT := d.byName[l.To]
		if l.From == runtime.Harness && !okF {
			// The harness reaches the proxy on a port the toxiproxy container publishes.
			switch _, dup := d.lk.byLink[l]; {
			case dup:
				errs = append(errs, fmt.Errorf("link %s: declared twice", l))
			case !okT || to.use != runtime.UseIssuer:
				errs = append(errs, fmt.Errorf("link %s: the harness's only link is to the reference issuer", l))
			default:
				d.lk.byLink[l] = dlink{name: "link" + strconv.Itoa(i+1), port: firstLinkPort + i, upstream: l.To + ":8080"}
			}
			continue
		}
		switch {
		case !okF || from.implicit:
			errs = append(errs, fmt.Errorf("link %s: %w", l, runtime.UnknownComponent(l.From, d.names())))
			continue
		case !okT:
			errs = append(errs, fmt.Errorf("link %s: %w", l, runtime.UnknownComponent(l.To, d.names())))
			continue
		}
		if _, dup := d.lk.byLink[l]; dup {
			errs = append(errs, fmt.Errorf("link %s: declared twice", l))
			continue
		}
		var port string
		switch {
		case from.use == runtime.UseSSF:
			// The transmitter's pushes to a gateway in its container, on a published port.
			if err := runtime.CheckSSFLink(d.specs, l); err != nil {
				errs = append(errs, err)
				continue
			}
			port = "8080"
		case to.use == runtime.UseIssuer && from.use == runtime.UseGateway:
			port = "8080"
		case to.use == runtime.UseNATS && to.name == busAlias && (from.use == runtime.UseGateway || from.use == runtime.UseIssuer):
			port = "4222"
		case to.use != runtime.UseIssuer && to.use != runtime.UseNATS:
			errs = append(errs, fmt.Errorf("link %s: the docker runtime proxies links to the issuer or a %s component only, not to %s", l, runtime.UseNATS, orUser(to.use)))
			continue
		case from.use == runtime.UseIssuer:
			errs = append(errs, fmt.Errorf("link %s: the issuer's only outgoing link is to the bus", l))
			continue
		default:
			errs = append(errs, fmt.Errorf("link %s: the docker runtime proxies links from gateways and the issuer only, not from %s", l, orUser(from.use)))
			continue
		}
		d.lk.byLink[l] = dlink{name: "link" + strconv.Itoa(i+1), port: firstLinkPort + i, upstream: l.To + ":" + port}
	}
	alias := DefaultToxiproxyAlias
	if _, taken := d.byName[alias]; taken {
		alias = "recall-" + DefaultToxiproxyAlias
	}
	d.lk.alias = alias
	return errs
}

// addToxiproxy adds the toxiproxy container to the plan, once the components are planned, and
// makes every link's `from` wait for it.
func (d *Env) addToxiproxy() {
	if d.lk.alias == "" {
		return
	}
	c := &dcomp{name: d.lk.alias, ref: RefToxiproxy, implicit: true, ports: []string{toxiproxyAPIPort},
		httpPort: toxiproxyAPIPort, timeout: d.startTimeout}
	c.wait = wait.ForHTTP("/version").WithPort(toxiproxyAPIPort).WithPollInterval(50 * time.Millisecond).
		WithStatusCodeMatcher(func(st int) bool { return st == http.StatusOK }).WithStartupTimeout(c.timeout)
	c.waitDesc = "GET /version on " + toxiproxyAPIPort + " answers 200"
	for _, l := range d.links {
		if dl, ok := d.lk.byLink[l]; ok && d.fromHarness(l) {
			c.ports = append(c.ports, strconv.Itoa(dl.port)+"/tcp")
		}
	}
	d.byName[c.name] = c
	d.comps = append(d.comps, c)
	for l := range d.lk.byLink {
		if l.From == runtime.Harness && d.fromHarness(l) {
			continue
		}
		if f := d.byName[l.From]; !slices.Contains(f.deps, c.name) {
			f.deps = append(f.deps, c.name)
		}
	}
}

func orUser(use string) string {
	if use == "" {
		return "the user's own component"
	}
	return use
}

// linkURL is the URL from uses to reach to: through its proxy when the link is declared, else
// direct.
func (d *Env) linkURL(from, to, scheme, direct string) string {
	if dl, ok := d.lk.byLink[runtime.Link{From: from, To: to}]; ok {
		return scheme + "://" + d.lk.alias + ":" + strconv.Itoa(dl.port)
	}
	return direct
}

// createProxies creates every link's proxy once the toxiproxy container is up.
func (d *Env) createProxies(ctx context.Context, c *dcomp) error {
	d.mu.Lock()
	ep := c.endpoint
	d.mu.Unlock()
	if ep == nil {
		return errors.New("toxiproxy: no API endpoint")
	}
	cl := toxiclient.NewClient(ep.String())
	for _, l := range d.links {
		dl, ok := d.lk.byLink[l]
		if !ok {
			continue
		}
		err := txCall(ctx, func() error {
			_, err := cl.CreateProxy(dl.name, "0.0.0.0:"+strconv.Itoa(dl.port), dl.upstream)
			return err
		})
		if err != nil {
			return fmt.Errorf("link %s: create proxy: %w", l, err)
		}
		d.log.Debug("link proxied", "link", l.String(), "via", d.lk.alias+":"+strconv.Itoa(dl.port), "upstream", dl.upstream)
		if d.fromHarness(l) {
			d.mu.Lock()
			ctr := c.c
			d.mu.Unlock()
			if ctr == nil {
				return fmt.Errorf("link %s: no toxiproxy container", l)
			}
			p, err := ctr.MappedPort(ctx, strconv.Itoa(dl.port)+"/tcp")
			if err != nil {
				return fmt.Errorf("link %s: mapped port: %w", l, err)
			}
			d.lk.mu.Lock()
			if d.lk.harness == nil {
				d.lk.harness = map[runtime.Link]string{}
			}
			d.lk.harness[l] = loopback.String() + ":" + p.Port()
			d.lk.mu.Unlock()
		}
	}
	d.lk.mu.Lock()
	d.lk.client = cl
	d.lk.mu.Unlock()
	return nil
}

// txCall runs a toxiproxy client call, which takes no context, bounded by ctx and
// DefaultToxiproxyTimeout. A call abandoned on timeout finishes in the background.
func txCall(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultToxiproxyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("toxiproxy API: %w", ctx.Err())
	}
}

// proxy returns the toxiproxy client and the plan of link l.
func (d *Env) proxy(l runtime.Link) (*toxiclient.Client, dlink, error) {
	dl, ok := d.lk.byLink[l]
	if !ok {
		have := make([]string, 0, len(d.links))
		for _, x := range d.Links() {
			have = append(have, x.String())
		}
		return nil, dlink{}, fmt.Errorf("no proxied link %s (have: %v)", l, have)
	}
	d.lk.mu.Lock()
	cl := d.lk.client
	d.lk.mu.Unlock()
	if cl == nil {
		return nil, dlink{}, fmt.Errorf("link %s: toxiproxy is not running", l)
	}
	return cl, dl, nil
}

// Links implements Linker.
func (d *Env) Links() []runtime.Link {
	out := make([]runtime.Link, 0, len(d.links))
	for _, l := range d.links {
		if _, ok := d.lk.byLink[l]; ok {
			out = append(out, l)
		}
	}
	return out
}

// AddToxic implements Linker.
func (d *Env) AddToxic(ctx context.Context, l runtime.Link, t runtime.Toxic) error {
	cl, dl, err := d.proxy(l)
	if err != nil {
		return err
	}
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	if t.Stream == "" {
		t.Stream = "downstream"
	}
	attrs := toxiclient.Attributes{}
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	err = txCall(ctx, func() error {
		_, err := cl.AddToxic(&toxiclient.ToxicOptions{ProxyName: dl.name, ToxicName: t.Name, ToxicType: t.Type,
			Stream: t.Stream, Toxicity: t.Toxicity, Attributes: attrs})
		return err
	})
	if err != nil {
		return fmt.Errorf("link %s: add toxic %s: %w", l, t.Name, err)
	}
	return nil
}

// RemoveToxic implements Linker.
func (d *Env) RemoveToxic(ctx context.Context, l runtime.Link, name string) error {
	cl, dl, err := d.proxy(l)
	if err != nil {
		return err
	}
	err = txCall(ctx, func() error {
		px, err := cl.Proxy(dl.name)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(px.ActiveToxics, func(t toxiclient.Toxic) bool { return t.Name == name }) {
			return nil
		}
		return px.RemoveToxic(name)
	})
	if err != nil {
		return fmt.Errorf("link %s: remove toxic %s: %w", l, name, err)
	}
	return nil
}

// Cut implements Linker: the link's proxy is disabled (toxiproxy closes its connections and
// stops listening).
func (d *Env) Cut(ctx context.Context, l runtime.Link) error {
	cl, dl, err := d.proxy(l)
	if err != nil {
		return err
	}
	d.lk.mu.Lock()
	d.lk.cuts[l]++
	first := d.lk.cuts[l] == 1
	d.lk.mu.Unlock()
	if !first {
		return nil
	}
	if err := txCall(ctx, func() error { return setEnabled(cl, dl.name, false) }); err != nil {
		return fmt.Errorf("link %s: cut: %w", l, err)
	}
	return nil
}

// Heal implements Linker: the link's proxy listens again on the same port.
func (d *Env) Heal(ctx context.Context, l runtime.Link) error {
	cl, dl, err := d.proxy(l)
	if err != nil {
		return err
	}
	d.lk.mu.Lock()
	if d.lk.cuts[l] == 0 {
		d.lk.mu.Unlock()
		return nil
	}
	d.lk.cuts[l]--
	last := d.lk.cuts[l] == 0
	d.lk.mu.Unlock()
	if !last {
		return nil
	}
	if err := txCall(ctx, func() error { return setEnabled(cl, dl.name, true) }); err != nil {
		return fmt.Errorf("link %s: heal: %w", l, err)
	}
	return nil
}

func setEnabled(cl *toxiclient.Client, name string, on bool) error {
	px, err := cl.Proxy(name)
	if err != nil {
		return err
	}
	if on {
		return px.Enable()
	}
	return px.Disable()
}

// resetLinks heals every link and removes every toxic (toxiproxy's reset), before Close
// removes the container.
func (d *Env) resetLinks(ctx context.Context) error {
	d.lk.mu.Lock()
	cl := d.lk.client
	d.lk.client = nil
	d.lk.mu.Unlock()
	if cl == nil {
		return nil
	}
	if err := txCall(ctx, cl.ResetState); err != nil {
		return fmt.Errorf("toxiproxy: reset: %w", err)
	}
	return nil
}
