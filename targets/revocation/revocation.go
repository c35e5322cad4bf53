// Package revocation is the contract between the reference issuer and everything that enforces
// its recalls (gateways, the service): the shape of a recall rule, how a rule matches a token's
// claims, the wire format of the revocation list and of bus events, and an in-memory Set that
// answers "is this token recalled?" fast and safely under concurrent load.
//
// A recall is a set of rules applied at one instant with one version number:
//
//	issuer ── admin recall ──► Rules{version N} ──┬─► NATS EventSubject "recall.events" (push)
//	                                               └─► GET /revocations?since=M    (poll)
//
// Rules are cumulative and never removed (tokens expire on their own), so a consumer that has
// seen version N holds exactly the rules with Version <= N.
package revocation

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// EventSubject is the NATS subject on which the issuer publishes one Event per recall.
const EventSubject = "recall.events"

// Type names what a Rule matches on.
type Type string

// The rule types. A Rule of type JTI, Subject, Client, Session, Key or Factor matches a token whose
// claim of that kind equals Value and whose iat is at or before IssuedBefore (when set; zero
// means any iat). IssuedBeforeAll matches every token with iat at or before IssuedBefore.
const (
	JTI             Type = "jti"    // claim jti
	Subject         Type = "sub"    // claim sub
	Client          Type = "client" // claim client_id
	Session         Type = "sid"    // claim sid
	Key             Type = "kid"    // JWS header kid
	Factor          Type = "factor" // claim amr_factor: the MFA factor id the session used
	IssuedBeforeAll Type = "all"    // every token issued at or before IssuedBefore
)

// Types lists every rule type, for validation.
var Types = []Type{JTI, Subject, Client, Session, Key, Factor, IssuedBeforeAll}

// Rule is one recall rule. Rules are immutable once published.
type Rule struct {
	// Version is the revocation-list version that introduced this rule (all rules of one recall
	// share it).
	Version uint64 `json:"version"`
	// RecallID is the id the issuer returned for the recall this rule belongs to.
	RecallID string `json:"recall_id"`
	// Type is what the rule matches on.
	Type Type `json:"type"`
	// Value is the claim value matched (empty for IssuedBeforeAll).
	Value string `json:"value,omitempty"`
	// IssuedBefore, in Unix seconds, bounds the rule to tokens with iat <= IssuedBefore. Zero
	// means no bound. Subject/client/session/all recalls set it to the recall instant so that
	// credentials issued afterwards are honoured again.
	IssuedBefore int64 `json:"issued_before,omitempty"`
}

// Claims is what a Rule is matched against: the fields of a validated access token.
type Claims struct {
	JTI      string
	Subject  string
	ClientID string
	Session  string
	KeyID    string
	Factor   string
	IssuedAt int64 // Unix seconds
}

// Matches reports whether r recalls a token with claims c.
func (r Rule) Matches(c Claims) bool {
	if r.IssuedBefore != 0 && c.IssuedAt > r.IssuedBefore {
		return false
	}
	switch r.Type {
	case JTI:
		return c.JTI == r.Value
	case Subject:
		return c.Subject == r.Value
	case Client:
		return c.ClientID == r.Value
	case Session:
		return c.Session == r.Value
	case Key:
		return c.KeyID == r.Value
	case Factor:
		return c.Factor != "" && c.Factor == r.Value
	case IssuedBeforeAll:
		return r.IssuedBefore != 0
	}
	return false
}

// Event is what the issuer publishes on EventSubject for each recall: every rule it introduced.
type Event struct {
	Version  uint64    `json:"version"`
	RecallID string    `json:"recall_id"`
	Rules    []Rule    `json:"rules"`
	At       time.Time `json:"at"` // issuer's instant of applying the recall (informational)
}

// List is the body of GET /revocations[?since=V]: the rules with Version > since (all rules when
// since is absent or 0), and the current version. Full is true when Rules holds every rule.
// The response carries ETag: "\"<Version>\"" and honours If-None-Match with 304.
type List struct {
	Version uint64 `json:"version"`
	Full    bool   `json:"full"`
	Rules   []Rule `json:"rules"`
}

// Set holds applied rules and answers Revoked in O(1) per claim kind. The zero value is ready to
// use; it is safe for concurrent use.
type Set struct {
	mu      sync.RWMutex
	version uint64
	n       int
	by      map[Type]map[string]Rule // per type, per value: the rule with the latest IssuedBefore
	all     int64                    // max IssuedBefore of IssuedBeforeAll rules
}

// Apply adds rules and raises the set's version to at least version. It returns the rules that
// changed what the set recalls (new values, or a later IssuedBefore), so that callers can record
// ground truth for exactly those.
func (s *Set) Apply(version uint64, rules []Rule) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(version, rules)
}

// ApplyAt is Apply that also returns the instant the changed rules took effect, read under the
// write lock after the last of them: no reader can have seen them before that instant (readers
// wait for the lock), and the caller cannot be descheduled between the release and its own
// clock reading, which would record the instant after a reader had already been refused.
func (s *Set) ApplyAt(version uint64, rules []Rule) ([]Rule, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.apply(version, rules)
	return changed, time.Now()
}

func (s *Set) apply(version uint64, rules []Rule) []Rule {
	if s.by == nil {
		s.by = make(map[Type]map[string]Rule)
	}
	changed := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if r.Type == IssuedBeforeAll {
			if r.IssuedBefore > s.all {
				s.all = r.IssuedBefore
				changed = append(changed, r)
			}
			continue
		}
		m := s.by[r.Type]
		if m == nil {
			m = make(map[string]Rule)
			s.by[r.Type] = m
		}
		old, ok := m[r.Value]
		switch {
		case !ok:
			s.n++
		case old.IssuedBefore == 0:
			continue // already unbounded
		case r.IssuedBefore != 0 && r.IssuedBefore <= old.IssuedBefore:
			continue
		}
		m[r.Value] = r
		changed = append(changed, r)
	}
	if version > s.version {
		s.version = version
	}
	return changed
}

// Version is the highest version applied.
func (s *Set) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Len is the number of distinct (type, value) rules held.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Revoked reports whether any held rule recalls a token with claims c, and which.
func (s *Set) Revoked(c Claims) (Rule, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.all != 0 && c.IssuedAt <= s.all {
		return Rule{Type: IssuedBeforeAll, IssuedBefore: s.all}, true
	}
	for _, kv := range [...]struct {
		t Type
		v string
	}{{JTI, c.JTI}, {Subject, c.Subject}, {Client, c.ClientID}, {Session, c.Session}, {Key, c.KeyID}, {Factor, c.Factor}} {
		if kv.v == "" {
			continue
		}
		if r, ok := s.by[kv.t][kv.v]; ok && r.Matches(c) {
			return r, true
		}
	}
	return Rule{}, false
}

// Rules returns every held rule, sorted by version then type then value (for snapshots).
func (s *Set) Rules() []Rule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Rule
	for _, m := range s.by {
		for _, r := range m {
			out = append(out, r)
		}
	}
	if s.all != 0 {
		out = append(out, Rule{Type: IssuedBeforeAll, IssuedBefore: s.all})
	}
	slices.SortFunc(out, func(a, b Rule) int {
		switch {
		case a.Version != b.Version:
			return cmp.Compare(a.Version, b.Version)
		case a.Type != b.Type:
			return cmp.Compare(a.Type, b.Type)
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return out
}
