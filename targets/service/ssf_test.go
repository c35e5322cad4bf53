package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/revocation"
)

const ssfTestToken = "service-receiver-token-0123456789"

// newSSFService starts a transmitter and a service validating tokens itself with strategy ssf,
// receiving from it by delivery (push: at the service's own gateway.SSFPushPath; poll).
func newSSFService(t *testing.T, f *fakeIssuer, delivery string) (*ssf.Transmitter, *Service, *httptest.Server) {
	t.Helper()
	txSrv := httptest.NewUnstartedServer(nil)
	key, err := ssf.NewKey("tx-1")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ssf.New(ssf.Config{Issuer: "http://" + txSrv.Listener.Addr().String() + "/ssf-tx", Key: key,
		Receivers: []ssf.Receiver{{Token: ssfTestToken, Audience: []string{"api-ssf"}}}, PushBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	txSrv.Config.Handler = tx.Handler()
	txSrv.Start()
	t.Cleanup(func() { txSrv.Close(); tx.Close() })

	srv := httptest.NewUnstartedServer(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := New(ctx, Config{Name: "api-ssf", DebugSecret: "dbg-secret", Validate: &gateway.Config{
		Strategy: gateway.SSF, IssuerURL: f.URL, PollInterval: 50 * time.Millisecond,
		SSF: gateway.SSFReceiver{Transmitter: tx.Metadata().Issuer, Token: ssfTestToken, Delivery: delivery,
			PushURL: "http://" + srv.Listener.Addr().String() + gateway.SSFPushPath}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = svc.Close() })
	return tx, svc, srv
}

// claimsOf is what the truth log matches of a token fakeIssuer.mint made for sub.
func claimsOf(sub, jti string) revocation.Claims {
	return revocation.Claims{JTI: jti, Subject: sub, ClientID: "client-1", Session: "s-" + sub, KeyID: "k1", IssuedAt: time.Now().Unix() - 1}
}

// TestSSFServiceEnforcesBeforeAcknowledging: a service of strategy ssf, by push (the SET POSTed
// to its own /ssf/events) and by poll, given a CAEP session-revoked or a RISC
// credential-compromise naming a user (iss_sub), refuses that user's token and no other's, from
// an instant it records (ground truth, served at /debug/recalls) between the SET's sending and
// its acknowledgement; its stream names the service as aud.
func TestSSFServiceEnforcesBeforeAcknowledging(t *testing.T) {
	for _, delivery := range []string{gateway.SSFPush, gateway.SSFPoll} {
		for _, event := range []string{ssf.CAEPSessionRevoked, ssf.RISCCredentialCompromise} {
			t.Run(delivery+"/"+path.Base(event), func(t *testing.T) {
				t.Parallel()
				f := newFakeIssuer(t)
				tx, svc, srv := newSSFService(t, f, delivery)
				victim, vjti := f.mint("user-1")
				control, _ := f.mint("user-2")
				for _, tok := range []string{victim, control} {
					if got := whoami(t, srv.URL, tok); got.code != http.StatusOK || got.id.Via != ViaSelf {
						t.Fatalf("before the event: %d %+v, want 200 via self", got.code, got.id)
					}
				}
				streams := tx.Streams()
				if len(streams) != 1 || len(streams[0].Aud) != 1 || streams[0].Aud[0] != "api-ssf" {
					t.Fatalf("streams %+v: want the service's one, aud api-ssf", streams)
				}
				ev := map[string]any{"event_timestamp": time.Now().Unix()}
				if event == ssf.RISCCredentialCompromise {
					ev["credential_type"] = "password" // REQUIRED (RISC 1.0 §2.7)
				}
				rec, err := tx.Emit(context.Background(), streams[0].ID, event, ssf.IssSub(f.URL, "user-1"), ev, "")
				if err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for rec.Acked.IsZero() && !rec.Failed {
					if time.Now().After(deadline) {
						t.Fatalf("SET %+v not acknowledged", rec)
					}
					time.Sleep(10 * time.Millisecond)
					for _, r := range tx.Records() {
						if r.JTI == rec.JTI {
							rec = r
						}
					}
				}
				if rec.Failed {
					t.Fatalf("SET %+v: want acknowledged", rec)
				}
				at, ok := svc.Truth().EnforcedSince(claimsOf("user-1", vjti))
				if !ok || at.Before(rec.Sent) || at.After(rec.Acked) {
					t.Errorf("enforced since %v (%v); want between sent %v and acknowledged %v", at, ok, rec.Sent, rec.Acked)
				}
				if got := whoami(t, srv.URL, victim); got.code != http.StatusUnauthorized {
					t.Errorf("victim after the event: %d, want 401", got.code)
				}
				if got := whoami(t, srv.URL, control); got.code != http.StatusOK {
					t.Errorf("control after the event: %d, want 200 (false reject)", got.code)
				}
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/debug/recalls", nil)
				req.Header.Set("Authorization", "Bearer dbg-secret")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var dbg struct {
					Component string `json:"component"`
					Records   []struct {
						Kind string `json:"kind"`
					} `json:"records"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&dbg)
				resp.Body.Close()
				if dbg.Component != "api-ssf" || len(dbg.Records) != 1 || dbg.Records[0].Kind != "rule" {
					t.Errorf("/debug/recalls = %+v, want one rule record for api-ssf", dbg)
				}
			})
		}
	}
}

// TestSSFServicePushEndpointOnlyForPush: the push endpoint is the ssf push receiver's; a poll
// receiver and a service behind a gateway serve none, and an unauthenticated push is refused.
func TestSSFServicePushEndpointOnlyForPush(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t)
	_, _, push := newSSFService(t, f, gateway.SSFPush)
	_, _, poll := newSSFService(t, f, gateway.SSFPoll)
	behind := newTestService(t, Config{Name: "api"})
	post := func(base string) int {
		resp, err := http.Post(base+gateway.SSFPushPath, "application/secevent+jwt", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(push.URL); st != http.StatusUnauthorized {
		t.Errorf("push receiver, no authorization: %d, want 401 (RFC 8935 §2.3)", st)
	}
	for name, base := range map[string]string{"poll receiver": poll.URL, "behind a gateway": behind.URL} {
		if st := post(base); st != http.StatusNotFound {
			t.Errorf("%s: POST %s = %d, want 404", name, gateway.SSFPushPath, st)
		}
	}
}
