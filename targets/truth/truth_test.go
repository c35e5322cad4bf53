package truth

import (
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

type fixed struct {
	at time.Time
	ok bool
}

func (f fixed) EnforcedSince(revocation.Claims) (time.Time, bool) { return f.at, f.ok }

// TestEnforcedSince covers the three ways a component enforces: its own rule records, deferring
// to its upstream through a cache, and both at once (the earlier wins).
func TestEnforcedSince(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tok := revocation.Claims{JTI: "j1", KeyID: "k1", IssuedAt: t0.Unix()}
	jtiRule := revocation.Rule{Type: revocation.JTI, Value: "j1"}
	keyRule := revocation.Rule{Type: revocation.Key, Value: "k1"}
	for _, tc := range []struct {
		name   string
		build  func() *Log
		want   time.Time
		wantOK bool
	}{
		{"no records", func() *Log { return NewLog("g", nil) }, time.Time{}, false},
		{"earliest matching rule", func() *Log {
			l := NewLog("g", nil)
			l.RuleApplied(revocation.Rule{Type: revocation.JTI, Value: "other"}, at(10))
			l.RuleApplied(jtiRule, at(300))
			l.RuleApplied(keyRule, at(200))
			return l
		}, at(200), true},
		{"upstream without cache", func() *Log { return NewLog("g", fixed{at(100), true}) }, at(100), true},
		{"cache outlives upstream", func() *Log {
			l := NewLog("g", fixed{at(100), true})
			l.Cached("j1", at(400))
			l.Cached("j1", at(250)) // an older expiry never lowers the record
			return l
		}, at(400), true},
		{"cache expired before upstream", func() *Log {
			l := NewLog("g", fixed{at(100), true})
			l.Cached("j1", at(50))
			return l
		}, at(100), true},
		{"upstream not enforcing yet", func() *Log {
			l := NewLog("g", fixed{})
			l.Cached("j1", at(50))
			return l
		}, time.Time{}, false},
		{"own rule earlier than cache", func() *Log {
			l := NewLog("g", fixed{at(100), true})
			l.Cached("j1", at(900))
			l.RuleApplied(keyRule, at(300))
			return l
		}, at(300), true},
		{"cache path earlier than own rule", func() *Log {
			l := NewLog("g", fixed{at(100), true})
			l.Cached("j1", at(200))
			l.RuleApplied(keyRule, at(300))
			return l
		}, at(200), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.build().EnforcedSince(tok)
			if ok != tc.wantOK || !got.Equal(tc.want) {
				t.Errorf("EnforcedSince = %v, %v; want %v, %v", got.Sub(t0), ok, tc.want.Sub(t0), tc.wantOK)
			}
		})
	}
}
