package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/revocation"
)

// RecallType names what a recall selects, as the "type" of POST /admin/recalls.
type RecallType string

// The recall types.
const (
	// RecallJTI recalls access tokens by jti (rules without IssuedBefore).
	RecallJTI RecallType = "jti"
	// RecallToken recalls raw tokens: an access token by its jti, a refresh token by its whole
	// family (a session rule: the family's refresh tokens and the session's access tokens).
	RecallToken RecallType = "token"
	// RecallSubject recalls every credential of users, issued up to the recall instant.
	RecallSubject RecallType = "sub"
	// RecallClient recalls every credential of clients, issued up to the recall instant.
	RecallClient RecallType = "client"
	// RecallSession recalls sessions (sid), issued up to the recall instant.
	RecallSession RecallType = "sid"
	// RecallKey recalls signing keys: their tokens become inactive and the keys leave the JWKS.
	// The active key is rotated away first.
	RecallKey RecallType = "kid"
	// RecallIssuedBefore recalls every token issued before Before: with iat in whole seconds,
	// every token whose iat is below Before's second when Before is a whole second, and up to
	// its second included otherwise (those may have been issued before it). Empty Before is the
	// recall instant, whose second is included: tokens minted after the recall wait for the
	// next second (see clearOfRecalls).
	RecallIssuedBefore RecallType = "issued_before"
	// RecallMFA deletes the TOTP factors of users (of every user with All) and recalls the
	// sessions established with them. The users must re-enrol before they can log in again.
	RecallMFA RecallType = "mfa"
)

// RecallTypes lists every recall type, for validation.
var RecallTypes = []RecallType{RecallJTI, RecallToken, RecallSubject, RecallClient, RecallSession, RecallKey, RecallIssuedBefore, RecallMFA}

// RecallRequest is one recall, as POST /admin/recalls takes it.
type RecallRequest struct {
	// Type is what Values are.
	Type RecallType `json:"type"`
	// Values are jtis, raw tokens, subjects, client ids, sids, kids or usernames (mfa).
	// Duplicates and empty strings are ignored.
	Values []string `json:"values,omitempty"`
	// Before bounds an issued_before recall: RFC 3339 or Unix seconds, not in the future.
	// Empty means the recall instant.
	Before string `json:"before,omitempty"`
	// All selects every user for an mfa recall.
	All bool `json:"all,omitempty"`
	// IdempotencyKey, when not empty, makes a repeated call return the first call's result
	// without applying anything (the Idempotency-Key header of the HTTP API).
	IdempotencyKey string `json:"-"`
}

// RecallResult is what a recall did, as POST /admin/recalls returns it.
type RecallResult struct {
	// RecallID identifies the recall; every rule it introduced carries it.
	RecallID string `json:"recall_id"`
	// Type is the request's type.
	Type RecallType `json:"type"`
	// Count is how many rules changed what the issuer recalls (values already recalled as
	// strongly do not count).
	Count int `json:"count"`
	// Unresolved counts values that named nothing: tokens that are neither a JWT nor a known
	// refresh token, unknown usernames of an mfa recall.
	Unresolved int `json:"unresolved,omitempty"`
	// RecoveryCodes counts the unused recovery codes an mfa recall deleted with the factors.
	RecoveryCodes int `json:"recovery_codes,omitempty"`
	// Version is the revocation-list version of the recall: a consumer that reached it enforces
	// the recall.
	Version uint64 `json:"version"`
	// AppliedAt is the instant the rules were applied (the ground-truth instant). In process it
	// keeps its monotonic reading.
	AppliedAt time.Time `json:"applied_at"`
	// Replayed is true when the result is the stored one of an earlier call with the same
	// idempotency key.
	Replayed bool `json:"replayed,omitempty"`
	// Rules are the rules that changed the store (in-process only; HTTP clients read them from
	// GET /revocations?since=Version-1).
	Rules []revocation.Rule `json:"-"`
}

