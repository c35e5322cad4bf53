package reference

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/issuer"
	"github.com/recall-drills/recall/targets/rp"
)

// TestRPSessions: tokens.source rp-sessions opens one cookie session per credential at the
// reference relying party, victims and controls of different users, each labelled with its sub,
// sid and (as jti) its id; a re-issue is a new session of the same user; the confirmer sees a
// session the app ended inactive and another active; a wrong admin secret is an error that
// quotes neither the secret nor a session id.
func TestRPSessions(t *testing.T) {
	t.Parallel()
	iss, err := issuer.New(issuer.Config{AdminSecret: "adm"})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	op := httptest.NewServer(iss.Handler())
	defer op.Close()
	iss.SetBaseURL(op.URL) // the iss of its logout tokens
	ctx := context.Background()
	app, err := rp.New(ctx, rp.Config{IssuerURL: op.URL, ClientID: "web", AdminSecret: "rp-admin-secret"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	newSource := func(secret string) (*RP, *source.External) {
		r := &RP{Endpoint: func() (*url.URL, error) { return u, nil }, AdminSecret: source.NewSecret(secret), Users: 2}
		return r, &source.External{Kind: source.KindRPSessions, What: "at web", Fetch: r.Fetch, Format: source.FormatJSON}
	}
	r, ext := newSource("rp-admin-secret")
	toks, err := ext.Mint(ctx, source.Population{Victims: 4, Controls: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := map[bool]map[string]bool{true: {}, false: {}}
	for _, tk := range toks {
		c := tk.Claims
		if !tk.Opaque || c.JTI != tk.Access.Reveal() || c.Subject == "" || !strings.HasPrefix(c.Session, "op-") {
			t.Errorf("credential %d: %+v, want an opaque session id labelled jti (itself), sub and sid", tk.Index, c)
		}
		subs[tk.Victim][c.Subject] = true
	}
	if len(subs[true]) != 2 || len(subs[false]) != 2 {
		t.Errorf("victims' users %v, controls' %v: want 2 each", subs[true], subs[false])
	}
	for s := range subs[false] {
		if subs[true][s] {
			t.Errorf("user %s has both victim and control sessions", s)
		}
	}
	fresh, err := ext.Reissue(ctx, toks[0], false)
	if err != nil || fresh.Claims.Subject != toks[0].Claims.Subject || fresh.Claims.Session == toks[0].Claims.Session {
		t.Errorf("reissue: %+v, %v; want a new session of %s", fresh, err, toks[0].Claims.Subject)
	}
	// The app ends the victim's session as a back-channel logout would (it trusts the issuer's
	// keys): recall its sid at the issuer, which posts the logout token.
	iss.AddBackchannelClient(issuer.BackchannelClient{ClientID: "web", URI: srv.URL + "/backchannel-logout"})
	prov, err := Open(source.NewSecret("adm"), "t1")(ctx, mustURL(t, op.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Recaller.RecallBy(ctx, "sid", []string{toks[0].Claims.Session}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		active, err := r.Active(ctx, toks[0])
		if err != nil {
			t.Fatal(err)
		}
		if !active {
			break
		}
		if i == 200 {
			t.Fatal("the recalled session is still active at the app's store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if active, err := r.Active(ctx, toks[1]); err != nil || !active {
		t.Errorf("another session: active %v, %v; want true", active, err)
	}
	bad, _ := newSource("wrong-secret")
	_, err = bad.Fetch(ctx, source.Call{Cohort: source.CohortVictims, Count: 1})
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := bad.Active(ctx, toks[1]); err == nil || strings.Contains(err.Error(), toks[1].Access.Reveal()) || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong secret, status: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
