package main

// Helpers of the tests that run a shipped scenario (scenarios/*.yaml) through the CLI and judge
// its report against what the scenario is known to do: passingDrill and failingDrill start such
// a test and run it, the check* helpers assert the figures every recall scenario shares.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime/docker"
	"github.com/recall-drills/recall/report"
)

// dockerRuntime, as extra arguments, runs a scenario in containers.
var dockerRuntime = []string{"--runtime", "docker"}

// inContainers reports whether extra runs the drill in containers.
func inContainers(extra []string) bool { return slices.Contains(extra, "docker") }

// drillTest starts a test that runs a drill of several seconds: skipped under -short. A drill
// in process runs in parallel with the others; one in containers runs alone, as they share the
// engine (and, on a 2-core machine, the CPU their timing depends on).
func drillTest(t *testing.T, extra []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a drill of several seconds")
	}
	if !inContainers(extra) {
		t.Parallel()
	}
}

// passingDrill runs a test of a scenario that must pass (runChaos: every expectation but the
// time bounds of an unloaded machine) and returns its report.
func passingDrill(t *testing.T, file string, extra ...string) *report.Report {
	t.Helper()
	drillTest(t, extra)
	return runChaos(t, file, extra...)
}

// failingDrill runs a test of a scenario with a planted defect (in extra, a --set): the drill
// must fail, each of the expectations failing among them, and its report is returned.
func failingDrill(t *testing.T, file string, failing []string, extra ...string) *report.Report {
	t.Helper()
	drillTest(t, extra)
	rep := runScenario(t, file, extra...)
	checkFailing(t, rep, failing, extra)
	return rep
}

// checkFailing asserts what failingDrill does of a report: the drill failed, each of the
// expectations failing among them.
func checkFailing(t *testing.T, rep *report.Report, failing, extra []string) {
	t.Helper()
	if rep.Verdict != report.Fail {
		t.Fatalf("verdict %s: the planted defect (%v) went unseen", rep.Verdict, extra)
	}
	failed := map[string]bool{}
	for _, e := range rep.Expectations {
		failed[e.Expr] = !e.Pass
	}
	for _, expr := range failing {
		if !failed[expr] {
			t.Errorf("expectation %s held; the planted defect must fail it (expectations %+v)", expr, rep.Expectations)
		}
	}
}

// runScenario runs a shipped scenario through the CLI and returns its report, whatever its
// verdict: the run must have ended with PASS or FAIL, not an error.
func runScenario(t *testing.T, file string, extra ...string) *report.Report {
	t.Helper()
	rep, code, stderr := runShipped(t, file, extra...)
	if code != exitPass && code != exitFail {
		t.Fatalf("exit %d, verdict %s (%s)\n%s", code, rep.Verdict, rep.Reason, stderr)
	}
	return rep
}

// runShipped runs a shipped scenario through the CLI and returns its report, exit code and
// stderr; no report is fatal. With extra dockerRuntime it runs in containers: it skips without
// Docker (fails in CI) and checks afterwards that nothing labelled with the drill's id is left
// behind.
func runShipped(t *testing.T, file string, extra ...string) (*report.Report, int, string) {
	t.Helper()
	out := t.TempDir()
	args := []string{"run", "--out", out, "--no-html", "--quiet", "--log-level", "warn"}
	id := ""
	if inContainers(extra) {
		requireDocker(t)
		id = "drill-" + randomHex(4)
		args = append(args, "--drill-id", id)
	}
	code, _, stderr := runMain(append(append(args, extra...), filepath.Join("../../scenarios", file))...)
	if id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if n, err := docker.Cleanup(ctx, id); err != nil || n != 0 {
			t.Errorf("after the drill, %d containers or networks of drill %s were left behind (%v)", n, id, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("exit %d, no report: %v\n%s", code, err, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep, code, stderr
}

// checkRecalled asserts that the recall was action and that all n credentials were
// acknowledged and confirmed recalled at the source: none failed, none ineffective.
func checkRecalled(t *testing.T, rep *report.Report, action string, n int) {
	t.Helper()
	r := rep.Recall
	if r.Action != action || r.Acknowledged != n || r.Confirmed != n || r.Failed != 0 || r.Ineffective != 0 {
		t.Errorf("recall %+v: want %s, all %d acknowledged and confirmed, none failed or ineffective", r, action, n)
	}
}

// checkConverged asserts that each named component measured at least min pairs, that every one
// converged and that it rejected no control; it returns the components.
func checkConverged(t *testing.T, rep *report.Report, min int, names ...string) []report.Component {
	t.Helper()
	var out []report.Component
	for _, name := range names {
		c := component(t, rep, name)
		if c.Pairs < min || c.Converged != c.Pairs || c.FalseRejects != 0 {
			t.Errorf("%s: %d of %d pairs converged, %d false rejects; want all of at least %d, none", name, c.Converged, c.Pairs, c.FalseRejects, min)
		}
		out = append(out, c)
	}
	return out
}

// checkGroundTruth asserts that the component recorded the instant it started enforcing the
// recall for every converged pair, each inside the pair's measured bracket.
func checkGroundTruth(t *testing.T, c report.Component) {
	t.Helper()
	if gt := c.GroundTruth; gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
		t.Errorf("%s: ground truth %+v; want every one of %d converged pairs recorded within its bracket", c.Name, gt, c.Converged)
	}
}

// gatewayBounds are the known answers of the reference gateways of issued-before.yaml,
// refresh-theft.yaml and mfa-recall.yaml: how long each may honour a recalled credential after
// the recall's acknowledgement, before the resolution is added. Push hears of it on the bus (0),
// poll at its next fetch of the revocation list (interval 1s), introspect when its cached
// positive answer expires (cache_ttl 1s).
var gatewayBounds = map[string]time.Duration{"edge-push": 0, "edge-poll": time.Second, "edge-introspect": time.Second}

// boundSlack is what a gateway's own work may add to its strategy's bound: the fetch of the
// revocation list or the introspection it acts on, which a loaded machine slows.
const boundSlack = 100 * time.Millisecond

// checkWithinBound asserts a known answer: the component honoured recalled credentials at most
// bound (plus boundSlack) after the acknowledgement, plus the resolution, both as measured (the
// brackets' upper ends) and as it recorded it (ground truth).
func checkWithinBound(t *testing.T, c report.Component, bound time.Duration) {
	t.Helper()
	limit := float64((bound + boundSlack).Milliseconds()) + c.TTCMS.ResolutionMaxMS
	t.Logf("%s: recalled credentials honoured up to %.0f ms measured, %.0f ms recorded; bound %v + resolution %.0f ms",
		c.Name, c.TTCMS.Max, trueMax(c), bound, c.TTCMS.ResolutionMaxMS)
	if c.TTCMS.Count == 0 || c.TTCMS.Max > limit {
		t.Errorf("%s: recalled credentials honoured up to %.0f ms (%d pairs); want at most %v + resolution %.0f ms",
			c.Name, c.TTCMS.Max, c.TTCMS.Count, bound, c.TTCMS.ResolutionMaxMS)
	}
	if gt := c.GroundTruth; gt == nil || gt.TTCMS.Max > limit {
		t.Errorf("%s: ground truth %+v; want it recorded, at most %v + resolution %.0f ms after the recall", c.Name, gt, bound, c.TTCMS.ResolutionMaxMS)
	}
}
