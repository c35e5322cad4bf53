package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/recall-drills/recall/targets/revocation"
)

// accessClaims is the payload of an access token (RFC 9068 plus sid, fid and amr).
type accessClaims struct {
	Issuer   string       `json:"iss"`
	Subject  string       `json:"sub"`
	Audience jwt.Audience `json:"aud"`
	ClientID string       `json:"client_id"`
	Scope    string       `json:"scope,omitempty"`
	JTI      string       `json:"jti"`
	Session  string       `json:"sid"`
	IssuedAt int64        `json:"iat"`
	Expiry   int64        `json:"exp"`
	Factor   string       `json:"fid,omitempty"`
	AMR      []string     `json:"amr,omitempty"`
}

func (c *accessClaims) rc(kid string) revocation.Claims {
	return revocation.Claims{
		JTI: c.JTI, Subject: c.Subject, ClientID: c.ClientID, Session: c.Session,
		KeyID: kid, Factor: c.Factor, IssuedAt: c.IssuedAt,
	}
}

// session is what every token of one login shares.
type session struct {
	sub, clientID, sid, fid string
	amr                     []string
}

func newSID() string { return "s_" + rand.Text()[:20] }

// maxMintWait bounds how long a token request waits for the second of a recall to pass.
const maxMintWait = 2 * time.Second

// clearOfRecalls returns the instant at which a token of sess signed with kid can be minted
// without being recalled at birth, waiting for it when needed.
//
// Subtleness ahead: iat has a resolution of one second, and subject, client, session and
// issued-before recalls bound their rules by the recall second (IssuedBefore, inclusive). A token
// minted after such a recall but within the same second would carry iat == IssuedBefore and be
// recalled at birth, everywhere: the client would get a token that nothing accepts. Instead the
// request waits for the next second (at most one second, only for sessions a rule matches, and
// only right after a recall), so that every token handed out is valid when it leaves. Raising iat
// into the future instead would be refused by validators that allow no clock leeway.
//
// Rules that match regardless of iat (key, factor, jti) are not waited for, nor bounds further
// ahead than maxMintWait (cannot happen: bounds are never in the future).
func (i *Issuer) clearOfRecalls(ctx context.Context, sess session, kid string) (time.Time, error) {
	for {
		now := time.Now()
		r, ok := i.set.Revoked(revocation.Claims{
			Subject: sess.sub, ClientID: sess.clientID, Session: sess.sid, Factor: sess.fid,
			KeyID: kid, IssuedAt: now.Unix(),
		})
		if !ok || r.IssuedBefore == 0 {
			return now, nil
		}
		wait := time.Unix(r.IssuedBefore+1, 0).Sub(now)
		if wait > maxMintWait {
			return now, nil
		}
		i.m.mintWaits.Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}

// mint signs an access token for sess and returns it with its claims.
func (i *Issuer) mint(ctx context.Context, iss string, sess session, scope string) (string, *accessClaims, error) {
	key := i.keys.current()
	now, err := i.clearOfRecalls(ctx, sess, key.kid)
	if err != nil {
		return "", nil, err
	}
	c := &accessClaims{
		Issuer:   iss,
		Subject:  sess.sub,
		Audience: jwt.Audience{i.audience},
		ClientID: sess.clientID,
		Scope:    scope,
		JTI:      rand.Text(),
		Session:  sess.sid,
		IssuedAt: now.Unix(),
		Expiry:   expiry(now, i.tokenTTL),
		Factor:   sess.fid,
		AMR:      sess.amr,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", nil, fmt.Errorf("encode claims: %w", err)
	}
	jws, err := key.signer.Sign(payload)
	if err != nil {
		return "", nil, fmt.Errorf("sign: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", nil, fmt.Errorf("serialize: %w", err)
	}
	return tok, c, nil
}

// expiry is now+ttl in Unix seconds, rounded up so that a token lives at least ttl (exp is the
// first second in which it is no longer accepted).
func expiry(now time.Time, ttl time.Duration) int64 {
	t := now.Add(ttl)
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// Results of checking an access token, also the result label of the introspection metric.
const (
	resultActive     = "active"
	resultRevoked    = "revoked"
	resultKeyRevoked = "key_revoked"
	resultExpired    = "expired"
	resultInvalid    = "invalid" // malformed, bad signature, unknown key, wrong iss/aud/typ
	resultUnknown    = "unknown" // not a token this issuer knows (refresh-token lookups)
)

// verify checks an access token's signature, key, issuer (unless iss is empty), audience and
// type. It does not check expiry or recalls (check does).
func (i *Issuer) verify(raw, iss string) (*accessClaims, string, string) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", resultInvalid
	}
	h := jws.Signatures[0].Header
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" { // RFC 9068 section 4
		return nil, "", resultInvalid
	}
	key, state := i.keys.lookup(h.KeyID)
	if key == nil {
		return nil, "", resultInvalid
	}
	payload, err := jws.Verify(&key.priv.PublicKey)
	if err != nil {
		return nil, "", resultInvalid
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" {
		return nil, "", resultInvalid
	}
	if (iss != "" && c.Issuer != iss) || !c.Audience.Contains(i.audience) {
		return nil, "", resultInvalid
	}
	if state == keyRevoked {
		return &c, h.KeyID, resultKeyRevoked
	}
	return &c, h.KeyID, resultActive
}

