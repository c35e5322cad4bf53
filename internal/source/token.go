package source

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/targets/revocation"
)

// Secret is a credential in clear. It cannot print itself: fmt, slog, JSON and YAML all see its
// Fingerprint, so a token that reaches a log line or a report by mistake is never disclosed.
// Use Reveal where the clear value is needed (building a request).
type Secret struct{ v string }

// NewSecret wraps a clear credential, and adds it to the values every excerpt of an answer
// redacts (redact.Global).
func NewSecret(v string) Secret {
	redact.Global.Add(v)
	return Secret{v}
}

// Reveal returns the credential in clear.
func (s Secret) Reveal() string { return s.v }

// Fingerprint is the first 12 hex digits of the SHA-256 of the credential.
func (s Secret) Fingerprint() string { return Fingerprint(s.v) }

// String implements fmt.Stringer with the fingerprint.
func (s Secret) String() string { return s.Fingerprint() }

// GoString implements fmt.GoStringer with the fingerprint (for %#v).
func (s Secret) GoString() string { return "source.Secret(" + s.Fingerprint() + ")" }

// LogValue implements slog.LogValuer with the fingerprint.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Fingerprint()) }

// MarshalJSON writes the fingerprint.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.Fingerprint()) }

// MarshalText writes the fingerprint (YAML, encoding.TextMarshaler users).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.Fingerprint()), nil }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x …) prints the fingerprint.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.Fingerprint())
	default:
		fmt.Fprint(f, s.Fingerprint())
	}
}

// Fingerprint is the first 12 hex digits of the SHA-256 of v: how tokens appear in logs and
// reports.
func Fingerprint(v string) string { return redact.Fingerprint(v) }

// Token is one live credential of the drill's population.
type Token struct {
	// Index is the token's id in the tracker: victims first, then controls.
	Index int
	// Victim is true for credentials to be recalled, false for controls.
	Victim bool
	// Access is the access token.
	Access Secret
	// Refresh is the refresh token, when the grant returned one.
	Refresh Secret
	// Client is the client_id the token was issued to; Owner is that client's credentials, as
	// RFC 7009 revocation and introspection "as client" authenticate with them (nil when the
	// source does not know them).
	Client string
	Owner  *oauth.Client
	// User is the resource owner for the password grant (empty for client_credentials).
	User string
	// Claims are what is known of the token: decoded from a JWT (not verified: the issuer just
	// minted it), or the labels its source gave for an opaque token. Any field may be empty.
	Claims revocation.Claims
	// Opaque is true when the token is not a JWT.
	Opaque bool
	// Expiry is when the token expires, from expires_in or exp (zero: unknown).
	Expiry time.Time
}

// ID is how a credential is named in reports and findings: its fingerprint.
func (t *Token) ID() string { return t.Access.Fingerprint() }

// LogValue implements slog.LogValuer: a token logs as its fingerprint and role only.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token", t.Access.Fingerprint()), slog.Bool("victim", t.Victim))
}

// ParseClaims decodes a JWT's header and payload without verifying it: the harness reads the
// claims of tokens it was just issued, to know what a recall rule will match.
func ParseClaims(jwt string) (revocation.Claims, error) {
	c, _, err := parseJWT(jwt)
	return c, err
}

// parseJWT is ParseClaims, also returning the exp claim (zero when absent).
func parseJWT(jwt string) (revocation.Claims, time.Time, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return revocation.Claims{}, time.Time{}, fmt.Errorf("not a JWT (%d parts)", len(parts))
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	var body struct {
		Jti      string          `json:"jti"`
		Sub      string          `json:"sub"`
		ClientID string          `json:"client_id"`
		Sid      string          `json:"sid"`
		Fid      string          `json:"fid"`
		Iat      json.RawMessage `json:"iat"`
		Exp      json.RawMessage `json:"exp"`
	}
	for i, dst := range []any{&hdr, &body} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return revocation.Claims{}, time.Time{}, fmt.Errorf("decode JWT part %d: %w", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return revocation.Claims{}, time.Time{}, fmt.Errorf("decode JWT part %d: %w", i, err)
		}
	}
	var iat, exp float64
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *float64
	}{{"iat", body.Iat, &iat}, {"exp", body.Exp, &exp}} {
		if len(f.raw) > 0 {
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return revocation.Claims{}, time.Time{}, fmt.Errorf("decode JWT %s: %w", f.name, err)
			}
		}
	}
	var expiry time.Time
	if exp > 0 {
		expiry = time.Unix(int64(exp), 0)
	}
	return revocation.Claims{
		JTI: body.Jti, Subject: body.Sub, ClientID: body.ClientID, Session: body.Sid,
		KeyID: hdr.Kid, Factor: body.Fid, IssuedAt: int64(iat),
	}, expiry, nil
}
