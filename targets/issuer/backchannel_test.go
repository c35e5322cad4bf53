package issuer_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/rp"
)

// TestBackchannelLogout: a client registered with a backchannel_logout_uri receives, for a sid
// recall and for a sub recall, a logout token that the reference relying party accepts (its
// validation is the spec's: signature by the issuer's JWKS, typ, iss, aud, iat, jti, events, no
// nonce), naming that sid or sub.
func TestBackchannelLogout(t *testing.T) {
	e := newEnv(t, nil)
	got := make(chan rp.LogoutToken, 4)
	var app *rp.RP
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lt, err := app.Validate(r.Context(), r.PostFormValue("logout_token"), time.Now())
		if err != nil {
			t.Errorf("logout token refused by the reference relying party: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- lt
	}))
	t.Cleanup(srv.Close)
	var err error
	app, err = rp.New(t.Context(), rp.Config{IssuerURL: e.srv.URL, ClientID: "web", AdminSecret: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if code, m := e.adminJSON(http.MethodPost, "/admin/clients", map[string]any{"clients": []map[string]any{
		{"client_id": "web", "client_secret": "web-secret", "backchannel_logout_uri": srv.URL + "/bcl"}}}, nil); code != http.StatusOK {
		t.Fatalf("register: %d %v", code, m)
	}
	if code, _ := e.adminJSON(http.MethodPost, "/admin/clients", map[string]any{"clients": []map[string]any{
		{"client_id": "bad", "client_secret": "s", "backchannel_logout_uri": "not a url"}}}, nil); code != http.StatusBadRequest {
		t.Errorf("a relative backchannel_logout_uri: %d, want 400", code)
	}
	wait := func(what string) rp.LogoutToken {
		t.Helper()
		select {
		case lt := <-got:
			return lt
		case <-time.After(10 * time.Second):
			t.Fatalf("no logout token for the %s recall", what)
		}
		return rp.LogoutToken{}
	}
	e.recall(map[string]any{"type": "sid", "values": []string{"sess-42"}})
	if lt := wait("sid"); lt.SID != "sess-42" || lt.Subject != "" {
		t.Errorf("sid recall: logout token %+v, want sid sess-42 only", lt)
	}
	e.recall(map[string]any{"type": "sub", "values": []string{"alice"}})
	if lt := wait("sub"); lt.Subject != "alice" || lt.SID != "" {
		t.Errorf("sub recall: logout token %+v, want sub alice only", lt)
	}
	e.recall(map[string]any{"type": "jti", "values": []string{"some-jti"}})
	select {
	case lt := <-got:
		t.Errorf("a jti recall sent a logout token: %+v", lt)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestBackchannelLogoutWithoutBaseURL: an issuer that derives its iss from each request has none
// for a logout token posted in the background, so it posts none (every relying party would refuse
// an empty iss) rather than tokens that end nothing.
func TestBackchannelLogoutWithoutBaseURL(t *testing.T) {
	e := newEnv(t, nil)
	e.iss.SetBaseURL("")
	posts := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts <- struct{}{} }))
	t.Cleanup(srv.Close)
	e.iss.AddBackchannelClient(issuer.BackchannelClient{ClientID: "web", URI: srv.URL})
	e.recall(map[string]any{"type": "sid", "values": []string{"sess-1"}})
	select {
	case <-posts:
		t.Error("a logout token was posted without an iss")
	case <-time.After(300 * time.Millisecond):
	}
	e.iss.SetBaseURL(e.srv.URL)
	e.recall(map[string]any{"type": "sid", "values": []string{"sess-2"}})
	select {
	case <-posts:
	case <-time.After(10 * time.Second):
		t.Error("no logout token once the base URL is set")
	}
}
