package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	dnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/rp"
	"github.com/recall-drills/recall/targets/truth"
)

// Env runs every component as a container, through testcontainers-go, on a private network
// created for the drill:
//
//	harness ──http://127.0.0.1:<mapped port>──► container "edge" ──http://issuer:8080──► "issuer"
//	                                              (network alias = component name)
//
// Reference components (Spec.Use) run from images built from docker/ (see
// BuildReferenceImages); the user's own run from Spec.Image, which must be present locally:
// nothing is ever pulled, and Preflight says so before anything starts. Components start in
// dependency order (DependsOn, plus the reference stack's own: bus and issuer before gateways),
// independent ones in parallel, each until its wait strategy passes.
//
// The testcontainers reaper is off (its image cannot be pulled), so cleanup is ours: every
// container and the network carry LabelDrill=<drill id>, and Close removes by that label —
// after a failed or interrupted Start too. Cleanup does the same for a drill whose process was
// killed. Logs of every container are saved, tokens redacted, at Close.
//
// Unlike testcontainers' own Host and Endpoint, which guess the daemon's address (and guess
// wrong inside a container, where they pick the default gateway), every address here is
// 127.0.0.1 and the mapped port. The harness chooses the host port, so that a restarted
// container keeps its endpoint.
//
// Declared links (WithLinks) pass through a toxiproxy container: the runtime is a Linker
// (see links.go). Pause is docker pause; Kill and Restart are docker kill and start.
type Env struct {
	secrets      runtime.Secrets
	log          *slog.Logger
	tcLog        tclog.Logger
	drillID      string
	logsDir      string
	startTimeout time.Duration
	imageTimeout time.Duration
	images       ImageOptions
	specs        []runtime.Spec
	comps        []*dcomp // in spec order; an implicit bus last
	byName       map[string]*dcomp
	links        []runtime.Link    // declared links (WithLinks)
	backchannel  []string          // the relying parties' CLIENT_ID=URI, for the issuer's -backchannel-logout
	lk           dockerLinks       // their proxies
	ssfTokens    map[string]string // per gateway of strategy ssf, its token at its transmitter

	mu          sync.Mutex
	cli         *testcontainers.DockerClient
	nw          *testcontainers.DockerNetwork
	hostIP      netip.Addr // the host's address on the drill network (ssf.go)
	built       []ImageInfo
	startup     map[string]time.Duration
	started     bool
	prepared    bool // Prepare built the images
	closed      bool
	cancelStart context.CancelFunc
	startDone   chan struct{}

	apiKeysOnce sync.Once
	apiKeys     string // the API-key authority's signing secret, shared with offline services

	closeOnce sync.Once
	closeErr  error
}

var (
	_ runtime.Environment = (*Env)(nil)
	_ runtime.Pauser      = (*Env)(nil)
	_ runtime.Killer      = (*Env)(nil)
	_ runtime.GroundTruth = (*Env)(nil)
	_ runtime.Startup     = (*Env)(nil)
	_ runtime.Preparer    = (*Env)(nil)
)

// Defaults of the docker runtime.
const (
	// DefaultLogTail is how many log lines an error about a component that did not start shows.
	DefaultLogTail = 20
	// DefaultImplicitBus is the network alias of the bus started for push gateways when the
	// scenario has no reference/nats component.
	DefaultImplicitBus = "bus"
	// referencePort is where every reference component serves HTTP in its container.
	referencePort  = "8080/tcp"
	natsClientPort = "4222/tcp"
	natsHTTPPort   = "8222/tcp"
	// createSlack is added to a component's wait timeout to bound its whole start (create,
	// start, network attach).
	createSlack = 30 * time.Second
	// snapshotFile is where a reference gateway with restart_snapshot: stale keeps its rules.
	snapshotFile = "/recall-snapshot.json"
	// clientTimeout bounds connecting to the Docker engine.
	clientTimeout = 10 * time.Second
)

// Option configures New.
type Option func(*Env)

// WithLogger sends the runtime's logs to l, and testcontainers' own at Debug (default:
// discarded).
func WithLogger(l *slog.Logger) Option {
	return func(d *Env) {
		if l != nil {
			d.log = l
		}
	}
}

// WithDrillID sets the drill id that labels and names everything created (default: time and
// random, e.g. 20260102t150405-3fa2).
func WithDrillID(id string) Option { return func(d *Env) { d.drillID = id } }

// WithLogsDir makes Close save each container's output, tokens redacted, as
// dir/<component>.log (default: not saved).
func WithLogsDir(dir string) Option { return func(d *Env) { d.logsDir = dir } }

// WithStartTimeout bounds each component's wait for readiness unless its Spec.Wait sets
// one (default DefaultStartTimeout).
func WithStartTimeout(t time.Duration) Option {
	return func(d *Env) {
		if t > 0 {
			d.startTimeout = t
		}
	}
}

// WithModuleRoot is where recall's go.mod is, to build reference images from (default: found
// by walking up from the working directory).
func WithModuleRoot(dir string) Option { return func(d *Env) { d.images.ModuleRoot = dir } }

// WithDockerDir is where the reference Dockerfiles are (default <module root>/docker).
func WithDockerDir(dir string) Option { return func(d *Env) { d.images.DockerDir = dir } }

// dcomp is one component container: its plan, then its state (guarded by Env.mu).
type dcomp struct {
	name     string // component name and network alias
	use      string // Spec.Use
	ref      string // reference image component (issuer, gateway, service, nats); "" for the user's
	implicit bool   // the implicit bus
	image    string // Spec.Image, or the reference image once known
	env      map[string]string
	cmd      []string
	ports    []string // exposed, "8080/tcp"
	httpPort string   // the endpoint's port; "" when none
	deps     []string
	wait     wait.Strategy // nil: running is enough
	waitDesc string
	timeout  time.Duration
	strategy gateway.Strategy // reference gateways
	defersTo string           // a lookup apikey-service: the authority whose truth it defers to
	snapshot bool             // a gateway restarting from a stale snapshot: its file is created
	// lateArgs, when set, are more arguments known only when the container is created, given
	// the host port its endpoint is published on (a push receiver's -ssf-push-url).
	lateArgs func(hostPort string) ([]string, error)
	ssf      *ssfTransmitter // a reference/ssf, run in the harness (ssf.go), once started

	c        *testcontainers.DockerContainer
	endpoint *url.URL
	truth    *truth.Remote   // the running instance's; nil until asked for, and after a kill
	inst     truth.Instances // every instance's, across restarts (reference components)
}

