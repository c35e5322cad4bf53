package ssf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Event type URIs (CAEP 1.0 §3, RISC 1.0 §2, SSF §8.1.4.1 and §8.1.5).
const (
	CAEPSessionRevoked       = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	CAEPTokenClaimsChange    = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	CAEPCredentialChange     = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	RISCCredentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
	RISCAccountDisabled      = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	RISCSessionsRevoked      = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
	SSFVerification          = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	SSFStreamUpdated         = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
)

// EventTypes maps the short names a scenario writes to event type URIs.
var EventTypes = map[string]string{
	"session-revoked":       CAEPSessionRevoked,
	"token-claims-change":   CAEPTokenClaimsChange,
	"credential-change":     CAEPCredentialChange,
	"credential-compromise": RISCCredentialCompromise,
	"account-disabled":      RISCAccountDisabled,
	"sessions-revoked":      RISCSessionsRevoked,
}

// ChangeTypes are the values CAEP 1.0 §3.3.1 allows for a credential-change's change_type.
var ChangeTypes = []string{"create", "revoke", "update", "delete"}

// CheckEventClaims checks that ev, the event of a SET of type eventType, has the claims its
// event type REQUIRES, for the event types a reference receiver enforces that require some: a
// RISC credential-compromise its credential_type (RISC 1.0 §2.7), a CAEP credential-change its
// credential_type and change_type (CAEP 1.0 §3.3.1). credential_type is a non-empty string
// (CAEP's list or "any other credential type supported mutually"), change_type one of
// ChangeTypes. Other event types pass (nil). A failure is an invalid_request.
func CheckEventClaims(eventType string, ev map[string]any) *Error {
	var need []string
	var cite string
	switch eventType {
	case RISCCredentialCompromise:
		need, cite = []string{"credential_type"}, "RISC 1.0 §2.7"
	case CAEPCredentialChange:
		need, cite = []string{"credential_type", "change_type"}, "CAEP 1.0 §3.3.1"
	default:
		return nil
	}
	for _, k := range need {
		v, ok := ev[k].(string)
		if !ok || v == "" {
			return reject(ErrInvalidRequest, "event %s has no %s string, which it requires (%s)", eventType, k, cite)
		}
		if k == "change_type" && !contains(ChangeTypes, v) {
			return reject(ErrInvalidRequest, "event %s: change_type %q is not one of %v (CAEP 1.0 §3.3.1)", eventType, v, ChangeTypes)
		}
	}
	return nil
}

// Typ is the JOSE "typ" of a SET (RFC 8417 §2.3), which SSF makes mandatory (SSF §4.1.1).
const Typ = "secevent+jwt"

// SET is a Security Event Token (RFC 8417 §2.2) as SSF profiles it (SSF §4): one event about the
// subject in SubID.
type SET struct {
	Issuer   string    // "iss", equal to the transmitter's issuer (SSF §4.1.6)
	Audience []string  // "aud" (SSF §4.1.8): one string when it has one value
	IssuedAt time.Time // "iat"
	ID       string    // "jti"; Sign fills a random one when empty
	Txn      string    // "txn", optional (SSF §4.1.9)
	SubID    Subject   // "sub_id", REQUIRED for SSF events (SSF §3.1)
	// EventType is the single key of "events" (SSF §4.2.1) and Event its value: the
	// event-specific fields, such as CAEP's event_timestamp or credential_type.
	EventType string
	Event     map[string]any
	// Redelivered is set by a Validator with Replay on a SET byte for byte the same as one it
	// validated before: a transmitter's redelivery (RFC 8936 §2.4, RFC 8935 §2.4), to be
	// acknowledged again and not acted on twice.
	Redelivered bool
}

// NewJTI returns a random SET identifier (RFC 8417 §2.2 "jti": unique per SET).
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Claims is the SET's JSON claims set.
func (s SET) Claims() map[string]any {
	c := map[string]any{
		"iss":    s.Issuer,
		"iat":    s.IssuedAt.Unix(),
		"jti":    s.ID,
		"sub_id": s.SubID,
	}
	if len(s.Audience) == 1 {
		c["aud"] = s.Audience[0]
	} else if len(s.Audience) > 1 {
		c["aud"] = s.Audience
	}
	if s.Txn != "" {
		c["txn"] = s.Txn
	}
	ev := s.Event
	if ev == nil {
		ev = map[string]any{}
	}
	c["events"] = map[string]any{s.EventType: ev}
	return c
}

