package drill

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/recall-drills/recall/internal/ssf"
)

// TestSSFEventAction: ssf-event sends one SET per victim on every stream, naming the victim's
// user; a victim is acknowledged with its last receiver's acknowledgement, and carries each
// receiver's own instants (those of its SET on the receiver's stream); it fails when a
// receiver rejects its SET; without a transmitter every victim fails, saying what is missing.
func TestSSFEventAction(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(nil)
	key, err := ssf.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	const tokA, tokB = "receiver-a-token-0123456789", "receiver-b-token-0123456789"
	tx, err := ssf.New(ssf.Config{Issuer: "http://" + srv.Listener.Addr().String(), Key: key, PushAttempts: 1,
		Receivers: []ssf.Receiver{{Token: tokA, Audience: []string{"a"}}, {Token: tokB, Audience: []string{"b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}
	srv.Config.Handler = tx.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); tx.Close() })

	var mu sync.Mutex
	subs := map[string][]string{} // per receiver, the subjects it was told of
	receiver := func(name string, reject string) *httptest.Server {
		r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			b, _ := io.ReadAll(req.Body)
			set, err := (&ssf.Validator{Issuer: tx.Metadata().Issuer, Audience: name, Keys: keys}).Validate(string(b))
			if err != nil {
				t.Errorf("receiver %s: %v", name, err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if e := ssf.CheckEventClaims(set.EventType, set.Event); e != nil {
				t.Errorf("receiver %s: %v", name, e)
			}
			sub, _ := set.SubID["sub"].(string)
			mu.Lock()
			subs[name] = append(subs[name], sub)
			mu.Unlock()
			if sub == reject || set.EventType != ssf.CAEPCredentialChange {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(ssf.Error{Code: ssf.ErrInvalidRequest, Description: "not for me"})
				return
			}
			time.Sleep(time.Millisecond)
			w.WriteHeader(http.StatusAccepted)
		}))
		t.Cleanup(r.Close)
		return r
	}
	for _, rc := range []struct{ tok, name, reject string }{{tokA, "a", ""}, {tokB, "b", "user-b"}} {
		body, _ := json.Marshal(map[string]any{"delivery": ssf.Delivery{Method: ssf.MethodPush, EndpointURL: receiver(rc.name, rc.reject).URL}})
		req, _ := http.NewRequest(http.MethodPost, tx.Metadata().ConfigurationEndpoint, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+rc.tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create stream: %v %v", resp, err)
		}
		resp.Body.Close()
	}

	a, err := NewAction(ActionSSFEvent, ActionParams{With: map[string]any{"event": "credential-change"}})
	if err != nil {
		t.Fatal(err)
	}
	vs := victims(4) // users a, b, a, b
	acks, err := collect(t, a, Issuer{URL: &url.URL{Scheme: "http", Host: "issuer.test"}, SSF: map[string]*ssf.Transmitter{"ssf": tx}}, vs)
	if err == nil || !strings.Contains(err.Error(), "2 of 4") {
		t.Errorf("error %v; want 2 of 4 victims not acknowledged", err)
	}
	recs := tx.Records()
	if len(recs) != 8 {
		t.Errorf("%d SETs sent, want one per victim and stream (8)", len(recs))
	}
	for i, ack := range acks {
		if vs[i].Claims.Subject == "user-b" {
			if ack.Err == nil || !strings.Contains(ack.Err.Error(), "invalid_request") {
				t.Errorf("victim %d (user-b, rejected by b): ack error %v; want b's invalid_request", i, ack.Err)
			}
			continue
		}
		var last time.Time
		for _, r := range recs {
			if r.Subject["sub"] == vs[i].Claims.Subject && r.Acked.After(last) {
				last = r.Acked
			}
		}
		if ack.Err != nil || ack.Acked.Before(ack.Sent) || ack.Acked.After(last) {
			t.Errorf("victim %d: ack %+v; want acknowledged by its last receiver, at most %v", i, ack, last)
		}
		// Each receiver's own instants: those of the SET about the victim on its stream.
		var lastOwn time.Time
		for _, ra := range ack.Receivers {
			ok := false
			for _, r := range recs {
				s := tx.Streams()
				for _, st := range s {
					if st.ID == r.Stream && st.Aud[0] == ra.Component && r.Subject["sub"] == vs[i].Claims.Subject && r.Acked.Equal(ra.Acked) &&
						r.Sent.Equal(ra.Sent) && r.Delivered.Equal(ra.Delivered) && ra.Stream == r.Stream && ra.Method == "push" {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("victim %d: receiver %+v matches no SET about it on that receiver's stream", i, ra)
			}
			if ra.Acked.After(lastOwn) {
				lastOwn = ra.Acked
			}
		}
		if len(ack.Receivers) != 2 || ack.Receivers[0].Component == ack.Receivers[1].Component || !lastOwn.Equal(ack.Acked) {
			t.Errorf("victim %d: receivers %+v; want a and b, the later acknowledgement the victim's (%v)", i, ack.Receivers, ack.Acked)
		}
	}
	mu.Lock()
	if len(subs["a"]) != 4 || len(subs["b"]) != 4 {
		t.Errorf("receivers told of %v; want every victim's user at each", subs)
	}
	mu.Unlock()

	acks, err = collect(t, a, Issuer{}, victims(2))
	if err == nil || acks[0].Err == nil || !strings.Contains(acks[0].Err.Error(), "reference/ssf") {
		t.Errorf("without a transmitter: %v, ack %+v; want every victim failed naming reference/ssf", err, acks[0])
	}
}

// TestSSFEventDownReceiverDelaysNoOther: a push receiver that is down (503, retried with
// backoff) delays only its own SETs: another receiver's SET about the same victim is sent at
// once, not after the down one's retries, even when the down receiver's stream comes first.
func TestSSFEventDownReceiverDelaysNoOther(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(nil)
	key, err := ssf.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	const tokDown, tokUp = "receiver-down-token-0123456789", "receiver-up-token-0123456789"
	const backoff = 300 * time.Millisecond // 3 attempts: the down receiver's SET takes 900ms to fail
	tx, err := ssf.New(ssf.Config{Issuer: "http://" + srv.Listener.Addr().String(), Key: key, PushAttempts: 3, PushBackoff: backoff,
		Receivers: []ssf.Receiver{{Token: tokDown, Audience: []string{"down"}}, {Token: tokUp, Audience: []string{"up"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = tx.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); tx.Close() })
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(func() { down.Close(); up.Close() })
	stream := func(method, tok, endpoint, query string) string {
		var body io.Reader
		if method == http.MethodPost {
			b, _ := json.Marshal(map[string]any{"delivery": ssf.Delivery{Method: ssf.MethodPush, EndpointURL: endpoint}})
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, tx.Metadata().ConfigurationEndpoint+query, body)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s stream: %v %v", method, resp, err)
		}
		defer resp.Body.Close()
		var sc ssf.StreamConfig
		_ = json.NewDecoder(resp.Body).Decode(&sc)
		return sc.ID
	}
	downID := stream(http.MethodPost, tokDown, down.URL, "")
	// The action emits on the streams in stream-id order: make the down receiver's come first
	// (bounded: each new id sorts after downID with probability about 1/2).
	upID := stream(http.MethodPost, tokUp, up.URL, "")
	for i := 0; upID < downID && i < 64; i++ {
		stream(http.MethodDelete, tokUp, "", "?stream_id="+url.QueryEscape(upID))
		upID = stream(http.MethodPost, tokUp, up.URL, "")
	}
	if upID < downID {
		t.Fatal("no stream id of the up receiver sorted after the down one's")
	}
	a, err := NewAction(ActionSSFEvent, ActionParams{With: map[string]any{"event": "session-revoked"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, a, Issuer{URL: &url.URL{Scheme: "http", Host: "issuer.test"}, SSF: map[string]*ssf.Transmitter{"ssf": tx}}, victims(1)); err == nil {
		t.Error("the down receiver's SET failed, yet the action succeeded")
	}
	var downRec, upRec ssf.Record
	for _, r := range tx.Records() {
		switch r.Stream {
		case downID:
			downRec = r
		case upID:
			upRec = r
		}
	}
	if downRec.Attempts != 3 || !downRec.Failed {
		t.Errorf("down receiver's SET: %+v; want 3 attempts, failed", downRec)
	}
	if upRec.Acked.IsZero() || upRec.Sent.Sub(downRec.Sent) >= backoff {
		t.Errorf("up receiver's SET sent %v after the down one's (acked %v): it waited for the down receiver's retries",
			upRec.Sent.Sub(downRec.Sent), !upRec.Acked.IsZero())
	}
}

// TestSSFEventRequiredClaims: every event type ssf-event can send carries the claims its type
// requires (RISC 1.0 §2.7 credential_type, CAEP 1.0 §3.3.1 credential_type and change_type), as
// the reference receivers check them.
func TestSSFEventRequiredClaims(t *testing.T) {
	for name, typ := range ssf.EventTypes {
		ev := map[string]any{"event_timestamp": time.Now().Unix(), "initiating_entity": "admin"}
		maps.Copy(ev, ssfRequiredClaims[typ])
		if e := ssf.CheckEventClaims(typ, ev); e != nil {
			t.Errorf("%s: %v", name, e)
		}
	}
	if got := ssfRequiredClaims[ssf.RISCCredentialCompromise]["credential_type"]; got != "password" {
		t.Errorf("credential-compromise credential_type %v, want password", got)
	}
}