var reAlias = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// New checks the components and plans their containers; it contacts no Docker engine
// (Preflight and Start do). Like embedded.New it returns the environment even with an error.
func New(specs []runtime.Spec, secrets runtime.Secrets, opts ...Option) (*Env, error) {
	d := &Env{secrets: secrets, log: slog.New(slog.DiscardHandler), startTimeout: runtime.DefaultStartTimeout,
		byName: map[string]*dcomp{}, startup: map[string]time.Duration{}, specs: specs, ssfTokens: map[string]string{}}
	for _, o := range opts {
		o(d)
	}
	if d.drillID == "" {
		d.drillID = newDrillID()
	}
	d.tcLog = tcLogger{d.log}
	d.images.Logger = d.log
	var errs []error
	if !reAlias.MatchString(d.drillID) {
		errs = append(errs, fmt.Errorf("drill id %q: want letters, digits, '_', '.', '-'", d.drillID))
	}
	var issuers, buses []string
	needBus := false
	for _, s := range specs {
		if !reAlias.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("component %q: a docker component's name is its network alias: want letters, digits, '_', '.', '-'", s.Name))
		}
		if _, dup := d.byName[s.Name]; dup {
			errs = append(errs, fmt.Errorf("component %s: defined twice", s.Name))
			continue
		}
		c := &dcomp{name: s.Name, use: s.Use, image: s.Image, deps: append([]string(nil), s.DependsOn...)}
		d.byName[s.Name] = c
		d.comps = append(d.comps, c)
		switch s.Use {
		case runtime.UseIssuer:
			issuers = append(issuers, s.Name)
		case runtime.UseNATS:
			buses = append(buses, s.Name)
		case runtime.UseGateway:
			if gc, _, err := runtime.GatewayConfig(s); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			} else if gc.Strategy == gateway.Push {
				needBus = true
			}
		case runtime.UseAPIKeyService:
			if p, err := params.DecodeAPIKeyService(s.With); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			} else if p.Strategy == "push" {
				needBus = true
			}
		case runtime.UseRP:
			if p, err := params.DecodeRP(s.With); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			} else {
				d.backchannel = append(d.backchannel, p.ClientID+"=http://"+s.Name+":8080/backchannel-logout")
			}
		case runtime.UseSSF:
			if _, err := params.DecodeSSF(s.With); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			}
		case runtime.UseService:
			if gc, err := runtime.ServiceConfig(s); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", s.Name, err))
			} else if gc != nil && gc.Strategy == gateway.Push {
				needBus = true
			}
		case runtime.UseAPIKeys, "":
		default:
			errs = append(errs, fmt.Errorf("component %s: unknown reference component %q (have: %s)", s.Name, s.Use, strings.Join(runtime.ReferenceUses, ", ")))
		}
	}
	if len(issuers) > 1 {
		errs = append(errs, fmt.Errorf("the docker runtime runs at most one %s component, have %d (%s)", runtime.UseIssuer, len(issuers), strings.Join(issuers, ", ")))
	}
	if len(issuers) == 1 && secrets.AdminSecret == "" {
		errs = append(errs, errors.New("docker runtime: no admin secret for the reference issuer"))
	}
	busAlias := ""
	if len(buses) > 0 {
		busAlias = buses[0]
	} else if needBus {
		busAlias = DefaultImplicitBus
		if _, taken := d.byName[busAlias]; taken {
			busAlias = "recall-" + DefaultImplicitBus
		}
		c := &dcomp{name: busAlias, use: runtime.UseNATS, implicit: true}
		d.byName[busAlias] = c
		d.comps = append(d.comps, c)
	}
	errs = append(errs, d.planLinks(busAlias)...)
	issuerAlias := ""
	if len(issuers) > 0 {
		issuerAlias = issuers[0]
	}
	specOf := map[string]runtime.Spec{}
	for _, s := range specs {
		specOf[s.Name] = s
	}
	// The user's components first: a reference gateway's upstream may be one of them.
	for _, c := range d.comps {
		if c.use == "" {
			if err := d.planUser(c, specOf[c.name]); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", c.name, err))
			}
		}
	}
	for _, c := range d.comps {
		if c.use != "" {
			if err := d.planReference(c, specOf[c.name], issuerAlias, busAlias); err != nil {
				errs = append(errs, fmt.Errorf("component %s: %w", c.name, err))
			}
		}
	}
	d.addToxiproxy()
	for _, c := range d.comps {
		for _, dep := range c.deps {
			if _, ok := d.byName[dep]; !ok {
				errs = append(errs, fmt.Errorf("component %s: depends_on: %w", c.name, runtime.UnknownComponent(dep, d.names())))
			}
		}
	}
	if len(errs) == 0 {
		if cycle := d.cycle(); cycle != nil {
			errs = append(errs, fmt.Errorf("depends_on cycle: %s", strings.Join(cycle, " -> ")))
		}
	}
	return d, errors.Join(errs...)
}

// apiKeySecret returns the HMAC secret the API-key authority mints under, made once per drill:
// the services that verify keys offline (push, poll, offline) are given it too.
func (d *Env) apiKeySecret() string {
	d.apiKeysOnce.Do(func() {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		d.apiKeys = hex.EncodeToString(b)
	})
	return d.apiKeys
}

// startAttempts bounds the starts of one container whose chosen host port was taken meanwhile.
const startAttempts = 3

// portTaken says whether a container failed to start because its host port was taken.
func portTaken(err error) bool {
	m := err.Error()
	return strings.Contains(m, "port is already allocated") || strings.Contains(m, "address already in use")
}

// freePort returns a TCP port free on this host now, for the engine to publish a container
// port on.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("choose a host port: %w", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

func newDrillID() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b)
}

// names lists the scenario's components (not the implicit bus).
func (d *Env) names() []string {
	var out []string
	for _, c := range d.comps {
		if !c.implicit {
			out = append(out, c.name)
		}
	}
	return out
}

