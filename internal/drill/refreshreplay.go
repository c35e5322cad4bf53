package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/params"
)

// ActionRefreshReplay is the refresh-token theft drill: rotate, then replay the rotated token.
const ActionRefreshReplay = "refresh-replay"

var refreshReplayParams = params.Spec{
	{Key: "lose_answers", Type: params.Int, Default: "0",
		Doc: "plant a lost answer: the first N legitimate rotations reach the provider, which rotates, but their answers are dropped on the way back, as a link fault on the token endpoint does; the client retries"},
}

func init() {
	RegisterAction(ActionKind{Name: ActionRefreshReplay,
		Doc:         "refresh-token theft (RFC 9700 §4.14.2): the legitimate client rotates each victim's refresh token at the token endpoint, then an attacker replays the old one; the provider's reuse detection must kill the family, acknowledged by the replay's answer",
		NeedsIssuer: true,
		Params:      refreshReplayParams,
		Population:  PopulationNeeds{RefreshTokens: true},
		New:         newRefreshReplay})
}

// newRefreshReplay: for each victim, (1) the legitimate client redeems its refresh token
// (refresh_token grant at the discovered token endpoint) and gets a rotated one; (2) the
// attacker, with the same client's credentials, presents the old refresh token again. A provider
// with reuse detection answers invalid_grant and recalls the family: the victim's access token
// (and the one the rotation returned) must die everywhere. The acknowledgement is the replay's
// answer. A provider that honours the replay has no reuse detection: that victim's recall
// failed. The rotated refresh token is presented last: honoured, the family survived the theft
// and the recall failed too.
//
// The legitimate client retries a rotation once when no answer came (a transport error), as
// clients behind retrying transports do. The provider did rotate if the request reached it, so
// the retry presents a rotated token: reuse detection kills the family with no attacker
// involved. Such a victim is acknowledged by the retry's answer, marked FalseFamilyKill, and not
// replayed (the family is already dead). A link fault on the declared link harness->issuer,
// which the rotations take, causes it (fault lose_answers loses a given number of answers);
// with.lose_answers plants it in the drill instead, for providers no link reaches.
func newRefreshReplay(p ActionParams) (Action, error) {
	lose := refreshReplayParams.Decode(p.With).Int("lose_answers")
	if lose < 0 {
		return nil, fmt.Errorf("%s: with.lose_answers: %d is negative", ActionRefreshReplay, lose)
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		var replayed, survived, falseKills atomic.Int64
		var lost atomic.Int64
		err := forEach(ctx, len(victims), p.Concurrency, func(ctx context.Context, i int) error {
			v := victims[i]
			fail := func(err error) error {
				now := time.Now()
				ack(i, Ack{Sent: now, Acked: now, Err: err})
				return err
			}
			old := v.Refresh.Reveal()
			switch {
			case old == "":
				return fail(fmt.Errorf("%s: credential %s came without a refresh token (tokens.grant password, or refresh_token with accounts that have them)", ActionRefreshReplay, v.ID()))
			case v.Owner == nil:
				return fail(fmt.Errorf("%s: credential %s: no client credentials to redeem its refresh token with", ActionRefreshReplay, v.ID()))
			case iss.Endpoints.Token == "":
				return fail(fmt.Errorf("%s: the provider has no token endpoint (discovery found none)", ActionRefreshReplay))
			}
			grant := func(ctx context.Context, rt string) (*oauth.Issued, error) {
				return oauth.RequestToken(ctx, iss.Client(), iss.Endpoints.Token, v.Owner, oauth.Grant{Type: oauth.GrantRefreshToken, RefreshToken: rt})
			}
			// The legitimate client rotates; it retries once when the answer never came. The
			// rotation goes through the link harness->issuer when declared (a link fault there
			// loses its answer); the retry and the replay do not.
			hc := iss.Client()
			if iss.Link != nil {
				hc = iss.Link
			}
			if lost.Add(1) <= int64(lose) {
				hc = &http.Client{Transport: loseAnswer{next: hc}, Timeout: hc.Timeout}
			}
			sent := time.Now()
			rotated, err := oauth.RequestToken(ctx, hc, iss.Endpoints.Token, v.Owner, oauth.Grant{Type: oauth.GrantRefreshToken, RefreshToken: old})
			if err != nil && !isAnswer(err) && ctx.Err() == nil {
				p.Logger.Warn("refresh rotation got no answer: retrying with the same refresh token", "token", v.Access, "err", err)
				sent = time.Now()
				rotated, err = grant(ctx, old)
				if IsInvalidGrant(err) {
					// Reuse detection took the retry for theft: the family died, no attacker.
					falseKills.Add(1)
					ack(i, Ack{Sent: sent, Acked: time.Now(), FalseFamilyKill: true})
					return nil
				}
			}
			if err != nil {
				return fail(fmt.Errorf("%s: credential %s: the legitimate rotation failed: %w", ActionRefreshReplay, v.ID(), err))
			}
			if rotated.Refresh == "" || rotated.Refresh == old {
				return fail(fmt.Errorf("%s: credential %s: the provider does not rotate refresh tokens (the refresh_token grant returned the same one or none): there is no old token to replay", ActionRefreshReplay, v.ID()))
			}
			// The access token the rotation returned belongs to the family too: the drill
			// sees it accepted before the theft, and measures when the kill reaches it.
			rotatedAccess(ctx, i, rotated.Access)
			// The attacker replays the old one.
			sent = time.Now()
			_, err = grant(ctx, old)
			acked := time.Now()
			replayed.Add(1)
			switch {
			case err == nil:
				err = fmt.Errorf("%s: credential %s: the provider honoured a replayed refresh token (no reuse detection, RFC 9700 section 4.14.2)", ActionRefreshReplay, v.ID())
			case IsInvalidGrant(err):
				err = nil
				// The whole family must be dead: the rotated token is refused too.
				if _, e := grant(ctx, rotated.Refresh); e == nil {
					survived.Add(1)
					err = fmt.Errorf("%s: credential %s: the replay was refused but the family survived (the rotated refresh token still works)", ActionRefreshReplay, v.ID())
				} else if !IsInvalidGrant(e) {
					err = fmt.Errorf("%s: credential %s: checking the family: %w", ActionRefreshReplay, v.ID(), e)
				}
			default:
				err = fmt.Errorf("%s: credential %s: the replay: %w", ActionRefreshReplay, v.ID(), err)
			}
			ack(i, Ack{Sent: sent, Acked: acked, Err: err})
			return err
		})
		p.Logger.Info("refresh tokens replayed", "replayed", replayed.Load(), "families_survived", survived.Load(), "false_family_kills", falseKills.Load())
		return err
	}), nil
}

// isAnswer reports whether err is the token endpoint's answer (a status), as opposed to no
// answer at all.
func isAnswer(err error) bool {
	var se *oauth.StatusError
	return errors.As(err, &se)
}

// loseAnswer is a transport whose requests reach the server but whose answers are lost on the
// way back: it reads and drops the answer and returns an error, as a connection reset after the
// request was served does.
type loseAnswer struct{ next *http.Client }

func (l loseAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("answer lost (planted by with.lose_answers)")
}

// IsInvalidGrant reports whether err is a token endpoint's invalid_grant answer (RFC 6749
// section 5.2): a refresh token refused.
func IsInvalidGrant(err error) bool {
	var se *oauth.StatusError
	return errors.As(err, &se) && se.Status == 400 && strings.HasPrefix(se.Excerpt, "invalid_grant")
}
