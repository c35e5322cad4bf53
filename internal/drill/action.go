package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/redact"
)

// Ack is the outcome of recalling one credential: when the request that recalled it was sent and
// when its acknowledgement arrived, on the harness clock. Acked is R(t), the instant TTC counts
// from. Err is set when the recall of that credential failed (no acknowledgement).
type Ack struct {
	Sent, Acked time.Time
	Err         error
	// FalseFamilyKill is set by refresh-replay when the credential's refresh-token family was
	// killed by its legitimate client's retry (after a lost answer), before any attacker.
	FalseFamilyKill bool
	// Factor is set by revoke-mfa on one victim per user: how logging in again with the
	// recalled factor and its recovery codes fared.
	Factor *FactorCheck
	// Receivers is set by ssf-event: each receiver's own instants of the credential's recall
	// (the SET on its stream). A probed component named here counts its TTC from its own
	// Acked instead of Acked (see Tracker.Recalled, OwnRecall), and its report has a delivery
	// section.
	Receivers []ReceiverAck
}

// ReceiverAck is one receiver's own recall of a credential: the instants the transmitter
// recorded for the SET about it on the receiver's stream.
type ReceiverAck struct {
	// Component is the receiver: the component the stream's aud names.
	Component string
	// Stream is the stream id, Method its delivery method.
	Stream, Method string
	// Sent: push, the first POST; poll, made available. Delivered: push, the 202; poll,
	// fetched (the last time). Acked: push, the 202; poll, the receiver's ack.
	Sent, Delivered, Acked time.Time
	// Attempts counts the deliveries it took: push, the POSTs (retried after a transport
	// error or a 5xx); poll, the fetches (fetched again when not acknowledged).
	Attempts int
}

// AckFunc receives one Ack per victim, identified by its position in the victims slice. It may be
// called concurrently.
type AckFunc func(victim int, a Ack)

// Action is a recall: what the trigger does to take credentials back. Do must call ack exactly
// once for every victim (with Err set for those it could not recall) and return when all are
// acknowledged, or ctx ends. Do is called once per drill, once the system runs.
type Action interface {
	Do(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error
}

// ActionFunc adapts a function to Action.
type ActionFunc func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error

// Do implements Action.
func (f ActionFunc) Do(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
	return f(ctx, iss, victims, ack)
}

// recallBy builds an action that recalls, in one request to the provider's Recaller, every
// distinct value key gives for the victims (their users, clients, sessions, keys).
func recallBy(kind, by string, key func(*Token) string) ActionConstructor {
	return func(p ActionParams) (Action, error) {
		return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
			if iss.Recaller == nil {
				err := fmt.Errorf("%s needs a provider with a recall API (the reference issuer); for your provider use action http with group_by, or command", kind)
				failAll(victims, ack, err)
				return err
			}
			seen := map[string]bool{}
			var values []string
			for _, v := range victims {
				k := key(v)
				if k == "" {
					err := fmt.Errorf("recall %s: credential %s has no %s", by, v.ID(), by)
					failAll(victims, ack, err)
					return err
				}
				if !seen[k] {
					seen[k] = true
					values = append(values, k)
				}
			}
			return ackAll(ctx, victims, ack, func(ctx context.Context) error {
				res, err := iss.Recaller.RecallBy(ctx, by, values)
				if err == nil {
					p.Logger.Info("recall applied", "recall_id", res.ID, "type", by, "values", len(values), "count", res.Count)
				}
				return err
			})
		}), nil
	}
}

// failAll acknowledges every victim with err (nothing was sent).
func failAll(victims []*Token, ack AckFunc, err error) {
	now := time.Now()
	for i := range victims {
		ack(i, Ack{Sent: now, Acked: now, Err: err})
	}
}

// ackAll runs one request that recalls every victim and acknowledges them all with its instants.
func ackAll(ctx context.Context, victims []*Token, ack AckFunc, do func(context.Context) error) error {
	sent := time.Now()
	err := do(ctx)
	acked := time.Now()
	for i := range victims {
		ack(i, Ack{Sent: sent, Acked: acked, Err: err})
	}
	return err
}

func newRevokeTokens(p ActionParams) (Action, error) {
	hint := "access_token"
	if v, ok := p.With["token_type_hint"].(string); ok {
		hint = v
	}
	if hint == "none" {
		hint = ""
	}
	asClient, _ := p.With["client"].(string)
	switch p.Mode {
	case "", "batch":
		if len(p.With) > 0 {
			return nil, errors.New("revoke-tokens: with.token_type_hint and with.client are for mode rfc7009")
		}
		return recallBy("revoke-tokens", "jti", func(t *Token) string { return t.Claims.JTI })(p)
	case "rfc7009":
		return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
			var fixed *oauth.Client
			if asClient != "" {
				if fixed = iss.ClientByID(asClient); fixed == nil {
					err := fmt.Errorf("revoke-tokens: with.client %q is not a client the drill knows (tokens.clients)", asClient)
					failAll(victims, ack, err)
					return err
				}
			}
			return forEach(ctx, len(victims), p.Concurrency, func(ctx context.Context, i int) error {
				sent := time.Now()
				owner := victims[i].Owner
				if fixed != nil {
					owner = fixed
				}
				var err error
				if owner == nil {
					err = fmt.Errorf("revoke %s: no client credentials to authenticate with", victims[i].ID())
				} else {
					err = oauth.Revoke(ctx, iss.Client(), iss.Endpoints.Revocation, owner, victims[i].Access.Reveal(), hint)
				}
				ack(i, Ack{Sent: sent, Acked: time.Now(), Err: err})
				return err
			})
		}), nil
	}
	return nil, fmt.Errorf("revoke-tokens: unknown mode %q (have: batch, rfc7009)", p.Mode)
}

// newCommandAction: with {run: [argv...], timeout: "30s"}. The victims' access tokens are written
// one per line to a 0600 temp file named by $RECALL_TOKENS_FILE, their jti to $RECALL_JTIS_FILE;
// both are removed afterwards.
func newCommandAction(p ActionParams) (Action, error) {
	k, _ := LookupAction("command")
	with := k.Params.Decode(p.With)
	argv, timeout := with.Argv("run"), with.Duration("timeout")
	if len(argv) == 0 {
		return nil, errors.New("command action: with.run must be a non-empty list of strings (argv)")
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		tokFile, err := writeLines("recall-tokens-", victims, func(t *Token) string { return t.Access.Reveal() })
		if err != nil {
			return err
		}
		defer os.Remove(tokFile)
		jtiFile, err := writeLines("recall-jtis-", victims, func(t *Token) string { return t.Claims.JTI })
		if err != nil {
			return err
		}
		defer os.Remove(jtiFile)
		return ackAll(ctx, victims, ack, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "RECALL_TOKENS_FILE="+tokFile, "RECALL_JTIS_FILE="+jtiFile)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("command action %q: %w: %s", strings.Join(argv, " "), err, redact.String(tail(string(out), redact.MaxExcerpt)))
			}
			return nil
		})
	}), nil
}

func writeLines(prefix string, victims []*Token, f func(*Token) string) (string, error) {
	file, err := os.CreateTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("command action: %w", err)
	}
	defer file.Close()
	for _, v := range victims {
		if _, err := fmt.Fprintln(file, f(v)); err != nil {
			os.Remove(file.Name())
			return "", fmt.Errorf("command action: %w", err)
		}
	}
	return file.Name(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
