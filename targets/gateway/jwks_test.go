package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// rotate publishes a new key k2 and removes k1 from the fake's JWKS (an emergency key recall
// with its replacement), and returns the instant it did.
func rotate(f *fakeIssuer) time.Time {
	f.addKey("k2", true)
	f.unpublish("k1")
	return time.Now()
}

func keyEvent(evs []KeyEvent, kid string, added bool) (KeyEvent, bool) {
	for _, e := range evs {
		if e.KeyID == kid && e.Added == added {
			return e, true
		}
	}
	return KeyEvent{}, false
}

// TestJWKSRefetchUnknownKid: the default policy accepts a new key at its first token and, with
// the same fetch, stops honouring the removed one; ground truth says when.
func TestJWKSRefetchUnknownKid(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSTTL: time.Hour, JWKSMinRefresh: 10 * time.Millisecond,
		DebugSecret: "dbg"})
	old := f.mint()
	if st := status(t, gw.URL, old); st != http.StatusOK {
		t.Fatalf("before: %d", st)
	}
	time.Sleep(20 * time.Millisecond) // past the min refresh interval since the first fetch
	removed := rotate(f)
	fresh := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	if st := status(t, gw.URL, fresh); st != http.StatusOK {
		t.Errorf("first token of the new key: %d, want 200 (refetch on unknown kid)", st)
	}
	if st := status(t, gw.URL, old); st != http.StatusUnauthorized {
		t.Errorf("token of the removed key after the refetch: %d, want 401", st)
	}
	ev, ok := keyEvent(g.Validator().KeyEvents(), "k1", false)
	if !ok || ev.At.Before(removed) {
		t.Fatalf("key events %+v: want k1 removed after %v", g.Validator().KeyEvents(), removed)
	}
	if at, ok := g.Truth().EnforcedSince(claimsOf(t, old)); !ok || !at.Equal(ev.At) {
		t.Errorf("truth for the removed key's token: %v %v, want %v", at, ok, ev.At)
	}
	// The same events over HTTP, for the harness only.
	if r := get(t, gw.URL, "/debug/keys", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("/debug/keys without the secret: %d, want 401", r.StatusCode)
	}
	var dbg struct {
		Refetch JWKSRefetch `json:"refetch"`
		Events  []KeyEvent  `json:"events"`
	}
	if err := json.NewDecoder(get(t, gw.URL, "/debug/keys", "dbg").Body).Decode(&dbg); err != nil {
		t.Fatal(err)
	}
	if e, ok := keyEvent(dbg.Events, "k1", false); dbg.Refetch != RefetchUnknownKid || !ok || !e.At.Equal(ev.At) {
		t.Errorf("/debug/keys = %+v, want refetch unknown-kid and k1 removed at %v", dbg, ev.At)
	}
}

// TestJWKSRefetchTTL: with no unknown-kid refetch, a new key's tokens are refused until the keys
// are older than JWKSTTL (false rejects) and the removed key honoured until then; the background
// refetch lands within JWKSTTL of the last fetch even without traffic.
func TestJWKSRefetchTTL(t *testing.T) {
	t.Parallel()
	const ttl = 400 * time.Millisecond
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSTTL: ttl,
		JWKSMinRefresh: 10 * time.Millisecond, JWKSRefetch: RefetchTTL})
	old := f.mint()
	removed := rotate(f)
	fresh := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	lastFetch, _ := keyEvent(g.Validator().KeyEvents(), "k1", true)
	if st := status(t, gw.URL, fresh); st != http.StatusUnauthorized && time.Since(lastFetch.At) < ttl {
		t.Errorf("new key's token before the TTL: %d, want 401 (no unknown-kid refetch)", st)
	}
	// No traffic: the background refetch alone must drop k1 and learn k2.
	waitFor(t, 10*time.Second, "background refetch", func() bool {
		_, ok := keyEvent(g.Validator().KeyEvents(), "k1", false)
		return ok
	})
	ev, _ := keyEvent(g.Validator().KeyEvents(), "k1", false)
	if ev.At.Before(removed) {
		t.Errorf("k1 removed at %v, before the issuer removed it (%v)", ev.At, removed)
	}
	// The known answer: honoured for at most the TTL after the last fetch (plus scheduling).
	if late := ev.At.Sub(lastFetch.At); late < ttl || late > ttl+2*time.Second {
		t.Errorf("k1 refused %v after the last fetch, want within [ttl %v, ttl + 2s]", late, ttl)
	}
	if st := status(t, gw.URL, old); st != http.StatusUnauthorized {
		t.Errorf("removed key's token after the refetch: %d, want 401", st)
	}
	if st := status(t, gw.URL, fresh); st != http.StatusOK {
		t.Errorf("new key's token after the refetch: %d, want 200", st)
	}
	if _, ok := keyEvent(g.Validator().KeyEvents(), "k2", true); !ok {
		t.Error("no key event for k2 added")
	}
}

