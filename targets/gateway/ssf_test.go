package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
)

const ssfTestToken = "gateway-receiver-token-0123456789"

// newSSFGateway starts a transmitter and a gateway of strategy ssf receiving from it by
// delivery (push or poll), with mod applied to the gateway's config.
func newSSFGateway(t *testing.T, f *fakeIssuer, delivery string, mod func(*Config)) (*ssf.Transmitter, *Gateway, *httptest.Server) {
	t.Helper()
	txSrv := httptest.NewUnstartedServer(nil)
	key, err := ssf.NewKey("tx-1")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ssf.New(ssf.Config{Issuer: "http://" + txSrv.Listener.Addr().String() + "/ssf-tx", Key: key,
		Receivers: []ssf.Receiver{{Token: ssfTestToken, Audience: []string{"gw-ssf"}}}, PushBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	txSrv.Config.Handler = tx.Handler()
	txSrv.Start()
	t.Cleanup(func() { txSrv.Close(); tx.Close() })

	gwSrv := httptest.NewUnstartedServer(nil)
	cfg := Config{Name: "gw-ssf", Strategy: SSF, IssuerURL: f.URL, PollInterval: 50 * time.Millisecond,
		SSF: SSFReceiver{Transmitter: tx.Metadata().Issuer, Token: ssfTestToken, Delivery: delivery,
			PushURL: "http://" + gwSrv.Listener.Addr().String() + SSFPushPath}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	gwSrv.Config.Handler = g.Handler()
	gwSrv.Start()
	t.Cleanup(func() { gwSrv.Close(); _ = g.Close() })
	return tx, g, gwSrv
}

// emit sends one event about sub on the gateway's stream and waits for its acknowledgement.
func emit(t *testing.T, tx *ssf.Transmitter, typ string, sub ssf.Subject) ssf.Record {
	t.Helper()
	return emitAt(t, tx, typ, sub, time.Now())
}

// emitAt is emit with the event's event_timestamp.
func emitAt(t *testing.T, tx *ssf.Transmitter, typ string, sub ssf.Subject, ts time.Time) ssf.Record {
	t.Helper()
	streams := tx.Streams()
	if len(streams) != 1 {
		t.Fatalf("%d streams, want the gateway's one", len(streams))
	}
	rec, err := tx.Emit(context.Background(), streams[0].ID, typ, sub, map[string]any{"event_timestamp": ts.Unix()}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "SET acknowledged or failed", func() bool {
		for _, r := range tx.Records() {
			if r.JTI == rec.JTI {
				rec = r
				return !r.Acked.IsZero() || r.Failed
			}
		}
		return false
	})
	return rec
}

// TestSSFReceiverEnforcesBeforeAcknowledging: by push and by poll, a valid session-revoked
// event about a user makes the gateway reject that user's token and only it, from an instant it
// records (ground truth) no later than the SET's acknowledgement; the stream names the
// gateway's audience and requests the event types it enforces.
func TestSSFReceiverEnforcesBeforeAcknowledging(t *testing.T) {
	for _, delivery := range []string{SSFPush, SSFPoll} {
		t.Run(delivery, func(t *testing.T) {
			f := newFakeIssuer(t)
			tx, g, gw := newSSFGateway(t, f, delivery, nil)
			old := time.Now().Add(-10 * time.Second).Unix()
			victim := f.mint(claim("sub", "user-1"), claim("iat", old))
			control := f.mint(claim("sub", "user-2"), claim("sid", "sess-2"), claim("iat", old))
			for _, tok := range []string{victim, control} {
				if st := status(t, gw.URL, tok); st != http.StatusOK {
					t.Fatalf("before the event: status %d, want 200", st)
				}
			}
			s := tx.Streams()[0]
			wantMethod := map[string]string{SSFPush: ssf.MethodPush, SSFPoll: ssf.MethodPoll}[delivery]
			if s.Delivery.Method != wantMethod || len(s.Aud) != 1 || s.Aud[0] != "gw-ssf" || len(s.EventsDelivered) != len(ssfEnforced) {
				t.Errorf("stream %+v: want %s delivery, aud gw-ssf, the %d enforced event types", s, wantMethod, len(ssfEnforced))
			}
			rec := emitAt(t, tx, ssf.CAEPSessionRevoked, ssf.IssSub(f.URL, "user-1"), time.Now().Add(-5*time.Second))
			if rec.Failed || rec.Acked.IsZero() {
				t.Fatalf("SET %+v: want acknowledged", rec)
			}
			at, ok := g.Truth().EnforcedSince(claimsOf(t, victim))
			if !ok || at.After(rec.Acked) || at.Before(rec.Sent) {
				t.Errorf("enforced since %v (%v); want between sent %v and acknowledged %v", at, ok, rec.Sent, rec.Acked)
			}
			if st := status(t, gw.URL, victim); st != http.StatusUnauthorized {
				t.Errorf("victim after the event: status %d, want 401", st)
			}
			if st := status(t, gw.URL, control); st != http.StatusOK {
				t.Errorf("control after the event: status %d, want 200 (false reject)", st)
			}
			// A token issued after the event's timestamp is honoured: the rule is bounded.
			later := f.mint(claim("sub", "user-1"))
			if st := status(t, gw.URL, later); st != http.StatusOK {
				t.Errorf("token issued after the event: status %d, want 200", st)
			}
		})
	}
}

// TestSSFReceiverSubjects: a complex subject's session recalls that session only, jwt_id that
// token only.
func TestSSFReceiverSubjects(t *testing.T) {
	f := newFakeIssuer(t)
	tx, _, gw := newSSFGateway(t, f, SSFPush, nil)
	a, b := f.mint(claim("sub", "u"), claim("sid", "s-a")), f.mint(claim("sub", "u"), claim("sid", "s-b"))
	c := f.mint(claim("sub", "u"), claim("sid", "s-c"))
	emit(t, tx, ssf.CAEPSessionRevoked, ssf.SessionID("s-a", f.URL, "u"))
	emit(t, tx, ssf.RISCCredentialCompromise, ssf.Subject{"format": ssf.FormatJWTID, "iss": f.URL, "jti": claimsOf(t, b).JTI})
	for tok, want := range map[string]int{a: 401, b: 401, c: 200} {
		if st := status(t, gw.URL, tok); st != want {
			t.Errorf("sid %s: status %d, want %d", claimsOf(t, tok).Session, st, want)
		}
	}
}

// TestSSFReceiverRejects: a push without the stream's authorization is 401, a SET signed with
// another key is 400 invalid_key and not enforced;
// an ignored event type (the planted defect) is acknowledged and not enforced.
func TestSSFReceiverRejects(t *testing.T) {
	f := newFakeIssuer(t)
	tx, g, gw := newSSFGateway(t, f, SSFPush, func(c *Config) { c.SSF.Ignore = []string{ssf.CAEPCredentialChange} })
	victim := f.mint(claim("sub", "user-1"))
	aud := tx.Streams()[0].Aud
	other, _ := ssf.NewKey("tx-1")
	forged, err := ssf.Sign(ssf.SET{Issuer: tx.Metadata().Issuer, Audience: aud, IssuedAt: time.Now(),
		SubID: ssf.IssSub(f.URL, "user-1"), EventType: ssf.CAEPSessionRevoked}, other)
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, gw.URL+SSFPushPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/secevent+jwt")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e ssf.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Code
	}
	if st, _ := post("", forged); st != http.StatusUnauthorized {
		t.Errorf("push without authorization: %d, want 401", st)
	}
	r := g.enf.(*ssfReceiver)
	if st, code := post("Bearer "+r.push, forged); st != http.StatusBadRequest || code != ssf.ErrInvalidKey {
		t.Errorf("SET signed by another key: %d %q, want 400 invalid_key", st, code)
	}
	rec := emit(t, tx, ssf.CAEPCredentialChange, ssf.IssSub(f.URL, "user-1"))
	if rec.Failed || rec.Acked.IsZero() {
		t.Errorf("ignored event type: %+v; want acknowledged all the same", rec)
	}
	if st := status(t, gw.URL, victim); st != http.StatusOK {
		t.Errorf("after a forged SET and an ignored event: status %d, want 200 (nothing enforced)", st)
	}
	if recs := g.Truth().Records(); len(recs) != 0 {
		t.Errorf("truth records %+v, want none", recs)
	}
	good := emit(t, tx, ssf.CAEPSessionRevoked, ssf.IssSub(f.URL, "user-1"))
	if good.Acked.IsZero() {
		t.Fatalf("valid SET not acknowledged: %+v", good)
	}
	if st := status(t, gw.URL, victim); st != http.StatusUnauthorized {
		t.Errorf("after a valid session-revoked: status %d, want 401", st)
	}
}
