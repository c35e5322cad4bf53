package issuer_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
)

// Minting, revoking (RFC 7009 and admin recalls), refreshing and introspecting in parallel; run
// with -race. At the end every revoked token is inactive and every other one active.
func TestConcurrentMintRevokeIntrospect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const (
		minters      = 4
		perMinter    = 40
		introspector = 3
	)
	minted := make(chan string, minters*perMinter)
	var (
		mu      sync.Mutex
		revoked = map[string]bool{}
		all     []string
		wg      sync.WaitGroup
	)
	for range minters {
		wg.Go(func() {
			for range perMinter {
				minted <- e.cc()
			}
		})
	}
	// Revokers: every other token, alternating RFC 7009 and admin jti recalls.
	var revokers sync.WaitGroup
	for r := range 2 {
		revokers.Go(func() {
			n := 0
			for tok := range minted {
				mu.Lock()
				all = append(all, tok)
				mu.Unlock()
				n++
				if n%2 == 0 {
					continue
				}
				if r == 0 {
					if status, m := e.post("/revoke", "app", "app-secret", url.Values{"token": {tok}}); status != 200 {
						t.Errorf("revoke: %d %v", status, m)
					}
				} else if _, err := e.iss.RecallTokens(context.Background(), str(claimsNoT(tok)["jti"])); err != nil {
					t.Errorf("recall: %v", err)
				}
				mu.Lock()
				revoked[tok] = true
				mu.Unlock()
			}
		})
	}
	// Introspectors: whatever has been minted so far.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range introspector {
		readers.Go(func() {
			for k := 0; k < 2000; k++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				var tok string
				if len(all) > 0 {
					tok = all[k%len(all)]
				}
				mu.Unlock()
				if tok != "" {
					e.introspect(tok)
				}
			}
		})
	}
	// A refresh chain and the revocation list, concurrently.
	readers.Go(func() {
		s := e.login("alice", "alice-pw")
		for range 30 {
			s = e.mustToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.refresh}})
			e.get("/revocations?since=1", nil)
		}
		if !e.active(s.access) || !e.active(s.refresh) {
			t.Error("end of an uncontested refresh chain inactive")
		}
	})
	wg.Wait()
	close(minted)
	revokers.Wait()
	close(stop)
	readers.Wait()

	if len(all) != minters*perMinter {
		t.Fatalf("%d tokens seen, want %d", len(all), minters*perMinter)
	}
	for _, tok := range all {
		if got := e.active(tok); got == revoked[tok] {
			t.Errorf("token %s: active %v, revoked %v", claimsNoT(tok)["jti"], got, revoked[tok])
		}
	}
	if v, n := e.iss.Version(), uint64(len(revoked)); v != n {
		t.Errorf("version %d, want one per revocation (%d)", v, n)
	}
}