// planReference fills the container plan of a reference component.
func (d *Env) planReference(c *dcomp, s runtime.Spec, issuerAlias, busAlias string) error {
	c.env = map[string]string{}
	for k, v := range s.Env {
		c.env[k] = v
	}
	if c.use == runtime.UseSSF {
		return d.planSSF(c, s)
	}
	c.ports, c.httpPort = []string{referencePort}, referencePort
	c.timeout = d.startTimeout
	natsURL := ""
	if busAlias != "" {
		natsURL = "nats://" + busAlias + ":4222"
	}
	switch c.use {
	case runtime.UseNATS:
		c.ref = RefNATS
		c.ports, c.httpPort = []string{natsClientPort, natsHTTPPort}, natsHTTPPort
		c.cmd = []string{"-name", c.name}
	case runtime.UseIssuer:
		c.ref = RefIssuer
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret
		if d.secrets.GatewayID != "" {
			c.env["RECALL_CLIENT_ID"], c.env["RECALL_CLIENT_SECRET"] = d.secrets.GatewayID, d.secrets.GatewaySecret
		}
		// iss must be what gateways inside the network expect, however the harness reaches
		// the issuer: the in-network URL, never the mapped port.
		c.cmd = []string{"-issuer", "http://" + c.name + ":8080"}
		if natsURL != "" {
			c.cmd = append(c.cmd, "-nats", d.linkURL(c.name, busAlias, "nats", natsURL))
		}
		ip, err := params.DecodeIssuer(s.With)
		if err != nil {
			return err
		}
		if ip.TokenTTL > 0 {
			c.cmd = append(c.cmd, "-token-ttl", ip.TokenTTL.String())
		}
		if ip.IssuedBeforeInclusive {
			c.cmd = append(c.cmd, "-issued-before-inclusive")
		}
		if ip.KeepRecoveryCodes {
			c.cmd = append(c.cmd, "-mfa-recall-keeps-recovery-codes")
		}
		if ip.RotationNewSession {
			c.cmd = append(c.cmd, "-rotation-new-session")
		}
		if ip.SigningKeys > 0 {
			c.cmd = append(c.cmd, "-signing-keys", strconv.Itoa(ip.SigningKeys))
		}
		// Every relying party gets a logout token when one of its sessions or users is
		// recalled, at its in-network back-channel logout URI.
		for _, b := range d.backchannel {
			c.cmd = append(c.cmd, "-backchannel-logout", b)
		}
	case runtime.UseAPIKeys:
		c.ref = RefAPIKeys
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret
		c.env["RECALL_APIKEY_SIGNING_SECRET"] = d.apiKeySecret()
		if d.secrets.GatewayID != "" {
			c.env["RECALL_CLIENT_ID"], c.env["RECALL_CLIENT_SECRET"] = d.secrets.GatewayID, d.secrets.GatewaySecret
		}
		c.cmd = []string{"-name", c.name}
		if natsURL != "" {
			c.cmd = append(c.cmd, "-nats", d.linkURL(c.name, busAlias, "nats", natsURL))
		}
	case runtime.UseAPIKeyService:
		c.ref = RefAPIKeyService
		p, err := params.DecodeAPIKeyService(s.With)
		if err != nil {
			return nil // reported by New
		}
		auth := p.Authority
		if auth == "" {
			for _, o := range d.comps {
				if o.use == runtime.UseAPIKeys {
					auth = o.name
				}
			}
		}
		if a, ok := d.byName[auth]; !ok || a.use != runtime.UseAPIKeys {
			return fmt.Errorf("with.authority: no %s component %q", runtime.UseAPIKeys, auth)
		}
		authURL := "http://" + auth + ":8080"
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret // guards /debug/recalls
		c.env["RECALL_CLIENT_ID"], c.env["RECALL_CLIENT_SECRET"] = d.secrets.GatewayID, d.secrets.GatewaySecret
		if p.Strategy != "lookup" {
			c.env["RECALL_APIKEY_SIGNING_SECRET"] = d.apiKeySecret()
		} else {
			c.defersTo = auth
		}
		c.cmd = []string{"-name", c.name, "-strategy", p.Strategy, "-authority-url", d.linkURL(c.name, auth, "http", authURL)}
		c.deps = append(c.deps, auth)
		if p.Strategy == "push" {
			c.cmd = append(c.cmd, "-nats", d.linkURL(c.name, busAlias, "nats", natsURL))
			c.deps = append(c.deps, busAlias)
		}
		if p.Interval > 0 {
			c.cmd = append(c.cmd, "-interval", p.Interval.String())
		}
		if p.CacheTTL > 0 {
			c.cmd = append(c.cmd, "-cache-ttl", p.CacheTTL.String())
		}
		if p.MaxStaleness > 0 {
			c.cmd = append(c.cmd, "-max-staleness", p.MaxStaleness.String())
		}
		if p.FailMode != "" {
			c.cmd = append(c.cmd, "-fail-mode", p.FailMode)
		}
	case runtime.UseRP:
		c.ref = RefRP
		p, err := params.DecodeRP(s.With)
		if err != nil {
			return nil // reported by New
		}
		if issuerAlias == "" {
			return fmt.Errorf("a reference relying party needs a %s component", runtime.UseIssuer)
		}
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret // guards /admin/* and /debug/recalls
		issuerURL := "http://" + issuerAlias + ":8080"
		c.cmd = []string{"-name", c.name, "-issuer-url", d.linkURL(c.name, issuerAlias, "http", issuerURL), "-issuer", issuerURL,
			"-client-id", p.ClientID, "-session-cache-ttl", p.SessionCacheTTL.String(), "-cache-on-logout", p.CacheOnLogout}
		c.deps = append(c.deps, issuerAlias)
	case runtime.UseService:
		c.ref = RefService
		c.cmd = []string{"-name", c.name}
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret // guards /debug/recalls
		gc, err := runtime.ServiceConfig(s)
		if err != nil || gc == nil {
			return nil // reported by New; or behind a gateway
		}
		if issuerAlias == "" {
			return fmt.Errorf("a reference service with a strategy needs a %s component", runtime.UseIssuer)
		}
		if err := d.planGuard(c, s, *gc, issuerAlias, busAlias); err != nil {
			return err
		}
	case runtime.UseGateway:
		c.ref = RefGateway
		gc, _, err := runtime.GatewayConfig(s)
		if err != nil {
			return nil // reported by New
		}
		if issuerAlias == "" {
			return fmt.Errorf("a reference gateway needs a %s component", runtime.UseIssuer)
		}
		c.env["RECALL_ADMIN_SECRET"] = d.secrets.AdminSecret // guards /debug/recalls
		c.cmd = []string{"-name", c.name}
		if err := d.planGuard(c, s, gc, issuerAlias, busAlias); err != nil {
			return err
		}
		// A restart restores the rules held after the first start: the gateway saves them in a
		// file of the container's own filesystem, which a restart of the container keeps.
		if _, rs, _ := runtime.GatewayConfig(s); rs.Stale {
			c.snapshot = true
			c.cmd = append(c.cmd, "-snapshot", snapshotFile, "-resync-delay", rs.Delay.String())
		}
		if up, ok := s.With["upstream"]; ok {
			u, dep, err := d.upstreamURL(fmt.Sprint(up))
			if err != nil {
				return fmt.Errorf("with.upstream: %w", err)
			}
			c.cmd = append(c.cmd, "-upstream", u)
			if dep != "" {
				c.deps = append(c.deps, dep)
			}
		}
	}
	path := "/healthz"
	c.wait = wait.ForHTTP(path).WithPort(c.httpPort).WithPollInterval(50 * time.Millisecond).
		WithStatusCodeMatcher(func(st int) bool { return st == http.StatusOK }).WithStartupTimeout(c.timeout)
	c.waitDesc = "GET " + path + " on " + c.httpPort + " answers 200"
	return nil
}

