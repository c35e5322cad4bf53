package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/apikey"
	"github.com/recall-drills/recall/targets/bus"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/service"
	"github.com/recall-drills/recall/targets/truth"
)

// ShutdownGrace bounds the graceful stop of the embedded components' HTTP servers, all together,
// before their connections are closed. A drill stops its traffic before it closes the system, so nothing is
// left to wait for; but net/http's Shutdown counts a connection that was accepted and never
// sent a request as busy for 5 s, which made an interrupted drill take 5–6 s to exit and let a
// 5 s kill grace lose the partial report.
const ShutdownGrace = time.Second

// Env runs the reference stack (targets/) in this process on 127.0.0.1, each component on
// its own random port. It needs nothing installed and is the default runtime.
type Env struct {
	specs        []runtime.Spec
	secrets      runtime.Secrets
	log          *slog.Logger
	startTimeout time.Duration

	mu        sync.Mutex
	order     []string
	running   map[string]*running
	bus       *bus.Server // the bus push gateways and the issuer use (explicit or implicit)
	startup   map[string]time.Duration
	closed    bool
	closeErr  error
	closeOnce sync.Once

	links     []runtime.Link
	px        *proxies
	paused    map[string]int              // pause depth per component
	snapshots map[string]*revocation.List // gateways restarting from a stale snapshot
	truths    map[string]*truth.Instances // per component, its instances' truth across restarts
	ssfTokens map[string]string           // per gateway of strategy ssf, its management API token
	// own are the user's components, which run at their url outside recall: the runtime
	// waits for them and gives their endpoint, nothing else.
	own map[string]*url.URL
}

// running is one started component.
type running struct {
	name     string
	endpoint *url.URL
	truth    truth.Source
	srv      *http.Server
	close    func() error
	issuer   *issuer.Issuer
	apikeys  *apikey.Authority // a reference/apikeys, which keeps its state across a kill
	ssf      *ssf.Transmitter  // a reference/ssf, which keeps its streams across a kill
	// issuerSSF is a reference issuer's own transmitter (with.ssf_token, issuerssf.go).
	issuerSSF *ssf.Transmitter
	gate      *gate
	down      bool // killed and not restarted
}

var (
	_ runtime.Environment = (*Env)(nil)
	_ runtime.GroundTruth = (*Env)(nil)
	_ runtime.Startup     = (*Env)(nil)
	_ runtime.Pauser      = (*Env)(nil)
	_ runtime.Killer      = (*Env)(nil)
	_ runtime.Linker      = (*Env)(nil)
	_ runtime.InProcess   = (*Env)(nil)
)

// Option configures New.
type Option func(*Env)

// WithLogger sends the components' logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(e *Env) { e.log = l } }

// WithStartTimeout bounds each component's start (default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option {
	return func(e *Env) {
		if d > 0 {
			e.startTimeout = d
		}
	}
}

// WithLinks routes each link through an in-process toxiproxy proxy, so that faults can cut or
// degrade it: a reference gateway reaches the issuer (From: gateway, To: issuer) or an explicit
// reference/nats bus through it, and the issuer reaches the bus through it.
func WithLinks(links ...runtime.Link) Option {
	return func(e *Env) { e.links = append(e.links, links...) }
}

