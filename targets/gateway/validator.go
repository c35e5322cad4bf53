package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/recall-drills/recall/targets/revocation"
)

// maxBody bounds what is read from the issuer (JWKS, lists, introspection answers).
const maxBody = 64 << 20

// Validator checks access tokens locally: an ES256 JWS (jwt.ParseSigned refuses every other
// alg, so neither `none` nor HS256 key confusion can pass), signed by the JWKS key named by the
// header kid, with typ at+jwt, the expected iss and aud, and exp, nbf and iat within Leeway. It
// knows nothing of recalls: a Guard adds that.
//
// Keys come from {IssuerURL}/jwks: fetched by Refresh, refetched in the background once older
// than JWKSTTL (the old keys stay in use meanwhile, and if the refetch fails), and refetched
// synchronously when a token names an unknown kid, at most once per JWKSMinRefresh. JWKSRefetch
// turns the unknown-kid refetch off (RefetchTTL), or every refetch (RefetchNever: the stale
// verifier). KeyEvents is the ground truth of which keys were accepted when. A key that
// leaves the JWKS (a recalled signing key) is no longer accepted from the fetch that dropped it;
// that is how even a jwt-only gateway learns of a key recall, late (on the next refetch).
//
// ES256 verification dominates the cost of a request (BenchmarkValidate, 2 cores in parallel:
// 59 µs per token verified, 0.56 µs per cache hit; 200 allocations against 1), so the
// Validator remembers up to VerifiedCacheSize verified tokens keyed by the SHA-256 of the whole
// raw token (signature included, so a tampered token never hits): a token seen again costs one
// SHA-256 and a map lookup. A cached verification never outlives the token's exp, nor the
// presence in the current JWKS of the very key that verified it (a kid that leaves, or comes
// back with other key material, is verified again), and the token's times are checked again on
// every hit. The cache only saves the signature check: the Guard's recall check runs on every
// request.
//
// A Validator is safe for concurrent use.
type Validator struct {
	issuerURL  string
	issuer     string
	audience   string
	leeway     time.Duration
	jwksTTL    time.Duration
	minRefresh time.Duration
	refetch    JWKSRefetch
	timeout    time.Duration
	client     *http.Client
	log        *slog.Logger
	m          *metrics

	// onKeysRemoved, when set before first use, is called with the kids a JWKS fetch dropped and
	// the instant from which their tokens are rejected.
	onKeysRemoved func(kids []string, at time.Time)

	keys      atomic.Pointer[keySet]
	lastFetch atomic.Int64 // UnixNano of the last JWKS fetch attempt
	sf        singleflight.Group
	cache     *verifiedCache // nil when disabled

	evMu   sync.Mutex
	events []KeyEvent
}

// KeyEvent is a change of the signing keys a Validator accepts: ground truth of when it started
// accepting a new kid and when it stopped honouring a removed one.
type KeyEvent struct {
	// KeyID is the kid.
	KeyID string `json:"kid"`
	// Added is true when the kid entered the accepted keys, false when it left them.
	Added bool `json:"added"`
	// At is the instant the fetch that changed the keys landed: from then on the change holds.
	At time.Time `json:"at"`
}

// KeyEvents returns the changes of accepted keys so far, oldest first; the first fetch's keys
// are events too.
func (v *Validator) KeyEvents() []KeyEvent {
	v.evMu.Lock()
	defer v.evMu.Unlock()
	return append([]KeyEvent(nil), v.events...)
}

// Refetch returns the Validator's JWKS refetch policy.
func (v *Validator) Refetch() JWKSRefetch { return v.refetch }

type keySet struct {
	keys    map[string]*ecdsa.PublicKey
	fetched time.Time
}

// NewValidator returns a Validator for cfg (IssuerURL, Issuer, Audience, Leeway, JWKSTTL,
// JWKSMinRefresh, Timeout, VerifiedCacheSize, Logger; Strategy is ignored). It does not fetch
// keys: call Refresh, or let the first token fetch them.
func NewValidator(cfg Config) (*Validator, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = JWTOnly
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newValidator(cfg, newMetrics(cfg)), nil
}

