package drill

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/ssf"
)

// ActionSSFEvent recalls by Shared Signals: a CAEP or RISC event per victim on every stream
// of the drill's transmitter.
const ActionSSFEvent = "ssf-event"

// SSF subjects the ssf-event action names a credential by.
const (
	SSFSubjectIssSub  = "iss_sub" // RFC 9493 §3.2.3: the token's iss and sub
	SSFSubjectSession = "session" // SSF §3.3 complex subject: the token's sid and its user
	SSFSubjectJWTID   = "jwt_id"  // SSF §3.5.1: the token's iss and jti
)

// ssfRequiredClaims are the claims an event type REQUIRES, as the action sends them. RISC 1.0
// §2.7 credential-compromise and CAEP 1.0 §3.3.1 credential-change require credential_type, one
// of CAEP's list (password, pin, x509, fido2-platform, fido2-roaming, fido-u2f,
// verifiable-credential, phone-voice, phone-sms, app) or a type agreed between the parties. No
// listed type is an OAuth token or a session, and a type of our own would be one no third-party
// receiver agreed to, so the action says "password": the credential whose compromise (or reset)
// a provider answers by recalling the user's tokens and sessions, which is what the drill does,
// and the value of the RISC example. credential-change also requires change_type: "update" (a
// password reset, CAEP 1.0 §3.3's first scenario).
var ssfRequiredClaims = map[string]map[string]any{
	ssf.RISCCredentialCompromise: {"credential_type": "password"},
	ssf.CAEPCredentialChange:     {"credential_type": "password", "change_type": "update"},
}

var ssfEventParams = params.Spec{
	{Key: "event", Type: params.Enum, Enum: params.SSFEvents, Default: "session-revoked",
		Doc: "the CAEP or RISC event type sent for each victim"},
	{Key: "subject", Type: params.Enum, Enum: []string{SSFSubjectIssSub, SSFSubjectSession, SSFSubjectJWTID}, Default: SSFSubjectIssSub,
		Doc: "how the event names the credential: iss_sub (its user), session (a complex subject of its sid and user) or jwt_id (the token itself)"},
	{Key: "transmitter", Type: params.Component, Doc: "the reference/ssf component that sends (default: the only one)"},
	{Key: "timeout", Type: params.Duration, Default: "30s", Doc: "how long every SET may take to be acknowledged"},
}

func init() {
	RegisterAction(ActionKind{Name: ActionSSFEvent,
		Doc:    "an OpenID Shared Signals event (CAEP or RISC SET) about each victim on every stream of the drill's transmitter (reference/ssf); a receiver (the component its stream's aud names) counts from its own acknowledgement (push: its 202; poll: its ack), any other component from the last receiver's",
		Params: ssfEventParams,
		New:    newSSFEvent})
}

