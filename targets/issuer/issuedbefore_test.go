package issuer

import (
	"context"
	"testing"
	"time"
)

// TestLastSecondBefore: "issued before t" with iat in whole seconds recalls iat < t for a
// whole-second t and iat ≤ t's second otherwise; the planted bug always includes t's second.
func TestLastSecondBefore(t *testing.T) {
	whole := time.Unix(1_000, 0)
	for _, tc := range []struct {
		at        time.Time
		inclusive bool
		want      int64
	}{
		{whole, false, 999},
		{whole.Add(time.Nanosecond), false, 1000},
		{whole.Add(999 * time.Millisecond), false, 1000},
		{whole, true, 1000},
		{whole.Add(time.Millisecond), true, 1000},
	} {
		if got := lastSecondBefore(tc.at, tc.inclusive); got != tc.want {
			t.Errorf("lastSecondBefore(%s, inclusive %v) = %d, want %d", tc.at.UTC().Format(time.RFC3339Nano), tc.inclusive, got, tc.want)
		}
	}
}

// TestIssuedBeforeSameSecond recalls everything issued before the whole second T, with tokens
// minted before T and in T's second after it: the correct issuer spares the latter, the one
// with IssuedBeforeInclusive recalls them at birth (the boundary bug).
func TestIssuedBeforeSameSecond(t *testing.T) {
	t.Parallel()
	for _, inclusive := range []bool{false, true} {
		iss, err := New(Config{AdminSecret: "s", IssuedBeforeInclusive: inclusive,
			Clients: []Client{{ID: "c", Secret: "cs"}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		mint := func() *accessClaims {
			_, c, err := iss.mint(ctx, "iss", session{sub: "c", clientID: "c", sid: newSID()}, "")
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		before := mint()
		T := time.Unix(before.IssuedAt+1, 0)
		time.Sleep(time.Until(T))
		after := mint()
		if after.IssuedAt != T.Unix() {
			t.Logf("slow machine: minted at %d, not in T's second %d", after.IssuedAt, T.Unix())
		}
		if _, err := iss.Recall(ctx, RecallRequest{Type: RecallIssuedBefore, Before: T.UTC().Format(time.RFC3339)}); err != nil {
			t.Fatal(err)
		}
		_, gone := iss.set.Revoked(before.rc(""))
		_, afterGone := iss.set.Revoked(after.rc(""))
		if !gone {
			t.Errorf("inclusive %v: the token issued before T survived", inclusive)
		}
		if want := inclusive && after.IssuedAt == T.Unix(); afterGone != want {
			t.Errorf("inclusive %v: the token of T's second (iat %d, T %d) recalled %v, want %v", inclusive, after.IssuedAt, T.Unix(), afterGone, want)
		}
		iss.Close()
	}
}
