// Package scenario reads drill scenarios: one YAML file with the system under test, the token
// population, the traffic, the recall, the faults, the expectations and where the report goes.
//
// Loading is strict and positioned. [Load] and [Parse] go through these steps and report every
// problem they find, not the first, each as "file:line:col: path: message" saying what would
// have been valid:
//
//	bytes ──yaml──► yaml.Node ──walk──► ${VAR} expanded, keys and scalar types checked, positions indexed
//	                                 │
//	                                 └─► re-encoded ──strict decode (KnownFields, Default* values)──► *Scenario
//	                                                                                       │
//	          file:line:col: path: message  ◄──positions──  validate (references, timeline, registries)
//
// Why not decode the file once, as blackbox_exporter does? yaml.v3's own errors carry a line but
// no column or field path, stop at the first failing custom value, and cannot tell the fields of
// a one-line flow mapping apart. The walk over the yaml.Node tree checks the same things with
// full positions; the strict decode that follows is still the one that fills the structs, with
// defaults set through the `type plain` trick, and would catch anything the walk missed.
//
// ${VAR} references are expanded inside scalar values of the parsed tree, not in the raw text:
// a secret containing ": " or a newline cannot change the file's structure, comments are left
// alone, and every position stays exact. An expanded plain scalar is typed after expansion
// (victims: ${N} is an integer). $${ is a literal ${. [Scenario.Source] keeps the text as written,
// so reports never contain expanded secrets.
//
// The JSON Schema of the file (for editors) is generated from these types by go:generate into
// schema.json and returned by [Schema]; scenarios/README.md documents every key.
package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/expect"
)

//go:generate go test -run TestSchemaUpToDate . -update

// Runtimes.
const (
	// RuntimeEmbedded runs the reference stack in-process on 127.0.0.1.
	RuntimeEmbedded = "embedded"
	// RuntimeDocker runs every component in a container on a private network.
	RuntimeDocker = "docker"
	// RuntimeExternal talks to components that are already running somewhere.
	RuntimeExternal = "external"
)

// Runtimes lists the valid values of system.runtime.
var Runtimes = []string{RuntimeEmbedded, RuntimeDocker, RuntimeExternal}

// Component kinds.
const (
	KindIssuer  = "issuer"
	KindGateway = "gateway"
	KindCache   = "cache"
	KindService = "service"
	KindBus     = "bus"
	KindOther   = "other"
)

// Kinds lists the valid values of a component's kind.
var Kinds = []string{KindIssuer, KindGateway, KindCache, KindService, KindBus, KindOther}

// Grants lists the valid values of tokens.grant.
var Grants = []string{"client_credentials", "password", "refresh_token"}

// Recall action kinds. DefaultActions lists them all.
const (
	ActionRevokeTokens   = "revoke-tokens"
	ActionRevokeUsers    = "revoke-users"
	ActionRevokeClients  = "revoke-clients"
	ActionRevokeSessions = "revoke-sessions"
	ActionRevokeKey      = "revoke-key"
	// ActionRotateKey is the planned rotation: switch to the next key, retire the old kid.
	ActionRotateKey = "rotate-key"
	ActionRevokeMFA = "revoke-mfa"
	// ActionRevokeIssuedBefore recalls everything issued before an instant.
	ActionRevokeIssuedBefore = "revoke-issued-before"
	// ActionRefreshReplay is refresh-token theft: rotate, then replay the old refresh token.
	ActionRefreshReplay = "refresh-replay"
	// ActionRevokeAPIKeys recalls API keys at the reference API-key authority.
	ActionRevokeAPIKeys = "revoke-api-keys"
	ActionHTTP          = "http"
	ActionCommand       = "command"
	// ActionSSFEvent sends a Shared Signals event (CAEP, RISC) per victim from reference/ssf.
	ActionSSFEvent = "ssf-event"
)

// DefaultActions is the list of recall actions accepted when Load is not given
// [WithKnownActions]: the actions of the reference issuer plus http and command.
var DefaultActions = []string{ActionRevokeTokens, ActionRevokeUsers, ActionRevokeClients,
	ActionRevokeSessions, ActionRevokeKey, ActionRotateKey, ActionRevokeMFA, ActionRevokeIssuedBefore, ActionRefreshReplay, ActionRevokeAPIKeys, ActionHTTP, ActionCommand, ActionSSFEvent}

// SourceKinds is the list of token source kinds accepted in tokens.source.kind (the engine's
// registry in internal/source; a test in internal/plan fails when they differ).
var SourceKinds = []string{"command", "http", "rp-sessions"}

// ProbeKinds is the list of probe kinds accepted in probe.kind when Load is not given a
// [Registry].
var ProbeKinds = []string{"http"}

