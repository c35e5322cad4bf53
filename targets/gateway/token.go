package gateway

import (
	"encoding/json"
	"errors"
	"github.com/recall-drills/recall/internal/redact"
	"net/http"
	"strings"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// Token is a validated access token: its recall-relevant claims plus what a resource server
// needs. Values returned by the Validator are shared: treat them as read-only.
type Token struct {
	revocation.Claims
	// Issuer is the iss claim.
	Issuer string
	// Audience is the aud claim.
	Audience []string
	// Scope is the space-separated scope claim.
	Scope string
	// AMR is the amr claim (authentication methods).
	AMR []string
	// Expiry is the exp claim.
	Expiry time.Time
	// NotBefore is the nbf claim (zero when absent).
	NotBefore time.Time
	// Fingerprint is the first 12 hex digits of the SHA-256 of the raw token: the only form in
	// which a token may be logged.
	Fingerprint string
}

// Fingerprint returns the first 12 hex digits of the SHA-256 of a raw token.
func Fingerprint(raw string) string {
	return redact.Fingerprint(raw) // the one fingerprint function
}

// ErrMissingToken is returned when a request carries no bearer token; it is answered 401 with a
// bare `WWW-Authenticate: Bearer` (RFC 6750 section 3.1).
var ErrMissingToken = errors.New("missing bearer token")

// ErrRevoked is wrapped (in a *TokenError) when a token is recalled.
var ErrRevoked = errors.New("token recalled")

// ErrUnavailable is returned when the revocation source is unreachable and the fail mode is
// closed; it is answered 503 with Retry-After: 1.
var ErrUnavailable = errors.New("revocation source unavailable")

// TokenError is a rejected token, answered 401 with
// `WWW-Authenticate: Bearer error="invalid_token", error_description="<Description>"`.
type TokenError struct {
	// Description is the error_description: short, safe to show, never the token.
	Description string
	// Err is the cause, if any.
	Err error
}

// Error implements error.
func (e *TokenError) Error() string {
	if e.Err != nil {
		return "invalid token: " + e.Description + ": " + e.Err.Error()
	}
	return "invalid token: " + e.Description
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

func invalid(desc string, err error) error { return &TokenError{Description: desc, Err: err} }

// BearerToken extracts the token of an `Authorization: Bearer <token>` header (scheme matched
// case-insensitively), or returns ErrMissingToken.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMissingToken
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrMissingToken
	}
	return tok, nil
}

// Result classifies an authentication outcome the way drills do.
type Result string

// The results.
const (
	Accept Result = "accept"
	Reject Result = "reject"
	Error  Result = "error"
)

// Classify maps an error from Guard.Check to a Result: nil accepts, ErrUnavailable (and any
// unexpected error) is an error, everything else rejects.
func Classify(err error) Result {
	var te *TokenError
	switch {
	case err == nil:
		return Accept
	case errors.Is(err, ErrMissingToken), errors.As(err, &te):
		return Reject
	}
	return Error
}

// WriteError answers an authentication failure: 401 with the RFC 6750 challenge for a missing
// or rejected token, 503 with Retry-After: 1 otherwise.
func WriteError(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	var te *TokenError
	switch {
	case errors.Is(err, ErrMissingToken):
		h.Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized","error_description":"missing bearer token"}` + "\n"))
	case errors.As(err, &te):
		desc := challengeSafe(te.Description)
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+desc+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token", "error_description": desc})
	default:
		h.Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"revocation source unavailable"}` + "\n"))
	}
}

// challengeSafe keeps only the characters RFC 6750 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E).
func challengeSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}