// Recall applies a recall: the in-process form of POST /admin/recalls, and the path every other
// revocation (RFC 7009, refresh-token reuse) takes too.
//
// The rules are applied to the store at one instant — introspection, token refresh and the
// revocation list switch together — and only then published on the bus. Every recall gets a new
// version, even one that changes nothing. ctx is only checked before anything is applied.
// Errors wrap ErrInvalidRecall or are ErrIdempotencyConflict.
func (i *Issuer) Recall(ctx context.Context, req RecallRequest) (RecallResult, error) {
	if err := ctx.Err(); err != nil {
		return RecallResult{}, err
	}
	p, err := i.prepare(req)
	if err != nil {
		return RecallResult{}, err
	}
	var fp [32]byte
	if req.IdempotencyKey != "" {
		fp = requestFingerprint(req)
	}

	i.rmu.Lock()
	if req.IdempotencyKey != "" {
		if prev, ok := i.idem.get(req.IdempotencyKey); ok {
			i.rmu.Unlock()
			if prev.fp != fp {
				return RecallResult{}, ErrIdempotencyConflict
			}
			res := prev.res
			res.Replayed = true
			return res, nil
		}
	}
	if err := ctx.Err(); err != nil {
		i.rmu.Unlock()
		return RecallResult{}, err
	}
	res, ev, err := i.applyLocked(req, p)
	if err != nil {
		i.rmu.Unlock()
		return RecallResult{}, err
	}
	if req.IdempotencyKey != "" {
		i.idem.put(req.IdempotencyKey, fp, res)
	}
	// Hand over to the publisher lock before releasing the recall lock: events leave in version
	// order, and the next recall need not wait for this one's publishing.
	i.pubMu.Lock()
	i.rmu.Unlock()
	i.publish(ev)
	i.pubMu.Unlock()
	i.backchannelLogout(ev)
	i.emitSSF(ev)
	return res, nil
}

// prepared is a request resolved outside the recall lock.
type prepared struct {
	rules         []revocation.Rule // Version, RecallID and (bounded) IssuedBefore not yet set
	bounded       bool              // IssuedBefore = recall instant
	sessions      []*family         // refresh-token families to mark dead
	kids          []string
	unresolved    int
	recoveryCodes int // mfa: unused recovery codes deleted with the factors
}

func (i *Issuer) prepare(req RecallRequest) (prepared, error) {
	var p prepared
	vals := dedupe(req.Values)
	one := func(t revocation.Type) {
		p.rules = make([]revocation.Rule, len(vals))
		for n, v := range vals {
			p.rules[n] = revocation.Rule{Type: t, Value: v}
		}
	}
	switch req.Type {
	case RecallJTI:
		one(revocation.JTI)
	case RecallSubject:
		one(revocation.Subject)
		p.bounded = true
	case RecallClient:
		one(revocation.Client)
		p.bounded = true
	case RecallSession:
		one(revocation.Session)
		p.bounded = true
	case RecallKey:
		if u := i.keys.known(vals); len(u) > 0 {
			return p, fmt.Errorf("%w: unknown kid %q", ErrInvalidRecall, u[0])
		}
		one(revocation.Key)
		p.kids = vals
	case RecallToken:
		p.bounded = true // session rules of refresh families; jti rules ignore it (see applyLocked)
		p.rules = make([]revocation.Rule, 0, len(vals))
		for _, v := range vals {
			if jti, ok := unverifiedJTI(v); ok {
				p.rules = append(p.rules, revocation.Rule{Type: revocation.JTI, Value: jti})
				continue
			}
			rt := i.refresh.get(v)
			if rt == nil {
				p.unresolved++
				continue
			}
			p.sessions = append(p.sessions, rt.fam)
			p.rules = append(p.rules, revocation.Rule{Type: revocation.Session, Value: rt.fam.sess.sid})
		}
	case RecallIssuedBefore:
		if len(vals) > 0 {
			return p, fmt.Errorf("%w: issued_before takes before, not values", ErrInvalidRecall)
		}
		p.rules = []revocation.Rule{{Type: revocation.IssuedBeforeAll}}
		if req.Before == "" {
			p.bounded = true
			break
		}
		t, err := parseBefore(req.Before)
		if err != nil {
			return p, err
		}
		if t.After(time.Now()) {
			return p, fmt.Errorf("%w: before %q is in the future", ErrInvalidRecall, req.Before)
		}
		if t.Unix() <= 0 {
			return p, fmt.Errorf("%w: before %q is not after the Unix epoch", ErrInvalidRecall, req.Before)
		}
		p.rules[0].IssuedBefore = lastSecondBefore(t, i.inclusive)
	case RecallMFA:
		if req.All && len(vals) > 0 {
			return p, fmt.Errorf("%w: mfa takes values or all, not both", ErrInvalidRecall)
		}
	default:
		return p, fmt.Errorf("%w: unknown type %q (have: %s)", ErrInvalidRecall, req.Type, typeNames())
	}
	if req.Type != RecallIssuedBefore && req.Before != "" {
		return p, fmt.Errorf("%w: before is only for issued_before", ErrInvalidRecall)
	}
	if req.Type != RecallMFA && req.All {
		return p, fmt.Errorf("%w: all is only for mfa", ErrInvalidRecall)
	}
	if req.Type != RecallIssuedBefore && !(req.Type == RecallMFA && req.All) && len(vals) == 0 {
		return p, fmt.Errorf("%w: no values", ErrInvalidRecall)
	}
	return p, nil
}