// Sign serialises the SET as a compact JWS with header typ "secevent+jwt" (RFC 8417 §2.3), signed
// by key (a private JWK with its KeyID and Algorithm set). It never sets "exp" or "sub" (SSF
// §4.1.7, §4.1.2).
func Sign(s SET, key jose.JSONWebKey) (string, error) {
	if s.ID == "" {
		s.ID = NewJTI()
	}
	if s.EventType == "" {
		return "", errors.New("ssf: SET has no event type")
	}
	if err := ValidateSubject(s.SubID); err != nil {
		return "", fmt.Errorf("ssf: %w", err)
	}
	payload, err := json.Marshal(s.Claims())
	if err != nil {
		return "", fmt.Errorf("ssf: encoding SET claims: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType(Typ))
	if err != nil {
		return "", fmt.Errorf("ssf: signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("ssf: signing SET: %w", err)
	}
	return jws.CompactSerialize()
}

// Error codes a SET recipient answers with (RFC 8935 §2.4, RFC 8936 §2.4.4).
const (
	ErrInvalidRequest  = "invalid_request"
	ErrInvalidKey      = "invalid_key"
	ErrInvalidIssuer   = "invalid_issuer"
	ErrInvalidAudience = "invalid_audience"
	ErrAuthFailed      = "authentication_failed"
	ErrAccessDenied    = "access_denied"
)

// Error is why a SET was rejected: an RFC 8935 §2.4 code and a description, which is what a
// receiver puts in its 400 body ({"err": ..., "description": ...}, RFC 8935 §2.3).
type Error struct {
	Code        string `json:"err"`
	Description string `json:"description"`
}

func (e *Error) Error() string { return "ssf: " + e.Code + ": " + e.Description }

func reject(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Validator is what a receiver checks a SET with.
type Validator struct {
	Issuer   string              // the expected "iss" (SSF §4.1.6)
	Audience string              // one value "aud" must contain (RFC 8417 §2.2, SSF §4.1.8)
	Keys     *jose.JSONWebKeySet // the transmitter's jwks_uri document (SSF §4.1.4)
	// Algorithms accepted; nil means ES256, RS256, PS256, EdDSA. "none" and HMAC never are.
	Algorithms []jose.SignatureAlgorithm
	// MaxAge bounds how old "iat" may be, Skew how far in the future; zero MaxAge skips the
	// age check and zero Skew means one minute.
	MaxAge, Skew time.Duration
	Now          func() time.Time
	// Events, when not empty, are the event types the receiver accepts; a SET of another type
	// is rejected with invalid_request. A receiver that ignores unknown types leaves it empty.
	Events []string
	// Formats names proprietary subject formats agreed out of band (SSF §3.4).
	Formats []string
	// Replay, when true, remembers each jti: a SET with a jti seen before is valid only when
	// it is the same SET byte for byte, a redelivery (a transmitter redelivers what it does not
	// know to be acknowledged, RFC 8936 §2.4, RFC 8935 §2.4), and comes back with Redelivered
	// set; another SET under a known jti is rejected (RFC 8417 §2.2: a jti is unique per SET).
	Replay bool

	mu   sync.Mutex
	seen map[string][sha256.Size]byte // jti -> hash of the SET first validated with it
}

var defaultAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// Validate checks raw as a SET for this receiver and returns it decoded. Every rejection is an
// *Error with the RFC 8935 §2.4 code that fits.
func (v *Validator) Validate(raw string) (*SET, error) {
	algs := v.Algorithms
	if algs == nil {
		algs = defaultAlgs
	}
	jws, err := jose.ParseSigned(strings.TrimSpace(raw), algs)
	if err != nil {
		return nil, reject(ErrInvalidRequest, "not a JWS signed with %v: %v", algs, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, reject(ErrInvalidRequest, "want one signature, got %d", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	// RFC 8417 §2.3, SSF §4.1.1: explicit typing. RFC 7515 §4.1.9 lets "application/" be
	// omitted and the comparison is case-insensitive.
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), Typ) {
		return nil, reject(ErrInvalidRequest, "header typ %q, want %q (RFC 8417 §2.3)", typ, Typ)
	}
	if v.Keys == nil {
		return nil, reject(ErrInvalidKey, "no transmitter keys configured")
	}
	var keys []jose.JSONWebKey
	if h.KeyID != "" {
		keys = v.Keys.Key(h.KeyID)
	} else {
		keys = v.Keys.Keys
	}
	if len(keys) == 0 {
		return nil, reject(ErrInvalidKey, "no key %q in the transmitter's JWKS", h.KeyID)
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k); err == nil {
			break
		}
	}
	if err != nil {
		return nil, reject(ErrInvalidKey, "signature does not verify with key %q", h.KeyID)
	}

	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, reject(ErrInvalidRequest, "claims are not a JSON object: %v", err)
	}
	set := &SET{}
	var ok bool
	if set.Issuer, ok = c["iss"].(string); !ok || set.Issuer == "" {
		return nil, reject(ErrInvalidIssuer, "no iss claim")
	}
	if set.Issuer != v.Issuer {
		return nil, reject(ErrInvalidIssuer, "iss %q, want %q (SSF §4.1.6)", set.Issuer, v.Issuer)
	}
	switch a := c["aud"].(type) {
	case string:
		set.Audience = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				set.Audience = append(set.Audience, s)
			}
		}
	}
	if !contains(set.Audience, v.Audience) {
		return nil, reject(ErrInvalidAudience, "aud %v does not name %q (SSF §4.1.8)", set.Audience, v.Audience)
	}
	if set.ID, ok = c["jti"].(string); !ok || set.ID == "" {
		return nil, reject(ErrInvalidRequest, "no jti claim (RFC 8417 §2.2)")
	}
	iatN, ok := c["iat"].(json.Number)
	if !ok {
		return nil, reject(ErrInvalidRequest, "no numeric iat claim (RFC 8417 §2.2)")
	}
	iat, err := iatN.Float64()
	if err != nil {
		return nil, reject(ErrInvalidRequest, "iat %q is not a number", iatN)
	}
	set.IssuedAt = time.Unix(int64(iat), 0)
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.Skew
	if skew == 0 {
		skew = time.Minute
	}
	if set.IssuedAt.After(now.Add(skew)) {
		return nil, reject(ErrInvalidRequest, "iat is %s in the future", set.IssuedAt.Sub(now).Round(time.Second))
	}
	if v.MaxAge > 0 && now.Sub(set.IssuedAt) > v.MaxAge+skew {
		return nil, reject(ErrInvalidRequest, "iat is %s old, more than %s", now.Sub(set.IssuedAt).Round(time.Second), v.MaxAge)
	}
	if _, has := c["exp"]; has {
		return nil, reject(ErrInvalidRequest, "exp claim present; SSF SETs MUST NOT have one (SSF §4.1.7)")
	}
	if _, has := c["sub"]; has {
		return nil, reject(ErrInvalidRequest, "sub claim present; SSF SETs MUST NOT have one (SSF §4.1.2)")
	}
	if t, has := c["txn"]; has {
		if set.Txn, ok = t.(string); !ok {
			return nil, reject(ErrInvalidRequest, "txn is not a string")
		}
	}
	events, ok := c["events"].(map[string]any)
	if !ok {
		return nil, reject(ErrInvalidRequest, "no events object (RFC 8417 §2.2)")
	}
	// SSF §4.2.1: "SHOULD contain only one event"; several keys are allowed only as aliases of
	// one type, which a receiver cannot tell apart, so exactly one is required here.
	if len(events) != 1 {
		return nil, reject(ErrInvalidRequest, "events has %d members, want exactly one (SSF §4.2.1)", len(events))
	}
	for k, ev := range events {
		set.EventType = k
		if set.Event, ok = ev.(map[string]any); !ok {
			return nil, reject(ErrInvalidRequest, "event %q is %s, want a JSON object (RFC 8417 §2.2)", k, jsonKind(ev))
		}
	}
	if !strings.Contains(set.EventType, ":") {
		return nil, reject(ErrInvalidRequest, "event type %q is not a URI (RFC 8417 §2.2)", set.EventType)
	}
	if len(v.Events) > 0 && !contains(v.Events, set.EventType) {
		return nil, reject(ErrInvalidRequest, "event type %q not accepted here", set.EventType)
	}
	sub, has := c["sub_id"]
	if !has {
		return nil, reject(ErrInvalidRequest, "no sub_id claim (SSF §3.1)")
	}
	if err := ValidateSubject(sub, v.Formats...); err != nil {
		return nil, reject(ErrInvalidRequest, "%v", err)
	}
	set.SubID = sub.(map[string]any)
	if v.Replay {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.seen == nil {
			v.seen = map[string][sha256.Size]byte{}
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(raw)))
		if prev, dup := v.seen[set.ID]; dup {
			if prev != sum {
				return nil, reject(ErrInvalidRequest, "jti %q seen before in another SET (replay)", set.ID)
			}
			set.Redelivered = true
			return set, nil
		}
		v.seen[set.ID] = sum
	}
	return set, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// NewKey returns a fresh ES256 signing key (SSF §4.1.4 says only that the key is found at
// jwks_uri, and SSF names no algorithm; ES256 is what the reference stack signs with) with kid
// and use "sig".
func NewKey(kid string) (jose.JSONWebKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("ssf: generating a key: %w", err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}, nil
}
