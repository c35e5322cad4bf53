// Package source holds the seams where the drill engine ends and the identity provider begins:
// a Source issues the drill's credentials (mint, re-issue after the recall for recovery time,
// describe what it issued), a Recaller takes credentials back by an attribute they share, and a
// Confirmer says whether a recall took effect at the provider. internal/drill only talks to
// these interfaces; docs/architecture.md shows how to add one.
//
// Two implementations live here and beside it: Accounts, for any standards-based OAuth 2.0 /
// OpenID Connect provider and the existing clients and users a scenario names, and
// internal/source/reference, for the reference issuer's admin API. Tokens are opaque unless they
// parse as JWTs: nothing requires a JWT.
package source

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/ssf"
)

// Population says which credentials to mint: victims (to be recalled) and controls (must stay
// valid), spread over users and clients. Victims and controls never share a user or a client
// (when there are at least two), so that recalling a victim's user or client is not collateral
// damage by construction.
type Population struct {
	// Grant is client_credentials, password or refresh_token.
	Grant    string
	Victims  int
	Controls int
	// Users (password grant) and Clients are how many distinct ones to spread tokens over
	// (sources that register their own); sources of existing accounts use theirs.
	Users   int
	Clients int
	Scope   string
	// MFA enrolls a TOTP factor for every user before minting (password grant), so that tokens
	// carry the factor they were established with (claim fid) and a revoke-mfa recall has
	// something to take back.
	MFA bool
	// RotateKeyBeforeControls rotates the issuer's signing key between minting victims and
	// controls, so that victims and controls are signed by different keys and a revoke-key
	// recall is not collateral damage by construction. An external source rotates its
	// provider's key itself when called for the controls; [External.Mint] checks it did.
	RotateKeyBeforeControls bool
	// NewSecondBeforeControls waits, between minting victims and controls, for the whole second
	// after the victims' latest iat (their [Boundary]), so that an issued-before recall of that
	// instant is not collateral damage by construction and the first controls share its second.
	NewSecondBeforeControls bool
}

// DefaultMintConcurrency bounds concurrent token requests while minting.
const DefaultMintConcurrency = 32

// Source issues the drill's credentials.
type Source interface {
	// Mint issues one credential per victim and control, victims first, with Index and Victim
	// set. done, when set, is called after each (for progress); it may be called concurrently.
	Mint(ctx context.Context, pop Population, done func(n int)) ([]*Token, error)
	// Reissue obtains a fresh credential for the identity t was issued to (its user for the
	// password grant, its client otherwise) after the recall: recovery time. newFactor asks
	// for a fresh MFA factor first (after a revoke-mfa recall). The source may refuse for a
	// while: the caller retries.
	Reissue(ctx context.Context, t *Token, newFactor bool) (*Token, error)
	// Describe says what the source issued, for the report.
	Describe() Description
}

// Description is what a source says of itself and what it issued.
type Description struct {
	// Kind names the source: reference, accounts, command, http.
	Kind string
	// Clients and Users count the distinct identities tokens were spread over.
	Clients, Users int
	// Opaque counts tokens that are not JWTs.
	Opaque int
	// Expiry is the earliest expiry among the tokens minted (zero: none known).
	Expiry time.Time
}

// RecallResult is a recall-by-attribute's answer.
type RecallResult struct {
	// ID is the provider's name for the recall, when it gives one.
	ID string
	// Count is how many credentials the provider says it recalled (-1: unknown).
	Count int
	// RecoveryCodes is how many MFA recovery codes went with the factors an mfa recall took
	// back (-1: the provider did not say).
	RecoveryCodes int
}

// FactorProber is a source that can log a credential's user in again the ways an MFA recall
// must close: with the factor the credential was established with, and with one of that
// factor's recovery codes (consumed when accepted). refused is the provider's invalid_grant;
// err means the question got no answer.
type FactorProber interface {
	LoginWithFactor(ctx context.Context, t *Token) (refused bool, err error)
	LoginWithRecoveryCode(ctx context.Context, t *Token) (refused bool, err error)
}

// Recaller takes back, in one request, every credential whose attribute by is one of values:
// jti, sub, client, sid, kid or mfa (the user's MFA factors). Providers without such an API have
// no Recaller: their recalls go through RFC 7009 or the http and command actions.
type Recaller interface {
	RecallBy(ctx context.Context, by string, values []string) (RecallResult, error)
}