// New checks that every component is a reference component with valid parameters and
// returns an environment ready to Start.
func New(specs []runtime.Spec, secrets runtime.Secrets, opts ...Option) (*Env, error) {
	e := &Env{specs: specs, secrets: secrets, log: slog.New(slog.DiscardHandler),
		startTimeout: runtime.DefaultStartTimeout, running: map[string]*running{}, startup: map[string]time.Duration{},
		px: newProxies(), paused: map[string]int{}, snapshots: map[string]*revocation.List{},
		truths: map[string]*truth.Instances{}, own: map[string]*url.URL{}}
	for _, o := range opts {
		o(e)
	}
	errs := append(e.checkLinks(), e.checkAPIKeys()...)
	errs = append(errs, e.checkSSF()...)
	issuers := 0
	for _, s := range specs {
		switch s.Use {
		case runtime.UseIssuer:
			issuers++
		case runtime.UseGateway, runtime.UseService, runtime.UseNATS, runtime.UseAPIKeys, runtime.UseAPIKeyService, runtime.UseRP, runtime.UseSSF:
		case "":
			u, err := url.Parse(s.URL)
			switch {
			case s.URL == "":
				errs = append(errs, fmt.Errorf("component %s: the embedded runtime runs reference components (use: %s) and your own only at a url; give its url, or run it with runtime docker", s.Name, strings.Join(runtime.ReferenceUses, ", ")))
			case err != nil || !u.IsAbs() || u.Host == "":
				errs = append(errs, fmt.Errorf("component %s: url %q is not an absolute URL", s.Name, s.URL))
			default:
				e.own[s.Name] = u
			}
		default:
			errs = append(errs, fmt.Errorf("component %s: unknown reference component %q (have: %s)", s.Name, s.Use, strings.Join(runtime.ReferenceUses, ", ")))
		}
		if s.Use == runtime.UseGateway {
			if _, _, err := runtime.GatewayConfig(s); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			}
		}
		if s.Use == runtime.UseService {
			if _, err := runtime.ServiceConfig(s); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			}
		}
	}
	// A drill of API keys has the API-key authority as its only issuer.
	if (issuers > 1 || issuers == 0 && !slices.ContainsFunc(e.specs, func(s runtime.Spec) bool { return s.Use == runtime.UseAPIKeys })) && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("the embedded runtime needs exactly one %s component (or, to drill API keys, a %s one), have %d", runtime.UseIssuer, runtime.UseAPIKeys, issuers))
	}
	if secrets.AdminSecret == "" {
		errs = append(errs, errors.New("embedded runtime: no admin secret"))
	}
	return e, errors.Join(errs...)
}

// Start implements Environment: the bus first, then the issuer and the transmitters, services
// (which may receive from a transmitter) and gateways (which may proxy to a service).
func (e *Env) Start(ctx context.Context) error {
	rank := map[string]int{runtime.UseNATS: 0, runtime.UseIssuer: 1, runtime.UseAPIKeys: 1, runtime.UseSSF: 1, runtime.UseService: 2, runtime.UseAPIKeyService: 2, runtime.UseRP: 2, runtime.UseGateway: 3}
	byRank := make([][]runtime.Spec, 4)
	needBus := false
	for _, s := range e.specs {
		if s.Use == "" {
			continue // the user's own, at its url: waited for below
		}
		byRank[rank[s.Use]] = append(byRank[rank[s.Use]], s)
		if s.Use == runtime.UseGateway {
			if c, _, _ := runtime.GatewayConfig(s); c.Strategy == gateway.Push {
				needBus = true
			}
		}
		if s.Use == runtime.UseService {
			if c, _ := runtime.ServiceConfig(s); c != nil && c.Strategy == gateway.Push {
				needBus = true
			}
		}
		if s.Use == runtime.UseAPIKeyService {
			if c, _, _ := apiKeyServiceConfig(s); c.Strategy == apikey.Push {
				needBus = true
			}
		}
	}
	if needBus && len(byRank[0]) == 0 {
		b, err := bus.Start(bus.Name("recall-implicit-bus"))
		if err != nil {
			return fmt.Errorf("start implicit bus: %w", err)
		}
		e.mu.Lock()
		e.bus = b
		e.mu.Unlock()
	}
	for _, group := range byRank {
		for _, s := range group {
			if err := ctx.Err(); err != nil {
				return err
			}
			began := time.Now()
			sctx, cancel := context.WithTimeout(ctx, e.startTimeout)
			r, err := e.start(sctx, s, "")
			if r != nil {
				e.mu.Lock()
				e.running[s.Name] = r
				e.order = append(e.order, s.Name)
				e.mu.Unlock()
			}
			if err == nil && r.endpoint != nil {
				err = runtime.WaitHTTP(sctx, &http.Client{Timeout: time.Second}, r.endpoint.JoinPath("/healthz").String(), http.StatusOK)
			}
			cancel()
			if err != nil {
				return fmt.Errorf("component %s (%s) did not start: %w", s.Name, s.Use, err)
			}
			if err := e.proxyLinksTo(s.Name); err != nil {
				return err
			}
			e.instanceReady(s.Name, r)
			e.mu.Lock()
			e.startup[s.Name] = time.Since(began)
			e.mu.Unlock()
			e.log.Info("component started", "component", s.Name, "use", s.Use, "endpoint", endpointString(r.endpoint), "startup", time.Since(began).Round(time.Millisecond))
		}
	}
	return e.waitOwn(ctx)
}

