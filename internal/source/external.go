package source

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/params"
)

// External token sources (tokens.source) obtain the drill's credentials from outside the
// harness, for the flows it cannot drive: an authorization code through a browser, a device
// code, API keys from an admin console. A command is run, or an HTTP request sent, once per
// cohort, and the credentials are read back from its output (see [ParseCredentials]):
//
//   - victims first: RECALL_COHORT=victims, RECALL_COUNT=<tokens.victims> (command), or
//     {{cohort}} and {{count}} in the request's url, headers and body (http);
//   - then controls: RECALL_COHORT=controls, RECALL_COUNT=<tokens.controls> (not when 0); for
//     a key recall (revoke-key, rotate-key, or an http recall by {{kid}}) the source rotates the
//     provider's signing key before it answers, so that the controls are signed by another key
//     than the victims (checked: see [External.checkKeySplit]);
//   - and for recovery time, once per re-issued identity: RECALL_COHORT=reissue, RECALL_COUNT=1,
//     RECALL_SUB and RECALL_CLIENT_ID naming the identity ({{sub}}, {{client_id}} for http).
//
// Each call must give exactly RECALL_COUNT credentials, none seen before.
//
// KindRPSessions is the reference stack's own: cookie sessions opened at a reference/rp
// through its admin API (internal/source/reference.RP).
const (
	KindCommand    = "command"
	KindHTTP       = "http"
	KindRPSessions = "rp-sessions"
)

// Cohorts named to an external source.
const (
	CohortVictims  = "victims"
	CohortControls = "controls"
	CohortReissue  = "reissue"
)

// Output formats of an external source.
const (
	FormatAuto  = "auto"
	FormatLines = "lines"
	FormatJSON  = "json"
)

// Formats lists the valid values of a source's format.
var Formats = []string{FormatAuto, FormatLines, FormatJSON}

// Bounds of an external source's call.
const (
	// DefaultSourceTimeout bounds one call (with.timeout).
	DefaultSourceTimeout = 60 * time.Second
	// MaxSourceOutput bounds what one call may print or answer: a million credentials of a
	// few hundred bytes would not fit, but a drill of that size does not come from a script.
	MaxSourceOutput = 16 << 20
)

// ExternalKind is a registered kind of tokens.source: its name, what it does and its with:
// parameters. The scenario's list of kinds (scenario.SourceKinds) and its JSON Schema must
// match [ExternalKindNames] (a test in internal/plan fails otherwise).
type ExternalKind struct {
	Name   string
	Doc    string
	Params params.Spec
}

var formatParam = params.Param{Key: "format", Type: params.Enum, Enum: Formats, Default: FormatAuto,
	Doc: "how the output is read: lines (one credential a line), json (an array, or JSON lines, of {token, refresh_token, expires_in, sub, client_id, sid, jti, kid}) or auto (json when it starts with [ or {)"}

var timeoutParam = params.Param{Key: "timeout", Type: params.Duration, Default: DefaultSourceTimeout.String(), Doc: "bounds one call"}

var externalKinds = []ExternalKind{
	{Name: KindCommand, Doc: "runs a command (argv, no shell) and reads the credentials it prints on stdout",
		Params: params.Spec{
			{Key: "run", Type: params.Argv, Required: true, Doc: "argv; RECALL_COHORT, RECALL_COUNT (and RECALL_SUB, RECALL_CLIENT_ID to re-issue) are in its environment"},
			{Key: "env", Type: params.Headers, Doc: "variables passed to the command (use ${VAR}); it gets only these, RECALL_* and PATH, HOME, USER, LANG, TMPDIR and the like"},
			timeoutParam, formatParam,
		}},
	{Name: KindHTTP, Doc: "sends an HTTP request and reads the credentials from a 2xx answer's body",
		Params: params.Spec{
			{Key: "url", Type: params.URL, Required: true, Doc: "{{cohort}}, {{count}}, {{sub}} and {{client_id}} are replaced (query-escaped)"},
			{Key: "method", Type: params.Method, Default: "GET"},
			{Key: "headers", Type: params.Headers, Doc: "request headers (use ${VAR} for credentials); placeholders as in url"},
			{Key: "body", Type: params.String, Doc: "request body; placeholders as in url"},
			timeoutParam, formatParam,
		}},
	{Name: KindRPSessions, Doc: "opens cookie sessions at a reference/rp through its admin API, as completed logins would, each labelled with its sub and OP session id (sid)",
		Params: params.Spec{
			{Key: "rp", Type: params.Component, Required: true, Doc: "the reference/rp component whose sessions the drill holds"},
			{Key: "users", Type: params.Int, Default: "10", Doc: "the victims' sessions are spread over this many users, the controls' over as many others"},
		}},
}

