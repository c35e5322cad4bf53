package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/source"
)

// ActionRotateKey is the planned rotation of a signing key: publish, switch, retire.
const ActionRotateKey = "rotate-key"

var rotateKeyParams = params.Spec{
	{Key: "grace", Type: params.Duration, AllowZero: true, Default: "0s",
		Doc: "the least time the old key stays published after it signed its last token (the victims' latest iat, rounded up to the whole second); a trigger that comes sooner waits out the rest, and the retirement is the recall instant"},
}

func init() {
	RegisterAction(ActionKind{Name: ActionRotateKey,
		Doc:         "planned rotation of the signing key: the next key, published ahead when the issuer publishes signing_keys ≥ 2, signs from the switch between the victims and the controls (the fresh cohort); at the trigger, once with.grace has passed since the old key's last signature, the victims' kid is retired from the JWKS",
		NeedsIssuer: true,
		Params:      rotateKeyParams,
		// The switch: controls are signed by the next key, so retiring the victims' key spares
		// them, and a verifier that does not know the next key yet rejects them (false rejects).
		Population: PopulationNeeds{ExtraKey: true},
		// Recovery needs nothing: a fresh credential is signed by the key that signs now.
		New: newRotateKey})
}

// newRotateKey retires the victims' kid in one request to the provider's Recaller, as
// revoke-key does; unlike revoke-key the key no longer signs (the population switched to the
// next one before minting the controls), and the old key stays published for with.grace after
// its last signature: the retirement waits for it when the trigger comes sooner. The
// acknowledgement, and so every TTC, counts from the retirement, not from the switch.
func newRotateKey(p ActionParams) (Action, error) {
	grace := rotateKeyParams.Decode(p.With).Duration("grace")
	if grace < 0 {
		return nil, fmt.Errorf("%s: with.grace: %v is negative", ActionRotateKey, grace)
	}
	retire, err := recallBy(ActionRotateKey, "kid", func(t *Token) string { return t.Claims.KeyID })(p)
	if err != nil {
		return nil, err
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		if grace > 0 {
			last, err := source.Boundary(victims)
			if err != nil {
				err = fmt.Errorf("%s: with.grace needs the old key's last signature: %w", ActionRotateKey, err)
				failAll(victims, ack, err)
				return err
			}
			if wait := time.Until(last.Add(grace)); wait > 0 {
				p.Logger.Info("old signing key still within its grace period: retiring it later", "wait", wait.Round(time.Millisecond), "grace", grace)
				timer := time.NewTimer(wait)
				defer timer.Stop()
				select {
				case <-ctx.Done():
					return ctx.Err() // nothing sent: the victims count as not sent
				case <-timer.C:
				}
			}
		}
		return retire.Do(ctx, iss, victims, ack)
	}), nil
}