// DefaultFaults is the list of fault kinds accepted when Load is not given [WithKnownFaults].
var DefaultFaults = []string{"pause", "kill", "restart", "stop", "partition", "latency",
	"bandwidth", "timeout", "reset_peer", "slow_close", "lose_answers", "command", "http"}

// Revoke-tokens modes.
const (
	// ModeBatch recalls every victim in one admin API call.
	ModeBatch = "batch"
	// ModeRFC7009 recalls victims one by one through the RFC 7009 revocation endpoint.
	ModeRFC7009 = "rfc7009"
)

// Modes lists the valid values of recall.mode (only for revoke-tokens).
var Modes = []string{ModeBatch, ModeRFC7009}

// Severities of an expectation.
const (
	// SeverityFail makes the drill FAIL when the expectation does not hold (the default).
	SeverityFail = "fail"
	// SeverityWarn reports the expectation without failing the drill.
	SeverityWarn = "warn"
)

// Severities lists the valid values of an expectation's severity.
var Severities = []string{SeverityFail, SeverityWarn}

// TokenPlaceholder is replaced by the credential in a probe's headers, path, url and body.
const TokenPlaceholder = "{{token}}"

// Scenario is one drill scenario file.
type Scenario struct {
	// Name identifies the scenario in reports; letters, digits, '.', '_' and '-'.
	Name string `yaml:"name" json:"name" jsonschema:"required,example=quickstart"`
	// Description says what the drill shows, for the report.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Seed drives every random choice (token spread, probe order); the same seed gives the same
	// drill. Default 0.
	Seed int64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// System is the system under test.
	System System `yaml:"system" json:"system" jsonschema:"required"`
	// Tokens is the credential population.
	Tokens Tokens `yaml:"tokens,omitempty" json:"tokens,omitempty"`
	// Traffic is the probing load.
	Traffic Traffic `yaml:"traffic" json:"traffic" jsonschema:"required"`
	// Recall is what the trigger does and when.
	Recall Recall `yaml:"recall" json:"recall" jsonschema:"required"`
	// Faults are done to the system on the drill's timeline.
	Faults []Fault `yaml:"faults,omitempty" json:"faults,omitempty"`
	// Expect lists the expectations; the drill passes only if all of severity fail hold (and no
	// probed component was unavailable).
	Expect []Expectation `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Report says where and how the report is written.
	Report ReportSpec `yaml:"report,omitempty" json:"report,omitempty"`

	// Path is the file the scenario was read from (as given to Load or Parse).
	Path string `yaml:"-" json:"-"`
	// Source is the file's text as written, with ${VAR} references not expanded: the only form
	// of the scenario that may appear in reports.
	Source []byte `yaml:"-" json:"-"`

	// Overrides are the `--set path=value` overrides applied on top of Source, in order
	// ([WithOverrides]).
	Overrides []string `yaml:"-" json:"-"`

	// locate gives the position of a field path in the file (set by Parse).
	locate func(path string) (line, col int)
	// overridden gives the override that set the value at a field path, or "" (set by Parse).
	overridden func(path string) string
}

// System is the system under test.
type System struct {
	// Runtime is where the components run: embedded, docker or external. Default embedded.
	Runtime string `yaml:"runtime,omitempty" json:"runtime,omitempty"`
	// StartTimeout bounds how long the whole system may take to become ready. Default 30s.
	StartTimeout time.Duration `yaml:"start_timeout,omitempty" json:"start_timeout,omitempty"`
	// Components are the parts of the system, started in depends_on order.
	Components []Component `yaml:"components" json:"components" jsonschema:"required,minItems=1"`
	// Links are connections from one component to another that the harness routes through a
	// proxy, so that link faults (partition, latency, …) can cut or slow them. In the embedded
	// runtime a reference gateway or service reaches the issuer or a reference/nats bus through
	// its link, and the issuer the bus.
	Links []Link `yaml:"links,omitempty" json:"links,omitempty"`
}

// Link is a connection from one component to another, routed through a proxy.
type Link struct {
	// From is the component that opens the connections (e.g. a gateway). Required.
	From string `yaml:"from" json:"from" jsonschema:"required,example=edge-push"`
	// To is the component it reaches (e.g. the issuer or the bus). Required.
	To string `yaml:"to" json:"to" jsonschema:"required,example=bus"`
}

// String returns "from->to", the form faults[].link uses.
func (l Link) String() string { return l.From + "->" + l.To }

// Component is one named part of the system under test.
type Component struct {
	// Name identifies the component in references, labels and reports: a DNS label (lowercase
	// letters, digits and '-').
	Name string `yaml:"name" json:"name" jsonschema:"required,example=edge-push"`
	// Kind is what the component is: issuer, gateway, cache, service, bus or other. Default: the
	// kind of the reference component named by use.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Use names a reference component (reference/issuer, reference/gateway, reference/service,
	// reference/nats); empty for your own component.
	Use string `yaml:"use,omitempty" json:"use,omitempty"`
	// With configures a reference component; its keys depend on use.
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
	// Image is the container image (docker runtime).
	Image string `yaml:"image,omitempty" json:"image,omitempty" jsonschema:"example=example/api:1.2"`
	// URL is where an already running component is reached (external runtime, or a component of
	// yours in the embedded runtime).
	URL string `yaml:"url,omitempty" json:"url,omitempty" jsonschema:"format=uri"`
	// Env is the container's environment (docker runtime). Values may use ${VAR}.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Command overrides the container's command (docker runtime).
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	// Ports are the container ports to expose, "8080" or "8080/tcp" (docker runtime). The first
	// is the component's endpoint.
	Ports []string `yaml:"ports,omitempty" json:"ports,omitempty"`
	// DependsOn names components that must be ready before this one starts.
	DependsOn []string `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
	// Wait says when the component is ready (docker runtime).
	Wait *Wait `yaml:"wait,omitempty" json:"wait,omitempty"`
	// Probe says how to ask the component whether it honours a credential. Reference gateways,
	// services and issuers have a built-in probe; your own components need one if probed.
	Probe *Probe `yaml:"probe,omitempty" json:"probe,omitempty"`
	// OAuth describes an issuer that is not reference/issuer by standards: its endpoints,
	// discovered (RFC 8414, then OpenID Connect Discovery) or set by hand.
	OAuth *OAuth `yaml:"oauth,omitempty" json:"oauth,omitempty"`
}