// ExternalKindNames lists the registered kinds of tokens.source.
func ExternalKindNames() []string {
	out := make([]string, len(externalKinds))
	for i, k := range externalKinds {
		out[i] = k.Name
	}
	return out
}

// LookupExternalKind returns the registered kind name.
func LookupExternalKind(name string) (ExternalKind, bool) {
	i := slices.IndexFunc(externalKinds, func(k ExternalKind) bool { return k.Name == name })
	if i < 0 {
		return ExternalKind{}, false
	}
	return externalKinds[i], true
}

// Call is one call of an external source.
type Call struct {
	// Cohort is victims, controls or reissue; Count how many credentials it must give.
	Cohort string
	Count  int
	// Sub and ClientID name the identity to re-issue for (reissue only; "" when unknown).
	Sub, ClientID string
}

// Fetch runs one call of an external source and returns its output, at most MaxSourceOutput
// bytes. Its errors quote at most a short redacted excerpt (of stderr, or of an error answer),
// never the output: the output is credentials.
type Fetch func(ctx context.Context, c Call) ([]byte, error)

// External is the Source over a command or an HTTP template (tokens.source).
type External struct {
	// Kind is command or http; What names the call in errors (the command's argv[0], or the
	// request's method and URL without query).
	Kind, What string
	Fetch      Fetch
	// Format is lines, json or auto.
	Format string
	// Clients are the scenario's clients (tokens.clients): a credential labelled with one's
	// client_id is owned by it (RFC 7009 and introspection as the owning client).
	Clients []*oauth.Client

	mu   sync.Mutex
	seen map[string]string // fingerprint -> cohort it came in
	desc Description
}

var _ Source = (*External)(nil)

// Mint implements Source: one call for the victims, then one for the controls.
func (e *External) Mint(ctx context.Context, pop Population, done func(int)) ([]*Token, error) {
	switch {
	case pop.MFA:
		return nil, fmt.Errorf("tokens.source %s cannot enrol MFA factors before minting: the recall action needs the reference issuer to mint", e.Kind)
	}
	victims, err := e.call(ctx, Call{Cohort: CohortVictims, Count: pop.Victims})
	if err != nil {
		return nil, err
	}
	for i, t := range victims {
		t.Index, t.Victim = i, true
	}
	if done != nil {
		done(len(victims))
	}
	tokens := victims
	if pop.Controls > 0 {
		if pop.NewSecondBeforeControls {
			if err := WaitForBoundary(ctx, victims); err != nil {
				return nil, err
			}
		}
		controls, err := e.call(ctx, Call{Cohort: CohortControls, Count: pop.Controls})
		if err != nil {
			return nil, err
		}
		for i, t := range controls {
			t.Index, t.Victim = pop.Victims+i, false
		}
		tokens = append(tokens, controls...)
		if done != nil {
			done(len(tokens))
		}
	}
	if pop.RotateKeyBeforeControls {
		if err := e.checkKeySplit(victims, tokens[len(victims):]); err != nil {
			return nil, err
		}
	}
	d := Description{Kind: e.Kind}
	clients, users := map[string]bool{}, map[string]bool{}
	for _, t := range tokens {
		if t.Opaque {
			d.Opaque++
		}
		if t.Client != "" {
			clients[t.Client] = true
		}
		if t.Claims.Subject != "" {
			users[t.Claims.Subject] = true
		}
		if !t.Expiry.IsZero() && (d.Expiry.IsZero() || t.Expiry.Before(d.Expiry)) {
			d.Expiry = t.Expiry
		}
	}
	d.Clients, d.Users = len(clients), len(users)
	e.mu.Lock()
	e.desc = d
	e.mu.Unlock()
	return tokens, nil
}

