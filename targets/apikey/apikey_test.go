package apikey

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/bus"
	"github.com/recall-drills/recall/targets/revocation"
)

const admin = "apikey-admin-for-tests"

type stack struct {
	a   *Authority
	url string
	bus *bus.Server
}

func newStack(t *testing.T) *stack {
	t.Helper()
	b, err := bus.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	a, err := NewAuthority(AuthorityConfig{AdminSecret: admin, NATSURL: b.ClientURL(),
		Clients: []Client{{ID: "svc", Secret: "svc-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &stack{a: a, url: srv.URL, bus: b}
}

func (st *stack) service(t *testing.T, s Strategy, mod func(*ServiceConfig)) *httptest.Server {
	t.Helper()
	cfg := ServiceConfig{Name: "svc-" + string(s), Strategy: s, AuthorityURL: st.url, SigningSecret: st.a.SigningSecret(),
		NATSURL: st.bus.ClientURL(), PollInterval: 100 * time.Millisecond, CacheTTL: 300 * time.Millisecond,
		ClientID: "svc", ClientSecret: "svc-secret", DebugSecret: admin, Truth: st.a.Truth()}
	if s == Lookup {
		cfg.SigningSecret = nil
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := NewService(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, u string, hdr map[string]string, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func whoami(t *testing.T, base, key string) int {
	t.Helper()
	code, _ := call(t, http.MethodGet, base+"/api/whoami", map[string]string{Header: key}, "")
	return code
}

// mint mints n keys through the admin API.
func mint(t *testing.T, st *stack, n int) []Key {
	t.Helper()
	code, b := call(t, http.MethodPost, st.url+"/admin/keys", map[string]string{"Authorization": "Bearer " + admin},
		`{"count":`+itoa(n)+`}`)
	var out struct{ Keys []Key }
	if err := json.Unmarshal(b, &out); err != nil || code != http.StatusOK || len(out.Keys) != n {
		t.Fatalf("mint: %d %s", code, b)
	}
	return out.Keys
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func recall(t *testing.T, st *stack, ids ...string) Recall {
	t.Helper()
	body, _ := json.Marshal(map[string][]string{"ids": ids})
	code, b := call(t, http.MethodPost, st.url+"/admin/recalls", map[string]string{"Authorization": "Bearer " + admin}, string(body))
	var rc Recall
	if err := json.Unmarshal(b, &rc); err != nil || code != http.StatusOK {
		t.Fatalf("recall: %d %s", code, b)
	}
	return rc
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Now()
}

// TestStrategiesLearnRecalls: a key recalled at the Authority dies at push, poll and lookup
// services within their bounds, lives on at the offline one, and the control key lives
// everywhere; each service's ground truth says when it began enforcing.
func TestStrategiesLearnRecalls(t *testing.T) {
	st := newStack(t)
	svcs := map[Strategy]*httptest.Server{}
	for _, s := range Strategies {
		svcs[s] = st.service(t, s, nil)
	}
	keys := mint(t, st, 2)
	victim, control := keys[0], keys[1]
	for s, srv := range svcs {
		for _, k := range keys {
			if code := whoami(t, srv.URL, k.Key); code != http.StatusOK {
				t.Fatalf("%s before the recall: %d, want 200", s, code)
			}
		}
	}
	rc := recall(t, st, victim.ID)
	claims := revocation.Claims{JTI: victim.ID, Subject: "apikey:" + victim.ID, ClientID: "apikey"}
	if at, ok := st.a.Truth().EnforcedSince(claims); !ok || !at.Equal(rc.At) {
		t.Errorf("authority truth: %v %v, want %v", at, ok, rc.At)
	}
	for _, s := range []Strategy{Push, Poll, Lookup} {
		srv := svcs[s]
		waitFor(t, 10*time.Second, string(s)+" refuses the recalled key", func() bool { return whoami(t, srv.URL, victim.Key) == http.StatusUnauthorized })
		var dbg struct {
			Records []json.RawMessage `json:"records"`
		}
		code, b := call(t, http.MethodGet, srv.URL+"/debug/recalls", map[string]string{"Authorization": "Bearer " + admin}, "")
		if err := json.Unmarshal(b, &dbg); err != nil || code != http.StatusOK || len(dbg.Records) == 0 {
			t.Errorf("%s /debug/recalls: %d %s, want its records", s, code, b)
		}
		if code, _ := call(t, http.MethodGet, srv.URL+"/debug/recalls", nil, ""); code != http.StatusUnauthorized {
			t.Errorf("%s /debug/recalls without the admin secret: %d, want 401", s, code)
		}
		if code := whoami(t, srv.URL, control.Key); code != http.StatusOK {
			t.Errorf("%s control after the recall: %d, want 200", s, code)
		}
	}
	if code := whoami(t, svcs[Offline].URL, victim.Key); code != http.StatusOK {
		t.Errorf("offline service after the recall: %d, want 200 (it never learns)", code)
	}
}

// TestPushEnforcesWithinMilliseconds: push's ground truth lies right after the Authority's.
func TestPushEnforcesWithinMilliseconds(t *testing.T) {
	st := newStack(t)
	srv := st.service(t, Push, func(c *ServiceConfig) { c.PollInterval = time.Hour })
	k := mint(t, st, 1)[0]
	if code := whoami(t, srv.URL, k.Key); code != http.StatusOK {
		t.Fatalf("before: %d", code)
	}
	rc := recall(t, st, k.ID)
	waitFor(t, 5*time.Second, "push refuses the key", func() bool { return whoami(t, srv.URL, k.Key) == http.StatusUnauthorized })
	// Its own truth log: the instant it applied the rule, after the Authority's.
	code, b := call(t, http.MethodGet, srv.URL+"/debug/recalls", map[string]string{"Authorization": "Bearer " + admin}, "")
	var dbg struct {
		Records []struct {
			At time.Time `json:"at"`
		} `json:"records"`
	}
	if err := json.Unmarshal(b, &dbg); err != nil || code != http.StatusOK || len(dbg.Records) != 1 {
		t.Fatalf("/debug/recalls: %d %s", code, b)
	}
	if lag := dbg.Records[0].At.Sub(rc.At); lag < 0 || lag > 2*time.Second {
		t.Errorf("push enforced %v after the recall, want within [0, 2s] (it polls hourly)", lag)
	}
}

// TestForgedAndMalformedKeysRefused: every strategy refuses a key with a wrong mac and a string
// that is not a key; lookup learns it from the Authority.
func TestForgedAndMalformedKeysRefused(t *testing.T) {
	st := newStack(t)
	k := mint(t, st, 1)[0]
	forged := k.Key[:len(k.Key)-2] + "AA"
	if forged == k.Key {
		forged = k.Key[:len(k.Key)-2] + "BB"
	}
	for _, s := range Strategies {
		srv := st.service(t, s, nil)
		for _, bad := range []string{forged, "rk_nothex_x", "hello", ""} {
			if code := whoami(t, srv.URL, bad); code != http.StatusUnauthorized {
				t.Errorf("%s: key %q answered %d, want 401", s, bad, code)
			}
		}
		if code, _ := call(t, http.MethodGet, srv.URL+"/api/whoami", map[string]string{"Authorization": "ApiKey " + k.Key}, ""); code != http.StatusOK {
			t.Errorf("%s: Authorization: ApiKey: %d, want 200", s, code)
		}
	}
}

// TestAdminAPI: minting and recalling need the admin secret, bad bodies are refused, and lookup
// needs a known client.
func TestAdminAPI(t *testing.T) {
	st := newStack(t)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
		if code, _ := call(t, http.MethodPost, st.url+"/admin/keys", hdr, `{"count":1}`); code != http.StatusUnauthorized {
			t.Errorf("mint with %v: %d, want 401", hdr, code)
		}
		if code, _ := call(t, http.MethodPost, st.url+"/admin/recalls", hdr, `{"ids":["x"]}`); code != http.StatusUnauthorized {
			t.Errorf("recall with %v: %d, want 401", hdr, code)
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + admin}
	for _, body := range []string{`{"count":0}`, `{"count":100001}`, `{"cnt":1}`, `not json`} {
		if code, _ := call(t, http.MethodPost, st.url+"/admin/keys", auth, body); code != http.StatusBadRequest {
			t.Errorf("mint %s: %d, want 400", body, code)
		}
	}
	if code, _ := call(t, http.MethodPost, st.url+"/admin/recalls", auth, `{"ids":["0000000000000000"]}`); code != http.StatusNotFound {
		t.Errorf("recall of an unknown id: %d, want 404", code)
	}
	keys := mint(t, st, 1)
	form := url.Values{"token": {keys[0].Key}}.Encode()
	req := func(user, pw string) int {
		r, _ := http.NewRequest(http.MethodPost, st.url+"/introspect", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(user, pw)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := req("svc", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("introspect with a wrong client secret: %d, want 401", code)
	}
	if code := req("svc", "svc-secret"); code != http.StatusOK {
		t.Errorf("introspect: %d, want 200", code)
	}
}

func TestServiceConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewService(ctx, ServiceConfig{Strategy: "sometimes", AuthorityURL: "http://127.0.0.1:1"}); err == nil {
		t.Error("unknown strategy accepted")
	}
	if _, err := NewService(ctx, ServiceConfig{Strategy: Poll, AuthorityURL: "http://127.0.0.1:1"}); err == nil {
		t.Error("poll without a signing secret accepted")
	}
	if _, err := NewAuthority(AuthorityConfig{}); err == nil {
		t.Error("authority without an admin secret accepted")
	}
}
