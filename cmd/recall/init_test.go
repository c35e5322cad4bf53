package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/recall-drills/recall/internal/plan"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/scenarios"
)

// TestInitQuickstart: without arguments init writes the embedded quickstart, which validates;
// it keeps an existing file unless --force.
func TestInitQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "recall.yaml")
	if code, out, errs := runMain("init", path); code != exitPass || !strings.Contains(out, "wrote "+path) {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Equal(b, scenarios.Quickstart) || !bytes.HasPrefix(b, []byte("# quickstart")) {
		t.Errorf("init wrote %d bytes, not the quickstart", len(b))
	}
	if code, _, errs := runMain("validate", path); code != exitPass {
		t.Errorf("the starter scenario does not validate: %s", errs)
	}
	if code, _, errs := runMain("init", path); code != exitCannotRun || !strings.Contains(errs, "exists") {
		t.Errorf("overwrote without --force: exit %d %s", code, errs)
	}
	if code, _, _ := runMain("init", path, "--force"); code != exitPass {
		t.Errorf("--force: exit %d", code)
	}
	if code, out, _ := runMain("init", "-"); code != exitPass || out != string(scenarios.Quickstart) {
		t.Errorf("init -: exit %d", code)
	}
}

// TestInitDiscovery: with --discovery, init reads the provider's metadata from an httptest
// server (RFC 8414 first, then OpenID Connect Discovery) and writes a scenario that names the
// discovered endpoints under the real oauth: keys, lists the drill's client under
// tokens.clients with the auth the metadata offers, recalls by RFC 7009 and confirms by
// introspection, with ${VAR} placeholders for the secrets: 'recall validate' passes once they
// are set. Not parallel: validate reads the variables from the process environment.
func TestInitDiscovery(t *testing.T) {
	var srv *httptest.Server
	var asked []string
	var mu sync.Mutex
	metadata := map[string]string{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		md, ok := metadata[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(strings.ReplaceAll(md, "BASE", srv.URL)))
	}))
	defer srv.Close()
	// Keycloak-like: OpenID Connect discovery only, every endpoint, no client_secret_basic.
	metadata["/realms/staging/.well-known/openid-configuration"] = `{"issuer":"BASE/realms/staging","token_endpoint":"BASE/realms/staging/token",
		"revocation_endpoint":"BASE/realms/staging/revoke","introspection_endpoint":"BASE/realms/staging/introspect","jwks_uri":"BASE/realms/staging/certs",
		"grant_types_supported":["client_credentials"],"token_endpoint_auth_methods_supported":["tls_client_auth","client_secret_post","private_key_jwt"]}`
	// RFC 8414 only, a token endpoint and nothing else.
	metadata["/.well-known/oauth-authorization-server/bare"] = `{"issuer":"BASE/bare","token_endpoint":"BASE/bare/token"}`

	for _, k := range []string{"RECALL_CLIENT_ID", "RECALL_CLIENT_SECRET", "RECALL_GATEWAY_URL", "RECALL_INTROSPECT_USER", "RECALL_INTROSPECT_PASSWORD", "RECALL_INTROSPECT_BASIC", "RECALL_REVOKE_URL"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	env := map[string]string{"RECALL_CLIENT_ID": "drill", "RECALL_CLIENT_SECRET": "s3cret", "RECALL_GATEWAY_URL": "https://gw.example.com",
		"RECALL_INTROSPECT_USER": "intro", "RECALL_INTROSPECT_PASSWORD": "pw", "RECALL_INTROSPECT_BASIC": "aW50cm86cHc=", "RECALL_REVOKE_URL": "https://idp.example.com/revoke"}
	withEnv := scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	load := func(t *testing.T, path string) (*scenario.Scenario, *scenario.Component, string) {
		t.Helper()
		b, _ := os.ReadFile(path)
		s, err := plan.Load(path, withEnv)
		if err != nil {
			t.Fatalf("the scenario does not load with its variables set:\n%v\n%s", err, b)
		}
		c, ok := s.Component("issuer")
		if !ok || c.Kind != scenario.KindIssuer || c.OAuth == nil {
			t.Fatalf("no issuer component with oauth:\n%s", b)
		}
		return s, c, string(b)
	}

	t.Run("full", func(t *testing.T) {
		asked = nil
		path := filepath.Join(t.TempDir(), "staging.yaml")
		if code, out, errs := runMain("init", path, "--discovery", srv.URL+"/realms/staging", "--name", "staging"); code != exitPass {
			t.Fatalf("exit %d: %s %s", code, out, errs)
		}
		if len(asked) != 2 || asked[0] != "/.well-known/oauth-authorization-server/realms/staging" {
			t.Errorf("metadata asked at %q, want RFC 8414's place first, then OpenID Connect's", asked)
		}
		base := srv.URL + "/realms/staging"
		s, c, src := load(t, path)
		o := c.OAuth
		if s.Name != "staging" || c.URL != base || o.Discovery != base+"/.well-known/openid-configuration" || o.TokenEndpoint != base+"/token" ||
			o.RevocationEndpoint != base+"/revoke" || o.JWKSURI != base+"/certs" {
			t.Errorf("issuer: url %q, oauth %+v: want the issuer identifier and every discovered endpoint set:\n%s", c.URL, *o, src)
		}
		if in := o.Introspection; in == nil || in.Endpoint != base+"/introspect" || in.Auth != "basic" || in.Username != "intro" || in.Password != "pw" {
			t.Errorf("oauth.introspection %+v: want the discovered endpoint with ${VAR} basic credentials:\n%s", in, src)
		}
		if !strings.Contains(src, "${RECALL_INTROSPECT_PASSWORD}") || !strings.Contains(src, `"${RECALL_CLIENT_SECRET}"`) || strings.Contains(src, "s3cret") {
			t.Errorf("secrets are not ${VAR} placeholders:\n%s", src)
		}
		cl := s.Tokens.Clients.List
		if len(cl) != 1 || cl[0].ID != "drill" || cl[0].Secret != "s3cret" || cl[0].Auth != "client_secret_post" {
			t.Errorf("tokens.clients %+v: want one client, auth client_secret_post (the first method of the metadata recall speaks)", cl)
		}
		if s.Tokens.Issuer != "issuer" || s.Recall.Action != "revoke-tokens" || s.Recall.Mode != "rfc7009" || !s.Recall.Confirm {
			t.Errorf("tokens.issuer %q, recall %s mode %s confirm %v: want revoke-tokens rfc7009 confirmed", s.Tokens.Issuer, s.Recall.Action, s.Recall.Mode, s.Recall.Confirm)
		}
		if p := c.Probe; p == nil || p.URL != base+"/introspect" || !strings.Contains(src, `body: "token={{token}}"`) {
			t.Errorf("the issuer is not probed at its introspection endpoint:\n%s", src)
		}
		validate(t, path, env, "RECALL_INTROSPECT_PASSWORD")
	})

	t.Run("bare", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bare.yaml")
		if code, out, errs := runMain("init", path, "--discovery", srv.URL+"/bare"); code != exitPass {
			t.Fatalf("exit %d: %s %s", code, out, errs)
		}
		s, c, src := load(t, path)
		o := c.OAuth
		if s.Name != "drill" || o.TokenEndpoint != srv.URL+"/bare/token" || o.Discovery != srv.URL+"/.well-known/oauth-authorization-server/bare" ||
			o.RevocationEndpoint != "" || o.JWKSURI != "" || o.Introspection != nil || c.Probe != nil {
			t.Errorf("oauth %+v: want only the token endpoint and the RFC 8414 document:\n%s", *o, src)
		}
		if cl := s.Tokens.Clients.List; len(cl) != 1 || cl[0].Auth != "client_secret_basic" {
			t.Errorf("tokens.clients %+v: without token_endpoint_auth_methods_supported, want RFC 8414's default client_secret_basic", cl)
		}
		if s.Recall.Action != "http" || s.Recall.Confirm || !strings.Contains(src, "url: ${RECALL_REVOKE_URL}") {
			t.Errorf("recall %s confirm %v: without a revocation endpoint, want an http action to complete and no confirmation:\n%s", s.Recall.Action, s.Recall.Confirm, src)
		}
		validate(t, path, env, "RECALL_REVOKE_URL")
	})

	code, _, errs := runMain("init", "-", "--discovery", srv.URL+"/nowhere")
	if code != exitCannotRun || !strings.Contains(errs, "404 Not Found") || !strings.Contains(errs, "/.well-known/openid-configuration") {
		t.Errorf("no metadata: exit %d:\n%s", code, errs)
	}
}

// validate runs 'recall validate path' with env set in the process environment (then unset):
// it must pass, and fail naming unset when that one variable is missing.
func validate(t *testing.T, path string, env map[string]string, unset string) {
	t.Helper()
	for k, v := range env {
		os.Setenv(k, v)
	}
	defer func() {
		for k := range env {
			os.Unsetenv(k)
		}
	}()
	if code, out, errs := runMain("validate", path); code != exitPass || !strings.Contains(out, path+": ok") {
		b, _ := os.ReadFile(path)
		t.Errorf("recall validate with the variables set: exit %d: %s %s\n%s", code, out, errs, b)
	}
	os.Unsetenv(unset)
	if code, _, errs := runMain("validate", path); code != exitCannotRun || !strings.Contains(errs, unset) {
		t.Errorf("recall validate without %s: exit %d: %s", unset, code, errs)
	}
}