// checkKeySplit checks what a key recall needs of the population: every credential names its
// signing key (a JWT's kid, or a kid label), and no control is signed by a victim's key. The
// source itself rotates the provider's signing key when it is called for the controls (the
// drill cannot: no standard API rotates a key), and this is where a source that did not is
// caught, before any traffic, instead of as false rejects of every control.
func (e *External) checkKeySplit(victims, controls []*Token) error {
	what := fmt.Sprintf("tokens.source %s %s", e.Kind, e.What)
	keys := map[string]bool{}
	for i, t := range victims {
		if t.Claims.KeyID == "" {
			return fmt.Errorf("%s: victim %d (%s) names no signing key: a key recall needs JWTs with a kid in their header, or a kid label", what, i+1, t.ID())
		}
		keys[t.Claims.KeyID] = true
	}
	for i, t := range controls {
		switch {
		case t.Claims.KeyID == "":
			return fmt.Errorf("%s: control %d (%s) names no signing key: a key recall needs JWTs with a kid in their header, or a kid label", what, i+1, t.ID())
		case keys[t.Claims.KeyID]:
			return fmt.Errorf("%s: control %d (%s) is signed by kid %q, as victims are: the recall retires the victims' keys, so the controls must be signed by another; rotate the signing key when the source is called for RECALL_COHORT=controls ({{cohort}} controls)", what, i+1, t.ID(), t.Claims.KeyID)
		}
	}
	return nil
}

// Reissue implements Source: one call for one credential of t's identity.
func (e *External) Reissue(ctx context.Context, t *Token, _ bool) (*Token, error) {
	out, err := e.call(ctx, Call{Cohort: CohortReissue, Count: 1, Sub: t.Claims.Subject, ClientID: t.Client})
	if err != nil {
		return nil, err
	}
	nt := out[0]
	nt.Index, nt.Victim = t.Index, t.Victim
	return nt, nil
}

// Describe implements Source.
func (e *External) Describe() Description {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.desc
	d.Kind = e.Kind
	return d
}

// call runs one call and reads exactly c.Count new credentials from it.
func (e *External) call(ctx context.Context, c Call) ([]*Token, error) {
	what := fmt.Sprintf("tokens.source %s %s (%s, count %d)", e.Kind, e.What, c.Cohort, c.Count)
	out, err := e.Fetch(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	creds, err := ParseCredentials(out, e.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(creds) != c.Count {
		return nil, fmt.Errorf("%s: gave %d credentials, want %d (RECALL_COUNT)", what, len(creds), c.Count)
	}
	tokens := make([]*Token, len(creds))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen == nil {
		e.seen = map[string]string{}
	}
	for i, cr := range creds {
		t := cr.token(e.Clients)
		if prev, dup := e.seen[t.ID()]; dup {
			return nil, fmt.Errorf("%s: credential %d (%s) was already given for the %s: each call must give new credentials", what, i+1, t.ID(), prev)
		}
		e.seen[t.ID()] = c.Cohort
		tokens[i] = t
	}
	return tokens, nil
}

// Credential is one credential an external source gave: the token and what it says of it.
type Credential struct {
	Token, Refresh string
	// ExpiresIn is the token's lifetime from now (0: unknown).
	ExpiresIn time.Duration
	// Labels the source gave: sub, client_id, sid, jti, kid.
	Sub, ClientID, Sid, JTI, Kid string
}

// token turns c into a drill credential: a JWT's claims, completed by the source's labels (the
// only ones an opaque token has), its expiry from expires_in or exp, and its owner among
// clients by client_id.
func (c Credential) token(clients []*oauth.Client) *Token {
	t := &Token{Access: NewSecret(c.Token), Refresh: NewSecret(c.Refresh)}
	claims, exp, err := parseJWT(c.Token)
	if err != nil {
		t.Opaque = true
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&claims.JTI, c.JTI)
	fill(&claims.Subject, c.Sub)
	fill(&claims.ClientID, c.ClientID)
	fill(&claims.Session, c.Sid)
	fill(&claims.KeyID, c.Kid)
	t.Claims = claims
	t.Client = claims.ClientID
	t.User = claims.Subject // the user a re-issue (recovery time) is for
	for _, cl := range clients {
		if cl.ID == t.Client && t.Client != "" {
			t.Owner = cl
		}
	}
	t.Expiry = exp
	if c.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(c.ExpiresIn)
	}
	return t
}
