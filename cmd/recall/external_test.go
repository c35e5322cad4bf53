package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/report"
)

// TestRunExternal drills a system that is already running (here a reference stack started
// in-process, as a deployment would be): the harness only talks to it, takes the admin secret
// from the environment through ${VAR}, and never puts the secret in the report.
func TestRunExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	const admin = "external-admin-secret-value"
	stack, err := embedded.New([]runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "push", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
	}, runtime.Secrets{AdminSecret: admin, GatewayID: "gw", GatewaySecret: "gw-secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := stack.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stack.Close(ctx)
	iss, _ := stack.Endpoint("issuer")
	gw, _ := stack.Endpoint("push")
	t.Setenv("RECALL_TEST_ADMIN", admin)

	scenario := `name: external
system:
  runtime: external
  components:
    - {name: issuer, kind: issuer, use: reference/issuer, url: "` + iss.String() + `", with: {admin_secret: "${RECALL_TEST_ADMIN}"}, wait: {http: /healthz}}
    - name: edge
      kind: gateway
      url: "` + gw.String() + `"
      probe: {path: /api/whoami}
tokens: {victims: 30, controls: 5}
traffic: {rate: 300/s, duration: 4s}
recall: {at: 1500ms, action: revoke-tokens}
expect:
  - not_converged{component="edge"} == 0
  - false_rejects == 0
`
	path := filepath.Join(t.TempDir(), "external.yaml")
	os.WriteFile(path, []byte(scenario), 0o644)
	out := t.TempDir()
	start := time.Now()
	code, stdout, stderr := runMain("run", "--out", out, path)
	if code != exitPass {
		t.Fatalf("exit %d after %v\n%s\n%s", code, time.Since(start), stdout, lastLines(stderr, 20))
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := report.Read(filepath.Join(out, "report.json"))
	if rep.Environment.Runtime != "external" || rep.Components[0].Name != "edge" || rep.Components[0].Converged != 30 {
		t.Errorf("runtime %s, components %+v", rep.Environment.Runtime, rep.Components)
	}
	if rep.Environment.GoMaxProcs != goruntime.GOMAXPROCS(0) {
		t.Errorf("gomaxprocs %d in the drill, %d now: nothing ran in the harness's process, GOMAXPROCS should have been left alone", rep.Environment.GoMaxProcs, goruntime.GOMAXPROCS(0))
	}
	if bytesContains(b, admin) || bytesContains([]byte(stderr+stdout), admin) {
		t.Error("the admin secret from ${RECALL_TEST_ADMIN} leaked into the report or the logs")
	}
	// The system was not the harness's to stop.
	if _, err := defaultHTTPGet(gw.String() + "/healthz"); err != nil {
		t.Errorf("the external system was stopped by the drill: %v", err)
	}
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func defaultHTTPGet(u string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