// newSSFEvent sends one SET per victim and stream. A victim's recall is sent when its first
// SET was (push: the first POST; poll: made available) and acknowledged when the last receiver
// acknowledged its SET; it fails when a receiver rejected its SET or did not acknowledge it
// within with.timeout. The transmitter records every SET's instants: each receiver's are in
// Ack.Receivers, so that its own pairs count from them (and the report splits its TTC at the
// delivery), and they are logged per stream as the delivery latency (sent → acknowledged).
func newSSFEvent(p ActionParams) (Action, error) {
	with := ssfEventParams.Decode(p.With)
	eventType := ssf.EventTypes[with.String("event")]
	subjectKind, name, timeout := with.String("subject"), with.String("transmitter"), with.Duration("timeout")
	if eventType == "" {
		return nil, fmt.Errorf("%s: with.event %q: unknown", ActionSSFEvent, with.String("event"))
	}
	return ActionFunc(func(ctx context.Context, iss Issuer, victims []*Token, ack AckFunc) error {
		tx, err := pickTransmitter(iss.SSF, name)
		if err != nil {
			failAll(victims, ack, err)
			return err
		}
		var streams []ssf.StreamConfig
		for _, s := range tx.Streams() {
			if slices.Contains(s.EventsDelivered, eventType) {
				streams = append(streams, s)
			}
		}
		if len(streams) == 0 {
			err := fmt.Errorf("%s: no stream of the transmitter delivers %s: no receiver would hear of the recall", ActionSSFEvent, with.String("event"))
			failAll(victims, ack, err)
			return err
		}
		issuer := ""
		if iss.URL != nil {
			issuer = iss.URL.String()
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		jtis := make([][]string, len(victims)) // per victim, its SET per stream
		errs := make([]error, len(victims))
		var mu sync.Mutex
		_ = forEach(ctx, len(victims), p.Concurrency, func(ctx context.Context, i int) error {
			sub, err := ssfSubject(subjectKind, issuer, victims[i])
			if err != nil {
				errs[i] = err
				return nil
			}
			// One goroutine per stream: a push Emit returns after its retries, and a receiver
			// that is down must not delay the others' SETs.
			var wg sync.WaitGroup
			for _, s := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := map[string]any{"event_timestamp": time.Now().Unix(), "initiating_entity": "admin"}
					maps.Copy(ev, ssfRequiredClaims[eventType])
					rec, err := tx.Emit(ctx, s.ID, eventType, sub, ev, "")
					mu.Lock()
					if err != nil {
						errs[i] = errors.Join(errs[i], err)
					} else {
						jtis[i] = append(jtis[i], rec.JTI)
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			return nil
		})
		recs := waitAcked(ctx, tx, jtis)
		failed := 0
		for i := range victims {
			a := ssfAck(recs, jtis[i], len(streams), errs[i])
			if a.Err == nil {
				a.Receivers = receiverAcks(recs, jtis[i], streams)
			}
			if a.Err != nil {
				failed++
			}
			ack(i, a)
		}
		logDelivery(p, recs, streams)
		if failed > 0 {
			return fmt.Errorf("%s: %d of %d victims' events not acknowledged by every receiver", ActionSSFEvent, failed, len(victims))
		}
		return nil
	}), nil
}

func pickTransmitter(txs map[string]*ssf.Transmitter, name string) (*ssf.Transmitter, error) {
	if name != "" {
		if tx, ok := txs[name]; ok {
			return tx, nil
		}
		return nil, fmt.Errorf("%s: with.transmitter %q is not a running reference/ssf component", ActionSSFEvent, name)
	}
	if len(txs) != 1 {
		var have []string
		for n := range txs {
			have = append(have, n)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("%s: needs exactly one running reference/ssf component or with.transmitter (have: %s)", ActionSSFEvent, strings.Join(have, ", "))
	}
	for _, tx := range txs {
		return tx, nil
	}
	return nil, nil
}

// ssfSubject names the credential as the action's with.subject says.
func ssfSubject(kind, issuer string, t *Token) (ssf.Subject, error) {
	c := t.Claims
	need := func(what, v string) error {
		if v == "" {
			return fmt.Errorf("%s: credential %s has no %s for subject %s", ActionSSFEvent, t.ID(), what, kind)
		}
		return nil
	}
	switch kind {
	case SSFSubjectSession:
		if err := need("sid", c.Session); err != nil {
			return nil, err
		}
		return ssf.SessionID(c.Session, issuer, c.Subject), nil
	case SSFSubjectJWTID:
		if err := need("jti", c.JTI); err != nil {
			return nil, err
		}
		return ssf.Subject{"format": ssf.FormatJWTID, "iss": issuer, "jti": c.JTI}, nil
	}
	if err := need("sub", c.Subject); err != nil {
		return nil, err
	}
	return ssf.IssSub(issuer, c.Subject), nil
}

// waitAcked polls the transmitter's records until every SET in jtis was acknowledged or failed,
// or ctx ends; it returns the records by jti.
func waitAcked(ctx context.Context, tx *ssf.Transmitter, jtis [][]string) map[string]ssf.Record {
	want := map[string]bool{}
	for _, l := range jtis {
		for _, j := range l {
			want[j] = true
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		recs := map[string]ssf.Record{}
		done := true
		for _, r := range tx.Records() {
			if want[r.JTI] {
				recs[r.JTI] = r
				if r.Acked.IsZero() && !r.Failed {
					done = false
				}
			}
		}
		if done {
			return recs
		}
		select {
		case <-ctx.Done():
			return recs
		case <-tick.C:
		}
	}
}

// ssfAck is one victim's acknowledgement from its SETs' records: sent with the first, acked
// with the last receiver's acknowledgement.
func ssfAck(recs map[string]ssf.Record, jtis []string, streams int, err error) Ack {
	var a Ack
	for _, j := range jtis {
		r := recs[j]
		if !r.Sent.IsZero() && (a.Sent.IsZero() || r.Sent.Before(a.Sent)) {
			a.Sent = r.Sent
		}
		switch {
		case r.Failed:
			err = errors.Join(err, fmt.Errorf("SET on stream %s not acknowledged: %s", r.Stream, ssfFailure(r)))
		case r.Acked.IsZero():
			err = errors.Join(err, fmt.Errorf("SET on stream %s not acknowledged in time", r.Stream))
		case r.Acked.After(a.Acked):
			a.Acked = r.Acked
		}
	}
	if err == nil && len(jtis) < streams {
		err = fmt.Errorf("%d of %d SETs sent", len(jtis), streams)
	}
	if a.Sent.IsZero() {
		a.Sent = time.Now()
	}
	if err != nil {
		a.Err, a.Acked = err, time.Now()
	}
	return a
}

// receiverAcks is, per receiver, the instants of the victim's SET on its stream: the receiver
// is each component its stream's aud names (the reference runtimes give each receiver its own
// name as aud). A SET without a delivered instant counts as delivered when acknowledged.
func receiverAcks(recs map[string]ssf.Record, jtis []string, streams []ssf.StreamConfig) []ReceiverAck {
	var out []ReceiverAck
	for _, j := range jtis {
		r := recs[j]
		if r.Acked.IsZero() || r.Sent.IsZero() {
			continue
		}
		i := slices.IndexFunc(streams, func(s ssf.StreamConfig) bool { return s.ID == r.Stream })
		if i < 0 {
			continue
		}
		delivered := r.Delivered
		if delivered.IsZero() || delivered.After(r.Acked) {
			delivered = r.Acked
		}
		method := r.Method
		if method == "" && streams[i].Delivery != nil {
			method = streams[i].Delivery.Method
		}
		switch method {
		case ssf.MethodPush:
			method = "push"
		case ssf.MethodPoll:
			method = "poll"
		}
		for _, aud := range streams[i].Aud {
			out = append(out, ReceiverAck{Component: aud, Stream: r.Stream, Method: method, Sent: r.Sent, Delivered: delivered, Acked: r.Acked,
				Attempts: r.Attempts})
		}
	}
	return out
}

func ssfFailure(r ssf.Record) string {
	switch {
	case r.Err != "":
		return r.Err + ": " + r.Description
	case r.Detail != "":
		return r.Detail
	}
	return fmt.Sprintf("status %d", r.Status)
}

// logDelivery logs, per stream, the delivery latency of its SETs: sent → acknowledged.
func logDelivery(p ActionParams, recs map[string]ssf.Record, streams []ssf.StreamConfig) {
	for _, s := range streams {
		var lat []time.Duration
		failed := 0
		for _, r := range recs {
			if r.Stream != s.ID {
				continue
			}
			if r.Acked.IsZero() {
				failed++
				continue
			}
			lat = append(lat, r.Acked.Sub(r.Sent))
		}
		if len(lat) == 0 {
			p.Logger.Warn("ssf stream acknowledged nothing", "stream", s.ID, "aud", []string(s.Aud), "failed", failed)
			continue
		}
		slices.Sort(lat)
		p.Logger.Info("ssf delivery (sent → acknowledged)", "stream", s.ID, "aud", []string(s.Aud), "method", s.Delivery.Method,
			"acknowledged", len(lat), "failed", failed, "p50", lat[len(lat)/2].Round(10*time.Microsecond),
			"p99", lat[len(lat)*99/100].Round(10*time.Microsecond), "max", lat[len(lat)-1].Round(10*time.Microsecond))
	}
}