// OAuth is how the harness reaches a standards-based OAuth 2.0 / OpenID Connect provider. Each
// endpoint may be set by hand; set ones win over discovery. The endpoints in use are recorded in
// report.json.
type OAuth struct {
	// Discovery is the metadata URL. Default: RFC 8414 at the component's url, then OpenID
	// Connect discovery.
	Discovery string `yaml:"discovery,omitempty" json:"discovery,omitempty" jsonschema:"format=uri"`
	// TokenEndpoint is where tokens are minted.
	TokenEndpoint string `yaml:"token_endpoint,omitempty" json:"token_endpoint,omitempty" jsonschema:"format=uri"`
	// RevocationEndpoint is the RFC 7009 endpoint of revoke-tokens mode rfc7009.
	RevocationEndpoint string `yaml:"revocation_endpoint,omitempty" json:"revocation_endpoint,omitempty" jsonschema:"format=uri"`
	// JWKSURI is the provider's key set.
	JWKSURI string `yaml:"jwks_uri,omitempty" json:"jwks_uri,omitempty" jsonschema:"format=uri"`
	// Introspection is the RFC 7662 endpoint that confirms recalls (recall.confirm).
	Introspection *Introspection `yaml:"introspection,omitempty" json:"introspection,omitempty"`
	// Proxy is an HTTP proxy for the harness's requests to the provider. Default: none (the
	// environment's HTTP_PROXY is never used).
	Proxy string `yaml:"proxy,omitempty" json:"proxy,omitempty" jsonschema:"format=uri"`
}

