package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/recall-drills/recall/internal/source"
)

// ActionIssuedBefore is the action that recalls everything issued before an instant.
const ActionIssuedBefore = "revoke-issued-before"

func init() {
	RegisterAction(ActionKind{Name: ActionIssuedBefore,
		Doc:         "recall every credential issued before T, the whole second after the victims' last iat (a compromise window); controls are minted from T on, the first within T's second",
		NeedsIssuer: true,
		Population:  PopulationNeeds{NewSecond: true},
		New:         newIssuedBefore})
}

// newIssuedBefore recalls, in one request, every credential issued before the victims'
// [source.Boundary]: the population waited for it before minting the controls, so the victims
// lie before it and the controls from it on, some within its second.
func newIssuedBefore(p ActionParams) (Action, error) {
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		r, ok := iss.Recaller.(source.IssuedBeforeRecaller)
		if !ok {
			err := fmt.Errorf("%s needs a provider with an issued-before recall (the reference issuer); for your provider use action http (a not-before admin call), or command", ActionIssuedBefore)
			failAll(victims, ack, err)
			return err
		}
		before, err := source.Boundary(victims)
		if err != nil {
			err = fmt.Errorf("%s: %w", ActionIssuedBefore, err)
			failAll(victims, ack, err)
			return err
		}
		return ackAll(ctx, victims, ack, func(ctx context.Context) error {
			res, err := r.RecallIssuedBefore(ctx, before)
			if err == nil {
				p.Logger.Info("recall applied", "recall_id", res.ID, "type", "issued_before", "before", before.UTC().Format(time.RFC3339), "count", res.Count)
			}
			return err
		})
	}), nil
}