// waitOwn waits for the user's own components, which run at their url: until each answers its
// wait.http path (when it has one) with the status asked (default 200).
func (e *Env) waitOwn(ctx context.Context) error {
	for _, s := range e.specs {
		u, ok := e.own[s.Name]
		if !ok {
			continue
		}
		began := time.Now()
		if w := s.Wait; w != nil && w.HTTP != "" {
			timeout := e.startTimeout
			if w.Timeout > 0 {
				timeout = w.Timeout
			}
			status := w.Status
			if status == 0 {
				status = http.StatusOK
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			err := runtime.WaitHTTP(wctx, &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}, u.JoinPath(w.HTTP).String(), status)
			cancel()
			if err != nil {
				return fmt.Errorf("component %s at %s did not answer %s: %w", s.Name, endpointString(u), w.HTTP, err)
			}
		}
		e.mu.Lock()
		e.startup[s.Name] = time.Since(began)
		e.mu.Unlock()
		e.log.Info("component ready", "component", s.Name, "endpoint", endpointString(u))
	}
	return nil
}

func endpointString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// start starts component s; addr, when set, is the host:port it listened on before (a restart).
func (e *Env) start(ctx context.Context, s runtime.Spec, addr string) (*running, error) {
	log := e.log.With("component", s.Name)
	switch s.Use {
	case runtime.UseNATS:
		opts := []bus.Option{bus.Name(s.Name)}
		if addr != "" {
			_, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			opts = append(opts, bus.Port(p))
		}
		b, err := bus.Start(opts...)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.bus = b
		e.mu.Unlock()
		// The bus speaks NATS, not HTTP: it has no endpoint for probes.
		return &running{name: s.Name, close: func() error { b.Close(); return nil }}, nil
	case runtime.UseIssuer:
		if old, ok := e.get(s.Name); ok && old.issuer != nil {
			// A restarted issuer keeps its state (keys, tokens, recalls), as one backed by a
			// database would: serve the same issuer again on the same address.
			ln, base, err := listen(addr)
			if err != nil {
				return nil, err
			}
			r := e.serve(s.Name, ln, base, old.issuer.Handler(), old.issuer.Close)
			r.truth, r.issuer = old.truth, old.issuer
			return r, nil
		}
		ln, base, err := listen(addr)
		if err != nil {
			return nil, err
		}
		cfg := issuer.Config{
			Issuer:      base.String(),
			AdminSecret: e.secrets.AdminSecret,
			Clients:     []issuer.Client{{ID: e.secrets.GatewayID, Secret: e.secrets.GatewaySecret}},
			NATSURL:     e.natsURLFor(s.Name),
			Logger:      log,
			Registry:    prometheus.NewRegistry(),
		}
		ip, err := params.DecodeIssuer(s.With)
		if err != nil {
			ln.Close()
			return nil, err
		}
		cfg.TokenTTL = ip.TokenTTL
		cfg.IssuedBeforeInclusive = ip.IssuedBeforeInclusive
		cfg.MFARecallKeepsRecoveryCodes = ip.KeepRecoveryCodes
		cfg.RotationNewSession = ip.RotationNewSession
		cfg.Keys = ip.SigningKeys
		if ip.SSFToken != "" {
			if cfg.SSF, err = newIssuerSSF(s.Name, base, ip.SSFToken); err != nil {
				ln.Close()
				return nil, fmt.Errorf("with.ssf_token: %w", err)
			}
		}
		iss, err := issuer.New(cfg)
		if err != nil {
			ln.Close()
			return nil, err
		}
		h := iss.Handler()
		if cfg.SSF != nil {
			h = withIssuerSSF(h, cfg.SSF)
		}
		r := e.serve(s.Name, ln, base, h, func() error {
			err := iss.Close() // waits for the SSF emissions in flight
			if cfg.SSF != nil {
				cfg.SSF.Close()
			}
			return err
		})
		r.truth, r.issuer, r.issuerSSF = iss.Truth(), iss, cfg.SSF
		return r, nil
	case runtime.UseAPIKeys:
		return e.startAPIKeys(s, addr)
	case runtime.UseAPIKeyService:
		return e.startAPIKeyService(ctx, s, addr)
	case runtime.UseRP:
		return e.startRP(ctx, s, addr)
	case runtime.UseSSF:
		return e.startSSF(s, addr)
	case runtime.UseService:
		ln, base, err := listen(addr)
		if err != nil {
			return nil, err
		}
		validate, err := e.serviceGuard(s, base)
		if err != nil {
			ln.Close()
			return nil, err
		}
		svc, err := service.New(ctx, service.Config{Name: s.Name, Logger: log, DebugSecret: e.secrets.AdminSecret, Validate: validate})
		if err != nil {
			ln.Close()
			return nil, err
		}
		r := e.serve(s.Name, ln, base, svc.Handler(), svc.Close)
		r.truth = svc.Truth()
		return r, nil
	case runtime.UseGateway:
		cfg, rs, err := runtime.GatewayConfig(s)
		if err != nil {
			return nil, err
		}
		iss := e.issuer()
		if iss == nil {
			return nil, errors.New("no issuer running")
		}
		cfg.Name = s.Name
		cfg.Issuer = iss.endpoint.String()
		cfg.IssuerURL = e.issuerURLFor(s.Name, iss)
		cfg.NATSURL = e.natsURLFor(s.Name)
		if addr != "" && rs.Stale {
			e.mu.Lock()
			cfg.Snapshot = e.snapshots[s.Name]
			e.mu.Unlock()
			cfg.ResyncDelay = rs.Delay
		}
		cfg.ClientID, cfg.ClientSecret = e.secrets.GatewayID, e.secrets.GatewaySecret
		cfg.Truth = iss.truth
		cfg.DebugSecret = e.secrets.AdminSecret
		cfg.Logger = log
		if up, ok := s.With["upstream"].(string); ok {
			r, ok := e.get(up)
			if !ok || r.endpoint == nil {
				return nil, fmt.Errorf("with.upstream: no running component %q", up)
			}
			cfg.Upstream = r.endpoint.String()
			cfg.UpstreamTransport = inProcess{e: e, name: up}
		}
		ln, base, err := listen(addr)
		if err != nil {
			return nil, err
		}
		if cfg.Strategy == gateway.SSF {
			if err := e.ssfReceiver(s, &cfg, base.String()); err != nil {
				ln.Close()
				return nil, err
			}
		}
		gw, err := gateway.New(ctx, cfg)
		if err != nil {
			ln.Close()
			return nil, err
		}
		if addr == "" && rs.Stale {
			if snap, ok := gw.Snapshot(); ok {
				e.mu.Lock()
				e.snapshots[s.Name] = &snap
				e.mu.Unlock()
			}
		}
		r := e.serve(s.Name, ln, base, gw.Handler(), gw.Close)
		r.truth = gw.Truth()
		return r, nil
	}
	return nil, fmt.Errorf("unknown reference component %q", s.Use)
}