// applyLocked applies a prepared recall. The caller holds rmu.
func (i *Issuer) applyLocked(req RecallRequest, p prepared) (RecallResult, revocation.Event, error) {
	if req.Type == RecallMFA {
		ids, codes, unknown := i.reg.deleteFactors(dedupe(req.Values), req.All)
		p.unresolved, p.recoveryCodes = unknown, codes
		p.rules = make([]revocation.Rule, len(ids))
		for n, id := range ids {
			p.rules[n] = revocation.Rule{Type: revocation.Factor, Value: id}
		}
	}
	if len(p.kids) > 0 {
		if err := i.keys.moveOffActive(p.kids); err != nil {
			return RecallResult{}, revocation.Event{}, fmt.Errorf("rotate away from recalled key: %w", err)
		}
	}
	for _, f := range p.sessions {
		f.mu.Lock()
		f.dead = true
		f.mu.Unlock()
	}

	version := i.version + 1
	id := "rc_" + rand.Text()[:16]
	now := time.Now()
	for n := range p.rules {
		r := &p.rules[n]
		r.Version, r.RecallID = version, id
		if p.bounded && r.Type != revocation.JTI && r.IssuedBefore == 0 {
			r.IssuedBefore = now.Unix()
		}
	}

	// The instant: from here on introspection, refresh and the list see the rules.
	changed := i.set.Apply(version, p.rules)
	i.keys.revoke(p.kids)
	at := time.Now()
	i.version = version
	for _, r := range changed {
		i.truth.RuleApplied(r, at)
	}
	i.list.append(version, changed)

	i.m.recalls.WithLabelValues(string(req.Type)).Inc()
	i.m.rulesApplied.Add(float64(len(changed)))
	i.log.Info("recall applied", "recall_id", id, "type", req.Type, "rules", len(changed),
		"unresolved", p.unresolved, "version", version, "took", at.Sub(now))
	res := RecallResult{
		RecallID: id, Type: req.Type, Count: len(changed), Unresolved: p.unresolved, RecoveryCodes: p.recoveryCodes,
		Version: version, AppliedAt: at, Rules: changed,
	}
	return res, revocation.Event{Version: version, RecallID: id, Rules: changed, At: at}, nil
}

// RecallTokens recalls access tokens by jti: shorthand for Recall with RecallJTI.
func (i *Issuer) RecallTokens(ctx context.Context, jtis ...string) (RecallResult, error) {
	return i.Recall(ctx, RecallRequest{Type: RecallJTI, Values: jtis})
}

// lastSecondBefore is the rule bound (the latest iat recalled, inclusive) of "issued before t":
// a token with iat s was issued within [s, s+1), possibly before t exactly when s < t. So a
// whole-second t spares its own second and any other t includes it. inclusive is the boundary
// bug (Config.IssuedBeforeInclusive): t's second is always recalled.
func lastSecondBefore(t time.Time, inclusive bool) int64 {
	if inclusive || t.Nanosecond() != 0 {
		return t.Unix()
	}
	return t.Unix() - 1
}

func parseBefore(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: before %q is neither RFC 3339 nor Unix seconds", ErrInvalidRecall, s)
	}
	return t, nil
}

func typeNames() string {
	s := make([]string, len(RecallTypes))
	for n, t := range RecallTypes {
		s[n] = string(t)
	}
	return strings.Join(s, ", ")
}

// dedupe drops empty strings and repeats, keeping first occurrences in order.
func dedupe(vals []string) []string {
	seen := make(map[string]struct{}, len(vals))
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v == "" {
			continue
		}
		if _, ok := seen[v]; ok {
			continue
		}
		seen[v] = struct{}{}
		out = append(out, v)
	}
	return out
}

