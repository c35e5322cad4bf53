package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/recall-drills/recall/internal/redact"
)

// Revoke asks an RFC 7009 revocation endpoint to revoke token, authenticated as c (the client
// the token was issued to: many providers ignore another client's request and still answer
// 200). hint is the optional token_type_hint. A 200 is an acknowledgement, not a proof: RFC 7009
// answers 200 for unknown or foreign tokens too; confirm with Introspect.
func Revoke(ctx context.Context, hc *http.Client, endpoint string, c *Client, token, hint string) error {
	if endpoint == "" {
		return fmt.Errorf("revoke %s: the provider has no revocation_endpoint (set oauth.revocation_endpoint)", redact.Fingerprint(token))
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	h := http.Header{}
	if err := c.Authenticate(endpoint, form, h); err != nil {
		return err
	}
	status, body, err := postForm(ctx, hc, endpoint, form, h)
	if err != nil {
		return fmt.Errorf("revoke %s: %s", redact.Fingerprint(token), redact.String(err.Error(), token, c.Secret))
	}
	if status != http.StatusOK {
		return fmt.Errorf("revoke %s: %w", redact.Fingerprint(token), statusError(endpoint, status, body, token, c.Secret))
	}
	return nil
}

// Introspection authentication modes.
const (
	IntrospectAsClient = "client"
	IntrospectBasic    = "basic"
	IntrospectBearer   = "bearer"
	IntrospectNone     = "none"
)

// IntrospectAuths lists the valid introspection authentication modes.
var IntrospectAuths = []string{IntrospectAsClient, IntrospectBasic, IntrospectBearer, IntrospectNone}

// Introspector asks an RFC 7662 endpoint about tokens.
type Introspector struct {
	Endpoint string
	// Auth is client (as the client that owns the token, the default), basic (Username and
	// Password), bearer (Token) or none.
	Auth               string
	Username, Password string
	Token              string
	HTTP               *http.Client
}

// Introspection is what an RFC 7662 endpoint said about a token.
type Introspection struct {
	Active   bool   `json:"active"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	JTI      string `json:"jti"`
	Sid      string `json:"sid"`
	Exp      int64  `json:"exp"`
}

// Expiry is the exp claim as a time (zero when absent).
func (i Introspection) Expiry() time.Time {
	if i.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(i.Exp, 0)
}

// Introspect asks whether token is active; owner is the client it was issued to (used when
// Auth is client).
func (in *Introspector) Introspect(ctx context.Context, token string, owner *Client) (Introspection, error) {
	var out Introspection
	fp := redact.Fingerprint(token)
	if in.Endpoint == "" {
		return out, fmt.Errorf("introspect %s: no introspection endpoint (set oauth.introspection.endpoint)", fp)
	}
	form := url.Values{"token": {token}}
	h := http.Header{}
	secrets := []string{token, in.Password, in.Token}
	switch in.Auth {
	case "", IntrospectAsClient:
		if owner == nil {
			return out, fmt.Errorf("introspect %s: auth client, but the token has no known client", fp)
		}
		if err := owner.Authenticate(in.Endpoint, form, h); err != nil {
			return out, err
		}
		secrets = append(secrets, owner.Secret)
	case IntrospectBasic:
		h.Set("Authorization", basic(in.Username, in.Password))
	case IntrospectBearer:
		h.Set("Authorization", "Bearer "+in.Token)
	case IntrospectNone:
	default:
		return out, fmt.Errorf("introspect: unknown auth %q", in.Auth)
	}
	hc := in.HTTP
	if hc == nil {
		hc = NewHTTPClient(10*time.Second, nil)
	}
	status, body, err := postForm(ctx, hc, in.Endpoint, form, h)
	if err != nil {
		return out, fmt.Errorf("introspect %s: %s", fp, redact.String(err.Error(), secrets...))
	}
	if status != http.StatusOK {
		return out, fmt.Errorf("introspect %s: %w", fp, statusError(in.Endpoint, status, body, secrets...))
	}
	if err := decodeJSON("introspect "+fp+": "+in.Endpoint, body, &out); err != nil {
		return out, err
	}
	return out, nil
}