// planGuard adds the flags of a reference gateway's or service's Guard (how it validates tokens
// and learns of recalls), which the gateway and service images share: its strategy, where the
// issuer, bus and transmitter are, the strategy's keys, and its client at the issuer.
func (d *Env) planGuard(c *dcomp, s runtime.Spec, gc gateway.Config, issuerAlias, busAlias string) error {
	c.strategy = gc.Strategy
	issuerURL := "http://" + issuerAlias + ":8080"
	c.cmd = append(c.cmd, "-strategy", string(gc.Strategy), "-issuer-url", d.linkURL(c.name, issuerAlias, "http", issuerURL))
	if via := d.linkURL(c.name, issuerAlias, "http", issuerURL); via != issuerURL {
		c.cmd = append(c.cmd, "-issuer", issuerURL) // iss stays the issuer's own URL
	}
	c.deps = append(c.deps, issuerAlias)
	if gc.Strategy == gateway.Push {
		c.cmd = append(c.cmd, "-nats", d.linkURL(c.name, busAlias, "nats", "nats://"+busAlias+":4222"))
		c.deps = append(c.deps, busAlias)
	}
	if gc.PollInterval > 0 {
		c.cmd = append(c.cmd, "-interval", gc.PollInterval.String())
	}
	if gc.CacheTTL > 0 {
		c.cmd = append(c.cmd, "-cache-ttl", gc.CacheTTL.String())
	}
	if gc.MaxStaleness > 0 {
		c.cmd = append(c.cmd, "-max-staleness", gc.MaxStaleness.String())
	}
	if gc.FailMode != "" {
		c.cmd = append(c.cmd, "-fail-mode", string(gc.FailMode))
	}
	// The JWKS cache: zero and empty leave the gateway's defaults.
	if gc.JWKSTTL > 0 {
		c.cmd = append(c.cmd, "-jwks-ttl", gc.JWKSTTL.String())
	}
	if gc.JWKSMinRefresh > 0 {
		c.cmd = append(c.cmd, "-jwks-min-refresh", gc.JWKSMinRefresh.String())
	}
	if gc.JWKSRefetch != "" {
		c.cmd = append(c.cmd, "-jwks-refetch", string(gc.JWKSRefetch))
	}
	if gc.Strategy == gateway.SSF {
		if err := d.planSSFReceiver(c, s, gc); err != nil {
			return err
		}
	}
	if d.secrets.GatewayID != "" {
		c.env["RECALL_CLIENT_ID"], c.env["RECALL_CLIENT_SECRET"] = d.secrets.GatewayID, d.secrets.GatewaySecret
	}
	return nil
}

// upstreamURL resolves a gateway's upstream: a component name (its in-network URL) or an
// absolute URL.
func (d *Env) upstreamURL(up string) (string, string, error) {
	if c, ok := d.byName[up]; ok {
		port := "8080"
		if c.use == "" {
			if len(c.ports) == 0 {
				return "", "", fmt.Errorf("component %s exposes no port", up)
			}
			port = strings.SplitN(c.ports[0], "/", 2)[0]
		}
		return "http://" + up + ":" + port, up, nil
	}
	if u, err := url.Parse(up); err == nil && u.IsAbs() && u.Host != "" {
		return up, "", nil
	}
	return "", "", runtime.UnknownComponent(up, d.names())
}

// planUser fills the container plan of the user's own component.
func (d *Env) planUser(c *dcomp, s runtime.Spec) error {
	var errs []error
	if s.Image == "" {
		errs = append(errs, errors.New("image is required (or use: a reference component)"))
	}
	c.env, c.cmd = s.Env, s.Command
	for _, p := range s.Ports {
		np, err := normPort(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("ports: %w", err))
			continue
		}
		c.ports = append(c.ports, np)
	}
	if len(c.ports) > 0 {
		c.httpPort = c.ports[0]
	}
	c.timeout = d.startTimeout
	w := s.Wait
	if w == nil {
		if c.httpPort != "" {
			c.wait = portStrategy{port: c.httpPort}
			c.waitDesc = "port " + c.httpPort + " accepts connections"
		}
		return errors.Join(errs...)
	}
	if w.Timeout > 0 {
		c.timeout = w.Timeout
	}
	var ws []wait.Strategy
	var desc []string
	port := c.httpPort
	if w.Port != "" {
		np, err := normPort(w.Port)
		if err != nil {
			errs = append(errs, fmt.Errorf("wait.port: %w", err))
		} else if !contains(c.ports, np) {
			errs = append(errs, fmt.Errorf("wait.port %s is not one of ports (%s)", w.Port, strings.Join(c.ports, ", ")))
		}
		port = np
	}
	if w.HTTP != "" {
		if port == "" {
			errs = append(errs, errors.New("wait.http needs a port: list one in ports"))
		}
		status := w.Status
		path := w.HTTP
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		ws = append(ws, wait.ForHTTP(path).WithPort(port).WithPollInterval(50*time.Millisecond).WithStartupTimeout(c.timeout).
			WithStatusCodeMatcher(func(st int) bool {
				if status == 0 {
					return st/100 == 2
				}
				return st == status
			}))
		want := "2xx"
		if status != 0 {
			want = strconv.Itoa(status)
		}
		desc = append(desc, "GET "+path+" on "+port+" answers "+want)
	} else if w.Port != "" {
		ws = append(ws, portStrategy{port: port})
		desc = append(desc, "port "+port+" accepts connections")
	}
	if w.Log != "" {
		ws = append(ws, wait.ForLog(w.Log).WithPollInterval(100*time.Millisecond).WithStartupTimeout(c.timeout))
		desc = append(desc, fmt.Sprintf("log line %q", w.Log))
	}
	if len(ws) == 0 && c.httpPort != "" {
		ws = append(ws, portStrategy{port: c.httpPort})
		desc = append(desc, "port "+c.httpPort+" accepts connections")
	}
	if len(ws) == 1 {
		c.wait = ws[0]
	} else if len(ws) > 1 {
		c.wait = wait.ForAll(ws...)
	}
	c.waitDesc = strings.Join(desc, " and ")
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normPort turns "8080" into "8080/tcp" and checks "8080/udp".
func normPort(p string) (string, error) {
	num, proto, ok := strings.Cut(strings.TrimSpace(p), "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return "", fmt.Errorf("%q: want a container port like 8080 or 8080/tcp", p)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}

// cycle returns a dependency cycle, or nil.
func (d *Env) cycle() []string {
	state := map[string]int{} // 1 visiting, 2 done
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		switch state[n] {
		case 1:
			for i, p := range path {
				if p == n {
					return append(append([]string(nil), path[i:]...), n)
				}
			}
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		for _, dep := range d.byName[n].deps {
			if c := visit(dep); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	for _, c := range d.comps {
		if cyc := visit(c.name); cyc != nil {
			return cyc
		}
	}
	return nil
}

// DrillID is the id labelling everything this environment creates.
func (d *Env) DrillID() string { return d.drillID }

// Images returns the reference images Start used (built or found), for the report.
func (d *Env) Images() []ImageInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ImageInfo(nil), d.built...)
}

// Preflight lists every image the drill needs and returns one error naming each that is neither
// present locally nor buildable here (and every reference Dockerfile that would pull). It pulls
// and builds nothing. Start runs it first.
func (d *Env) Preflight(ctx context.Context) error {
	tcInit(d.log)
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return d.preflight(ctx, cli)
}

func (d *Env) preflight(ctx context.Context, cli client.APIClient) error {
	b, err := newImageBuilder(d.images)
	if err != nil {
		return err
	}
	var errs []error
	checked := map[string]bool{}
	for _, c := range d.comps {
		if c.image != "" {
			if checked[c.image] {
				continue
			}
			checked[c.image] = true
			if _, err := cli.ImageInspect(ctx, c.image); err != nil {
				if errdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("image %s (component %s) is not present locally and cannot be pulled here; build or load it first", c.image, c.name))
				} else {
					errs = append(errs, fmt.Errorf("image %s (component %s): %w", c.image, c.name, err))
				}
			}
			continue
		}
		if c.ref == "" || checked["ref:"+c.ref] {
			continue
		}
		checked["ref:"+c.ref] = true
		if err := b.check(ctx, cli, c.ref); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("docker runtime: %d image problem(s), nothing started:\n%w", len(errs), errors.Join(errs...))
	}
	return nil
}

