package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/procs"
	"github.com/recall-drills/recall/report"
)

// smallScenario is a quick drill on the embedded stack; expect is appended.
const smallScenario = `name: e2e
seed: 3
system:
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
    - {name: edge-jwt, kind: gateway, use: reference/gateway, with: {strategy: jwt-only}}
tokens: {victims: 40, controls: 10, clients: 2}
traffic: {rate: 400/s, duration: 4s}
recall: {at: 1500ms, action: revoke-tokens}
expect:
`

func writeScenario(t *testing.T, expect string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drill.yaml")
	if err := os.WriteFile(path, []byte(smallScenario+expect), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// jwtRE finds anything shaped like a JWT.
var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.`)

// TestRunPassAndFail runs two real drills through the CLI: one whose expectations hold (exit 0)
// and one that misses one (exit 1). Both write report.json, report.html and JUnit, and no token
// appears in clear in any artifact or log.
func TestRunPassAndFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 4 s drills")
	}
	for _, tc := range []struct {
		name, expect string
		code         int
		verdict      string
	}{
		{"pass", "  - false_rejects == 0\n  - time_to_consistency.p99{component=\"edge-push\"} < 3s\n", exitPass, report.Pass},
		{"fail", "  - not_converged{component=\"edge-jwt\"} == 0\n", exitFail, report.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			junitPath := filepath.Join(out, "junit.xml")
			code, stdout, stderr := runMain("run", "--out", out, "--junit", junitPath, writeScenario(t, tc.expect))
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr (tail):\n%s", code, tc.code, stdout, lastLines(stderr, 25))
			}
			rep, err := report.Read(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tc.verdict || rep.SchemaVersion != report.SchemaVersion || rep.Tool.Name != "recall" {
				t.Errorf("verdict %s schema %s tool %+v", rep.Verdict, rep.SchemaVersion, rep.Tool)
			}
			if !strings.Contains(stdout, tc.verdict) || !strings.Contains(stdout, "edge-push") {
				t.Errorf("summary table missing:\n%s", stdout)
			}
			for _, f := range []string{"report.json", "report.html", "junit.xml"} {
				b, err := os.ReadFile(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				if jwtRE.Match(b) {
					t.Errorf("%s holds a token in clear", f)
				}
			}
			if jwtRE.MatchString(stdout) || jwtRE.MatchString(stderr) {
				t.Error("a token was printed in clear")
			}
			if rep.Recovery == nil || rep.Recovery.Sampled != 1 || rep.Recovery.Reissued != 1 || rep.Overall.NotRecovered != 0 {
				t.Errorf("recovery %+v, not recovered %d; want the victims' one client (the other is the controls') re-issued and recovered", rep.Recovery, rep.Overall.NotRecovered)
			}
			// The stack ran in this process: the drill gave the Go scheduler headroom (procs).
			if want := goruntime.NumCPU() + procs.Extra; os.Getenv("GOMAXPROCS") == "" && (rep.Environment.GoMaxProcs < want || rep.Environment.CPUs != goruntime.NumCPU()) {
				t.Errorf("environment: gomaxprocs %d, cpus %d; want at least %d Ps on %d CPUs", rep.Environment.GoMaxProcs, rep.Environment.CPUs, want, goruntime.NumCPU())
			}
			if len(rep.Logs) == 0 || len(rep.Tokens.Sample) == 0 || len(rep.Tokens.Sample[0]) != 12 {
				t.Errorf("logs %d, sample %v", len(rep.Logs), rep.Tokens.Sample)
			}
		})
	}
}

// TestRunBadScenario: a broken scenario is exit 2 with every problem as file:line:col, and
// nothing is started.
func TestRunBadScenario(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	src := strings.Replace(smallScenario, "rate: 400/s", "rate: 400/fortnight", 1) +
		"  - stale_accepts{component=\"edge-psh\"} == 0\n"
	os.WriteFile(path, []byte(src), 0o644)
	for _, cmd := range []string{"run", "validate"} {
		code, _, stderr := runMain(cmd, path)
		if code != exitCannotRun {
			t.Errorf("%s: exit %d, want 2", cmd, code)
		}
		for _, want := range []string{path + ":9:17: traffic.rate: bad rate", path + ":12:5: expect[0]: unknown component \"edge-psh\" (have: issuer, edge-push, edge-jwt)"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, stderr)
			}
		}
	}
}

func TestValidateSchemaVersionHelp(t *testing.T) {
	t.Parallel()
	good := writeScenario(t, "  - resurrections == 0\n")
	if code, out, errs := runMain("validate", good); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("validate: %d %s %s", code, out, errs)
	}
	code, out, _ := runMain("schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &schema) != nil || schema["$schema"] == nil {
		t.Errorf("schema: exit %d, not a JSON Schema: %.200s", code, out)
	}
	if code, out, _ := runMain("version"); code != 0 || !strings.HasPrefix(out, "recall ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errs := runMain("frobnicate"); code != exitCannotRun || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, out, _ := runMain("--help"); code != 0 || !strings.Contains(out, "recall run scenarios/quickstart.yaml") {
		t.Errorf("help: %d %s", code, out)
	}
	if code, _, errs := runMain(); code != exitCannotRun || !strings.Contains(errs, "Available Commands") {
		t.Errorf("no arguments: exit %d, want 2 and the usage on stderr:\n%s", code, errs)
	}
	if code, _, _ := runMain("run", "-h"); code != 0 {
		t.Errorf("run -h: exit %d", code)
	}
}

// TestScenariosValidate loads every scenario shipped in scenarios/.
func TestScenariosValidate(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenarios found")
	}
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "${") {
			continue // needs its variables: internal/scenario and internal/plan check it with placeholders
		}
		if code, _, errs := runMain("validate", f); code != 0 {
			t.Errorf("%s: %s", f, errs)
		}
	}
}

// TestRunRecoveryOff: tokens.recovery: 0 turns the recovery measurement off; set with --set
// after the scenario, the override reaches the engine and the report records it.
func TestRunRecoveryOff(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	path := writeScenario(t, "  - false_rejects == 0\n")
	out := t.TempDir()
	if code, _, stderr := runMain("run", path, "--out", out, "--quiet", "--set", "tokens.recovery=0"); code != exitPass {
		t.Fatalf("exit %d: %s", code, lastLines(stderr, 10))
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovery != nil {
		t.Errorf("recovery measured although tokens.recovery is 0: %+v", rep.Recovery)
	}
	if len(rep.Scenario.Overrides) != 1 || rep.Scenario.Overrides[0] != "tokens.recovery=0" {
		t.Errorf("report overrides %q, want [tokens.recovery=0]", rep.Scenario.Overrides)
	}
}