// Introspection is an RFC 7662 endpoint, often on another host or port with its own
// credentials.
type Introspection struct {
	// Endpoint is the introspection URL. Default: the discovered introspection_endpoint.
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty" jsonschema:"format=uri"`
	// Auth is how the harness authenticates: client (as the client that owns the token),
	// basic (username and password), bearer (token) or none. Default client.
	Auth string `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Username is for basic; use ${VAR}.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// Password is for basic; use ${VAR}.
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
	// Token is for bearer; use ${VAR}.
	Token string `yaml:"token,omitempty" json:"token,omitempty"`
}

// IntrospectionAuths lists the valid values of oauth.introspection.auth.
var IntrospectionAuths = []string{"client", "basic", "bearer", "none"}

// Wait says when a started component is ready: exactly one of HTTP, Log and Port.
type Wait struct {
	// HTTP is a path polled until it answers Status.
	HTTP string `yaml:"http,omitempty" json:"http,omitempty" jsonschema:"example=/healthz"`
	// Status is the status HTTP must answer. Default 200.
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// Log is a text the component's log must contain.
	Log string `yaml:"log,omitempty" json:"log,omitempty"`
	// Port is a container port that must accept connections.
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
	// Timeout bounds the wait. Default 30s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Probe is an HTTP request template asking one component whether it honours a credential, and
// the classification of its answer: reject if it matches Reject, accept if it matches Accept,
// error otherwise (also on transport errors and timeouts).
type Probe struct {
	// Kind is the probe kind, one of the engine's probe registry. Default http: the request
	// below.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// With holds the probe kind's own parameters; every key must be known to the kind.
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
	// Method is the HTTP method. Default GET.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Path is appended to the component's endpoint. Default "/". Set Path or URL, not both.
	Path string `yaml:"path,omitempty" json:"path,omitempty" jsonschema:"example=/api/whoami"`
	// URL is an absolute URL to probe instead of the component's endpoint.
	URL string `yaml:"url,omitempty" json:"url,omitempty" jsonschema:"format=uri"`
	// Headers are the request headers. Default {Authorization: "Bearer {{token}}"}.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Body is the request body. {{token}} is replaced by the credential here too.
	Body string `yaml:"body,omitempty" json:"body,omitempty"`
	// Timeout bounds one probe; a probe that times out is an error. Default 2s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Accept matches answers that honour the credential. Default: any 2xx status.
	Accept Match `yaml:"accept,omitempty" json:"accept,omitempty"`
	// Reject matches answers that refuse the credential. Default: status 401 or 403.
	Reject Match `yaml:"reject,omitempty" json:"reject,omitempty"`
}

// Match matches an HTTP answer: all of its conditions that are set must hold.
type Match struct {
	// Status lists the matching status codes. Empty: any 2xx for accept; 401 and 403 are the
	// default for reject.
	Status []int `yaml:"status,omitempty" json:"status,omitempty"`
	// BodyMatch is a regular expression (RE2) the body must match.
	BodyMatch *Regexp `yaml:"body_match,omitempty" json:"body_match,omitempty"`
	// JSON is a condition on the JSON body, e.g. active == true (RFC 7662 introspection).
	JSON *expect.JSONCond `yaml:"json,omitempty" json:"json,omitempty"`
}

// Tokens is the credential population minted before the recall.
type Tokens struct {
	// Issuer names the component that mints the tokens. Default: the only component of kind
	// issuer.
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	// Grant is the OAuth 2.0 grant used to mint: client_credentials or password. Default
	// client_credentials.
	Grant string `yaml:"grant,omitempty" json:"grant,omitempty"`
	// Victims is how many credentials the recall targets. Default 100, at most 1,000,000 (with controls).
	Victims int `yaml:"victims,omitempty" json:"victims,omitempty" jsonschema:"minimum=1,maximum=1000000"`
	// Controls is how many credentials must stay valid throughout. Default 20.
	Controls int `yaml:"controls,omitempty" json:"controls,omitempty" jsonschema:"minimum=0,maximum=1000000"`
	// Users is how many users the reference issuer registers for the password grant (default
	// 10, at most 100000), or the existing users of your provider: a list of {username,
	// password, totp}, or {file: users.csv} with lines username,password[,totp_secret].
	Users Users `yaml:"users,omitempty" json:"users,omitempty"`
	// Clients is how many OAuth clients the reference issuer registers (default 1, at most
	// 10000), or a list of your provider's existing clients: {id, secret, auth, key_file,
	// key_id, scope}.
	Clients Clients `yaml:"clients,omitempty" json:"clients,omitempty"`
	// RefreshTokens is a file of refresh tokens, one a line, for the refresh_token grant; each
	// rotated refresh token the provider returns is kept for the next use.
	RefreshTokens string `yaml:"refresh_tokens,omitempty" json:"refresh_tokens,omitempty"`
	// Scope is the scope requested for every credential.
	Scope string `yaml:"scope,omitempty" json:"scope,omitempty"`
	// Source, when set, obtains the credentials from a command or an HTTP request instead of
	// minting them at the issuer: for flows the harness cannot drive (an authorization code
	// through a browser, a device code, API keys from a console). The issuer still serves
	// discovery, revocation and introspection. Not with users or refresh_tokens.
	Source *TokenSource `yaml:"source,omitempty" json:"source,omitempty"`
	// Recovery is how many affected identities (the victims' users for the password grant,
	// their clients otherwise) get a fresh credential after the recall, to measure recovery
	// time. 0 turns the measurement off. Default 20.
	Recovery int `yaml:"recovery,omitempty" json:"recovery,omitempty" jsonschema:"minimum=0,maximum=1000000"`
}

// TokenSource is tokens.source: a command or an HTTP request that gives the drill's
// credentials. It is called once for the victims (RECALL_COHORT=victims, RECALL_COUNT=
// tokens.victims; {{cohort}} and {{count}} in an http source's url, headers and body), once
// for the controls (RECALL_COHORT=controls), and once per identity re-issued for recovery time
// (RECALL_COHORT=reissue, RECALL_COUNT=1, RECALL_SUB, RECALL_CLIENT_ID). Each call gives
// exactly that many new credentials: one a line, or JSON (an array, or JSON lines) of
// {token, refresh_token, expires_in, sub, client_id, sid, jti, kid}.
type TokenSource struct {
	// Kind is command (with: run, env, timeout, format) or http (with: url, method, headers,
	// body, timeout, format). Required.
	Kind string `yaml:"kind" json:"kind" jsonschema:"required"`
	// With holds the kind's parameters.
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
}

// Traffic is the probing load sent while the drill runs.
type Traffic struct {
	// Rate is the probe rate, "N/s", "N/m" or "N/ms". Required.
	Rate Rate `yaml:"rate" json:"rate" jsonschema:"required"`
	// Ramp, when set, raises the rate linearly at the start of traffic.
	Ramp *Ramp `yaml:"ramp,omitempty" json:"ramp,omitempty"`
	// Duration is how long traffic runs; the recall and every fault start within it. Required.
	Duration time.Duration `yaml:"duration" json:"duration" jsonschema:"required"`
	// Workers bounds concurrent probes per probed component, so that a slow or hanging
	// component holds only its own. Default 16, at most 10,000.
	Workers int `yaml:"workers,omitempty" json:"workers,omitempty" jsonschema:"minimum=1,maximum=10000"`
	// Targets names the components probed. Default: every gateway and service, and every
	// component with a probe.
	Targets []string `yaml:"targets,omitempty" json:"targets,omitempty"`
	// Recheck is the share of post-recall probes that re-check pairs already converged, to catch
	// resurrections. Default 10%.
	Recheck Percent `yaml:"recheck,omitempty" json:"recheck,omitempty"`
	// Controls is the share of probes carrying control credentials. Default 10% (0% when
	// tokens.controls is 0).
	Controls Percent `yaml:"controls,omitempty" json:"controls,omitempty"`
	// Sample probes only a seeded sample of the victims at each component: a count ("100") or
	// a share of tokens.victims ("10%"). Every victim is still recalled. Default: every victim.
	// Not with resolution.
	Sample *SampleSize `yaml:"sample,omitempty" json:"sample,omitempty"`
	// Resolution sizes the sample instead: as many victims per component as the rate can
	// revisit every Resolution after the trigger (rate × victim share × resolution ÷ probed
	// components). Not with sample; 0s is the same as leaving it out.
	Resolution time.Duration `yaml:"resolution,omitempty" json:"resolution,omitempty"`
	// AfterFaults, when set, keeps traffic running at least this long after the last fault's
	// window ended (a restart ends when the component is ready again), however long that took:
	// the drill then observes what follows a fault even on a slow engine. Traffic still lasts
	// at least Duration. Default 0 (traffic lasts Duration).
	AfterFaults time.Duration `yaml:"after_faults,omitempty" json:"after_faults,omitempty"`
	// Settle, when set, holds traffic up to this much longer than it would last while the
	// drill is still measuring: the recall has not returned, or a component that has begun
	// enforcing it still honours some recalled credentials. On a slow machine or stack each
	// pair is probed less often than planned, and this lets the drill finish measuring what it
	// started. A component that enforced none (jwt-only) is not waited for. Default 0 (no hold).
	Settle time.Duration `yaml:"settle,omitempty" json:"settle,omitempty"`
}

// SampleSize is a number of victims, written as a count ("100") or as a share of the victims
// with a percent sign ("10%").
type SampleSize struct {
	// Count is the number of victims, when written as a count.
	Count int
	// Share is the share of the victims, 0..1, when written as a percentage.
	Share float64
	// Text is the value as written.
	Text string
}

// ParseSampleSize parses "100" or "10%".
func ParseSampleSize(s string) (SampleSize, error) {
	t := strings.TrimSpace(s)
	if num, ok := strings.CutSuffix(t, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f <= 0 || f > 100 || f != f {
			return SampleSize{}, fmt.Errorf("bad sample %q: want a share in (0%%, 100%%] like 10%%, or a count like 100", s)
		}
		return SampleSize{Share: f / 100, Text: s}, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 {
		return SampleSize{}, fmt.Errorf("bad sample %q: want a count >= 1 like 100, or a share like 10%%", s)
	}
	return SampleSize{Count: n, Text: s}, nil
}

// String returns the value as written, or its canonical form.
func (z SampleSize) String() string {
	switch {
	case z.Text != "":
		return z.Text
	case z.Share > 0:
		return strconv.FormatFloat(z.Share*100, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(z.Count)
}

// Of returns the number of victims the size stands for out of victims (at least 1, at most
// victims).
func (z SampleSize) Of(victims int) int {
	if z.Share > 0 {
		return min(max(int(math.Round(z.Share*float64(victims))), 1), victims)
	}
	return min(z.Count, victims)
}

// UnmarshalText parses a sample size.
func (z *SampleSize) UnmarshalText(b []byte) error {
	v, err := ParseSampleSize(string(b))
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// MarshalText returns String().
func (z SampleSize) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

// UnmarshalYAML parses a sample size (a YAML integer or string).
func (z *SampleSize) UnmarshalYAML(unmarshal func(any) error) error {
	return unmarshalText(unmarshal, z)
}

// MarshalYAML returns String().
func (z SampleSize) MarshalYAML() (any, error) { return z.String(), nil }

// Ramp raises the rate linearly from From to the traffic rate over For.
type Ramp struct {
	// From is the rate at the start of traffic. Required.
	From Rate `yaml:"from" json:"from" jsonschema:"required"`
	// For is how long the ramp lasts. Required.
	For time.Duration `yaml:"for" json:"for" jsonschema:"required"`
}

// Recall is what the trigger does and when.
type Recall struct {
	// At is when the recall starts, from the start of traffic ("15s"). Required.
	At Offset `yaml:"at" json:"at" jsonschema:"required"`
	// Action is what the recall does: revoke-tokens, revoke-users, revoke-clients,
	// revoke-sessions, revoke-key, rotate-key, revoke-mfa, revoke-issued-before,
	// refresh-replay, revoke-api-keys, http or command. Default revoke-tokens.
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Select is which credentials are recalled. Only victims. Default victims.
	Select string `yaml:"select,omitempty" json:"select,omitempty"`
	// Mode is how revoke-tokens is sent: batch (one admin call) or rfc7009 (one RFC 7009 call per
	// token). Default batch; only for revoke-tokens.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Concurrency bounds the requests in flight in mode rfc7009. Default 32.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty" jsonschema:"minimum=1,maximum=10000"`
	// Confirm asks the issuer by introspection, after the recall, whether every victim is
	// inactive at the source. Default false.
	Confirm bool `yaml:"confirm,omitempty" json:"confirm,omitempty"`
	// ConfirmWindow is how long after its acknowledgement a recalled credential may still be
	// active at the source before it counts as ineffective (confirm: true): providers that apply
	// revocations asynchronously need longer. Default 2s, at most traffic.duration.
	ConfirmWindow time.Duration `yaml:"confirm_window,omitempty" json:"confirm_window,omitempty"`
	// WaitForBaseline holds the recall past at, at most this long, until every probed victim
	// pair has been seen accepted at each component that accepted any (a pair with no accept
	// before the recall measures nothing). Traffic then ends as much later, so the drill
	// observes as long after the recall as planned; faults keep their instants. Default 0 (the
	// recall fires at at).
	WaitForBaseline time.Duration `yaml:"wait_for_baseline,omitempty" json:"wait_for_baseline,omitempty"`
	// With holds the action's parameters: http {method, url, headers, body}, command {run}.
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
	// SSFReceiver subscribes recall, as an OpenID Shared Signals Event Receiver, to a
	// transmitter of the system under test (the provider emits SSF events after a recall): the
	// report gets a component of kind ssf-receiver with, per recalled credential, recall
	// acknowledged → event issued → event delivered to recall. Optional.
	SSFReceiver *SSFReceiver `yaml:"ssf_receiver,omitempty" json:"ssf_receiver,omitempty"`
}

