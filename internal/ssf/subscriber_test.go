package ssf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func realClock(c *Config) { c.Now = time.Now }

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSubscriberReceives: recall subscribes to a transmitter by its well-known metadata,
// creates a stream of the requested events, receives and validates each SET (push: answered
// 202, so the transmitter records it acknowledged; poll: acknowledged on the next poll), and
// deletes its stream on Close.
func TestSubscriberReceives(t *testing.T) {
	for _, method := range []string{MethodPush, MethodPoll} {
		t.Run(method, func(t *testing.T) {
			f := newFixture(t, "/tenant", realClock)
			cfgURL, err := WellKnownURL(f.tr.cfg.Issuer)
			if err != nil {
				t.Fatal(err)
			}
			if want := f.srv.URL + "/.well-known/ssf-configuration/tenant"; cfgURL != want {
				t.Fatalf("well-known %s, want %s (SSF §7.2.1)", cfgURL, want)
			}
			sub, err := Subscribe(context.Background(), SubscriberConfig{ConfigURL: cfgURL, Token: tokA, Delivery: method,
				Events: []string{CAEPSessionRevoked}, PollInterval: 5 * time.Millisecond, Verify: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := sub.Verified(); !ok || len(sub.Received()) != 0 {
				t.Errorf("verified %v, received %d: want the verification event (SSF §8.1.4) answered and not counted", ok, len(sub.Received()))
			}
			streams := f.tr.Streams()
			if len(streams) != 1 || streams[0].ID != sub.Stream().ID || streams[0].Delivery.Method != method ||
				len(streams[0].EventsDelivered) != 1 || streams[0].EventsDelivered[0] != CAEPSessionRevoked {
				t.Fatalf("transmitter's streams %+v, want the subscriber's %s stream of session-revoked only", streams, method)
			}
			rec, err := f.tr.Emit(context.Background(), sub.Stream().ID, CAEPSessionRevoked, IssSub("https://idp", "alice"),
				map[string]any{"event_timestamp": time.Now().Unix()}, "txn-1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.tr.Emit(context.Background(), sub.Stream().ID, RISCCredentialCompromise, Email("a@b"), nil, ""); err == nil {
				t.Error("an event type not requested was emitted on the stream")
			}
			waitFor(t, "the SET", func() bool { return len(sub.Received()) == 1 })
			got := sub.Received()[0]
			if got.SET.ID != rec.JTI || got.SET.Txn != "txn-1" || got.SET.SubID["sub"] != "alice" || got.SET.EventType != CAEPSessionRevoked {
				t.Errorf("received %+v, want the SET emitted (jti %s)", got.SET, rec.JTI)
			}
			if got.At.Before(rec.Sent) {
				t.Errorf("received at %v before the transmitter sent at %v", got.At, rec.Sent)
			}
			waitFor(t, "the acknowledgement", func() bool { return !f.tr.Records()[0].Acked.IsZero() || method == MethodPoll })
			if err := sub.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r := f.tr.Records()[0]; r.Acked.IsZero() || r.Failed {
				t.Errorf("record %+v: want acknowledged (push: 202; poll: ack on the closing poll)", r)
			}
			if s := f.tr.Streams(); len(s) != 0 {
				t.Errorf("streams after Close: %+v, want the stream deleted (SSF §8.1.1.5)", s)
			}
			if err := sub.Close(context.Background()); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestSubscriberRejects: a SET signed by a key not in the transmitter's JWKS is refused (push:
// 400 invalid_key, which the transmitter records) and never counted as received; a
// redelivery of a good SET is acknowledged and not counted twice; another SET under its jti is
// refused as a replay.
func TestSubscriberRejects(t *testing.T) {
	f := newFixture(t, "", realClock)
	cfgURL, _ := WellKnownURL(f.tr.cfg.Issuer)
	sub, err := Subscribe(context.Background(), SubscriberConfig{ConfigURL: cfgURL, Token: tokA, Delivery: MethodPush})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background())
	other := testKey(t, "tx-1") // same kid, another key
	raw, err := Sign(SET{Issuer: f.tr.cfg.Issuer, Audience: []string{"rx-a"}, IssuedAt: time.Now(), SubID: Opaque("x"), EventType: CAEPSessionRevoked}, other)
	if err != nil {
		t.Fatal(err)
	}
	if e := sub.accept(raw, time.Now()); e == nil || e.Code != ErrInvalidKey {
		t.Errorf("forged SET: %v, want invalid_key", e)
	}
	good, _ := Sign(SET{Issuer: f.tr.cfg.Issuer, Audience: []string{"rx-a"}, IssuedAt: time.Now(), SubID: Opaque("x"), EventType: CAEPSessionRevoked}, f.key)
	if e := sub.accept(good, time.Now()); e != nil {
		t.Fatalf("good SET refused: %v", e)
	}
	if e := sub.accept(good, time.Now()); e != nil {
		t.Errorf("redelivered SET: %v, want acknowledged", e)
	}
	jti := sub.Received()[0].SET.ID
	replay, _ := Sign(SET{Issuer: f.tr.cfg.Issuer, Audience: []string{"rx-a"}, IssuedAt: time.Now(), ID: jti, SubID: Opaque("y"), EventType: CAEPSessionRevoked}, f.key)
	if e := sub.accept(replay, time.Now()); e == nil || !strings.Contains(e.Description, "replay") {
		t.Errorf("another SET under a known jti: %v, want refused as a replay", e)
	}
	if n, r := len(sub.Received()), len(sub.Rejected()); n != 1 || r != 2 {
		t.Errorf("received %d, rejected %d; want 1 (the redelivery not counted again) and 2", n, r)
	}
}

// TestSubscribeErrors: a wrong bearer token fails at stream creation with the transmitter's
// status and no secret in the message.
func TestSubscribeErrors(t *testing.T) {
	f := newFixture(t, "", realClock)
	cfgURL, _ := WellKnownURL(f.tr.cfg.Issuer)
	const wrong = "wrong-token-0123456789abcdef"
	_, err := Subscribe(context.Background(), SubscriberConfig{ConfigURL: cfgURL, Token: wrong, Delivery: MethodPoll})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), wrong) {
		t.Errorf("wrong token: %v, want a 401 without the token", err)
	}
	if len(f.tr.Streams()) != 0 {
		t.Error("a stream was created with a wrong token")
	}
}

// TestSubscribeVerificationFails: a transmitter that cannot deliver to recall's push endpoint
// fails Subscribe with the verification's timeout, saying where it waited, and the stream it
// created is deleted.
func TestSubscribeVerificationFails(t *testing.T) {
	f := newFixture(t, "", func(c *Config) {
		c.Now = time.Now
		c.PushAttempts = 1
		c.Client = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("no route") })}
	})
	cfgURL, _ := WellKnownURL(f.tr.cfg.Issuer)
	_, err := Subscribe(context.Background(), SubscriberConfig{ConfigURL: cfgURL, Token: tokA, Delivery: MethodPush, Verify: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no verification event within 200ms on the push endpoint") {
		t.Fatalf("err %v, want the verification timeout", err)
	}
	f.tr.Close()
	if s := f.tr.Streams(); len(s) != 0 {
		t.Errorf("streams %+v: want the failed subscription's stream deleted", s)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSubscribeStreamOfAnotherIssuer: a transmitter whose new stream names another iss than its
// metadata's issuer (SSF §8.1.1: they must be the same) would have every SET refused; Subscribe
// fails saying so, and deletes the stream it created.
func TestSubscribeStreamOfAnotherIssuer(t *testing.T) {
	key := testKey(t, "k1")
	var deleted atomic.Bool
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/ssf-configuration":
			writeJSON(w, http.StatusOK, Metadata{SpecVersion: "1_0", Issuer: srv.URL, JWKSURI: srv.URL + "/jwks",
				DeliveryMethodsSupported: []string{MethodPoll}, ConfigurationEndpoint: srv.URL + "/streams"})
		case r.URL.Path == "/jwks":
			writeJSON(w, http.StatusOK, pubSet(key))
		case r.URL.Path == "/streams" && r.Method == http.MethodPost:
			writeJSON(w, http.StatusCreated, StreamConfig{ID: "s1", Iss: "https://other.example.invalid", Aud: audience{"rx"},
				Delivery: &Delivery{Method: MethodPoll, EndpointURL: srv.URL + "/poll"}})
		case r.URL.Path == "/streams" && r.Method == http.MethodDelete:
			deleted.Store(r.URL.Query().Get("stream_id") == "s1")
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfgURL, _ := WellKnownURL(srv.URL)
	sub, err := Subscribe(context.Background(), SubscriberConfig{ConfigURL: cfgURL, Token: tokA, Delivery: MethodPoll})
	if err == nil {
		sub.Close(context.Background())
		t.Fatal("subscribed to a stream of another issuer")
	}
	if !strings.Contains(err.Error(), `iss "https://other.example.invalid"`) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error %q: want both issuers named", err)
	}
	if !deleted.Load() {
		t.Error("the stream was left at the transmitter")
	}
}