// DefaultImageBuildTimeout bounds Prepare: compiling the reference components with a cold Go
// build cache on a loaded machine, then building their images.
const DefaultImageBuildTimeout = 10 * time.Minute

// WithImageBuildTimeout bounds Prepare (default DefaultImageBuildTimeout).
func WithImageBuildTimeout(t time.Duration) Option {
	return func(d *Env) {
		if t > 0 {
			d.imageTimeout = t
		}
	}
}

// Prepare implements Preparer: preflight and the reference images (compiled and built when
// missing), within their own budget (WithImageBuildTimeout), outside the system's start
// deadline. Start then goes straight to the containers. It creates nothing Close must remove.
func (d *Env) Prepare(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return errors.New("docker runtime: closed")
	case d.started || d.prepared:
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	tcInit(d.log)
	timeout := d.imageTimeout
	if timeout <= 0 {
		timeout = DefaultImageBuildTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := d.preflight(ctx, cli); err != nil {
		return err
	}
	if err := d.ensureImages(ctx, cli); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%w (the image build's budget is %s)", err, timeout)
		}
		return err
	}
	d.mu.Lock()
	d.prepared = true
	d.mu.Unlock()
	return nil
}

// Start implements Environment: preflight, reference images (built when missing, unless
// Prepare did it), the
// network, then every component in dependency order, independent ones in parallel. On failure
// or cancellation what it created stays for Close to find and remove.
func (d *Env) Start(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return errors.New("docker runtime: closed")
	case d.started:
		d.mu.Unlock()
		return errors.New("docker runtime: already started")
	}
	d.started = true
	ctx, cancel := context.WithCancel(ctx)
	d.cancelStart, d.startDone = cancel, make(chan struct{})
	done := d.startDone
	d.mu.Unlock()
	defer close(done)
	defer cancel()
	return d.start(ctx)
}

func (d *Env) start(ctx context.Context) error {
	tcInit(d.log)
	began := time.Now()
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.cli = cli
	d.mu.Unlock()
	d.mu.Lock()
	prepared := d.prepared
	d.mu.Unlock()
	if !prepared {
		if err := d.preflight(ctx, cli); err != nil {
			return err
		}
		if err := d.ensureImages(ctx, cli); err != nil {
			if ctx.Err() != nil {
				// A build killed by the cancellation says "signal: killed"; say what happened.
				return fmt.Errorf("docker runtime: start interrupted while building images: %w", err)
			}
			return err
		}
	}
	imagesTook := time.Since(began)
	nw, err := network.New(ctx, network.WithLabels(map[string]string{LabelDrill: d.drillID}))
	if err != nil {
		return fmt.Errorf("docker runtime: create network: %w", err)
	}
	d.mu.Lock()
	d.nw = nw
	d.mu.Unlock()
	d.log.Debug("network created", "network", nw.Name, "drill", d.drillID)
	for _, c := range d.comps {
		if c.use == runtime.UseSSF {
			if err := d.networkGateway(ctx, nw.ID); err != nil {
				return err
			}
			break
		}
	}

	// One goroutine per component waits for its dependencies, then starts it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(map[string]chan struct{}, len(d.comps))
	for _, c := range d.comps {
		ready[c.name] = make(chan struct{})
	}
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	stackBegan := time.Now()
	for _, c := range d.comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dep := range c.deps {
				select {
				case <-ready[dep]:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			run := func() error { return d.run(ctx, nw, c) }
			if c.use == runtime.UseSSF {
				run = func() error { return d.startSSF(ctx, c, d.specOf(c.name)) }
			}
			if err := run(); err != nil {
				fail(err)
				return
			}
			if c.ref == RefToxiproxy {
				if err := d.createProxies(ctx, c); err != nil {
					fail(err)
					return
				}
			}
			close(ready[c.name])
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("docker runtime: start interrupted: %w", err)
	}
	d.log.Info("docker system up", "drill", d.drillID, "components", len(d.comps),
		"images", imagesTook.Round(time.Millisecond), "containers", time.Since(stackBegan).Round(time.Millisecond))
	return nil
}

// ensureImages resolves the image of every reference component without an explicit one.
func (d *Env) ensureImages(ctx context.Context, cli client.APIClient) error {
	var need []string
	seen := map[string]bool{}
	for _, c := range d.comps {
		if c.image == "" && c.ref != "" && !seen[c.ref] {
			seen[c.ref] = true
			need = append(need, c.ref)
		}
	}
	if len(need) == 0 {
		return nil
	}
	b, err := newImageBuilder(d.images)
	if err != nil {
		return err
	}
	infos, err := b.ensure(ctx, cli, need)
	d.mu.Lock()
	d.built = append(d.built, infos...)
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("docker runtime: reference images: %w", err)
	}
	refs := map[string]string{}
	for _, info := range infos {
		refs[info.Component] = info.Ref
	}
	d.mu.Lock()
	for _, c := range d.comps {
		if c.image == "" && c.ref != "" {
			c.image = refs[c.ref]
		}
	}
	d.mu.Unlock()
	return nil
}

