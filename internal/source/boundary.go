package source

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Boundary is the instant T that splits a population minted with NewSecondBeforeControls: the
// whole second after the latest iat of the victims. Every victim was issued before T (its iat,
// in whole seconds, is below T) and every control at or after it, the first ones within T's
// second: a recall of everything issued before T must spare them, and one that compares iat
// with ≤ instead of < kills them.
//
// It is derived from the victims' iat claims only, so that the source (which waits for it
// before minting controls) and a recall action (which recalls before it) agree without sharing
// state. Victims without iat (opaque tokens, or JWTs without the claim) have no boundary.
func Boundary(victims []*Token) (time.Time, error) {
	var last int64
	for _, v := range victims {
		if v.Claims.IssuedAt <= 0 {
			return time.Time{}, fmt.Errorf("credential %s has no iat claim: the instant it was issued is unknown", v.ID())
		}
		last = max(last, v.Claims.IssuedAt)
	}
	if last == 0 {
		return time.Time{}, errors.New("no victims")
	}
	return time.Unix(last+1, 0), nil
}

// WaitForBoundary waits until the [Boundary] of the victims has come, so that the controls
// minted next are issued at or after it.
func WaitForBoundary(ctx context.Context, victims []*Token) error {
	t, err := Boundary(victims)
	if err != nil {
		return fmt.Errorf("mint controls after the victims' second: %w", err)
	}
	// A little past the second: the issuer's clock is read after the harness's.
	d := time.Until(t) + 5*time.Millisecond
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