func newValidator(cfg Config, m *metrics) *Validator {
	v := &Validator{
		issuerURL:  cfg.IssuerURL,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		leeway:     cfg.Leeway,
		jwksTTL:    cfg.JWKSTTL,
		minRefresh: cfg.JWKSMinRefresh,
		refetch:    cfg.JWKSRefetch,
		timeout:    cfg.Timeout,
		client:     &http.Client{Timeout: cfg.Timeout, Transport: newTransport()},
		log:        cfg.Logger,
		m:          m,
	}
	if cfg.VerifiedCacheSize > 0 {
		v.cache = newVerifiedCache(cfg.VerifiedCacheSize)
	}
	return v
}

// keepFresh refetches the JWKS every JWKSTTL (after the last fetch) until ctx ends, so that a
// removed key is refused within JWKSTTL even without traffic; nothing under RefetchNever. A
// failed refetch is retried after JWKSMinRefresh.
func (v *Validator) keepFresh(ctx context.Context) {
	if v.refetch == RefetchNever {
		return
	}
	for {
		wait := v.minRefresh
		if ks := v.keys.Load(); ks != nil {
			wait = max(time.Until(ks.fetched.Add(v.jwksTTL)), time.Millisecond)
		}
		if !sleepCtx(ctx, wait) {
			return
		}
		if ks := v.keys.Load(); ks == nil || time.Since(ks.fetched) >= v.jwksTTL {
			if err := v.Refresh(ctx); err != nil && ctx.Err() == nil {
				sleepCtx(ctx, v.minRefresh)
			}
		}
	}
}

// Refresh fetches the JWKS now. Concurrent calls share one fetch.
func (v *Validator) Refresh(ctx context.Context) error {
	ch := v.sf.DoChan("jwks", func() (any, error) { return nil, v.fetchKeys(ctx) })
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetchKeys fetches the JWKS and replaces the key set. Callers go through v.sf.
//
// lastFetch is stamped when the fetch ends, not when it starts: a token of an unknown kid that
// arrives while a fetch is in flight joins it (refreshUnknownKid), rather than being refused
// with the old keys because a fetch had "just" begun.
func (v *Validator) fetchKeys(ctx context.Context) error {
	defer func() { v.lastFetch.Store(time.Now().UnixNano()) }()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
	defer cancel()
	keys, err := v.getJWKS(ctx)
	if err != nil {
		v.m.jwksRefreshes.WithLabelValues("error").Inc()
		v.log.Warn("jwks fetch failed", "err", err)
		return fmt.Errorf("fetch jwks: %w", err)
	}
	v.m.jwksRefreshes.WithLabelValues("ok").Inc()
	if cur := v.keys.Load(); cur != nil {
		// An unchanged key keeps its pointer, so that tokens it verified stay cached.
		for kid, k := range keys {
			if o := cur.keys[kid]; o != nil && o.Equal(k) {
				keys[kid] = o
			}
		}
	}
	now := time.Now()
	old := v.keys.Swap(&keySet{keys: keys, fetched: now})
	var gone []string
	v.evMu.Lock()
	for kid := range keys {
		if old == nil || old.keys[kid] == nil {
			v.events = append(v.events, KeyEvent{KeyID: kid, Added: true, At: now})
		}
	}
	if old != nil {
		for kid := range old.keys {
			if keys[kid] == nil {
				gone = append(gone, kid)
				v.events = append(v.events, KeyEvent{KeyID: kid, At: now})
			}
		}
	}
	v.evMu.Unlock()
	if len(gone) > 0 && v.onKeysRemoved != nil {
		v.onKeysRemoved(gone, now)
	}
	return nil
}

func (v *Validator) getJWKS(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.issuerURL+"/jwks", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET /jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.ES256)) {
			continue
		}
		pub, ok := k.Key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			continue
		}
		keys[k.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no ES256 signing key with a kid")
	}
	return keys, nil
}