// run creates and starts one component's container and waits for it.
func (d *Env) run(ctx context.Context, nw *testcontainers.DockerNetwork, c *dcomp) error {
	began := time.Now()
	d.mu.Lock()
	image := c.image
	d.mu.Unlock()
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName("recall-" + d.drillID + "-" + safeName(c.name)),
		network.WithNetwork([]string{c.name}, nw),
		testcontainers.WithLabels(map[string]string{LabelDrill: d.drillID, LabelComponent: c.name}),
		testcontainers.WithLogger(d.tcLog),
	}
	ports := c.ports
	if len(ports) == 0 {
		// testcontainers would publish the ports the image exposes on every address itself.
		var err error
		if ports, err = d.imagePorts(ctx, image); err != nil {
			return fmt.Errorf("component %s: %w", c.name, err)
		}
	}
	if len(ports) > 0 {
		opts = append(opts, testcontainers.WithExposedPorts(ports...))
	}
	// Every port is published on 127.0.0.1 only (the engine's default is 0.0.0.0 and [::]: the
	// drill's system would be reachable from the network). The endpoint's host port is chosen
	// here rather than by the engine, which would pick a new one when the container restarts:
	// the drill keeps the endpoint it was given at start.
	var hostPort string
	bindings := make(map[dnetwork.Port]bool, len(ports))
	for _, p := range ports {
		cport, err := dnetwork.ParsePort(p)
		if err != nil {
			return fmt.Errorf("component %s: %w", c.name, err)
		}
		bindings[cport] = p == c.httpPort
	}
	opts = append(opts, testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.PublishAllPorts = false
		hc.PortBindings = dnetwork.PortMap{}
		for cport, endpoint := range bindings {
			b := dnetwork.PortBinding{HostIP: loopback, HostPort: "0"}
			if endpoint {
				b.HostPort = hostPort
			}
			hc.PortBindings[cport] = []dnetwork.PortBinding{b}
		}
	}))
	if len(c.env) > 0 {
		opts = append(opts, testcontainers.WithEnv(c.env))
	}
	if c.snapshot {
		// Empty and world-writable: the gateway (user 65534 in a scratch image) fills it.
		opts = append(opts, testcontainers.WithFiles(testcontainers.ContainerFile{Reader: strings.NewReader(""), ContainerFilePath: snapshotFile, FileMode: 0o666}))
	}
	if c.wait != nil {
		opts = append(opts, testcontainers.WithWaitStrategyAndDeadline(c.timeout, localWait{c.wait}))
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout+createSlack)
	defer cancel()
	var ctr *testcontainers.DockerContainer
	var err error
	for attempt := 1; ; attempt++ {
		if c.httpPort != "" {
			if hostPort, err = freePort(); err != nil {
				return fmt.Errorf("component %s: %w", c.name, err)
			}
		}
		cmd := c.cmd
		if c.lateArgs != nil {
			extra, lerr := c.lateArgs(hostPort)
			if lerr != nil {
				return fmt.Errorf("component %s: %w", c.name, lerr)
			}
			cmd = append(append([]string(nil), c.cmd...), extra...)
		}
		runOpts := opts
		if len(cmd) > 0 {
			runOpts = append(append([]testcontainers.ContainerCustomizer(nil), opts...), testcontainers.WithCmd(cmd...))
		}
		ctr, err = testcontainers.Run(rctx, image, runOpts...)
		// Another process may take the chosen port before the engine binds it: choose again.
		if err == nil || attempt == startAttempts || ctx.Err() != nil || !portTaken(err) {
			break
		}
		d.log.Debug("host port taken meanwhile; choosing another", "component", c.name, "port", hostPort)
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx), testcontainers.StopTimeout(0))
		}
	}
	if ctr != nil {
		d.mu.Lock()
		c.c = ctr
		d.mu.Unlock()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("component %s: start interrupted: %w", c.name, ctx.Err())
		}
		tail := "  (container not created)"
		if ctr != nil {
			lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			lines, lerr := containerLogs(lctx, d.cli, ctr.GetContainerID(), DefaultLogTail, d.held()...)
			lcancel()
			tail = formatTail(lines)
			if lerr != nil {
				tail = "  (logs unavailable: " + lerr.Error() + ")"
			}
		}
		what := "did not start"
		if c.waitDesc != "" {
			what = fmt.Sprintf("did not become ready within %s (waiting until %s)", c.timeout, c.waitDesc)
		}
		return fmt.Errorf("component %s (image %s) %s: %s\nlast log lines of %s:\n%s", c.name, image, what, Redact(err.Error(), d.held()...), c.name, tail)
	}
	if err := d.refreshEndpoint(ctx, c); err != nil {
		return fmt.Errorf("component %s: %w", c.name, err)
	}
	took := time.Since(began)
	d.instanceReady(c)
	d.mu.Lock()
	if !c.implicit {
		d.startup[c.name] = took
	}
	endpoint := c.endpoint
	d.mu.Unlock()
	d.log.Info("component started", "component", c.name, "image", image, "endpoint", endpointString(endpoint), "startup", took.Round(time.Millisecond))
	return nil
}

// loopback is the only host address ports are published on.
var loopback = netip.MustParseAddr("127.0.0.1")

