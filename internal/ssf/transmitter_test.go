package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	tokA = "receiver-a-token-0123456789"
	tokB = "receiver-b-token-0123456789"
)

// tickClock advances one millisecond per reading, so instants taken in sequence are ordered
// strictly whatever the machine's speed.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) Now() time.Time {
	return time.Unix(1_800_000_000, 0).Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

type fixture struct {
	t   *testing.T
	tr  *Transmitter
	srv *httptest.Server
	key jose.JSONWebKey
}

func newFixture(t *testing.T, path string, mod func(*Config)) *fixture {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	key := testKey(t, "tx-1")
	clk := &tickClock{}
	cfg := Config{Issuer: "http://" + srv.Listener.Addr().String() + path, Key: key,
		Receivers:   []Receiver{{Token: tokA, Audience: []string{"rx-a"}}, {Token: tokB, Audience: []string{"rx-b1", "rx-b2"}}},
		PushBackoff: time.Millisecond, PollWait: 30 * time.Second, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = tr.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); tr.Close() })
	return &fixture{t: t, tr: tr, srv: srv, key: key}
}

// do sends a JSON request with a bearer token ("" for none) and decodes a JSON answer into out.
func (f *fixture) do(method, url, tok string, body any, out any) int {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (f *fixture) metadata() Metadata {
	var m Metadata
	if code := f.do("GET", f.srv.URL+f.tr.WellKnownPath(), "", nil, &m); code != 200 {
		f.t.Fatalf("metadata: %d", code)
	}
	return m
}

func (f *fixture) create(tok string, req map[string]any) StreamConfig {
	f.t.Helper()
	var sc StreamConfig
	if code := f.do("POST", f.metadata().ConfigurationEndpoint, tok, req, &sc); code != http.StatusCreated {
		f.t.Fatalf("create stream: %d", code)
	}
	return sc
}

func TestMetadataAndJWKS(t *testing.T) {
	for _, path := range []string{"", "/tenant1"} {
		f := newFixture(t, path, nil)
		iss := f.tr.cfg.Issuer
		// SSF §7.2.1: the well-known segment goes between host and the issuer's path.
		if want := "/.well-known/ssf-configuration" + path; f.tr.WellKnownPath() != want {
			t.Errorf("well-known path %q, want %q", f.tr.WellKnownPath(), want)
		}
		var raw map[string]any
		f.do("GET", f.srv.URL+f.tr.WellKnownPath(), "", nil, &raw)
		for _, k := range []string{"spec_version", "issuer", "jwks_uri", "delivery_methods_supported", "configuration_endpoint",
			"status_endpoint", "verification_endpoint", "authorization_schemes", "default_subjects"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("metadata lacks %s: %v", k, raw)
			}
		}
		m := f.metadata()
		if m.SpecVersion != "1_0" || m.Issuer != iss || m.JWKSURI != iss+"/jwks" || m.ConfigurationEndpoint != iss+"/ssf/stream" ||
			m.StatusEndpoint != iss+"/ssf/status" || m.VerificationEndpoint != iss+"/ssf/verify" ||
			strings.Join(m.DeliveryMethodsSupported, ",") != MethodPush+","+MethodPoll ||
			len(m.AuthorizationSchemes) != 1 || m.AuthorizationSchemes[0]["spec_urn"] != "urn:ietf:rfc:6750" {
			t.Errorf("metadata %+v", m)
		}
		var ks jose.JSONWebKeySet
		if code := f.do("GET", m.JWKSURI, "", nil, &ks); code != 200 || len(ks.Keys) != 1 || !ks.Keys[0].IsPublic() || ks.Keys[0].KeyID != "tx-1" {
			t.Fatalf("jwks %d %+v", code, ks)
		}
		// A SET signed by the transmitter verifies with the served JWKS.
		raw2, err := Sign(SET{Issuer: iss, Audience: []string{"rx-a"}, IssuedAt: time.Now(), SubID: Opaque("x"), EventType: CAEPSessionRevoked}, f.key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&Validator{Issuer: m.Issuer, Audience: "rx-a", Keys: &ks}).Validate(raw2); err != nil {
			t.Errorf("SET does not verify with the served JWKS: %v", err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	key := testKey(t, "k")
	good := Config{Issuer: "https://tx.example", Key: key, Receivers: []Receiver{{Token: tokA, Audience: []string{"a"}}}}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"issuer query":  func(c *Config) { c.Issuer = "https://tx.example?x=1" },
		"issuer scheme": func(c *Config) { c.Issuer = "ftp://tx.example" },
		"public key":    func(c *Config) { c.Key = key.Public() },
		"no receivers":  func(c *Config) { c.Receivers = nil },
		"short token":   func(c *Config) { c.Receivers = []Receiver{{Token: "abc", Audience: []string{"a"}}} },
	} {
		c := good
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestManagementNeedsBearer(t *testing.T) {
	f := newFixture(t, "", nil)
	m := f.metadata()
	for _, tok := range []string{"", "not-a-receiver-token-xyz"} {
		for _, ep := range []string{m.ConfigurationEndpoint, m.StatusEndpoint + "?stream_id=x"} {
			if code := f.do("GET", ep, tok, nil, nil); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", ep, tok, code)
			}
		}
		if code := f.do("POST", m.VerificationEndpoint, tok, map[string]string{"stream_id": "x"}, nil); code != http.StatusUnauthorized {
			t.Errorf("verify with token %q: %d", tok, code)
		}
	}
}

func TestStreamCRUD(t *testing.T) {
	f := newFixture(t, "", nil)
	m := f.metadata()
	push := f.create(tokA, map[string]any{
		"delivery":         map[string]string{"method": MethodPush, "endpoint_url": "http://127.0.0.1:1/events", "authorization_header": "Bearer rx-secret-abcdef"},
		"events_requested": []string{CAEPSessionRevoked, RISCCredentialCompromise, "urn:example:unknown"},
		"description":      "push A",
	})
	if push.ID == "" || push.Iss != m.Issuer || strings.Join(push.Aud, ",") != "rx-a" || push.Delivery.Method != MethodPush ||
		push.Description != "push A" || strings.Join(push.EventsDelivered, ",") != CAEPSessionRevoked+","+RISCCredentialCompromise ||
		len(push.EventsSupported) != len(EventTypes) {
		t.Fatalf("created %+v", push)
	}
	if push.Delivery.AuthorizationHeader != "" {
		t.Error("the receiver's authorization_header is echoed back")
	}
	// SSF §8.1.1.1: no delivery means poll, with the transmitter's endpoint_url.
	poll := f.create(tokA, map[string]any{})
	if poll.ID == push.ID || poll.Delivery.Method != MethodPoll || poll.Delivery.EndpointURL != m.Issuer+"/ssf/poll/"+poll.ID {
		t.Fatalf("poll stream %+v", poll)
	}
	var got StreamConfig
	if code := f.do("GET", m.ConfigurationEndpoint+"?stream_id="+push.ID, tokA, nil, &got); code != 200 || got.Description != "push A" {
		t.Fatalf("read: %d %+v", code, got)
	}
	var list []StreamConfig
	f.do("GET", m.ConfigurationEndpoint, tokA, nil, &list)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	// Another receiver sees none of A's streams (SSF §8).
	if code := f.do("GET", m.ConfigurationEndpoint+"?stream_id="+push.ID, tokB, nil, nil); code != http.StatusNotFound {
		t.Errorf("B reads A's stream: %d", code)
	}
	list = nil
	f.do("GET", m.ConfigurationEndpoint, tokB, nil, &list)
	if len(list) != 0 {
		t.Errorf("B lists %+v", list)
	}
	bs := f.create(tokB, map[string]any{})
	var raw map[string]any
	f.do("GET", m.ConfigurationEndpoint+"?stream_id="+bs.ID, tokB, nil, &raw)
	if a, ok := raw["aud"].([]any); !ok || len(a) != 2 {
		t.Errorf("two-valued aud not an array: %v", raw["aud"])
	}

	// PATCH (SSF §8.1.1.3): only what is present changes.
	if code := f.do("PATCH", m.ConfigurationEndpoint, tokA, map[string]any{"stream_id": push.ID, "description": "renamed"}, &got); code != 200 ||
		got.Description != "renamed" || len(got.EventsDelivered) != 2 || got.Delivery.Method != MethodPush {
		t.Fatalf("patch: %d %+v", code, got)
	}
	for name, body := range map[string]map[string]any{
		"aud change":             {"stream_id": push.ID, "aud": "rx-other"},
		"iss change":             {"stream_id": push.ID, "iss": "https://evil.example"},
		"events_delivered wrong": {"stream_id": push.ID, "events_delivered": []string{CAEPCredentialChange}},
		"bad method":             {"stream_id": push.ID, "delivery": map[string]string{"method": "urn:example:carrier-pigeon"}},
	} {
		if code := f.do("PATCH", m.ConfigurationEndpoint, tokA, body, nil); code != http.StatusBadRequest {
			t.Errorf("PATCH %s: %d, want 400", name, code)
		}
	}
	if code := f.do("PATCH", m.ConfigurationEndpoint, tokA, map[string]any{"description": "x"}, nil); code != http.StatusBadRequest {
		t.Errorf("PATCH without stream_id: %d", code)
	}
	// PUT (SSF §8.1.1.4): receiver-supplied fields not sent are reset.
	got = StreamConfig{}
	if code := f.do("PUT", m.ConfigurationEndpoint, tokA, map[string]any{"stream_id": push.ID,
		"delivery": map[string]string{"method": MethodPush, "endpoint_url": "http://127.0.0.1:2/e"}}, &got); code != 200 ||
		got.Description != "" || got.Delivery.EndpointURL != "http://127.0.0.1:2/e" || len(got.EventsDelivered) != len(EventTypes) {
		t.Fatalf("put: %d %+v", code, got)
	}
	// DELETE (SSF §8.1.1.5).
	if code := f.do("DELETE", m.ConfigurationEndpoint+"?stream_id="+push.ID, tokB, nil, nil); code != http.StatusNotFound {
		t.Errorf("B deletes A's stream: %d", code)
	}
	if code := f.do("DELETE", m.ConfigurationEndpoint+"?stream_id="+push.ID, tokA, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code := f.do("GET", m.ConfigurationEndpoint+"?stream_id="+push.ID, tokA, nil, nil); code != http.StatusNotFound {
		t.Errorf("read after delete: %d", code)
	}
	if code := f.do("POST", m.ConfigurationEndpoint, tokA, map[string]any{"delivery": map[string]string{"method": MethodPush, "endpoint_url": "not a url"}}, nil); code != http.StatusBadRequest {
		t.Errorf("create with a bad endpoint_url: %d", code)
	}
}

// recv is a push receiver: it validates each SET and answers 202, or what answer says.
type recv struct {
	t      *testing.T
	srv    *httptest.Server
	v      *Validator
	mu     sync.Mutex
	got    []*SET
	auth   []string
	ctype  []string
	answer func(n int) (int, string) // status and body for the n-th request, from 1
	ch     chan *SET
}

func newRecv(t *testing.T, f *fixture, aud string) *recv {
	var ks jose.JSONWebKeySet
	f.do("GET", f.metadata().JWKSURI, "", nil, &ks)
	r := &recv{t: t, v: &Validator{Issuer: f.tr.cfg.Issuer, Audience: aud, Keys: &ks, Replay: true, Now: f.tr.cfg.Now}, ch: make(chan *SET, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.ctype = append(r.ctype, req.Header.Get("Content-Type"))
		n := len(r.auth)
		r.mu.Unlock()
		if r.answer != nil {
			if code, body := r.answer(n); code != 0 {
				w.WriteHeader(code)
				_, _ = io.WriteString(w, body)
				return
			}
		}
		set, err := r.v.Validate(string(b))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, err)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, set)
		r.mu.Unlock()
		r.ch <- set
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns the next SET the receiver accepted; the bound is there only so that a broken
// transmitter fails the test instead of hanging it.
func (r *recv) wait() *SET {
	r.t.Helper()
	select {
	case s := <-r.ch:
		return s
	case <-time.After(time.Minute):
		r.t.Fatal("no SET pushed")
		return nil
	}
}

func pushStream(f *fixture, r *recv, hdr string) StreamConfig {
	return f.create(tokA, map[string]any{"delivery": map[string]string{"method": MethodPush, "endpoint_url": r.srv.URL + "/events", "authorization_header": hdr}})
}

func TestPushDelivery(t *testing.T) {
	f := newFixture(t, "", nil)
	r := newRecv(t, f, "rx-a")
	s := pushStream(f, r, "Bearer rx-secret-abcdef")
	rec, err := f.tr.Emit(context.Background(), s.ID, CAEPSessionRevoked, SessionID("sid-1", "https://idp", "alice"), map[string]any{"event_timestamp": 1}, "txn-1")
	if err != nil {
		t.Fatal(err)
	}
	got := r.wait()
	if got.ID != rec.JTI || got.EventType != CAEPSessionRevoked || got.Txn != "txn-1" || got.SubID.Format() != FormatComplex {
		t.Errorf("received %+v for record %+v", got, rec)
	}
	if r.auth[0] != "Bearer rx-secret-abcdef" || r.ctype[0] != "application/secevent+jwt" {
		t.Errorf("push headers: auth %q, content-type %q (SSF §6.1.1, RFC 8935 §2.1)", r.auth[0], r.ctype[0])
	}
	if rec.Failed || rec.Status != 202 || rec.Attempts != 1 || rec.Sent.IsZero() || !rec.Delivered.After(rec.Sent) || !rec.Acked.Equal(rec.Delivered) {
		t.Errorf("record %+v", rec)
	}
	if _, err := f.tr.Emit(context.Background(), s.ID, "urn:example:nope", Opaque("x"), nil, ""); err == nil {
		t.Error("emitted an event type the stream does not deliver")
	}
}

func TestPushRejectedWith400(t *testing.T) {
	f := newFixture(t, "", nil)
	r := newRecv(t, f, "rx-a")
	secret := "Bearer rx-secret-abcdef"
	r.answer = func(int) (int, string) {
		// An RFC 8935 §2.4 error whose description quotes the credential it was sent with.
		return 400, `{"err":"invalid_audience","description":"aud mismatch for ` + secret + ` token rx-secret-abcdef"}`
	}
	s := pushStream(f, r, secret)
	rec, err := f.tr.Emit(context.Background(), s.ID, RISCCredentialCompromise, IssSub("https://idp", "bob"), map[string]any{"credential_type": "password"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Failed || rec.Status != 400 || rec.Err != ErrInvalidAudience || !rec.Delivered.IsZero() || !rec.Acked.IsZero() {
		t.Errorf("record %+v", rec)
	}
	if rec.Attempts != 1 {
		t.Errorf("a 400 was retried: %d attempts (RFC 8935 §2.3 rejections are final)", rec.Attempts)
	}
	if !strings.Contains(rec.Description, "aud mismatch") || strings.Contains(rec.Description, "rx-secret-abcdef") {
		t.Errorf("description not kept, or not redacted: %q", rec.Description)
	}
	// A 400 without an RFC 8935 body is kept as a redacted excerpt.
	r.answer = func(int) (int, string) { return 400, "nope " + secret }
	rec, _ = f.tr.Emit(context.Background(), s.ID, RISCCredentialCompromise, IssSub("https://idp", "bob"), map[string]any{"credential_type": "password"}, "")
	if !rec.Failed || rec.Err != "" || !strings.HasPrefix(rec.Detail, "400: nope") || strings.Contains(rec.Detail, "rx-secret-abcdef") {
		t.Errorf("record %+v", rec)
	}
}

func TestPushRetries5xxThenSucceeds(t *testing.T) {
	f := newFixture(t, "", nil)
	r := newRecv(t, f, "rx-a")
	r.answer = func(n int) (int, string) {
		if n <= 2 {
			return 503, "down"
		}
		return 0, ""
	}
	s := pushStream(f, r, "")
	rec, err := f.tr.Emit(context.Background(), s.ID, CAEPSessionRevoked, Opaque("sid"), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Failed || rec.Attempts != 3 || rec.Status != 202 || rec.Detail != "" {
		t.Errorf("record %+v", rec)
	}
	r.answer = func(int) (int, string) { return 503, "down" }
	rec, _ = f.tr.Emit(context.Background(), s.ID, CAEPSessionRevoked, Opaque("sid"), nil, "")
	if !rec.Failed || rec.Attempts != 3 || rec.Status != 503 || !rec.Delivered.IsZero() {
		t.Errorf("record after every attempt failed: %+v", rec)
	}
}

func TestStatusPauseHoldsAndEnableFlushes(t *testing.T) {
	f := newFixture(t, "", nil)
	m := f.metadata()
	r := newRecv(t, f, "rx-a")
	s := pushStream(f, r, "")
	var st statusBody
	if code := f.do("GET", m.StatusEndpoint+"?stream_id="+s.ID, tokA, nil, &st); code != 200 || st.Status != StatusEnabled {
		t.Fatalf("status %d %+v", code, st)
	}
	if code := f.do("POST", m.StatusEndpoint, tokA, statusBody{ID: s.ID, Status: StatusPaused, Reason: "maintenance"}, &st); code != 200 || st.Status != StatusPaused {
		t.Fatalf("pause %d %+v", code, st)
	}
	f.do("GET", m.StatusEndpoint+"?stream_id="+s.ID, tokA, nil, &st)
	if st.Status != StatusPaused || st.Reason != "maintenance" {
		t.Fatalf("status after pause %+v", st)
	}
	if code := f.do("POST", m.StatusEndpoint, tokA, statusBody{ID: s.ID, Status: "asleep"}, nil); code != http.StatusBadRequest {
		t.Errorf("bad status: %d", code)
	}
	if code := f.do("GET", m.StatusEndpoint+"?stream_id="+s.ID, tokB, nil, nil); code != http.StatusNotFound {
		t.Errorf("B reads A's status: %d", code)
	}
	rec, err := f.tr.Emit(context.Background(), s.ID, CAEPSessionRevoked, Opaque("sid"), nil, "")
	if err != nil || !rec.Sent.IsZero() || rec.Attempts != 0 {
		t.Fatalf("paused stream sent at once: %+v %v", rec, err)
	}
	f.do("POST", m.StatusEndpoint, tokA, statusBody{ID: s.ID, Status: StatusEnabled}, nil)
	if got := r.wait(); got.ID != rec.JTI {
		t.Fatalf("flushed %s, want %s", got.ID, rec.JTI)
	}
	f.tr.Close()
	if recs := f.tr.Records(); recs[0].Delivered.IsZero() || recs[0].Failed {
		t.Errorf("held SET record %+v", recs[0])
	}
	f.do("POST", m.StatusEndpoint, tokA, statusBody{ID: s.ID, Status: StatusDisabled}, nil)
	if _, err := f.tr.Emit(context.Background(), s.ID, CAEPSessionRevoked, Opaque("sid"), nil, ""); err == nil {
		t.Error("emitted on a disabled stream")
	}
}

func TestVerificationEvent(t *testing.T) {
	f := newFixture(t, "", func(c *Config) { c.MinVerificationInterval = time.Hour })
	m := f.metadata()
	r := newRecv(t, f, "rx-a")
	s := pushStream(f, r, "")
	if code := f.do("POST", m.VerificationEndpoint, tokA, map[string]string{"stream_id": s.ID, "state": "st-42"}, nil); code != http.StatusNoContent {
		t.Fatalf("verify: %d", code)
	}
	got := r.wait()
	// SSF §8.1.4.1: sub_id is the opaque stream_id; state is echoed.
	if got.EventType != SSFVerification || got.Event["state"] != "st-42" || got.SubID.Format() != FormatOpaque || got.SubID["id"] != s.ID {
		t.Errorf("verification SET %+v", got)
	}
	if code := f.do("POST", m.VerificationEndpoint, tokA, map[string]string{"stream_id": s.ID}, nil); code != http.StatusTooManyRequests {
		t.Errorf("second verification within min_verification_interval: %d, want 429", code)
	}
	if code := f.do("POST", m.VerificationEndpoint, tokA, map[string]string{"stream_id": "nope"}, nil); code != http.StatusNotFound {
		t.Errorf("verify unknown stream: %d", code)
	}
	var sc StreamConfig
	f.do("GET", m.ConfigurationEndpoint+"?stream_id="+s.ID, tokA, nil, &sc)
	if sc.MinVerificationInterval != 3600 {
		t.Errorf("min_verification_interval %d", sc.MinVerificationInterval)
	}
}

type pollResp struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

func TestPollFetchAndAck(t *testing.T) {
	f := newFixture(t, "", nil)
	s := f.create(tokA, map[string]any{"delivery": map[string]string{"method": MethodPoll}})
	url := s.Delivery.EndpointURL
	var jtis []string
	for i := 0; i < 3; i++ {
		rec, err := f.tr.Emit(context.Background(), s.ID, RISCCredentialCompromise, Email("a@example.com"), map[string]any{"credential_type": "password"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Sent.IsZero() || !rec.Delivered.IsZero() {
			t.Fatalf("queued record %+v", rec)
		}
		jtis = append(jtis, rec.JTI)
	}
	if code := f.do("POST", url, tokB, map[string]any{"returnImmediately": true}, nil); code != http.StatusNotFound {
		t.Errorf("B polls A's stream: %d", code)
	}
	if code := f.do("POST", url, "", map[string]any{"returnImmediately": true}, nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous poll: %d", code)
	}
	var pr pollResp
	if code := f.do("POST", url, tokA, map[string]any{"maxEvents": 2, "returnImmediately": true}, &pr); code != 200 || len(pr.Sets) != 2 || !pr.MoreAvailable {
		t.Fatalf("poll: %d %+v", code, pr)
	}
	var ks jose.JSONWebKeySet
	f.do("GET", f.metadata().JWKSURI, "", nil, &ks)
	v := &Validator{Issuer: f.tr.cfg.Issuer, Audience: "rx-a", Keys: &ks, Now: f.tr.cfg.Now}
	var first []string
	for jti, raw := range pr.Sets {
		set, err := v.Validate(raw)
		if err != nil || set.ID != jti {
			t.Fatalf("polled SET %s: %v", jti, err)
		}
		first = append(first, jti)
	}
	for _, rec := range f.tr.Records() {
		if (rec.JTI == jtis[2]) != rec.Delivered.IsZero() || !rec.Acked.IsZero() {
			t.Errorf("after the first poll: %+v", rec)
		}
	}
	// Acknowledge-only (RFC 8936 §2.4.2): maxEvents 0 returns nothing.
	pr = pollResp{}
	if code := f.do("POST", url, tokA, map[string]any{"maxEvents": 0, "ack": first}, &pr); code != 200 || len(pr.Sets) != 0 {
		t.Fatalf("ack-only poll: %d %+v", code, pr)
	}
	// Poll again: the third SET; then report an error for it (RFC 8936 §2.4.4).
	pr = pollResp{}
	f.do("POST", url, tokA, map[string]any{"returnImmediately": true}, &pr)
	if _, ok := pr.Sets[jtis[2]]; len(pr.Sets) != 1 || !ok || pr.MoreAvailable {
		t.Fatalf("second poll %+v", pr)
	}
	f.do("POST", url, tokA, map[string]any{"maxEvents": 0, "setErrs": map[string]any{jtis[2]: map[string]string{"err": "invalid_key", "description": "kid unknown"}}}, nil)
	for _, rec := range f.tr.Records() {
		switch {
		case rec.JTI == jtis[2]:
			if !rec.Failed || rec.Err != ErrInvalidKey || rec.Description != "kid unknown" || !rec.Acked.IsZero() || rec.Delivered.IsZero() {
				t.Errorf("errored SET %+v", rec)
			}
		case rec.Failed || !rec.Sent.Before(rec.Delivered) || !rec.Delivered.Before(rec.Acked):
			t.Errorf("acked SET: want sent < delivered < acked, got %+v", rec)
		}
	}
	// A long poll (returnImmediately false) returns once a SET is emitted.
	done := make(chan pollResp)
	go func() {
		var p pollResp
		f.do("POST", url, tokA, map[string]any{}, &p)
		done <- p
	}()
	emitted := map[string]bool{}
	for {
		// Emit until the waiting poll returns: SETs emitted before the poll arrived are
		// pending and returned at once, so the answer holds some of the emitted ones.
		rec, err := f.tr.Emit(context.Background(), s.ID, RISCCredentialCompromise, Email("a@example.com"), map[string]any{"credential_type": "password"}, "")
		if err != nil {
			t.Fatal(err)
		}
		emitted[rec.JTI] = true
		select {
		case p := <-done:
			if len(p.Sets) == 0 {
				t.Error("long poll returned no SET")
			}
			for jti := range p.Sets {
				if !emitted[jti] {
					t.Errorf("long poll returned %s, never emitted or already acknowledged", jti)
				}
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestPollWrongStreamKind(t *testing.T) {
	f := newFixture(t, "", nil)
	r := newRecv(t, f, "rx-a")
	s := pushStream(f, r, "")
	if code := f.do("POST", f.tr.cfg.Issuer+"/ssf/poll/"+s.ID, tokA, map[string]any{}, nil); code != http.StatusBadRequest {
		t.Errorf("poll on a push stream: %d", code)
	}
}