// serviceGuard is the config of the Guard a reference service of with.strategy validates tokens
// with itself, reaching the issuer, bus and transmitter as a gateway of that strategy does; nil
// without a strategy (it trusts the gateway in front of it).
func (e *Env) serviceGuard(s runtime.Spec, base *url.URL) (*gateway.Config, error) {
	cfg, err := runtime.ServiceConfig(s)
	if err != nil || cfg == nil {
		return nil, err
	}
	iss := e.issuer()
	if iss == nil {
		return nil, errors.New("no issuer running")
	}
	cfg.Name = s.Name
	cfg.Issuer = iss.endpoint.String()
	cfg.IssuerURL = e.issuerURLFor(s.Name, iss)
	cfg.NATSURL = e.natsURLFor(s.Name)
	cfg.ClientID, cfg.ClientSecret = e.secrets.GatewayID, e.secrets.GatewaySecret
	cfg.Truth = iss.truth
	if cfg.Strategy == gateway.SSF {
		if err := e.ssfReceiver(s, cfg, base.String()); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// listen listens on addr (default a random 127.0.0.1 port). A restart listens on the address
// it had: the port may still be held for a moment by the closing listener, so it retries briefly.
func listen(addr string) (net.Listener, *url.URL, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		if ln, err = net.Listen("tcp", addr); err == nil || addr == "127.0.0.1:0" {
			break
		}
		t := time.NewTimer(50 * time.Millisecond)
		<-t.C
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	return ln, u, nil
}

// serve serves h on ln behind the component's pause gate.
func (e *Env) serve(name string, ln net.Listener, base *url.URL, h http.Handler, closeFn func() error) *running {
	e.mu.Lock()
	g := e.gateLocked(name)
	e.mu.Unlock()
	g.h.Store(&h)
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &running{name: name, endpoint: base, srv: srv, close: closeFn, gate: g}
}

func (e *Env) busURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bus == nil {
		return ""
	}
	return e.bus.ClientURL()
}

func (e *Env) issuer() *running {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.running {
		if r.issuer != nil {
			return r
		}
	}
	return nil
}

func (e *Env) get(name string) (*running, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.running[name]
	return r, ok
}

// InProcess implements runtime.InProcess: always true, as the embedded runtime starts at least
// the reference issuer in this process.
func (e *Env) InProcess() bool { return true }

// Endpoint implements Environment.
func (e *Env) Endpoint(name string) (*url.URL, error) {
	if u, ok := e.own[name]; ok {
		c := *u
		return &c, nil
	}
	r, ok := e.get(name)
	if !ok {
		names := make([]string, 0, len(e.specs))
		for _, s := range e.specs {
			names = append(names, s.Name)
		}
		for _, s := range e.specs {
			if s.Name == name {
				return nil, fmt.Errorf("component %s is not running", name)
			}
		}
		return nil, runtime.UnknownComponent(name, names)
	}
	if r.endpoint == nil {
		return nil, fmt.Errorf("component %s has no HTTP endpoint", name)
	}
	return r.endpoint, nil
}

// Truth implements GroundTruth: across restarts, the instant from which the component has
// enforced without a break (truth.Instances).
func (e *Env) Truth(name string) (truth.Source, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.truths[name]
	if !ok {
		return nil, false
	}
	return t, true
}

// instanceReady records that r, an instance of component name, is ready to serve now.
func (e *Env) instanceReady(name string, r *running) {
	if r == nil || r.truth == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.truths[name]
	if !ok {
		t = &truth.Instances{}
		e.truths[name] = t
	}
	t.Started(r.truth, time.Now())
}

// instanceKilled records that the running instance of component name stopped serving now.
func (e *Env) instanceKilled(name string) {
	e.mu.Lock()
	t := e.truths[name]
	e.mu.Unlock()
	if t != nil {
		t.Killed(time.Now(), nil)
	}
}

// StartupTimes implements Startup.
func (e *Env) StartupTimes() map[string]time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]time.Duration, len(e.startup))
	for k, v := range e.startup {
		out[k] = v
	}
	return out
}

