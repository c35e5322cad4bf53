package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestIssuedBeforeScenario runs scenarios/issued-before.yaml: every victim (issued before T)
// dies at every gateway, confirmed at the issuer, and no control (issued from T on, some within
// T's second) is rejected.
func TestIssuedBeforeScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	t.Parallel()
	checkIssuedBefore(t, runChaos(t, "issued-before.yaml"))
}

// TestIssuedBeforeScenarioDocker: the same scenario in containers.
func TestIssuedBeforeScenarioDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill in containers")
	}
	checkIssuedBefore(t, runChaos(t, "issued-before.yaml", dockerRuntime...))
}

func checkIssuedBefore(t *testing.T, rep *report.Report) {
	t.Helper()
	if rep.Recall.Action != "revoke-issued-before" || rep.Recall.Failed != 0 || rep.Recall.Ineffective != 0 || rep.Recall.Confirmed != 200 {
		t.Errorf("recall %+v: want 200 confirmed, none failed or ineffective", rep.Recall)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: controls issued at or after T were recalled", rep.Overall.FalseRejects)
	}
	for _, name := range []string{"edge-push", "edge-poll", "edge-introspect"} {
		c := component(t, rep, name)
		if c.Pairs < 150 || c.Converged != c.Pairs || c.FalseRejects != 0 {
			t.Errorf("%s: %d of %d pairs converged, %d false rejects; want all of at least 150, none", name, c.Converged, c.Pairs, c.FalseRejects)
		}
	}
}

// TestIssuedBeforeScenarioFindsBoundaryBug: the same scenario against an issuer that compares
// iat <= T (issued_before_bound: inclusive) fails on false rejects: the controls minted within
// T's second were recalled with the victims.
func TestIssuedBeforeScenarioFindsBoundaryBug(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	t.Parallel()
	checkBoundaryBug(t, runScenario(t, "issued-before.yaml", inclusiveIssuer))
}

// TestIssuedBeforeScenarioFindsBoundaryBugDocker: the same in containers (the issuer's
// -issued-before-inclusive flag).
func TestIssuedBeforeScenarioFindsBoundaryBugDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill in containers")
	}
	requireDocker(t)
	checkBoundaryBug(t, runScenario(t, "issued-before.yaml", append([]string{inclusiveIssuer}, dockerRuntime...)...))
}

// inclusiveIssuer plants the same-second boundary bug in the scenario's issuer.
const inclusiveIssuer = "--set=system.components[issuer].with.issued_before_bound=inclusive"

func checkBoundaryBug(t *testing.T, rep *report.Report) {
	t.Helper()
	if rep.Verdict != report.Fail || rep.Overall.FalseRejects == 0 {
		t.Fatalf("verdict %s, %d false rejects: the boundary bug went unseen", rep.Verdict, rep.Overall.FalseRejects)
	}
	for _, name := range []string{"edge-push", "edge-poll", "edge-introspect"} {
		if c := component(t, rep, name); c.FalseRejects == 0 {
			t.Errorf("%s: no false rejects", name)
		}
	}
	failed := map[string]bool{}
	for _, e := range rep.Expectations {
		failed[e.Expr] = !e.Pass
	}
	if !failed["false_rejects == 0"] {
		t.Errorf("expectations %+v: false_rejects == 0 must fail", rep.Expectations)
	}
}

// runScenario runs a shipped scenario in process and returns its report, whatever its verdict
// (the run must have ended with PASS or FAIL, not an error).
func runScenario(t *testing.T, file string, extra ...string) *report.Report {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"run", "--out", out, "--no-html", "--quiet", "--log-level", "warn"}, extra...)
	code, _, stderr := runMain(append(args, filepath.Join("../../scenarios", file))...)
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("exit %d, no report: %v\n%s", code, err, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if code != exitPass && code != exitFail {
		t.Fatalf("exit %d, verdict %s (%s)\n%s", code, rep.Verdict, rep.Reason, stderr)
	}
	return &rep
}