// TestJWKSRefetchNever: the stale verifier keeps its first keys: the removed key is honoured
// and the new one refused long after the TTL, and the JWKS is never fetched again.
func TestJWKSRefetchNever(t *testing.T) {
	t.Parallel()
	const ttl = 100 * time.Millisecond
	f := newFakeIssuer(t)
	g, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSTTL: ttl,
		JWKSMinRefresh: 10 * time.Millisecond, JWKSRefetch: RefetchNever})
	old := f.mint()
	rotate(f)
	fresh := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	time.Sleep(5 * ttl)
	for range 3 {
		if st := status(t, gw.URL, old); st != http.StatusOK {
			t.Errorf("removed key's token, stale verifier: %d, want 200", st)
		}
		if st := status(t, gw.URL, fresh); st != http.StatusUnauthorized {
			t.Errorf("new key's token, stale verifier: %d, want 401", st)
		}
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("jwks fetched %d times, want 1", n)
	}
	if _, ok := keyEvent(g.Validator().KeyEvents(), "k1", false); ok {
		t.Error("a stale verifier recorded k1 as removed")
	}
	if _, ok := g.Truth().EnforcedSince(claimsOf(t, old)); ok {
		t.Error("truth says the stale verifier enforces the key recall")
	}
}

func TestJWKSRefetchInvalid(t *testing.T) {
	if _, err := NewValidator(Config{IssuerURL: "http://127.0.0.1:1", JWKSRefetch: "sometimes"}); err == nil {
		t.Error("unknown jwks refetch policy accepted")
	}
}

// TestJWKSRefetchUnknownKidJoinsFetchInFlight: tokens of a new key that arrive while the
// unknown-kid refetch is still in flight wait for it and are accepted; before, the rate limit
// counted from the fetch's start and refused them with the old keys (false rejects of a fresh
// cohort at every gateway right after a rotation to an unpublished key).
func TestJWKSRefetchUnknownKidJoinsFetchInFlight(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	_, gw := newTestGateway(t, Config{Strategy: JWTOnly, IssuerURL: f.URL, JWKSTTL: time.Hour, JWKSMinRefresh: 10 * time.Millisecond})
	time.Sleep(20 * time.Millisecond) // past the min refresh interval since the first fetch
	f.addKey("k2", true)
	fresh := f.mint(func(s *tokenSpec) { s.kid = "k2" })
	hold := make(chan struct{})
	f.jwksHold.Store(&hold)
	hits := f.jwksHits.Load()
	codes := make(chan int, 2)
	send := func() {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+fresh)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			codes <- 0
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}
	go send()
	waitFor(t, 5*time.Second, "the unknown-kid refetch to start", func() bool { return f.jwksHits.Load() > hits })
	go send()
	// The second request must not finish while the fetch is held; give it a while to (wrongly) do so.
	var early []int
	select {
	case c := <-codes:
		early = append(early, c)
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	got := append(early, <-codes)
	if len(early) == 0 {
		got = append(got, <-codes)
	}
	for _, c := range got {
		if c != http.StatusOK {
			t.Errorf("token of the new key during the refetch: %d, want 200 (answers %v)", c, got)
		}
	}
}