// imagePorts lists the ports a local image exposes ("8080/tcp").
func (d *Env) imagePorts(ctx context.Context, image string) ([]string, error) {
	img, err := d.cli.ImageInspect(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", image, err)
	}
	var out []string
	if img.Config != nil {
		for p := range img.Config.ExposedPorts {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// refreshEndpoint reads the component's mapped port: after a restart it may have changed.
func (d *Env) refreshEndpoint(ctx context.Context, c *dcomp) error {
	d.mu.Lock()
	ctr, port := c.c, c.httpPort
	d.mu.Unlock()
	if port == "" || ctr == nil {
		return nil
	}
	p, err := ctr.MappedPort(ctx, port)
	if err != nil {
		return fmt.Errorf("mapped port %s: %w", port, err)
	}
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:" + p.Port()}
	d.mu.Lock()
	c.endpoint = u
	if c.truth != nil {
		c.truth.SetBase(u.String())
	}
	d.mu.Unlock()
	return nil
}

// component returns the named component, started or not.
func (d *Env) component(name string) (*dcomp, error) {
	c, ok := d.byName[name]
	if !ok {
		return nil, runtime.UnknownComponent(name, d.names())
	}
	return c, nil
}

// container returns the named component's container, or an error when it was not started.
func (d *Env) container(name string) (*dcomp, *testcontainers.DockerContainer, error) {
	c, err := d.component(name)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, errors.New("docker runtime: closed")
	}
	if c.use == runtime.UseSSF {
		return nil, nil, fmt.Errorf("component %s runs in the harness, not in a container (the drill's transmitter): the docker runtime cannot pause, kill or restart it; cut or slow its pushes with a link %s->receiver", name, name)
	}
	if c.c == nil {
		return nil, nil, fmt.Errorf("component %s is not running", name)
	}
	return c, c.c, nil
}

// Endpoint implements Environment: http://127.0.0.1:<mapped port> of the component's first
// port (8080 for reference components, the health port 8222 for reference/nats).
func (d *Env) Endpoint(name string) (*url.URL, error) {
	c, err := d.component(name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case c.httpPort == "":
		return nil, fmt.Errorf("component %s exposes no port", name)
	case c.endpoint == nil:
		return nil, fmt.Errorf("component %s is not running", name)
	}
	u := *c.endpoint
	return &u, nil
}

// Pause implements Pauser (docker pause: the processes are frozen, connections stay open and
// requests hang until the client's timeout).
func (d *Env) Pause(ctx context.Context, name string) error {
	_, ctr, err := d.container(name)
	if err != nil {
		return err
	}
	if _, err := d.cli.ContainerPause(ctx, ctr.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	return nil
}

// Unpause implements Pauser.
func (d *Env) Unpause(ctx context.Context, name string) error {
	_, ctr, err := d.container(name)
	if err != nil {
		return err
	}
	if _, err := d.cli.ContainerUnpause(ctx, ctr.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", name, err)
	}
	return nil
}

// Kill implements Killer (docker kill: SIGKILL; the container stays, stopped, for Restart).
// The ground truth of the instance killed is read just before (its log dies with the process).
func (d *Env) Kill(ctx context.Context, name string) error {
	c, ctr, err := d.container(name)
	if err != nil {
		return err
	}
	snap := d.truthSnapshot(ctx, c)
	if _, err := d.cli.ContainerKill(ctx, ctr.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	if snap != nil {
		c.inst.Killed(time.Now(), snap)
	}
	d.mu.Lock()
	c.truth = nil // the next instance gets its own
	d.mu.Unlock()
	return nil
}

// truthSnapshotTimeout bounds reading a component's ground truth before it is killed.
const truthSnapshotTimeout = 2 * time.Second

// truthSnapshot reads the ground truth of c's running instance, for Kill; nil when c has none.
// Rules applied between the read and the kill (a few milliseconds) are not in it.
func (d *Env) truthSnapshot(ctx context.Context, c *dcomp) truth.Source {
	r := d.remote(c.name)
	if r == nil || c.inst.Len() == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, truthSnapshotTimeout)
	defer cancel()
	l, err := r.Snapshot(sctx)
	if err != nil {
		d.log.Warn("ground truth of the instance killed not read; its last snapshot stands", "component", c.name, "err", err)
	}
	if l == nil {
		return truth.NewLog(c.name, nil) // nothing known: it enforced nothing
	}
	return l
}

// instanceReady records that c's current container run is ready to serve now.
func (d *Env) instanceReady(c *dcomp) {
	if !hasTruth(c) {
		return
	}
	c.inst.Started(liveTruth{d, c.name}, time.Now())
}

// liveTruth answers from the running instance's truth, read over HTTP.
type liveTruth struct {
	d    *Env
	name string
}

func (l liveTruth) EnforcedSince(c revocation.Claims) (time.Time, bool) {
	r := l.d.remote(l.name)
	if r == nil {
		return time.Time{}, false
	}
	return r.EnforcedSince(c)
}

// hasTruth says whether c serves ground truth (reference components but the bus and toxiproxy).
func hasTruth(c *dcomp) bool {
	return c.ref != "" && c.ref != RefNATS && c.ref != RefToxiproxy
}

// Restart implements Killer: it starts the same container again (same network alias, fresh
// process: a reference component loses its in-memory state, the issuer its keys) and waits for
// it as Start did. The mapped port may change; Endpoint returns the new one. A log-line wait is
// met at once by the line the first run printed (the engine keeps a container's output across
// restarts).
func (d *Env) Restart(ctx context.Context, name string) error {
	c, ctr, err := d.container(name)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := ctr.Start(ctx); err != nil {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		lines, _ := containerLogs(lctx, d.cli, ctr.GetContainerID(), DefaultLogTail, d.held()...)
		cancel()
		return fmt.Errorf("restart %s: %s\nlast log lines of %s:\n%s", name, Redact(err.Error(), d.held()...), name, formatTail(lines))
	}
	if err := d.refreshEndpoint(ctx, c); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	d.instanceReady(c)
	d.log.Info("component restarted", "component", name, "endpoint", endpointString(c.endpoint), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// Truth implements GroundTruth for reference components (not the bus): their
// GET /debug/recalls read over HTTP with the admin secret, across restarts
// (truth.Instances: each instance's log is read just before it is killed). An introspecting
// gateway defers to the issuer's, as in process.
func (d *Env) Truth(name string) (truth.Source, bool) {
	c, ok := d.byName[name]
	if !ok || !hasTruth(c) || c.inst.Len() == 0 {
		return nil, false
	}
	return &c.inst, true
}

// remote returns the truth of c's running instance, read over HTTP; nil when it has none.
func (d *Env) remote(name string) *truth.Remote {
	c, ok := d.byName[name]
	if !ok || !hasTruth(c) {
		return nil
	}
	var upstream truth.Source
	if c.defersTo != "" {
		if src, ok := d.Truth(c.defersTo); ok {
			upstream = src
		}
	}
	if c.strategy == gateway.Introspect {
		for _, o := range d.comps {
			if o.ref == RefIssuer {
				if src, ok := d.Truth(o.name); ok {
					upstream = src
				}
			}
		}
	}
	if c.ref == RefRP && c.endpoint != nil {
		// The app's cache records defer to its session store's rules, served beside them.
		upstream = truth.NewRemote(c.endpoint.JoinPath(rp.StorePrefix).String(), truth.WithBearer(d.secrets.AdminSecret))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.truth != nil {
		return c.truth
	}
	if c.endpoint == nil {
		return nil
	}
	// Every reference component guards /debug/recalls with the admin secret.
	opts := []truth.RemoteOption{truth.WithUpstream(upstream), truth.WithBearer(d.secrets.AdminSecret)}
	c.truth = truth.NewRemote(c.endpoint.String(), opts...)
	return c.truth
}

// StartupTimes implements Startup: from create to ready, per component (the implicit bus is
// not a component of the scenario and is left out).
func (d *Env) StartupTimes() map[string]time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]time.Duration, len(d.startup))
	for k, v := range d.startup {
		out[k] = v
	}
	return out
}

// Close implements Environment. It interrupts a Start in progress and waits for it, saves every
// container's output (when a logs directory was given), then removes every container and the
// network labelled with the drill id. It is idempotent and safe to call concurrently with
// Start; later calls return the first call's result.
func (d *Env) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.close(ctx) })
	return d.closeErr
}

