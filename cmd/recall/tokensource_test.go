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

// TestRunTokenSourceFails: a token source whose command fails stops recall run before traffic
// with exit 2 and one line naming the call, and the report says why; what it printed (a token)
// and the secret on its stderr reach neither the output, nor the report, nor the journal. Not
// parallel: the values come from the process environment through ${VAR}.
func TestRunTokenSourceFails(t *testing.T) {
	t.Setenv("RECALL_TEST_PRINTED", "tok-printed-before-failing")
	t.Setenv("RECALL_TEST_STDERR_SECRET", "abcd1234efgh")
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "source.yaml")
	os.WriteFile(path, []byte(`name: source-fails
system:
  runtime: external
  components:
    - {name: idp, kind: issuer, url: "http://127.0.0.1:1"}
    - {name: api, kind: gateway, url: "http://127.0.0.1:1", probe: {path: /}}
tokens:
  source:
    kind: command
    with:
      run: [/bin/sh, -c, "echo $T; echo no session: token=$S >&2; exit 4"]
      env: {T: "${RECALL_TEST_PRINTED}", S: "${RECALL_TEST_STDERR_SECRET}"}
  victims: 3
  controls: 1
traffic: {rate: 10/s, duration: 3s}
recall:
  at: 1s
  action: http
  with: {method: POST, url: "http://127.0.0.1:1/revoke", body: "{{token}}"}
`), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runMain("run", "--out", out, path)
	if code != exitCannotRun {
		t.Fatalf("exit %d, want %d:\n%s\n%s", code, exitCannotRun, stdout, stderr)
	}
	// Other tests of this process add their credentials to the values every excerpt redacts:
	// only words no test uses are asserted.
	for _, want := range []string{`tokens.source command "sh" (victims, count 3): exit status 4: stderr: no session`, "token=[redacted]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, lastLines(stderr, 10))
		}
	}
	rep, _ := os.ReadFile(filepath.Join(out, "report.json"))
	journal, _ := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if !strings.Contains(string(rep), "exit status 4") {
		t.Errorf("report.json does not give the reason:\n%s", rep)
	}
	for _, leak := range []string{"tok-printed-before-failing", "abcd1234efgh"} {
		if strings.Contains(stdout+stderr+string(rep)+string(journal), leak) {
			t.Errorf("%q leaked into the output, the report or the journal", leak)
		}
	}
}
