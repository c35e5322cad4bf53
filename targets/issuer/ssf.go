package issuer

import (
	"context"
	"slices"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/revocation"
)

// ssfEmitTimeout bounds the delivery of one recall's SETs.
const ssfEmitTimeout = 10 * time.Second

// ssfEvent is the CAEP 1.0 event the issuer emits for a recall rule and the subject it names,
// or false for rules that name no credential's subject (a signing key, a factor, an instant).
func (i *Issuer) ssfEvent(r revocation.Rule) (string, ssf.Subject, bool) {
	iss := i.BaseURL()
	switch r.Type {
	case revocation.Subject: // every session of the user (CAEP 1.0 §3.1 with a user subject)
		return ssf.CAEPSessionRevoked, ssf.IssSub(iss, r.Value), true
	case revocation.Session: // that session only: a complex subject (SSF 1.0 §3.3)
		return ssf.CAEPSessionRevoked, ssf.SessionID(r.Value, "", ""), true
	case revocation.JTI: // the token itself (SSF 1.0 §3.5.1)
		return ssf.CAEPSessionRevoked, ssf.Subject{"format": ssf.FormatJWTID, "iss": iss, "jti": r.Value}, true
	case revocation.Client: // every session of the client, named by its opaque client_id
		return ssf.CAEPSessionRevoked, ssf.Opaque(r.Value), true
	}
	return "", nil, false
}

// emitSSF sends, after a recall, one SET per rule that names a subject on every stream of the
// issuer's transmitter that delivers its event type, in the background: the recall's answer
// does not wait for the receivers, as a provider's event pipeline would not. The transmitter
// records each SET's instants (sent, delivered, acknowledged).
func (i *Issuer) emitSSF(ev revocation.Event) {
	tx := i.ssf
	if tx == nil || len(ev.Rules) == 0 {
		return
	}
	i.ssfWG.Add(1)
	go func() {
		defer i.ssfWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), ssfEmitTimeout)
		defer cancel()
		for _, r := range ev.Rules {
			typ, sub, ok := i.ssfEvent(r)
			if !ok {
				continue
			}
			// event_timestamp is a NumericDate (CAEP 1.0 §2, RFC 7519 §2: non-integer values
			// allowed), given to the millisecond so that a receiver can time the event finer than
			// the SET's whole-second iat.
			at := float64(time.Now().UnixMilli()) / 1e3
			event := map[string]any{"event_timestamp": at, "initiating_entity": "admin", "reason_admin": map[string]string{"en": "recall " + ev.RecallID}}
			for _, s := range tx.Streams() {
				if !slices.Contains(s.EventsDelivered, typ) {
					continue
				}
				if _, err := tx.Emit(ctx, s.ID, typ, sub, event, ev.RecallID); err != nil {
					i.log.Warn("ssf event not emitted", "stream", s.ID, "event", typ, "err", err)
				}
			}
		}
	}()
}
