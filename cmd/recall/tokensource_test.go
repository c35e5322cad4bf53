package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanTokenSource: recall plan says where the credentials of a tokens.source come from, in
// text and JSON, instead of a split over clients the harness does not mint for.
func TestPlanTokenSource(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "source.yaml")
	os.WriteFile(path, []byte(`name: source
system:
  runtime: external
  components:
    - {name: idp, kind: issuer, url: "https://idp.example.invalid"}
    - {name: api, kind: gateway, url: "https://api.example.invalid", probe: {path: /}}
tokens:
  source: {kind: command, with: {run: [./device-flow-tokens]}}
  victims: 30
  controls: 4
traffic: {rate: 50/s, duration: 10s}
recall:
  at: 4s
  action: http
  with: {method: POST, url: "https://idp.example.invalid/admin/revoke", body: "{{token}}"}
`), 0o644)
	code, text, errs := runMain("plan", path)
	if code != exitPass || !strings.Contains(text, "30 victims and 4 controls from tokens.source command") || strings.Contains(text, "client(s)") {
		t.Errorf("exit %d:\n%s\n%s", code, text, errs)
	}
	if v := planJSON(t, path); v.Population.Source != "command" || v.Population.Victims != 30 {
		t.Errorf("population %+v: want source command", v.Population)
	}
}
