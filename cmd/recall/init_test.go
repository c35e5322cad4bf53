package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
// server (RFC 8414 first, then OpenID Connect Discovery), fills in the endpoints, and leaves
// ${VAR} placeholders for the secrets: the scenario validates once they are set.
func TestInitDiscovery(t *testing.T) {
	t.Parallel()
	var srv *httptest.Server
	var asked []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/realms/staging/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		base := srv.URL + "/realms/staging"
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"` + base + `","token_endpoint":"` + base + `/token","revocation_endpoint":"` + base + `/revoke",
			"introspection_endpoint":"` + base + `/introspect","jwks_uri":"` + base + `/certs","grant_types_supported":["client_credentials"]}`))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "staging.yaml")
	if code, out, errs := runMain("init", path, "--discovery", srv.URL+"/realms/staging", "--name", "staging"); code != exitPass {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if len(asked) != 2 || asked[0] != "/.well-known/oauth-authorization-server/realms/staging" {
		t.Errorf("metadata asked at %q, want RFC 8414's place first, then OpenID Connect's", asked)
	}
	b, _ := os.ReadFile(path)
	src := string(b)
	base := srv.URL + "/realms/staging"
	for _, want := range []string{"name: staging", "url: " + base + "\n", "token_endpoint:         " + base + "/token", "revocation_endpoint:    " + base + "/revoke",
		"introspection_endpoint: " + base + "/introspect", "jwks_uri:               " + base + "/certs", "${RECALL_CLIENT_SECRET}",
		"url: ${RECALL_GATEWAY_URL}", "mode: rfc7009", `body: "token={{token}}"`} {
		if !strings.Contains(src, want) {
			t.Errorf("scenario lacks %q:\n%s", want, src)
		}
	}
	env := map[string]string{"RECALL_CLIENT_ID": "drill", "RECALL_CLIENT_SECRET": "s3cret", "RECALL_GATEWAY_URL": "https://gw.example.com", "RECALL_INTROSPECT_AUTH": "ZHJpbGw6czNjcmV0"}
	if _, err := plan.Load(path, scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })); err != nil {
		t.Errorf("the scenario does not load with its variables set:\n%v\n%s", err, src)
	}
	if _, err := plan.Load(path, scenario.WithLookupEnv(func(string) (string, bool) { return "", false })); err == nil || !strings.Contains(err.Error(), "RECALL_GATEWAY_URL is not set") {
		t.Errorf("unset secrets: %v", err)
	}

	code, _, errs := runMain("init", "-", "--discovery", srv.URL+"/nowhere")
	if code != exitCannotRun || !strings.Contains(errs, "HTTP 404") || !strings.Contains(errs, "/.well-known/openid-configuration") {
		t.Errorf("no metadata: exit %d:\n%s", code, errs)
	}
}
