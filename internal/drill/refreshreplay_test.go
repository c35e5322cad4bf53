package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/recall-drills/recall/internal/oauth"
)

// rotatingTokenEndpoint is a refresh_token grant that rotates; with detect, a rotated token
// presented again kills its family (RFC 9700 section 4.14.2), without, it is honoured again.
type rotatingTokenEndpoint struct {
	detect bool
	mu     sync.Mutex
	n      int
	used   map[string]bool   // rotated refresh tokens
	family map[string]string // refresh token → family
	dead   map[string]bool   // families
}

func (e *rotatingTokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	rt := r.PostForm.Get("refresh_token")
	e.mu.Lock()
	defer e.mu.Unlock()
	fam, ok := e.family[rt]
	refuse := func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
	}
	switch {
	case !ok || e.dead[fam]:
		refuse()
		return
	case e.used[rt] && e.detect:
		e.dead[fam] = true
		refuse()
		return
	}
	e.used[rt] = true
	e.n++
	next := fmt.Sprintf("rt-%s-%d", fam, e.n)
	e.family[next] = fam
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", e.n), "token_type": "Bearer", "refresh_token": next})
}

func replayVictims(t *testing.T, e *rotatingTokenEndpoint, with ...map[string]any) []Ack {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	owner := &oauth.Client{ID: "c", Secret: "s"}
	var victims []*Token
	for i := range 3 {
		rt := fmt.Sprintf("rt-f%d-0", i)
		e.family[rt] = fmt.Sprintf("f%d", i)
		victims = append(victims, &Token{Index: i, Victim: true, Access: NewSecret(fmt.Sprintf("at-f%d", i)), Refresh: NewSecret(rt), Owner: owner})
	}
	p := ActionParams{Concurrency: 1}
	if len(with) > 0 {
		p.With = with[0]
	}
	a, err := NewAction(ActionRefreshReplay, p)
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]Ack, len(victims))
	_ = a.Do(context.Background(), Issuer{Endpoints: oauth.Endpoints{Token: srv.URL}, HTTP: srv.Client()}, victims, func(i int, a Ack) { acks[i] = a })
	return acks
}

func newRotating(detect bool) *rotatingTokenEndpoint {
	return &rotatingTokenEndpoint{detect: detect, used: map[string]bool{}, family: map[string]string{}, dead: map[string]bool{}}
}

// TestRefreshReplayAcksTheReplay: against a provider with reuse detection every replay is
// acknowledged, the acknowledgement being the replay's answer, and every family is dead.
func TestRefreshReplayAcksTheReplay(t *testing.T) {
	e := newRotating(true)
	for i, a := range replayVictims(t, e) {
		if a.Err != nil || a.Sent.IsZero() || a.Acked.Before(a.Sent) {
			t.Errorf("victim %d: %+v, want acknowledged", i, a)
		}
	}
	if len(e.dead) != 3 {
		t.Errorf("%d families dead, want 3", len(e.dead))
	}
}

// TestRefreshReplayNoReuseDetection: a provider that honours a replayed refresh token has
// recalled nothing; each victim's recall fails, saying why.
func TestRefreshReplayNoReuseDetection(t *testing.T) {
	for i, a := range replayVictims(t, newRotating(false)) {
		if a.Err == nil || !strings.Contains(a.Err.Error(), "no reuse detection") {
			t.Errorf("victim %d: err %v, want the replay honoured reported", i, a.Err)
		}
	}
}

// TestRefreshReplayFalseFamilyKill: when the first rotation's answer is lost (the provider
// rotated), the client's retry presents a rotated token and reuse detection kills the family
// with no attacker: that victim is marked a false family kill, the others are replayed.
func TestRefreshReplayFalseFamilyKill(t *testing.T) {
	e := newRotating(true)
	acks := replayVictims(t, e, map[string]any{"lose_answers": 1})
	kills := 0
	for i, a := range acks {
		if a.Err != nil {
			t.Errorf("victim %d: %v", i, a.Err)
		}
		if a.FalseFamilyKill {
			kills++
		}
	}
	if kills != 1 || len(e.dead) != 3 {
		t.Errorf("%d false family kills, %d families dead; want 1 and 3", kills, len(e.dead))
	}
	if n, ids := falseFamilyKills(acks, nil); n != 1 || len(ids) != 0 {
		t.Errorf("falseFamilyKills = %d %v", n, ids)
	}
}

// TestRefreshReplayNoFalseKillWithoutDetection: a provider without reuse detection honours the
// retry: no family dies, so no false family kill (the replays then fail the recall).
func TestRefreshReplayNoFalseKillWithoutDetection(t *testing.T) {
	for i, a := range replayVictims(t, newRotating(false), map[string]any{"lose_answers": 3}) {
		if a.FalseFamilyKill {
			t.Errorf("victim %d marked a false family kill", i)
		}
	}
}
