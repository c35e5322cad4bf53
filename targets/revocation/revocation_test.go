package revocation

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	c := Claims{JTI: "j", Subject: "alice", ClientID: "web", Session: "s1", KeyID: "k1", Factor: "f1", IssuedAt: 100}
	for _, tc := range []struct {
		r    Rule
		want bool
	}{
		{Rule{Type: JTI, Value: "j"}, true},
		{Rule{Type: JTI, Value: "x"}, false},
		{Rule{Type: Subject, Value: "alice", IssuedBefore: 100}, true}, // iat at the bound is recalled
		{Rule{Type: Subject, Value: "alice", IssuedBefore: 99}, false}, // issued after: honoured again
		{Rule{Type: Client, Value: "web"}, true},
		{Rule{Type: Session, Value: "s1"}, true},
		{Rule{Type: Key, Value: "k1"}, true},
		{Rule{Type: Factor, Value: "f1"}, true},
		{Rule{Type: Factor, Value: ""}, false},
		{Rule{Type: IssuedBeforeAll, IssuedBefore: 100}, true},
		{Rule{Type: IssuedBeforeAll}, false}, // no bound: matches nothing rather than everything
		{Rule{Type: "bogus", Value: "j"}, false},
	} {
		if got := tc.r.Matches(c); got != tc.want {
			t.Errorf("%+v.Matches = %v, want %v", tc.r, got, tc.want)
		}
	}
	if (Rule{Type: Factor, Value: "f1"}).Matches(Claims{JTI: "j"}) {
		t.Error("a factor rule matched a token without a factor")
	}
}

func TestSetApply(t *testing.T) {
	t.Parallel()
	var s Set
	changed := s.Apply(1, []Rule{{Type: JTI, Value: "a"}, {Type: Subject, Value: "bob", IssuedBefore: 50}})
	if len(changed) != 2 || s.Version() != 1 || s.Len() != 2 {
		t.Fatalf("first apply: changed %d, version %d, len %d", len(changed), s.Version(), s.Len())
	}
	// Re-applying changes nothing; a later bound widens the rule; an older version never lowers.
	if c := s.Apply(2, []Rule{{Type: JTI, Value: "a"}}); len(c) != 0 {
		t.Errorf("re-applied jti reported as changed: %v", c)
	}
	if c := s.Apply(3, []Rule{{Type: Subject, Value: "bob", IssuedBefore: 40}}); len(c) != 0 {
		t.Errorf("an earlier bound reported as changed: %v", c)
	}
	if c := s.Apply(4, []Rule{{Type: Subject, Value: "bob", IssuedBefore: 60}}); len(c) != 1 {
		t.Errorf("a later bound not reported: %v", c)
	}
	s.Apply(2, nil)
	if s.Version() != 4 {
		t.Errorf("version went back to %d", s.Version())
	}
	for _, tc := range []struct {
		c    Claims
		want bool
	}{
		{Claims{JTI: "a", IssuedAt: 1000}, true},
		{Claims{JTI: "b", Subject: "bob", IssuedAt: 60}, true},
		{Claims{JTI: "b", Subject: "bob", IssuedAt: 61}, false},
		{Claims{JTI: "b", Subject: "carol", IssuedAt: 1}, false},
	} {
		if _, got := s.Revoked(tc.c); got != tc.want {
			t.Errorf("Revoked(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
	s.Apply(5, []Rule{{Type: IssuedBeforeAll, IssuedBefore: 10}})
	if r, ok := s.Revoked(Claims{JTI: "z", IssuedAt: 10}); !ok || r.Type != IssuedBeforeAll {
		t.Errorf("issued-before-all rule not applied: %v %v", r, ok)
	}
	if got := len(s.Rules()); got != 3 {
		t.Errorf("Rules() = %d rules, want 3 (jti a, sub bob, all)", got)
	}
}

// TestSetConcurrent runs Apply and Revoked together under the race detector.
func TestSetConcurrent(t *testing.T) {
	t.Parallel()
	var s Set
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Apply(uint64(i), []Rule{{Type: JTI, Value: fmt.Sprint(w, "-", i)}})
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Revoked(Claims{JTI: fmt.Sprint(w, "-", i)})
			}
		}()
	}
	wg.Wait()
	if s.Len() != 2000 {
		t.Errorf("Len = %d, want 2000", s.Len())
	}
}

func BenchmarkSetRevoked(b *testing.B) {
	var s Set
	rules := make([]Rule, 100_000)
	for i := range rules {
		rules[i] = Rule{Type: JTI, Value: fmt.Sprint("jti-", i)}
	}
	s.Apply(1, rules)
	c := Claims{JTI: "jti-5000", Subject: "x", ClientID: "y", Session: "z", KeyID: "k"}
	for b.Loop() {
		s.Revoked(c)
	}
}

// TestSetApplyAt: the instant ApplyAt returns lies between the call and its return, with the
// rules it reports changed.
func TestSetApplyAt(t *testing.T) {
	var s Set
	before := time.Now()
	changed, at := s.ApplyAt(1, []Rule{{Type: JTI, Value: "a"}, {Type: JTI, Value: "a"}})
	after := time.Now()
	if len(changed) != 1 || at.Before(before) || at.After(after) {
		t.Errorf("changed %d (want 1), at %v, want within [%v, %v]", len(changed), at, before, after)
	}
	if _, ok := s.Revoked(Claims{JTI: "a"}); !ok || s.Version() != 1 {
		t.Errorf("rule not applied or version %d", s.Version())
	}
}
