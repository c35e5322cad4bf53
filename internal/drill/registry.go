package drill

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/recall-drills/recall/internal/params"
)

// ActionParams is what an action constructor is given: the scenario's static parameters,
// checked once at plan time, before anything starts.
type ActionParams struct {
	// Mode selects a variant (revoke-tokens: batch or rfc7009); NewAction sets the kind's
	// default when it is empty.
	Mode string
	// Concurrency bounds concurrent requests of one-by-one modes.
	Concurrency int
	// With holds action-specific parameters from the scenario, already checked against the
	// kind's Params.
	With map[string]any
	// Logger is never nil in a constructor called by NewAction.
	Logger *slog.Logger
}

// ActionConstructor builds an action, checking its parameters once.
type ActionConstructor func(ActionParams) (Action, error)

// ActionKind is a registered recall action: everything the rest of the engine needs to know
// about it, so that adding an action is one [RegisterAction] call and no edit elsewhere (see
// docs/architecture.md).
type ActionKind struct {
	// Name is the value of recall.action, e.g. "revoke-tokens".
	Name string
	// Doc is one line for the docs.
	Doc string
	// Modes lists the values recall.mode may take; the first is the default. Empty: the action
	// has no modes and recall.mode must be left out.
	Modes []string
	// Params are the keys recall.with accepts, typed; any other key is a positioned error.
	Params params.Spec
	// NeedsIssuer is true when the action talks to the scenario's issuer (its admin API, its
	// RFC 7009 endpoint): the scenario must then have a component of kind issuer.
	NeedsIssuer bool
	// Population is what the credential population must be for the action to mean something.
	Population PopulationNeeds
	// PopulationWith, when set, adds what the population must be for the parameters a
	// scenario gives (the http action's {{issued_before}} needs NewSecond); see
	// [ActionKind.PopulationFor].
	PopulationWith func(with map[string]any) PopulationNeeds
	// Recovery says what a fresh credential takes after this action (recovery time).
	Recovery RecoveryNeeds
	// New builds the action; With has passed Params.Check and Mode is one of Modes.
	New ActionConstructor
}

// PopulationNeeds is what a recall action asks of the credential population.
type PopulationNeeds struct {
	// Grant, when set, is the grant the population must be minted with; Why says why.
	Grant, Why string
	// MFA makes users enrol a TOTP factor and log in with it (the action recalls factors).
	MFA bool
	// ExtraKey makes the issuer rotate its signing key after minting the victims and before
	// the controls, so that recalling the victims' key spares the controls.
	ExtraKey bool
	// NewSecond makes the source wait, between minting the victims and the controls, for the
	// whole second after the victims' latest iat (source.Boundary), so that recalling what was
	// issued before it spares the controls and the first controls share its second.
	NewSecond bool
	// RefreshTokens: the credentials must come with refresh tokens (tokens.grant password, or
	// refresh_token).
	RefreshTokens bool
}

// RecoveryNeeds says what recovery means after a recall action.
type RecoveryNeeds struct {
	// ReEnrolMFA: the recalled users' factors are gone, so a user enrols a new one before it
	// can get a fresh credential.
	ReEnrolMFA bool
}

var actions = map[string]ActionKind{}

// RegisterAction makes an action kind available to scenarios; call it from init (a _test.go
// file may register one too). A duplicate name, or a kind without name or constructor, panics.
func RegisterAction(k ActionKind) {
	if k.Name == "" || k.New == nil {
		panic("drill: RegisterAction needs a name and a constructor")
	}
	if _, dup := actions[k.Name]; dup {
		panic("drill: action registered twice: " + k.Name)
	}
	actions[k.Name] = k
}

