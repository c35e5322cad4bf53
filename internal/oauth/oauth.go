// Package oauth is the harness's client of standards-based OAuth 2.0 and OpenID Connect
// providers: endpoint discovery (RFC 8414, then OpenID Connect Discovery 1.0), token requests
// with every common client authentication (client_secret_basic, client_secret_post,
// private_key_jwt after RFC 7523, none), token revocation (RFC 7009) and introspection
// (RFC 7662). Token grants go through golang.org/x/oauth2; JOSE through go-jose.
//
// Every error that quotes an answer quotes a short, single-line, redacted excerpt of it
// (internal/redact), never a whole page, and never a credential.
package oauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/recall-drills/recall/internal/redact"
)

// Client authentication methods (RFC 8414 token_endpoint_auth_methods_supported values).
const (
	AuthBasic      = "client_secret_basic"
	AuthPost       = "client_secret_post"
	AuthPrivateKey = "private_key_jwt"
	AuthNone       = "none"
)

// AuthMethods lists the client authentication methods a Client may use.
var AuthMethods = []string{AuthBasic, AuthPost, AuthPrivateKey, AuthNone}

// bodyLimit bounds every answer read from the provider.
const bodyLimit = 1 << 20

// NewHTTPClient returns the client the harness talks to a provider with: a timeout, and no
// proxy from the environment (HTTP_PROXY and friends) unless proxy is set, because a drill's
// traffic must reach the system under test directly.
func NewHTTPClient(timeout time.Duration, proxy *url.URL) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: tr}
}

// Client is an OAuth 2.0 client the harness authenticates as.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client secret (client_secret_basic, client_secret_post).
	Secret string
	// Auth is the authentication method; "" is client_secret_basic when Secret is set, none
	// otherwise.
	Auth string
	// Key signs client assertions (private_key_jwt); KeyID is its kid, Alg its algorithm
	// (default RS256 for RSA keys, ES256 for EC keys, EdDSA for Ed25519).
	Key   crypto.Signer
	KeyID string
	Alg   jose.SignatureAlgorithm
	// Audience is the aud of its assertions: the token endpoint URL, which RFC 7523 section 3
	// names as the value identifying the authorization server, for every endpoint the client
	// authenticates to (RFC 7009 and RFC 7662 take the token endpoint's client
	// authentication). "" is the URL of the endpoint the assertion is sent to.
	Audience string
	// Scope is requested with every token (space-separated).
	Scope string
}

// Method is the client's effective authentication method.
func (c *Client) Method() string {
	switch {
	case c.Auth != "":
		return c.Auth
	case c.Secret != "":
		return AuthBasic
	}
	return AuthNone
}

// Check says whether the client can authenticate with its method.
func (c *Client) Check() error {
	switch c.Method() {
	case AuthBasic, AuthPost:
		if c.Secret == "" {
			return fmt.Errorf("client %s: %s needs a secret", c.ID, c.Method())
		}
	case AuthPrivateKey:
		if c.Key == nil {
			return fmt.Errorf("client %s: private_key_jwt needs a key (key_file)", c.ID)
		}
	case AuthNone:
	default:
		return fmt.Errorf("client %s: unknown auth %q (have: %s)", c.ID, c.Auth, strings.Join(AuthMethods, ", "))
	}
	if c.ID == "" {
		return errors.New("client: id is required")
	}
	return nil
}

// LoadKey reads a PEM private key (PKCS #8, PKCS #1 or SEC 1) or a private JWK for
// private_key_jwt, returning the signer and its kid (from the JWK, or "").
func LoadKey(path string) (crypto.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(b); err == nil {
		s, ok := jwk.Key.(crypto.Signer)
		if !ok || jwk.IsPublic() {
			return nil, "", fmt.Errorf("%s: not a private key", path)
		}
		return s, jwk.KeyID, nil
	}
	s, err := parsePEMKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return s, "", nil
}

// assertion signs an RFC 7523 client assertion for audience aud (the endpoint it is sent to).
func (c *Client) assertion(aud string) (string, error) {
	alg := c.Alg
	if alg == "" {
		alg = defaultAlg(c.Key)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if c.KeyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), c.KeyID)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: c.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("client %s: assertion signer: %w", c.ID, err)
	}
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{aud}, ID: hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)), Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute))}
	return jwt.Signed(sig).Claims(claims).Serialize()
}

// Authenticate adds the client's credentials for a request to endpoint: to form (post, none,
// private_key_jwt) or to h (basic).
func (c *Client) Authenticate(endpoint string, form url.Values, h http.Header) error {
	switch c.Method() {
	case AuthBasic:
		h.Set("Authorization", basic(c.ID, c.Secret))
	case AuthPost:
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	case AuthPrivateKey:
		aud := c.Audience
		if aud == "" {
			aud = endpoint
		}
		a, err := c.assertion(aud)
		if err != nil {
			return err
		}
		redact.Global.Add(a)
		form.Set("client_id", c.ID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	case AuthNone:
		form.Set("client_id", c.ID)
	default:
		return c.Check()
	}
	return nil
}

// basic is RFC 6749 section 2.3.1's HTTP Basic value: both parts form-urlencoded first.
func basic(id, secret string) string {
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// postForm sends form to endpoint and returns the status and up to bodyLimit of the answer.
func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values, h http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	return resp.StatusCode, b, err
}

// StatusError is a provider's answer with an unexpected status: the endpoint, the status and a
// redacted single-line excerpt of the body.
type StatusError struct {
	Endpoint string
	Status   int
	Excerpt  string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.Endpoint, e.Status, http.StatusText(e.Status))
	if e.Excerpt != "" {
		s += ": " + e.Excerpt
	}
	return s
}

func statusError(endpoint string, status int, body []byte, secrets ...string) error {
	return &StatusError{Endpoint: endpoint, Status: status, Excerpt: redact.Excerpt(body, secrets...)}
}

// decodeJSON decodes an answer, quoting an excerpt when it is not JSON.
func decodeJSON(endpoint string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: the answer is not JSON (%v): %s", endpoint, err, redact.Excerpt(body))
	}
	return nil
}

func readLimited(resp *http.Response) ([]byte, error) {
	return io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
}