func (d *Env) close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	cancel, done := d.cancelStart, d.startDone
	d.mu.Unlock()
	var errs []error
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("docker runtime: start did not stop: %w", ctx.Err()))
		}
	}
	d.mu.Lock()
	cli := d.cli
	d.mu.Unlock()
	if cli == nil {
		return errors.Join(errs...) // Start never reached the engine: nothing was created
	}
	defer cli.Close()
	if err := d.resetLinks(ctx); err != nil {
		d.log.Warn("links not reset before removal", "err", err)
	}
	f := client.Filters{}.Add("label", LabelDrill+"="+d.drillID)
	if d.logsDir != "" {
		if err := d.saveLogs(ctx, cli, f); err != nil {
			errs = append(errs, err)
		}
	}
	n, err := sweep(ctx, cli, d.drillID)
	if err != nil {
		errs = append(errs, fmt.Errorf("docker runtime: remove drill %s: %w", d.drillID, err))
	}
	d.closeSSF()
	d.log.Debug("docker system removed", "drill", d.drillID, "removed", n)
	return errors.Join(errs...)
}

// held is what the harness gave the containers that a log line must not show: the reference
// stack's secrets (every other credential is in redact.Global).
func (d *Env) held() []string {
	out := []string{d.secrets.AdminSecret, d.secrets.GatewaySecret}
	for _, t := range d.ssfTokens {
		out = append(out, t)
	}
	return out
}

// specOf returns the scenario's spec of component name (zero for the implicit ones).
func (d *Env) specOf(name string) runtime.Spec {
	for _, s := range d.specs {
		if s.Name == name {
			return s
		}
	}
	return runtime.Spec{}
}

var networkInspectOptions = client.NetworkInspectOptions{}

// saveLogs writes the output of every container of the drill to the logs directory.
func (d *Env) saveLogs(ctx context.Context, cli client.APIClient, f client.Filters) error {
	cl, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("save logs: list containers: %w", err)
	}
	var errs []error
	for _, c := range cl.Items {
		name := c.Labels[LabelComponent]
		if name == "" {
			name = strings.TrimPrefix(strings.Join(c.Names, ","), "/")
		}
		lines, err := containerLogs(ctx, cli, c.ID, 0, d.held()...)
		if err == nil {
			err = writeLogFile(d.logsDir, name, lines)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("save logs of %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// portStrategy waits until a container port accepts connections, seen from the harness
// through the mapped port. Docker's userland proxy accepts on the host side even when nothing
// listens in the container, then closes: so a connection counts only if it stays open (or
// yields data) for a moment. testcontainers' own port strategies run a shell in the container,
// which scratch images do not have.
type portStrategy struct{ port string }

func (s portStrategy) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		state, err := t.State(ctx)
		switch {
		case err != nil:
			last = err
		case !state.Running:
			return fmt.Errorf("container is %s (exit code %d)", state.Status, state.ExitCode)
		default:
			last = s.probe(ctx, t)
			if last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %s: %w (last: %v)", s.port, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func (s portStrategy) probe(ctx context.Context, t wait.StrategyTarget) error {
	p, err := t.MappedPort(ctx, s.port)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", net.JoinHostPort("127.0.0.1", p.Port()))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var b [1]byte
	n, err := conn.Read(b[:])
	var ne net.Error
	if n > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return errors.New("connection closed at once: nothing listens in the container yet")
	}
	return err
}

func (s portStrategy) String() string { return "port " + s.port }

// localTarget makes a wait strategy dial 127.0.0.1, where mapped ports are.
type localTarget struct{ wait.StrategyTarget }

func (localTarget) Host(context.Context) (string, error) { return "127.0.0.1", nil }

// localWait runs a strategy against localTarget.
type localWait struct{ wait.Strategy }

func (s localWait) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	return s.Strategy.WaitUntilReady(ctx, localTarget{t})
}

func (s localWait) String() string {
	if st, ok := s.Strategy.(fmt.Stringer); ok {
		return st.String() + " on 127.0.0.1"
	}
	return fmt.Sprintf("%T on 127.0.0.1", s.Strategy)
}

// tcLogger turns testcontainers' Printf logging into Debug records, tokens redacted.
type tcLogger struct{ l *slog.Logger }

func (a tcLogger) Printf(format string, v ...any) {
	if a.l == nil || !a.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	a.l.Debug("testcontainers: " + Redact(strings.TrimSpace(fmt.Sprintf(format, v...))))
}

var (
	tcOnce       sync.Once
	tcDefaultLog atomic.Pointer[slog.Logger]
)

// tcDefault is testcontainers' process-wide logger: it forwards to the latest logger given.
type tcDefault struct{}

func (tcDefault) Printf(format string, v ...any) {
	tcLogger{tcDefaultLog.Load()}.Printf(format, v...)
}

// tcInit prepares testcontainers before its first use in the process: its configuration is read
// once. The reaper is disabled (its image would be pulled; cleanup is ours), an image name
// prefix is dropped (it would turn local images into pulls) and its logging goes to l.
func tcInit(l *slog.Logger) {
	if l != nil {
		tcDefaultLog.Store(l)
	}
	tcOnce.Do(func() {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		if p := os.Getenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"); p != "" {
			_ = os.Unsetenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX")
			if l != nil {
				l.Warn("ignoring TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: recall never pulls", "prefix", p)
			}
		}
		tclog.SetDefault(tcDefault{})
	})
}

// dockerClient connects to the Docker engine testcontainers would use (DOCKER_HOST, contexts,
// ~/.testcontainers.properties) and checks that it answers.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	tcInit(nil)
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		if _, err = cli.Ping(ctx, client.PingOptions{}); err != nil {
			_ = cli.Close()
		}
	}
	if err != nil {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "the default socket"
		}
		return nil, fmt.Errorf("docker runtime: no Docker engine answers at %s: %w", host, err)
	}
	return cli, nil
}

// endpointString is u for a log line, "" for a component with no endpoint yet.
func endpointString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}
