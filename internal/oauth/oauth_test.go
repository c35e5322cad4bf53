package oauth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/oauth/oauthtest"
)

func TestWellKnown(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("https://idp.example.com/realms/drills")
	got := oauth.WellKnown(u)
	want := []string{"https://idp.example.com/.well-known/oauth-authorization-server/realms/drills",
		"https://idp.example.com/realms/drills/.well-known/openid-configuration"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("WellKnown = %q, want %q", got, want)
	}
}

// TestDiscoveryFailure: a provider that answers an HTML error page to both well-known URLs
// gives an error naming each URL and a short single-line excerpt, never the whole page; an
// OIDC-only provider is found at the second URL; set endpoints win and skip the fetch.
func TestDiscoveryFailure(t *testing.T) {
	t.Parallel()
	page := "<html>\n<body><h1>404 Not Found</h1>" + strings.Repeat("<p>nothing here</p>\n", 300) + "</body></html>"
	oidcOnly := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if oidcOnly && r.URL.Path == "/t/.well-known/openid-configuration" {
			w.Write([]byte(`{"issuer":"x","token_endpoint":"http://x/token","revocation_endpoint":"http://x/revoke"}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(page))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/t")
	hc := oauth.NewHTTPClient(5*time.Second, nil)
	_, err := oauth.Discover(context.Background(), hc, u, "", oauth.Endpoints{}, "token_endpoint")
	var de *oauth.DiscoveryError
	if !errors.As(err, &de) || len(de.Tried) != 2 {
		t.Fatalf("err %v: want a DiscoveryError over 2 URLs", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, oauth.WellKnown(u)[0]) || !strings.Contains(msg, oauth.WellKnown(u)[1]) || !strings.Contains(msg, "404") ||
		strings.Contains(msg, "\n") || len(msg) > 800 || !strings.Contains(msg, "404 Not Found") {
		t.Errorf("discovery error %q: want both URLs, the status and a short one-line excerpt", msg)
	}
	oidcOnly = true
	eps, err := oauth.Discover(context.Background(), hc, u, "", oauth.Endpoints{Revocation: "http://set/revoke"}, "token_endpoint")
	if err != nil || eps.Token != "http://x/token" || eps.Revocation != "http://set/revoke" || eps.Source["revocation_endpoint"] != "set" || eps.Source["token_endpoint"] != "discovered" {
		t.Errorf("OIDC fallback: %+v, %v", eps, err)
	}
	eps, err = oauth.Discover(context.Background(), hc, nil, "", oauth.Endpoints{Token: "http://set/token"}, "token_endpoint")
	if err != nil || eps.Token != "http://set/token" || eps.Discovery != "" {
		t.Errorf("all set: %+v, %v", eps, err)
	}
}

// TestWrongSecretAndUnreachableIntrospection: a wrong client secret is a clear error quoting the
// provider's error code and no secret; an introspection endpoint nobody listens on is an error
// within the client's timeout, not a hang.
func TestWrongSecretAndUnreachableIntrospection(t *testing.T) {
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "right-secret"})
	defer srv.Close()
	hc := oauth.NewHTTPClient(5*time.Second, nil)
	_, err := oauth.RequestToken(context.Background(), hc, srv.Issuer.URL+"/oauth2/token", &oauth.Client{ID: "drill-a", Secret: "wrong-secret-42"}, oauth.Grant{})
	var se *oauth.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "wrong-secret-42") {
		t.Errorf("wrong secret: %v", err)
	}
	// A listener that is closed at once: connection refused.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String() + "/introspect"
	l.Close()
	in := &oauth.Introspector{Endpoint: dead, Auth: oauth.IntrospectBasic, Username: "u", Password: "p-secret", HTTP: hc}
	began := time.Now()
	_, err = in.Introspect(context.Background(), "some-token-value", nil)
	if err == nil || strings.Contains(err.Error(), "some-token-value") || strings.Contains(err.Error(), "p-secret") || time.Since(began) > 10*time.Second {
		t.Errorf("unreachable introspection: %v after %s", err, time.Since(began))
	}
	// Good credentials: a token, revoked by its owner, is inactive.
	c := &oauth.Client{ID: "drill-a", Secret: "right-secret", Auth: oauth.AuthPost}
	is, err := oauth.RequestToken(context.Background(), hc, srv.Issuer.URL+"/oauth2/token", c, oauth.Grant{})
	if err != nil || is.Expiry.IsZero() {
		t.Fatalf("token: %v (expiry %v)", err, is)
	}
	if err := oauth.Revoke(context.Background(), hc, srv.Issuer.URL+"/oauth2/revoke", c, is.Access, "access_token"); err != nil {
		t.Fatal(err)
	}
	in = &oauth.Introspector{Endpoint: srv.Introspection.URL + "/introspect", Auth: oauth.IntrospectBasic, Username: srv.IntrospectUser, Password: srv.IntrospectPassword, HTTP: hc}
	if r, err := in.Introspect(context.Background(), is.Access, nil); err != nil || r.Active {
		t.Errorf("revoked token: %+v, %v", r, err)
	}
}