// refreshUnknownKid refetches the JWKS for an unknown kid (or joins the fetch in flight) unless
// the policy is not RefetchUnknownKid or the last fetch ended less than minRefresh ago, and returns the key set to
// use. With no key set yet (the first fetch failed) every policy fetches, rate-limited.
func (v *Validator) refreshUnknownKid(ctx context.Context) *keySet {
	ks := v.keys.Load()
	if ks != nil && v.refetch != RefetchUnknownKid {
		return ks
	}
	if time.Since(time.Unix(0, v.lastFetch.Load())) < v.minRefresh {
		return ks
	}
	_ = v.Refresh(ctx)
	return v.keys.Load()
}

// Validate checks raw and returns its recall-relevant claims. Errors are *TokenError (reject) or
// ErrMissingToken.
func (v *Validator) Validate(ctx context.Context, raw string) (revocation.Claims, error) {
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return revocation.Claims{}, err
	}
	return t.Claims, nil
}

// Verify checks raw and returns the validated token (shared: read-only). Errors are
// *TokenError (reject) or ErrMissingToken.
func (v *Validator) Verify(ctx context.Context, raw string) (*Token, error) {
	if raw == "" {
		return nil, ErrMissingToken
	}
	now := time.Now()
	ks := v.keys.Load()
	if ks == nil || (v.refetch != RefetchNever && now.Sub(ks.fetched) > v.jwksTTL) {
		if ks == nil {
			ks = v.refreshUnknownKid(ctx)
		} else if now.Sub(time.Unix(0, v.lastFetch.Load())) >= v.minRefresh {
			// Background refetch; the current keys stay in use until it lands.
			v.sf.DoChan("jwks", func() (any, error) { return nil, v.fetchKeys(context.Background()) })
		}
	}
	var sum [sha256.Size]byte
	if v.cache != nil {
		sum = sha256.Sum256([]byte(raw))
		// A hit needs the very key that verified the token to be in the current key set: a kid
		// that left the JWKS, or came back with other key material, misses and is verified again.
		if e, ok := v.cache.get(sum, now); ok && ks != nil && ks.keys[e.t.KeyID] == e.key {
			v.m.cacheHits.WithLabelValues("verified").Inc()
			if err := v.checkTimes(e.t, now); err != nil {
				return nil, err
			}
			return e.t, nil
		}
		v.m.cacheMisses.WithLabelValues("verified").Inc()
	}
	t, pub, err := v.verify(ctx, raw, ks, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(sum, verifiedEntry{t: t, key: pub}, now)
	}
	return t, nil
}

// extClaims are the claims beyond RFC 7519's that a token carries.
type extClaims struct {
	Scope     scopeClaim `json:"scope"`
	ClientID  string     `json:"client_id"`
	SID       string     `json:"sid"`
	FID       string     `json:"fid"`
	AMRFactor string     `json:"amr_factor"`
	AMR       []string   `json:"amr"`
}

// scopeClaim accepts the RFC 9068 space-separated string and, leniently, an array of strings.
type scopeClaim string

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = scopeClaim(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scope: neither a string nor an array of strings")
	}
	*s = scopeClaim(strings.Join(list, " "))
	return nil
}

var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256}

