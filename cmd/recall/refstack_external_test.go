package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recall-drills/recall/report"
)

// TestRunRefstackThroughStandardsOnly starts cmd/refstack as a separate process and drills it
// with runtime external as any provider: endpoints by discovery, an existing client, RFC 7009
// as that client, RFC 7662 to confirm. No admin API is used: the scenario gives no admin
// secret, and every recall must come out confirmed.
func TestRunRefstackThroughStandardsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds refstack and runs a 4 s drill")
	}
	bin := filepath.Join(t.TempDir(), "refstack")
	build := exec.Command("go", "build", "-o", bin, "./cmd/refstack")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build refstack: %v: %s", err, out)
	}
	const secret = "refstack-drill-secret-value"
	cmd := exec.Command(bin, "-client-id", "drill-a", "-client-secret", secret, "-cache-ttl", "1s")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	var st struct {
		Issuer   string            `json:"issuer"`
		Gateways map[string]string `json:"gateways"`
	}
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &st); err != nil || st.Issuer == "" {
			t.Fatalf("refstack said %q: %v", l, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("refstack did not start within 60 s")
	}
	t.Setenv("RECALL_TEST_CLIENT_SECRET", secret)
	scenario := `name: refstack-standards
system:
  runtime: external
  components:
    - name: idp
      kind: issuer
      url: "` + st.Issuer + `"
      oauth:
        introspection: {auth: client}
    - {name: push, kind: gateway, url: "` + st.Gateways["push"] + `", probe: {path: /api/whoami}}
    - {name: introspect, kind: gateway, url: "` + st.Gateways["introspect"] + `", probe: {path: /api/whoami}}
tokens:
  issuer: idp
  clients: [{id: drill-a, secret: "${RECALL_TEST_CLIENT_SECRET}"}]
  victims: 30
  controls: 0
traffic: {rate: 200/s, duration: 4s}
recall: {at: 1500ms, action: revoke-tokens, mode: rfc7009, confirm: true}
expect:
  - not_converged{component="push"} == 0
`
	path := filepath.Join(t.TempDir(), "refstack.yaml")
	os.WriteFile(path, []byte(scenario), 0o644)
	out := t.TempDir()
	code, _, stderr := runMain("run", "--out", out, "--quiet", path)
	if code != exitPass {
		t.Fatalf("exit %d: %s", code, lastLines(stderr, 15))
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if strings.Contains(string(b), secret) {
		t.Error("the report holds the client secret")
	}
	if rep.Provider == nil || rep.Provider.Source != "accounts" || rep.Provider.Endpoints["revocation_endpoint"] != "discovered" ||
		!strings.HasSuffix(rep.Provider.Discovery, "/.well-known/oauth-authorization-server") {
		t.Errorf("provider %+v: want the accounts source over discovered endpoints", rep.Provider)
	}
	if rep.Recall.Confirmed != 30 || rep.Recall.Failed != 0 {
		t.Errorf("recall %+v: want 30 confirmed", rep.Recall)
	}
}