func requestFingerprint(req RecallRequest) [32]byte {
	h := sha256.New()
	var n [8]byte
	write := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	write(string(req.Type))
	write(req.Before)
	write(strconv.FormatBool(req.All))
	for _, v := range req.Values {
		write(v)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// maxIdempotencyKeys bounds the remembered idempotency keys; the oldest are forgotten first.
const maxIdempotencyKeys = 4096

type idemEntry struct {
	fp  [32]byte
	res RecallResult
}

// idempotency remembers recall results by key. Guarded by Issuer.rmu.
type idempotency struct {
	m     map[string]idemEntry
	order []string
}

func (d *idempotency) get(k string) (idemEntry, bool) {
	e, ok := d.m[k]
	return e, ok
}

func (d *idempotency) put(k string, fp [32]byte, res RecallResult) {
	if d.m == nil {
		d.m = make(map[string]idemEntry)
	}
	if len(d.order) >= maxIdempotencyKeys {
		delete(d.m, d.order[0])
		d.order = d.order[1:]
	}
	res.Rules = nil // do not pin large rule slices
	d.m[k] = idemEntry{fp: fp, res: res}
	d.order = append(d.order, k)
}

// revList is the append-only revocation list behind GET /revocations.
type revList struct {
	mu      sync.RWMutex
	version uint64
	rules   []revocation.Rule // in version order; elements never change once appended

	cacheMu      sync.Mutex
	cacheVersion uint64
	cacheBody    []byte // encoded full list at cacheVersion
}

func (l *revList) append(version uint64, rules []revocation.Rule) {
	l.mu.Lock()
	l.rules = append(l.rules, rules...)
	l.version = version
	l.mu.Unlock()
}

// snapshot returns the current version and the rules with Version > since. The returned slice
// aliases the list; it is safe to read because appends never touch existing elements.
func (l *revList) snapshot(since uint64) (uint64, []revocation.Rule) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	k := sort.Search(len(l.rules), func(n int) bool { return l.rules[n].Version > since })
	return l.version, l.rules[k:len(l.rules):len(l.rules)]
}

// full returns the encoded full list, re-encoding only when the version moved.
func (l *revList) full() (uint64, []byte, error) {
	version, rules := l.snapshot(0)
	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	if l.cacheBody != nil && l.cacheVersion == version {
		return version, l.cacheBody, nil
	}
	b, err := encodeList(version, true, rules)
	if err != nil {
		return 0, nil, err
	}
	l.cacheVersion, l.cacheBody = version, b
	return version, b, nil
}

func encodeList(version uint64, full bool, rules []revocation.Rule) ([]byte, error) {
	if rules == nil {
		rules = []revocation.Rule{}
	}
	b, err := json.Marshal(revocation.List{Version: version, Full: full, Rules: rules})
	if err != nil {
		return nil, fmt.Errorf("encode revocation list: %w", err)
	}
	return append(b, '\n'), nil
}

// Revocations returns the revocation list as GET /revocations?since=since serves it.
func (i *Issuer) Revocations(since uint64) revocation.List {
	v, rules := i.list.snapshot(since)
	return revocation.List{Version: v, Full: since == 0, Rules: slices.Clone(rules)}
}

// defaultMaxPayload is assumed when the bus has not told its limit yet (NATS' default).
const defaultMaxPayload = 1 << 20

// connect dials the bus, reconnecting forever.
func (i *Issuer) connect(url string) (*nats.Conn, error) {
	return nats.Connect(url,
		nats.Name("recall-issuer"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ConnectHandler(func(c *nats.Conn) { i.log.Info("bus connected", "url", c.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(c *nats.Conn) { i.log.Info("bus reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				i.log.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			i.log.Warn("bus error", "err", err)
		}),
	)
}

// publish sends ev on the bus. An event larger than the server's max payload is split into
// several events with the same version and recall id (each a valid Event); the embedded bus
// accepts 32 MiB so that this only happens on external servers with small limits. Failures are
// logged and counted: pollers and resyncs converge without the event.
func (i *Issuer) publish(ev revocation.Event) {
	if i.nc == nil || i.nc.IsClosed() {
		return
	}
	limit := i.nc.MaxPayload()
	if limit <= 0 {
		limit = defaultMaxPayload
	}
	i.publishSplit(ev, int(limit))
}

func (i *Issuer) publishSplit(ev revocation.Event, limit int) {
	if ev.Rules == nil {
		ev.Rules = []revocation.Rule{}
	}
	data, err := json.Marshal(ev)
	if err != nil {
		i.m.publishFailures.Inc()
		i.log.Error("encode event", "version", ev.Version, "err", err)
		return
	}
	if len(data) > limit && len(ev.Rules) > 1 {
		half := len(ev.Rules) / 2
		a, b := ev, ev
		a.Rules, b.Rules = ev.Rules[:half], ev.Rules[half:]
		i.publishSplit(a, limit)
		i.publishSplit(b, limit)
		return
	}
	if err := i.nc.Publish(revocation.EventSubject, data); err != nil {
		i.m.publishFailures.Inc()
		i.log.Warn("publish recall event", "version", ev.Version, "recall_id", ev.RecallID, "rules", len(ev.Rules), "err", err)
		return
	}
	i.m.published.Inc()
}