// verify checks raw's signature and claims, and returns the token and the key that verified it.
func (v *Validator) verify(ctx context.Context, raw string, ks *keySet, now time.Time) (*Token, *ecdsa.PublicKey, error) {
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		return nil, nil, invalid("malformed token or algorithm not ES256", err)
	}
	if len(tok.Headers) != 1 {
		return nil, nil, invalid("exactly one signature required", nil)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isATJWT(typ) {
		return nil, nil, invalid("typ is not at+jwt", nil)
	}
	if h.KeyID == "" {
		return nil, nil, invalid("missing kid", nil)
	}
	var pub *ecdsa.PublicKey
	if ks != nil {
		pub = ks.keys[h.KeyID]
	}
	if pub == nil {
		ks = v.refreshUnknownKid(ctx)
		if ks != nil {
			pub = ks.keys[h.KeyID]
		}
		if pub == nil {
			return nil, nil, invalid("unknown kid", nil)
		}
	}
	var std jwt.Claims
	var ext extClaims
	if err := tok.Claims(pub, &std, &ext); err != nil {
		return nil, nil, invalid("bad signature or claims", err)
	}
	switch {
	case std.Issuer != v.issuer:
		return nil, nil, invalid("wrong issuer", nil)
	case !std.Audience.Contains(v.audience):
		return nil, nil, invalid("wrong audience", nil)
	case std.Expiry == nil:
		return nil, nil, invalid("missing exp", nil)
	case std.IssuedAt == nil:
		return nil, nil, invalid("missing iat", nil)
	case std.ID == "":
		return nil, nil, invalid("missing jti", nil)
	case std.Subject == "":
		return nil, nil, invalid("missing sub", nil)
	}
	t := &Token{
		Claims: revocation.Claims{
			JTI:      std.ID,
			Subject:  std.Subject,
			ClientID: ext.ClientID,
			Session:  ext.SID,
			KeyID:    h.KeyID,
			Factor:   ext.FID,
			IssuedAt: int64(*std.IssuedAt),
		},
		Issuer:      std.Issuer,
		Audience:    []string(std.Audience),
		Scope:       string(ext.Scope),
		AMR:         ext.AMR,
		Expiry:      std.Expiry.Time(),
		Fingerprint: Fingerprint(raw),
	}
	if t.Factor == "" {
		t.Factor = ext.AMRFactor
	}
	if std.NotBefore != nil {
		t.NotBefore = std.NotBefore.Time()
	}
	if err := v.checkTimes(t, now); err != nil {
		return nil, nil, err
	}
	return t, pub, nil
}

// checkTimes rejects a token that is expired (now >= exp, RFC 7519 4.1.4), not yet valid or
// issued in the future, each with Leeway.
func (v *Validator) checkTimes(t *Token, now time.Time) error {
	switch {
	case !now.Add(-v.leeway).Before(t.Expiry):
		return invalid("token expired", nil)
	case !t.NotBefore.IsZero() && now.Add(v.leeway).Before(t.NotBefore):
		return invalid("token not yet valid", nil)
	case now.Add(v.leeway).Unix() < t.IssuedAt:
		return invalid("token issued in the future", nil)
	}
	return nil
}

func isATJWT(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

// verifiedCache is a bounded map of verified tokens, keyed by the SHA-256 of the raw token, as
// Envoy's jwt_authn keeps one. An entry remembers the signing key it was verified with and never
// outlives the token's exp: get drops an entry from exp on, and so does put before evicting
// anything else when the map is full. With no expired entry to drop, put evicts an eighth of the
// entries (arbitrary ones: map order).
type verifiedCache struct {
	max int
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]verifiedEntry
}

// verifiedEntry is one cached verification: the token and the key that verified its signature.
type verifiedEntry struct {
	t   *Token
	key *ecdsa.PublicKey
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, m: make(map[[sha256.Size]byte]verifiedEntry, min(max, 1024))}
}

// get returns the entry for k unless it is absent or its token expired at now (the entry is then
// dropped).
func (c *verifiedCache) get(k [sha256.Size]byte, now time.Time) (verifiedEntry, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok {
		return e, false
	}
	if !now.Before(e.t.Expiry) {
		c.mu.Lock()
		if cur, ok := c.m[k]; ok && cur.t == e.t {
			delete(c.m, k)
		}
		c.mu.Unlock()
		return verifiedEntry{}, false
	}
	return e, true
}

func (c *verifiedCache) put(k [sha256.Size]byte, e verifiedEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, old := range c.m {
			if !now.Before(old.t.Expiry) {
				delete(c.m, key)
			}
		}
	}
	if len(c.m) >= c.max {
		drop := max(c.max/8, 1)
		for key := range c.m {
			delete(c.m, key)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.m[k] = e
}

// len returns the number of entries held.
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