// IssuedBeforeRecaller is a Recaller that also takes back, in one request, every credential
// issued before an instant: the recall of a compromise window. With iat in whole seconds, a
// correct provider recalls the tokens whose iat is below before's second when before is a whole
// second (they were issued before it), and spares those of that second.
type IssuedBeforeRecaller interface {
	RecallIssuedBefore(ctx context.Context, before time.Time) (RecallResult, error)
}

// Confirmer says whether a credential is still active at the provider (RFC 7662
// introspection, for instance). An error means the question could not be answered.
type Confirmer interface {
	Active(ctx context.Context, t *Token) (bool, error)
}

// Provider is what the drill knows of the identity provider once the system runs.
type Provider struct {
	// URL is the issuer component's endpoint as the harness reaches it.
	URL *url.URL
	// Endpoints are the OAuth endpoints in use, discovered or set.
	Endpoints oauth.Endpoints
	Source    Source
	// Recaller and Confirmer are nil when the provider has none.
	Recaller  Recaller
	Confirmer Confirmer
	// HTTP is the client the harness talks to the provider with.
	HTTP *http.Client
	// Link, when the scenario declares the link harness->issuer, is a client whose every
	// connection goes through that link's proxy, so that link faults act on the requests an
	// action sends with it (refresh-replay's legitimate rotations); nil without the link.
	Link *http.Client
	// Clients are the existing clients the scenario named (an action may authenticate as one).
	Clients []*oauth.Client
	// SSF are the drill's Shared Signals transmitters (reference/ssf) by component name, which
	// the ssf-event action emits on; nil when the system runs none.
	SSF map[string]*ssf.Transmitter
}

// Client returns p.HTTP, or a default client without proxy.
func (p *Provider) Client() *http.Client {
	if p == nil || p.HTTP == nil {
		return defaultHTTP
	}
	return p.HTTP
}

var defaultHTTP = oauth.NewHTTPClient(30*time.Second, nil)

// Opener connects to the provider once the system runs and the issuer's endpoint is known:
// discovery, loading keys and accounts. Its errors name what failed.
type Opener func(ctx context.Context, issuer *url.URL) (*Provider, error)

// Introspection is a Confirmer over an RFC 7662 endpoint.
type Introspection struct{ oauth.Introspector }

// Active implements Confirmer.
func (i *Introspection) Active(ctx context.Context, t *Token) (bool, error) {
	r, err := i.Introspect(ctx, t.Access.Reveal(), t.Owner)
	return r.Active, err
}

// Describe fills a token's claims from a token endpoint's answer: a JWT's claims, or the labels
// the answer gives for an opaque token, and its expiry.
func Describe(t *Token, is *oauth.Issued) {
	claims, exp, err := parseJWT(is.Access)
	if err != nil {
		t.Opaque = true
		str := func(k string) string { s, _ := is.Raw[k].(string); return s }
		claims.JTI, claims.Subject, claims.ClientID, claims.Session = str("jti"), str("sub"), str("client_id"), str("sid")
	}
	if claims.ClientID == "" {
		claims.ClientID = t.Client
	}
	if claims.Subject == "" && t.User != "" && t.Opaque {
		claims.Subject = t.User
	}
	t.Claims = claims
	t.Expiry = is.Expiry
	if t.Expiry.IsZero() {
		t.Expiry = exp
	}
}

// CheckExpiry refuses a population whose tokens expire before the drill ends: a natural expiry
// would look like a recall that took effect (a victim) or a false reject (a control).
func CheckExpiry(tokens []*Token, end time.Time) error {
	n, first := 0, time.Time{}
	for _, t := range tokens {
		if !t.Expiry.IsZero() && t.Expiry.Before(end) {
			n++
			if first.IsZero() || t.Expiry.Before(first) {
				first = t.Expiry
			}
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d tokens expire before the drill ends (the first in %s, the drill ends in %s): natural expiry is not a recall; shorten traffic.duration or lengthen the tokens' lifetime at the provider",
		n, len(tokens), time.Until(first).Round(time.Second), time.Until(end).Round(time.Second))
}

// Excerpt is redact.Excerpt: the one way a body from the system under test is quoted.
func Excerpt(b []byte, secrets ...string) string { return redact.Excerpt(b, secrets...) }

// ClientByID returns the client the provider knows by id (nil when none).
func (p *Provider) ClientByID(id string) *oauth.Client {
	for _, c := range p.Clients {
		if c.ID == id {
			return c
		}
	}
	return nil
}
