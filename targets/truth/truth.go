// Package truth is the reference stack's ground truth: every component records the instant it
// started enforcing each recall, so that tests can check what the harness measured against what
// actually happened.
//
// Two kinds of record exist:
//   - a rule record: "from At on, this component rejects every token Rule matches" (the issuer
//     when it applies a recall; push and poll gateways when they apply a rule they received);
//   - a cache record: "this component holds a positive answer for token JTI that it will honour
//     until At" (introspection caches). Such a component defers to its upstream: it enforces a
//     recall of JTI from max(upstream's instant, the last cache record's At).
//
// All instants come from time.Now() in the component's process, so in-process (embedded) they
// share the harness's monotonic clock; over HTTP they are wall-clock with nanoseconds.
package truth

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// Source answers, for one component, from when it rejected tokens with claims c because of a
// recall. Implementations are safe for concurrent use.
type Source interface {
	// EnforcedSince returns the instant from which the component rejects a token with claims c
	// because of a recall, and false if it does not (yet) enforce any recall of it.
	EnforcedSince(c revocation.Claims) (time.Time, bool)
}

// Record is one ground-truth record, as served by Log.ServeHTTP.
type Record struct {
	// Kind is "rule" or "cache".
	Kind string `json:"kind"`
	// Rule is the rule applied (Kind "rule").
	Rule *revocation.Rule `json:"rule,omitempty"`
	// JTI is the token whose positive answer is cached (Kind "cache").
	JTI string `json:"jti,omitempty"`
	// At is when the rule started being enforced, or until when the cached answer is honoured.
	At time.Time `json:"at"`
}

// Log is a component's ground-truth record. The zero value is not ready: use NewLog. It is safe
// for concurrent use and keeps one cache record per JTI (the latest).
type Log struct {
	component string
	upstream  Source

	mu    sync.RWMutex
	rules []Record
	cache map[string]time.Time
}

// NewLog returns an empty Log for the named component. upstream, when not nil, is the source a
// caching component defers to (the issuer for an introspecting gateway).
func NewLog(component string, upstream Source) *Log {
	return &Log{component: component, upstream: upstream, cache: make(map[string]time.Time)}
}

// Component is the name given to NewLog.
func (l *Log) Component() string { return l.component }

// SetUpstream sets the source a caching component defers to.
func (l *Log) SetUpstream(s Source) {
	l.mu.Lock()
	l.upstream = s
	l.mu.Unlock()
}

// RuleApplied records that from at on the component enforces r.
func (l *Log) RuleApplied(r revocation.Rule, at time.Time) {
	l.mu.Lock()
	l.rules = append(l.rules, Record{Kind: "rule", Rule: &r, At: at})
	l.mu.Unlock()
}

// Cached records that the component will honour a positive answer for jti until until.
func (l *Log) Cached(jti string, until time.Time) {
	l.mu.Lock()
	if until.After(l.cache[jti]) {
		l.cache[jti] = until
	}
	l.mu.Unlock()
}

// CacheEnded records that the component dropped its positive answer for jti at at (a logout
// evicted it): the answer is honoured until at, if that is sooner than recorded.
func (l *Log) CacheEnded(jti string, at time.Time) {
	l.mu.Lock()
	if until, ok := l.cache[jti]; ok && at.Before(until) {
		l.cache[jti] = at
	}
	l.mu.Unlock()
}

// Records returns a copy of every record, rules first in the order applied.
func (l *Log) Records() []Record {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]Record, 0, len(l.rules)+len(l.cache))
	out = append(out, l.rules...)
	for jti, at := range l.cache {
		out = append(out, Record{Kind: "cache", JTI: jti, At: at})
	}
	return out
}

// EnforcedSince implements Source: the earliest of the matching rule records and, for a caching
// component, max(upstream's instant, the cache record of c.JTI). (A caching gateway can hold
// rule records too, e.g. when a signing key leaves the JWKS; whichever came first enforces.)
func (l *Log) EnforcedSince(c revocation.Claims) (time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var best time.Time
	found := false
	for _, r := range l.rules {
		if r.Rule.Matches(c) && (!found || r.At.Before(best)) {
			best, found = r.At, true
		}
	}
	if l.upstream == nil {
		return best, found
	}
	up, ok := l.upstream.EnforcedSince(c)
	if !ok {
		return best, found
	}
	if until, ok := l.cache[c.JTI]; ok && until.After(up) {
		up = until
	}
	if !found || up.Before(best) {
		return up, true
	}
	return best, true
}

// ServeHTTP serves the records as JSON: {"component": name, "records": [...]}. Mount it at
// GET /debug/recalls.
func (l *Log) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Component string   `json:"component"`
		Records   []Record `json:"records"`
	}{l.component, l.Records()})
}

var _ Source = (*Log)(nil)