// SSF receiver delivery methods (recall.ssf_receiver.delivery).
const (
	SSFDeliveryPush = "push" // RFC 8935: recall serves an endpoint on 127.0.0.1
	SSFDeliveryPoll = "poll" // RFC 8936: recall polls the transmitter
)

// SSFReceiver is recall.ssf_receiver: which transmitter recall subscribes to, how, and for
// which events.
type SSFReceiver struct {
	// Transmitter names the component that runs the transmitter: metadata, when a path, is
	// read at its endpoint. Default: the issuer (tokens.issuer).
	Transmitter string `yaml:"transmitter,omitempty" json:"transmitter,omitempty"`
	// Metadata is the transmitter's configuration metadata document (SSF 1.0 §7.2): an
	// absolute URL, or a path on the transmitter component's endpoint. Default
	// /.well-known/ssf-configuration.
	Metadata string `yaml:"metadata,omitempty" json:"metadata,omitempty" jsonschema:"example=/.well-known/ssf-configuration/ssf"`
	// Token is the bearer token of the stream management API and the poll endpoint; write it
	// as ${VAR}. Required.
	Token string `yaml:"token" json:"token" jsonschema:"required,example=${SSF_TOKEN}"`
	// Delivery is push (RFC 8935: recall serves an endpoint on 127.0.0.1, so the transmitter
	// must reach the harness's loopback) or poll (RFC 8936). Default push.
	Delivery string `yaml:"delivery,omitempty" json:"delivery,omitempty" jsonschema:"enum=push,enum=poll"`
	// Events are the event types requested: CAEP or RISC short names (session-revoked,
	// credential-change, token-claims-change, credential-compromise, account-disabled,
	// sessions-revoked) or event type URIs. Default every short name.
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// PollInterval is the pause between two polls that returned nothing (poll only). Default
	// 100ms.
	PollInterval time.Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`
	// Wait is how long, after traffic ends, recall still waits for the events of recalled
	// credentials that have none yet. Default 2s.
	Wait time.Duration `yaml:"wait,omitempty" json:"wait,omitempty"`
	// Verify is how long, once its stream exists, recall waits for the verification event it
	// asks for (SSF 1.0 §8.1.4): the drill fails at start when its events cannot reach it.
	// 0s asks for none. Default 10s.
	Verify *time.Duration `yaml:"verify,omitempty" json:"verify,omitempty"`
}

// Fault is something done to the system on the drill's timeline.
type Fault struct {
	// Name identifies the fault in the report. Default "<fault>-<index>".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// At is when the fault starts: "5s" from the start of traffic, or relative to the recall
	// ("recall-1s", "recall+2s"). Required.
	At Offset `yaml:"at" json:"at" jsonschema:"required"`
	// For is how long the fault lasts before it is reverted. Required except for restart,
	// command and http, which may be instantaneous.
	For time.Duration `yaml:"for,omitempty" json:"for,omitempty"`
	// Fault is the fault kind: pause, kill, restart, stop, partition, latency, bandwidth,
	// timeout, reset_peer, slow_close, lose_answers, command or http. Required.
	Fault string `yaml:"fault" json:"fault" jsonschema:"required"`
	// Target names the component the fault is done to. Required except for command and http
	// and link faults.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Link names a declared link, "from->to" (system.links), for the link faults: partition,
	// latency, bandwidth, timeout, reset_peer, slow_close and lose_answers.
	Link string `yaml:"link,omitempty" json:"link,omitempty" jsonschema:"example=edge-push->bus"`
	// With holds the fault's parameters; they depend on the fault kind.
	With map[string]any `yaml:"with,omitempty" json:"with,omitempty"`
}

// Expectation is one entry of expect: an expression, or a mapping with the expression, its
// severity and a note.
type Expectation struct {
	// Text is the expression as written.
	Text string `yaml:"expr" json:"expr" jsonschema:"required"`
	// Expr is the parsed expression.
	Expr expect.Expr `yaml:"-" json:"-"`
	// Severity is fail (the drill fails if the expectation does not hold) or warn. Default fail.
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
	// Note explains the expectation in the report.
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
	// Line and Col locate the list item in the scenario file (1-based).
	Line int `yaml:"-" json:"-"`
	Col  int `yaml:"-" json:"-"`
}

// ReportSpec says where and how the report is written.
type ReportSpec struct {
	// Dir is the directory report.json (and report.html) are written to, each drill in its own
	// <scenario>-<timestamp> directory under it; a relative path is resolved against the
	// scenario file's directory. Default "reports" under the working directory.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// HTML also writes report.html. Default true.
	HTML bool `yaml:"html" json:"html"`
	// JUnit, when set, also writes JUnit XML to this path; a relative path is resolved against
	// Dir.
	JUnit string `yaml:"junit,omitempty" json:"junit,omitempty"`
}

// Defaults. Each is assigned before its section is decoded, so a key left out keeps its
// default (blackbox_exporter's DefaultModule pattern).
var (
	// DefaultSystem is the default system section.
	DefaultSystem = System{Runtime: RuntimeEmbedded, StartTimeout: 30 * time.Second}
	// DefaultTokens is the default tokens section.
	DefaultTokens = Tokens{Grant: "client_credentials", Victims: 100, Controls: 20, Users: Users{Count: 10}, Clients: Clients{Count: 1}, Recovery: 20}
	// DefaultTraffic is the default traffic section; rate and duration have no default.
	DefaultTraffic = Traffic{Workers: 16, Recheck: Percent{Fraction: 0.10, Text: "10%"}, Controls: Percent{Fraction: 0.10, Text: "10%"}}
	// DefaultRecall is the default recall section; at has no default. Mode defaults to batch
	// for revoke-tokens only.
	DefaultRecall = Recall{Action: ActionRevokeTokens, Select: "victims", Concurrency: 32, ConfirmWindow: 2 * time.Second}
	// DefaultWait is the default wait of a component.
	DefaultWait = Wait{Status: 200, Timeout: 30 * time.Second}
	// DefaultProbe is the default probe of a component. Headers default to
	// {Authorization: "Bearer {{token}}"} when none are given.
	DefaultProbe = Probe{Method: "GET", Timeout: 2 * time.Second, Reject: Match{Status: []int{401, 403}}}
	// DefaultExpectation is the default of an expect entry.
	DefaultExpectation = Expectation{Severity: SeverityFail}
	// DefaultReport is the default report section.
	DefaultReport = ReportSpec{Dir: "reports", HTML: true}
	// DefaultScenario holds the default of every section, for sections left out entirely.
	DefaultScenario = Scenario{System: DefaultSystem, Tokens: DefaultTokens, Traffic: DefaultTraffic,
		Recall: DefaultRecall, Report: DefaultReport}
)

// DefaultProbeHeaders returns the headers of a probe that sets none.
func DefaultProbeHeaders() map[string]string {
	return map[string]string{"Authorization": "Bearer " + TokenPlaceholder}
}

// Component returns the component called name.
func (s *Scenario) Component(name string) (*Component, bool) {
	for i := range s.System.Components {
		if s.System.Components[i].Name == name {
			return &s.System.Components[i], true
		}
	}
	return nil, false
}

// ProbedComponents returns the components traffic probes: those named by traffic.targets, in
// that order, or by default every gateway and service and every component with a probe, in
// scenario order.
func (s *Scenario) ProbedComponents() []*Component {
	var out []*Component
	if len(s.Traffic.Targets) > 0 {
		for _, name := range s.Traffic.Targets {
			if c, ok := s.Component(name); ok && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		return out
	}
	for i := range s.System.Components {
		c := &s.System.Components[i]
		if c.Kind == KindGateway || c.Kind == KindService || c.Probe != nil {
			out = append(out, c)
		}
	}
	return out
}

// IsReference reports whether the component is a reference component (use: reference/...).
func (c *Component) IsReference() bool { return c.Use != "" }

// UnmarshalYAML applies DefaultScenario, then decodes.
func (s *Scenario) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultScenario
	type scenario Scenario
	return unmarshal((*scenario)(s))
}

// UnmarshalYAML applies DefaultSystem, then decodes.
func (s *System) UnmarshalYAML(unmarshal func(any) error) error {
	*s = DefaultSystem
	type system System
	return unmarshal((*system)(s))
}

// UnmarshalYAML applies DefaultTokens, then decodes.
func (t *Tokens) UnmarshalYAML(unmarshal func(any) error) error {
	*t = DefaultTokens
	type tokens Tokens
	return unmarshal((*tokens)(t))
}

// UnmarshalYAML applies DefaultTraffic, then decodes.
func (t *Traffic) UnmarshalYAML(unmarshal func(any) error) error {
	*t = DefaultTraffic
	type traffic Traffic
	return unmarshal((*traffic)(t))
}

// UnmarshalYAML applies DefaultRecall, then decodes.
func (r *Recall) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultRecall
	type recall Recall
	return unmarshal((*recall)(r))
}

// UnmarshalYAML applies DefaultWait, then decodes.
func (w *Wait) UnmarshalYAML(unmarshal func(any) error) error {
	*w = DefaultWait
	type wait Wait
	return unmarshal((*wait)(w))
}

// UnmarshalYAML applies DefaultProbe, then decodes.
func (p *Probe) UnmarshalYAML(unmarshal func(any) error) error {
	*p = DefaultProbe
	p.Reject.Status = slices.Clone(DefaultProbe.Reject.Status) // never share the default's array
	type probe Probe
	return unmarshal((*probe)(p))
}

// UnmarshalYAML applies DefaultReport, then decodes.
func (r *ReportSpec) UnmarshalYAML(unmarshal func(any) error) error {
	*r = DefaultReport
	type report ReportSpec
	return unmarshal((*report)(r))
}

// UnmarshalYAML accepts an expression or a mapping {expr, severity, note}, applies
// DefaultExpectation and parses the expression. Line and Col are set by Load.
func (e *Expectation) UnmarshalYAML(unmarshal func(any) error) error {
	*e = DefaultExpectation
	var text string
	if err := unmarshal(&text); err == nil {
		e.Text = text
	} else {
		type expectation Expectation
		if err := unmarshal((*expectation)(e)); err != nil {
			return err
		}
	}
	x, err := expect.Parse(e.Text)
	if err != nil {
		return typeError(err)
	}
	e.Expr = x
	return nil
}

// MarshalYAML gives back the short form (the expression) when severity and note are default.
func (e Expectation) MarshalYAML() (any, error) {
	if (e.Severity == "" || e.Severity == SeverityFail) && e.Note == "" {
		return e.Text, nil
	}
	type expectation Expectation
	return expectation(e), nil
}
