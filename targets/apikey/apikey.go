// Package apikey is the reference API-key system of the recall drills: long-lived API keys, not
// OAuth tokens, as the field issues them to machines and partners.
//
//	admin ── POST /admin/keys ──► Authority ── key rk_<id>_<mac> ──► client
//	admin ── POST /admin/recalls {ids} ──► Authority ──┬─► NATS apikey.events   (push)
//	                                                  ├─► GET /revocations      (poll)
//	                                                  └─► POST /introspect      (lookup, cached)
//	client ── X-API-Key: rk_… ──► Service (strategy push | poll | lookup | offline)
//
// A key is rk_<id>_<mac>: a random id and an HMAC-SHA256 of the id under the Authority's signing
// secret. A Service holding that secret verifies keys offline, as services that store key hashes
// do, and learns of recalls by push or poll; one without it looks each key up at the Authority
// (RFC 7662 introspection) and caches positive answers for CacheTTL. Offline services never learn
// of a recall. Recall rules are revocation.Rules of type jti whose value is the key id, so a
// Service reuses the reference gateway's recall strategies (targets/gateway) and the same ground
// truth: the Authority records each recall as it applies it, each Service when it enforces it.
package apikey

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
)

// EventSubject is the NATS subject on which the Authority publishes one revocation.Event per
// recall of keys.
const EventSubject = "apikey.events"

// Header is the request header a Service reads a key from (Authorization: ApiKey <key> works
// too).
const Header = "X-API-Key"

// prefix starts every key, so that scanners and humans can tell one.
const prefix = "rk_"

// never is the expiry of a key: API keys are long-lived, only a recall ends them.
var never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// newID returns a random key id (16 hex digits).
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mac returns the key's secret part for id under secret.
func mac(secret []byte, id string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// format returns the key for id.
func format(secret []byte, id string) string { return prefix + id + "_" + mac(secret, id) }

// parse splits a key into its id and mac; ok is false when it is not shaped like one.
func parse(raw string) (id, sum string, ok bool) {
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		return "", "", false
	}
	id, sum, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || sum == "" {
		return "", "", false
	}
	return id, sum, true
}

// Verifier checks keys offline with the Authority's signing secret (gateway.CredentialVerifier).
type Verifier struct{ secret []byte }

// NewVerifier returns a Verifier for keys minted under secret.
func NewVerifier(secret []byte) *Verifier { return &Verifier{secret: append([]byte(nil), secret...)} }

// Verify implements gateway.CredentialVerifier: a key with a valid mac is a Token whose JTI is
// the key id and whose subject is "apikey:<id>", valid until recalled.
func (v *Verifier) Verify(_ context.Context, raw string) (*gateway.Token, error) {
	if raw == "" {
		return nil, gateway.ErrMissingToken
	}
	id, sum, ok := parse(raw)
	if !ok || !hmac.Equal([]byte(sum), []byte(mac(v.secret, id))) {
		return nil, &gateway.TokenError{Description: "unknown api key"}
	}
	return token(id, raw), nil
}

// token is the Token of key raw with id id.
func token(id, raw string) *gateway.Token {
	return &gateway.Token{
		Claims:      revocation.Claims{JTI: id, Subject: "apikey:" + id, ClientID: "apikey"},
		Expiry:      never,
		Fingerprint: gateway.Fingerprint(raw),
	}
}

// lookupOnly accepts every key shaped like one and leaves the verdict to the introspection
// strategy: a Service without the signing secret.
type lookupOnly struct{}

func (lookupOnly) Verify(_ context.Context, raw string) (*gateway.Token, error) {
	if raw == "" {
		return nil, gateway.ErrMissingToken
	}
	id, _, ok := parse(raw)
	if !ok {
		return nil, &gateway.TokenError{Description: "malformed api key"}
	}
	return token(id, raw), nil
}