// ActionNames lists registered action kinds, sorted.
func ActionNames() []string {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupAction returns the action kind registered as name.
func LookupAction(name string) (ActionKind, bool) {
	k, ok := actions[name]
	return k, ok
}

// PopulationFor is what the population must be for the action with the parameters with:
// Population, and what PopulationWith adds for them.
func (k ActionKind) PopulationFor(with map[string]any) PopulationNeeds {
	n := k.Population
	if k.PopulationWith == nil {
		return n
	}
	w := k.PopulationWith(with)
	n.MFA = n.MFA || w.MFA
	n.ExtraKey = n.ExtraKey || w.ExtraKey
	n.NewSecond = n.NewSecond || w.NewSecond
	n.RefreshTokens = n.RefreshTokens || w.RefreshTokens
	if n.Grant == "" {
		n.Grant, n.Why = w.Grant, w.Why
	}
	return n
}

// CheckParams checks mode and with against the kind: mode one of Modes (or empty), every key
// of with known and of its type. Errors about with are [*params.Error]s naming the key.
func (k ActionKind) CheckParams(mode string, with map[string]any) []error {
	var errs []error
	switch {
	case len(k.Modes) == 0 && mode != "":
		var have []string
		for _, n := range ActionNames() {
			if len(actions[n].Modes) > 0 {
				have = append(have, n)
			}
		}
		errs = append(errs, &ModeError{fmt.Sprintf("only for %s (action is %s)", strings.Join(have, ", "), k.Name)})
	case len(k.Modes) > 0 && mode != "" && !contains(k.Modes, mode):
		errs = append(errs, &ModeError{fmt.Sprintf("unknown mode %q (have: %s)", mode, strings.Join(k.Modes, ", "))})
	}
	for _, e := range k.Params.Check(with, "the "+k.Name+" action", nil) {
		errs = append(errs, e)
	}
	return errs
}

// ModeError is a problem with recall.mode.
type ModeError struct{ Msg string }

func (e *ModeError) Error() string { return "mode: " + e.Msg }

// NewAction builds the action of kind name, checking its mode and parameters.
func NewAction(name string, p ActionParams) (Action, error) {
	k, ok := actions[name]
	if !ok {
		return nil, fmt.Errorf("unknown action %q (have: %s)", name, strings.Join(ActionNames(), ", "))
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Concurrency <= 0 {
		p.Concurrency = DefaultRecallConcurrency
	}
	if p.Mode == "" && len(k.Modes) > 0 {
		p.Mode = k.Modes[0]
	}
	if errs := k.CheckParams(p.Mode, p.With); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", name, errors.Join(errs...))
	}
	return k.New(p)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DefaultRecallConcurrency bounds concurrent requests of one-by-one recalls.
const DefaultRecallConcurrency = 32

// Revoke-tokens modes.
const (
	// ModeBatch recalls every victim in one admin API call.
	ModeBatch = "batch"
	// ModeRFC7009 recalls victims one by one through the RFC 7009 revocation endpoint.
	ModeRFC7009 = "rfc7009"
)

func init() {
	admin := func(name, typ, doc string, key func(*Token) string) ActionKind {
		return ActionKind{Name: name, Doc: doc, NeedsIssuer: true, New: recallBy(name, typ, key)}
	}
	RegisterAction(ActionKind{Name: "revoke-tokens", Doc: "recall the victims' access tokens: in one admin call (batch) or one RFC 7009 call each",
		Modes: []string{ModeBatch, ModeRFC7009}, NeedsIssuer: true, New: newRevokeTokens,
		Params: params.Spec{
			{Key: "token_type_hint", Type: params.Enum, Enum: []string{"access_token", "refresh_token", "none"}, Default: "access_token",
				Doc: "rfc7009: the token_type_hint sent (none: leave it out)"},
			{Key: "client", Type: params.String, Doc: "rfc7009: authenticate as this client of tokens.clients instead of the token's owner"},
		}})
	RegisterAction(admin("revoke-users", "sub", "recall every credential of the victims' users", func(t *Token) string { return t.Claims.Subject }))
	RegisterAction(admin("revoke-clients", "client", "recall every credential of the victims' clients", func(t *Token) string { return t.Claims.ClientID }))
	RegisterAction(admin("revoke-sessions", "sid", "recall the victims' sessions", func(t *Token) string { return t.Claims.Session }))
	k := admin("revoke-key", "kid", "retire the key that signed the victims", func(t *Token) string { return t.Claims.KeyID })
	// Controls are signed by the next key, so recalling the victims' key spares them.
	k.Population.ExtraKey = true
	RegisterAction(k)
	RegisterAction(revokeMFAKind) // mfa.go
	// A key's id is its jti (internal/source/reference.APIKeys); the reference issuer has no
	// api_key recall type and says so.
	RegisterAction(admin("revoke-api-keys", "api_key", "recall the victims' API keys at the API-key authority, by key id, in one admin call", func(t *Token) string { return t.Claims.JTI }))
	RegisterAction(ActionKind{Name: "http", Doc: "HTTP requests of yours: one for all victims, one per credential ({{token}}, {{jti}}, {{sub}}, {{client_id}}, {{sid}}, {{kid}}), or one per group_by value; {{issued_before}} is T, the second after the victims' last iat (controls are then minted from T on)",
		Params: params.Spec{
			{Key: "url", Type: params.URL, Required: true, Doc: "where the request goes"},
			{Key: "method", Type: params.Method, Default: http.MethodPost, Doc: "the request's method"},
			{Key: "headers", Type: params.Headers, Doc: "request headers"},
			{Key: "body", Type: params.String, Doc: "request body; {{jtis}} and {{subjects}} become JSON arrays"},
			{Key: "group_by", Type: params.Enum, Enum: []string{"client_id", "sub", "sid", "kid"}, Doc: "one call per distinct value; its acknowledgement stamps the group's credentials"},
		}, PopulationWith: httpPopulation, New: newHTTPAction})
	RegisterAction(ActionKind{Name: "command", Doc: "a command of yours, given the victims' tokens and jti in files",
		Params: params.Spec{
			{Key: "run", Type: params.Argv, Required: true, Doc: "argv; $RECALL_TOKENS_FILE and $RECALL_JTIS_FILE name the files"},
			{Key: "timeout", Type: params.Duration, Default: "1m", Doc: "how long the command may run"},
		}, New: newCommandAction})
}
