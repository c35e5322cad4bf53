package drill

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/source"
)

// fakeMFA is a provider whose recall of factors takes effect for logins after refuseAfter more
// tries per user and way in (0: at once); keep leaves recovery codes working.
type fakeMFA struct {
	source.Source
	mu          sync.Mutex
	recalled    bool
	users       []string
	tries       map[string]int
	refuseAfter int
	keepCodes   bool
	calls       atomic.Int64
}

func (f *fakeMFA) RecallBy(_ context.Context, by string, values []string) (source.RecallResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if by != "mfa" {
		return source.RecallResult{}, errors.New("want mfa")
	}
	f.recalled, f.users = true, values
	return source.RecallResult{ID: "r1", Count: len(values), RecoveryCodes: 3 * len(values)}, nil
}

func (f *fakeMFA) login(t *Token, way string, kept bool) (bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.recalled || kept {
		return false, nil
	}
	f.tries[t.User+way]++
	return f.tries[t.User+way] > f.refuseAfter, nil
}

func (f *fakeMFA) LoginWithFactor(_ context.Context, t *Token) (bool, error) {
	return f.login(t, "factor", false)
}

func (f *fakeMFA) LoginWithRecoveryCode(_ context.Context, t *Token) (bool, error) {
	return f.login(t, "code", f.keepCodes)
}

// TestRevokeMFAChecksLogins: revoke-mfa recalls each victim's user once, acknowledges every
// victim with the call's instants, and gives the first victim of each user its check: both
// logins accepted before the recall and refused after it (here after two more tries), with the
// provider's counts; a provider that keeps recovery codes leaves that login accepted until the
// bound, and the check says so.
func TestRevokeMFAChecksLogins(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		f := &fakeMFA{tries: map[string]int{}, refuseAfter: 2, keepCodes: keep}
		victims := []*Token{{User: "a"}, {User: "b"}, {User: "a"}}
		act, err := newRevokeMFA(ActionParams{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		acks := make([]Ack, len(victims))
		ctx := context.Background()
		if keep {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, loginCheckFor+2*time.Second)
			defer cancel()
		}
		if err := act.Do(ctx, Issuer{Source: f, Recaller: f}, victims, func(i int, a Ack) { acks[i] = a }); err != nil {
			t.Fatal(err)
		}
		if len(f.users) != 2 {
			t.Errorf("recalled users %v, want a and b once each", f.users)
		}
		if acks[2].Factor != nil || acks[0].Factor == nil || acks[1].Factor == nil {
			t.Fatalf("checks on %v %v %v: want one per user, on its first victim", acks[0].Factor, acks[1].Factor, acks[2].Factor)
		}
		for _, a := range acks[:2] {
			c := a.Factor
			if a.Acked.IsZero() || a.Err != nil || c.Factors != 2 || c.RecoveryCodes != 6 {
				t.Errorf("ack %+v, check %+v", a, c)
			}
			if o := c.OldFactor; !o.Baseline || !o.Refused || o.AcceptedAfter != 2 || o.After <= 0 {
				t.Errorf("user %s old factor %+v: want accepted before, twice after, then refused", c.User, o)
			}
			if o := c.RecoveryCode; keep != (o.Baseline && !o.Refused && o.AcceptedAfter > 0) || !keep && !o.Refused {
				t.Errorf("user %s recovery code %+v (codes kept: %v)", c.User, o, keep)
			}
		}
	}
}
