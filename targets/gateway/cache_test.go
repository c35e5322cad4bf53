package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// TestVerifiedCacheNeverOutlivesExp checks the cache on a synthetic clock: an entry is a hit up
// to its token's exp and gone from exp on, and a full cache drops expired entries before any
// live one.
func TestVerifiedCacheNeverOutlivesExp(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte(strconv.Itoa(i))) }
	entry := func(exp time.Time) verifiedEntry { return verifiedEntry{t: &Token{Expiry: exp}} }

	c := newVerifiedCache(4)
	c.put(key(0), entry(t0.Add(time.Second)), t0)
	if _, ok := c.get(key(0), t0.Add(time.Second-time.Nanosecond)); !ok {
		t.Fatal("entry missed before exp")
	}
	if _, ok := c.get(key(0), t0.Add(time.Second)); ok {
		t.Fatal("entry hit at exp")
	}
	if n := c.len(); n != 0 {
		t.Fatalf("cache holds %d entries after the only one expired, want 0", n)
	}

	// Two expired and two live entries fill the cache: the next put drops the expired ones only.
	c.put(key(1), entry(t0.Add(time.Second)), t0)
	c.put(key(2), entry(t0.Add(time.Second)), t0)
	c.put(key(3), entry(t0.Add(time.Hour)), t0)
	c.put(key(4), entry(t0.Add(time.Hour)), t0)
	now := t0.Add(time.Minute)
	c.put(key(5), entry(t0.Add(time.Hour)), now)
	if n := c.len(); n != 3 {
		t.Errorf("after a put into a full cache with 2 expired entries: %d entries, want 3", n)
	}
	for _, k := range []int{3, 4, 5} {
		if _, ok := c.get(key(k), now); !ok {
			t.Errorf("live entry %d evicted while expired ones were there", k)
		}
	}
	// A cache full of live entries stays bounded.
	for i := 10; i < 100; i++ {
		c.put(key(i), entry(t0.Add(time.Hour)), now)
		if n := c.len(); n > 4 {
			t.Fatalf("cache holds %d entries, bound 4", n)
		}
	}
}

// TestVerifiedCacheKidRepublishedWithOtherKey: a kid that comes back in the JWKS with other key
// material must not keep honouring tokens verified with the old key from the cache.
func TestVerifiedCacheKidRepublishedWithOtherKey(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	v, err := NewValidator(Config{IssuerURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tok := f.mint()
	for range 2 { // miss, then hit
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("before the key change: %v", err)
		}
	}
	// Same kid, new key: the old token's signature no longer verifies.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.keys["k1"] = k
	f.mu.Unlock()
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, tok); Classify(err) != Reject {
		t.Errorf("token signed by the replaced key, cached before: %v, want a reject", err)
	}
	if _, err := v.Validate(ctx, f.mint()); err != nil {
		t.Errorf("token signed by the new key: %v", err)
	}
	// An unchanged JWKS refetch keeps cached entries (the key keeps its identity).
	fresh := f.mint()
	if _, err := v.Validate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	hits := metricValue(v.m.cacheHits.WithLabelValues("verified"))
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(v.m.cacheHits.WithLabelValues("verified")); got != hits+1 {
		t.Errorf("cache hits after an unchanged JWKS refetch: %v, want %v", got, hits+1)
	}
}

// TestRecalledTokenRejectedWithWarmCache: the cache saves the signature check only; a recalled
// token whose verification is cached is still refused, and ground truth records the recall.
func TestRecalledTokenRejectedWithWarmCache(t *testing.T) {
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: Poll, IssuerURL: f.URL, PollInterval: 50 * time.Millisecond})
	victim, control := f.mint(), f.mint(claim("sub", "user-2"), claim("sid", "sess-2"))
	for range 2 {
		for _, tok := range []string{victim, control} {
			if st := status(t, gw.URL, tok); st != http.StatusOK {
				t.Fatalf("before recall: status %d", st)
			}
		}
	}
	hits := func() float64 { return metricValue(g.m.cacheHits.WithLabelValues("verified")) }
	if h := hits(); h < 2 {
		t.Fatalf("cache hits before the recall = %v, want at least 2 (warm cache)", h)
	}
	f.recall(revocation.Rule{Type: revocation.JTI, Value: claimsOf(t, victim).JTI})
	waitFor(t, 5*time.Second, "rule applied", func() bool {
		_, ok := ruleRecord(g.Truth(), "rc-1")
		return ok
	})
	before := hits()
	if st := status(t, gw.URL, victim); st != http.StatusUnauthorized {
		t.Errorf("recalled token with a warm cache: status %d, want 401", st)
	}
	if h := hits(); h != before+1 {
		t.Errorf("the reject did not come through a cache hit (hits %v -> %v)", before, h)
	}
	if _, ok := g.Truth().EnforcedSince(claimsOf(t, victim)); !ok {
		t.Error("truth has no record of the recall")
	}
	if st := status(t, gw.URL, control); st != http.StatusOK {
		t.Errorf("control: status %d, want 200", st)
	}
}
