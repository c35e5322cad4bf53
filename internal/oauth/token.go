package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/recall-drills/recall/internal/redact"
)

// Grants the harness drives itself.
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
)

// Grant is one token request: the grant type and its parameters.
type Grant struct {
	// Type is client_credentials, password or refresh_token ("" is client_credentials).
	Type string
	// Username and Password for the password grant; Extra holds more form parameters (an
	// issuer's one-time code, for instance).
	Username, Password string
	// RefreshToken for the refresh_token grant.
	RefreshToken string
	Extra        url.Values
}

// Issued is a token endpoint's answer.
type Issued struct {
	Access, Refresh string
	// Expiry is when the access token expires (zero: the provider did not say).
	Expiry time.Time
	// Raw holds the answer's other fields (scope, id_token, …).
	Raw map[string]any
}

// RequestToken asks tokenURL for a token as client c. The answer's errors are quoted as
// redacted excerpts.
func RequestToken(ctx context.Context, hc *http.Client, tokenURL string, c *Client, g Grant) (*Issued, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	params := url.Values{}
	for k, v := range g.Extra {
		params[k] = v
	}
	switch g.Type {
	case "", GrantClientCredentials:
	case GrantPassword:
		params.Set("grant_type", GrantPassword)
		params.Set("username", g.Username)
		params.Set("password", g.Password)
	case GrantRefreshToken:
		params.Set("grant_type", GrantRefreshToken)
		params.Set("refresh_token", g.RefreshToken)
	default:
		return nil, fmt.Errorf("unknown grant %q (have: client_credentials, password, refresh_token)", g.Type)
	}
	cfg := clientcredentials.Config{ClientID: c.ID, TokenURL: tokenURL, EndpointParams: params}
	if c.Scope != "" {
		cfg.Scopes = strings.Fields(c.Scope)
	}
	switch c.Method() {
	case AuthBasic:
		cfg.ClientSecret, cfg.AuthStyle = c.Secret, oauth2.AuthStyleInHeader
	case AuthPost:
		cfg.ClientSecret, cfg.AuthStyle = c.Secret, oauth2.AuthStyleInParams
	case AuthNone, AuthPrivateKey:
		// client_id in the form, no secret; x/oauth2 sends no client_secret when it is empty.
		cfg.AuthStyle = oauth2.AuthStyleInParams
		if c.Method() == AuthPrivateKey {
			h := http.Header{}
			if err := c.Authenticate(tokenURL, params, h); err != nil {
				return nil, err
			}
			params.Del("client_id") // x/oauth2 sets it
		}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	tok, err := cfg.Token(ctx)
	if err != nil {
		return nil, tokenError(tokenURL, err, c.Secret, g.Password, g.RefreshToken)
	}
	out := &Issued{Access: tok.AccessToken, Refresh: tok.RefreshToken, Expiry: tok.Expiry, Raw: map[string]any{}}
	for _, k := range []string{"scope", "token_type", "id_token", "expires_in", "sub", "client_id", "sid", "jti"} {
		if v := tok.Extra(k); v != nil {
			out.Raw[k] = v
		}
	}
	redact.Global.Add(out.Access, out.Refresh)
	if id, ok := out.Raw["id_token"].(string); ok {
		redact.Global.Add(id)
	}
	return out, nil
}

// tokenError rewrites x/oauth2's errors, which quote whole bodies, as a status and an excerpt.
func tokenError(endpoint string, err error, secrets ...string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := ""
		if re.ErrorCode != "" {
			msg = re.ErrorCode
			if re.ErrorDescription != "" {
				msg += ": " + re.ErrorDescription
			}
			msg = redact.String(msg, secrets...)
		} else {
			msg = redact.Excerpt(re.Body, secrets...)
		}
		return &StatusError{Endpoint: "token endpoint " + endpoint, Status: re.Response.StatusCode, Excerpt: msg}
	}
	return fmt.Errorf("token endpoint %s: %s", endpoint, redact.String(err.Error(), secrets...))
}