// check is verify plus expiry and the recall rules: what introspection answers.
func (i *Issuer) check(raw, iss string, now time.Time) (*accessClaims, string, string) {
	c, kid, res := i.verify(raw, iss)
	if res != resultActive {
		return c, kid, res
	}
	if now.Unix() >= c.Expiry {
		return c, kid, resultExpired
	}
	if r, ok := i.set.Revoked(c.rc(kid)); ok {
		if r.Type == revocation.Key {
			return c, kid, resultKeyRevoked
		}
		return c, kid, resultRevoked
	}
	return c, kid, resultActive
}

// unverifiedJTI extracts the jti of a JWT without checking its signature (admin token recalls:
// the caller is trusted, and 100k signature checks would take seconds).
func unverifiedJTI(raw string) (string, bool) {
	first := strings.IndexByte(raw, '.')
	last := strings.LastIndexByte(raw, '.')
	if first < 0 || first == last {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(raw[first+1 : last])
	if err != nil {
		return "", false
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(payload, &c) != nil || c.JTI == "" {
		return "", false
	}
	return c.JTI, true
}

// family is one refresh-token chain: a login session. All its refresh tokens and access tokens
// share sid.
type family struct {
	mu       sync.Mutex
	sess     session
	scope    string
	authTime int64 // iat of the session's first access token
	dead     bool  // revoked or reuse detected; guarded by mu
}

// recalled reports whether a rule recalls the whole session (subject, client, session, factor
// or issued-before recalls match a session by its login time).
func (i *Issuer) recalled(f *family) bool {
	_, ok := i.set.Revoked(revocation.Claims{
		Subject: f.sess.sub, ClientID: f.sess.clientID, Session: f.sess.sid, Factor: f.sess.fid,
		IssuedAt: f.authTime,
	})
	return ok
}

type refreshToken struct {
	fam  *family
	exp  time.Time
	used bool // rotated; guarded by fam.mu
}

const refreshShards = 64

// refreshStore maps SHA-256(refresh token) to its record. Only digests are stored.
type refreshStore struct {
	shards [refreshShards]struct {
		mu sync.RWMutex
		m  map[[32]byte]*refreshToken
	}
}

func (s *refreshStore) init() {
	for n := range s.shards {
		s.shards[n].m = make(map[[32]byte]*refreshToken)
	}
}

func (s *refreshStore) get(raw string) *refreshToken {
	h := sha256.Sum256([]byte(raw))
	sh := &s.shards[h[0]%refreshShards]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[h]
}

// issue creates a new refresh token in fam.
func (s *refreshStore) issue(fam *family, exp time.Time) string {
	var b [32]byte
	rand.Read(b[:])
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(raw))
	sh := &s.shards[h[0]%refreshShards]
	sh.mu.Lock()
	sh.m[h] = &refreshToken{fam: fam, exp: exp}
	sh.mu.Unlock()
	return raw
}

// sweep drops tokens expired before now and returns how many.
func (s *refreshStore) sweep(now time.Time) int {
	n := 0
	for k := range s.shards {
		sh := &s.shards[k]
		sh.mu.Lock()
		for h, t := range sh.m {
			if now.After(t.exp) {
				delete(sh.m, h)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