// Close implements Environment: components stop in reverse start order, then the bus.
func (e *Env) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		order := append([]string(nil), e.order...)
		b := e.bus
		e.closed = true
		e.mu.Unlock()
		var errs []error
		for _, g := range e.allGates() {
			g.release()
		}
		e.px.close()
		// One grace for all the servers: past it, each is closed at once.
		graceCtx, cancelGrace := context.WithTimeout(ctx, ShutdownGrace)
		defer cancelGrace()
		for i := len(order) - 1; i >= 0; i-- {
			r, _ := e.get(order[i])
			if r.down {
				// Killed and not started again: only a killed issuer still holds its state.
				if (r.issuer != nil || r.apikeys != nil) && r.close != nil {
					if err := r.close(); err != nil {
						errs = append(errs, fmt.Errorf("close %s: %w", r.name, err))
					}
				}
				continue
			}
			if r.srv != nil {
				err := r.srv.Shutdown(graceCtx)
				switch {
				case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
					r.srv.Close() // only connections that never finished a request are left
				case err != nil:
					r.srv.Close()
					errs = append(errs, fmt.Errorf("stop %s: %w", r.name, err))
				}
			}
			if r.close != nil {
				if err := r.close(); err != nil {
					errs = append(errs, fmt.Errorf("close %s: %w", r.name, err))
				}
			}
		}
		if b != nil {
			b.Close()
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}
