package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
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

// requiredClaims are what emit adds to the events whose type requires claims (RISC 1.0 §2.7,
// CAEP 1.0 §3.3.1), as ssf-event does.
var requiredClaims = map[string]map[string]any{
	ssf.RISCCredentialCompromise: {"credential_type": "password"},
	ssf.CAEPCredentialChange:     {"credential_type": "password", "change_type": "update"},
}

// emitAt is emit with the event's event_timestamp.
func emitAt(t *testing.T, tx *ssf.Transmitter, typ string, sub ssf.Subject, ts time.Time) ssf.Record {
	t.Helper()
	streams := tx.Streams()
	if len(streams) != 1 {
		t.Fatalf("%d streams, want the gateway's one", len(streams))
	}
	ev := map[string]any{"event_timestamp": ts.Unix()}
	maps.Copy(ev, requiredClaims[typ])
	rec, err := tx.Emit(context.Background(), streams[0].ID, typ, sub, ev, "")
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

// TestSSFReceiverRequiresEventClaims: by push and by poll, a RISC credential-compromise without
// the credential_type it requires (RISC 1.0 §2.7), and a CAEP credential-change without
// change_type or with one CAEP does not list (CAEP 1.0 §3.3.1), are rejected invalid_request and
// not enforced; the same events with them (as ssf-event sends them) are acknowledged and
// enforced.
func TestSSFReceiverRequiresEventClaims(t *testing.T) {
	for _, delivery := range []string{SSFPush, SSFPoll} {
		t.Run(delivery, func(t *testing.T) {
			t.Parallel()
			f := newFakeIssuer(t)
			tx, g, gw := newSSFGateway(t, f, delivery, nil)
			send := func(typ, user string, ev map[string]any) ssf.Record {
				t.Helper()
				ev["event_timestamp"] = time.Now().Unix()
				rec, err := tx.Emit(context.Background(), tx.Streams()[0].ID, typ, ssf.IssSub(f.URL, user), ev, "")
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
			cases := []struct {
				name, typ, user string
				ev              map[string]any
			}{
				{"credential-compromise without credential_type", ssf.RISCCredentialCompromise, "user-1", map[string]any{}},
				{"credential-compromise with an empty credential_type", ssf.RISCCredentialCompromise, "user-1", map[string]any{"credential_type": ""}},
				{"credential-change without change_type", ssf.CAEPCredentialChange, "user-2", map[string]any{"credential_type": "password"}},
				{"credential-change with change_type rotate", ssf.CAEPCredentialChange, "user-2", map[string]any{"credential_type": "password", "change_type": "rotate"}},
			}
			one, two := f.mint(claim("sub", "user-1")), f.mint(claim("sub", "user-2"))
			for _, c := range cases {
				if rec := send(c.typ, c.user, c.ev); !rec.Failed || rec.Err != ssf.ErrInvalidRequest {
					t.Errorf("%s: %+v; want rejected invalid_request", c.name, rec)
				}
			}
			for tok, user := range map[string]string{one: "user-1", two: "user-2"} {
				if st := status(t, gw.URL, tok); st != http.StatusOK {
					t.Errorf("%s after invalid events: status %d, want 200 (nothing enforced)", user, st)
				}
			}
			if recs := g.Truth().Records(); len(recs) != 0 {
				t.Errorf("truth records %+v after invalid events, want none", recs)
			}
			for typ, user := range map[string]string{ssf.RISCCredentialCompromise: "user-1", ssf.CAEPCredentialChange: "user-2"} {
				if rec := send(typ, user, maps.Clone(requiredClaims[typ])); rec.Failed || rec.Acked.IsZero() {
					t.Errorf("%s with %v: %+v; want acknowledged", path.Base(typ), requiredClaims[typ], rec)
				}
			}
			for tok, user := range map[string]string{one: "user-1", two: "user-2"} {
				if st := status(t, gw.URL, tok); st != http.StatusUnauthorized {
					t.Errorf("%s after its valid event: status %d, want 401", user, st)
				}
			}
		})
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
