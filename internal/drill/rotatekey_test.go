package drill

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestActionRotateKey: rotate-key retires each distinct kid of the victims in one recall; it
// asks for the switch to the next key before the controls; with.grace holds the retirement
// back until the old key has been published that long after its last signature (the victims'
// latest iat, rounded up to the whole second), and the acknowledgement stamps the retirement.
func TestActionRotateKey(t *testing.T) {
	t.Parallel()
	k, ok := LookupAction(ActionRotateKey)
	if !ok || !k.NeedsIssuer || !k.Population.ExtraKey || k.Recovery.ReEnrolMFA {
		t.Fatalf("rotate-key %+v: want an issuer action that switches keys before the controls", k)
	}
	withKids := func(n int, iat int64, kids ...string) []*Token {
		vs := victims(n)
		for i, v := range vs {
			v.Claims.KeyID, v.Claims.IssuedAt = kids[i%len(kids)], iat
		}
		return vs
	}

	f := &fakeRecaller{}
	a, err := NewAction(ActionRotateKey, ActionParams{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	acks, err := collect(t, a, Issuer{Recaller: f}, withKids(4, start.Unix(), "old-1", "old-2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.recalls) != 1 || f.recalls[0]["type"] != "kid" || len(f.recalls[0]["values"].([]any)) != 2 {
		t.Errorf("rotate-key sent %v; want one kid recall of the two old kids", f.recalls)
	}
	if acks[0].Err != nil || acks[0].Sent.Sub(start) > time.Second {
		t.Errorf("without grace: ack %+v sent %v after the call; want at once", acks[0], acks[0].Sent.Sub(start))
	}

	// The last victim was signed in this second: with a grace of 1.5 s the old key stays
	// published at least until the next second plus 1.5 s.
	const grace = 1500 * time.Millisecond
	g, err := NewAction(ActionRotateKey, ActionParams{With: map[string]any{"grace": grace.String()}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	earliest := time.Unix(now.Unix()+1, 0).Add(grace)
	acks, err = collect(t, g, Issuer{Recaller: f}, withKids(2, now.Unix(), "old-1"))
	if err != nil {
		t.Fatal(err)
	}
	for i, ack := range acks {
		if ack.Err != nil || ack.Sent.Before(earliest) {
			t.Errorf("ack %d sent at %v, %v before the grace period ended", i, ack.Sent.Format(time.StampMilli), earliest.Sub(ack.Sent))
		}
	}
	// A key that stopped signing long ago is retired at once.
	now = time.Now()
	acks, _ = collect(t, g, Issuer{Recaller: f}, withKids(2, now.Unix()-60, "old-1"))
	if d := acks[0].Sent.Sub(now); acks[0].Err != nil || d > time.Second {
		t.Errorf("grace long over: retired %v after the call (%v)", d, acks[0].Err)
	}
	// A grace needs the instant of the last signature.
	acks, err = collect(t, g, Issuer{Recaller: f}, withKids(1, 0, "old-1"))
	if err == nil || acks[0].Err == nil || !strings.Contains(err.Error(), "iat") {
		t.Errorf("victims without iat: err %v", err)
	}
	// Cancelled while waiting: nothing is sent.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n := 0
	if err := g.Do(ctx, Issuer{Recaller: f}, withKids(1, time.Now().Unix(), "old-1"), func(int, Ack) { n++ }); err == nil || n != 0 {
		t.Errorf("cancelled in the grace period: err %v, %d acks; want the context's error and none", err, n)
	}
	if _, err := NewAction(ActionRotateKey, ActionParams{With: map[string]any{"grace": "soon"}}); err == nil {
		t.Error("with.grace: soon was accepted")
	}
}
