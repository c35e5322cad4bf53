package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime/docker"
	"github.com/recall-drills/recall/report"
)

// requireDocker skips without a Docker engine, but fails in CI (CI=true): the docker runtime
// must be tested for real there.
func requireDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := docker.Cleanup(ctx, "recall-ping-"+randomHex(4)) // lists by a label nobody uses: a cheap ping
	if err == nil {
		return
	}
	why := strings.ReplaceAll(err.Error(), "\n", "; ")
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but no Docker engine answers: %s", why)
	}
	t.Skipf("skipping: no Docker engine answers (%s)", why)
}

// TestQuickstartDocker runs the quickstart scenario, unchanged, in containers and checks that it
// tells the same story as the embedded runtime: push converges within the probe resolution and
// far below poll, poll within its interval, introspect within its cache TTL (each plus the
// resolution achieved), jwt-only never; every ground-truth instant (read over HTTP from the
// containers) lies in its measured bracket; container logs are saved without tokens; and nothing
// labelled with the drill's id is left behind.
func TestQuickstartDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the 35 s quickstart in containers")
	}
	requireDocker(t)
	out := t.TempDir()
	id := "qs-" + randomHex(4)
	code, stdout, stderr := runMain("run", "--runtime", "docker", "--drill-id", id, "--out", out, "../../scenarios/quickstart.yaml")
	// The scenario's own bounds include the probe resolution of an unloaded machine; under a
	// loaded CI run the resolution widens and they may honestly fail (exit 1). What must hold
	// is that the drill ran (not exit 2) and the story below, judged against ground truth and
	// the resolution actually achieved.
	if code != exitPass && code != exitFail {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr (tail):\n%s", code, stdout, lastLines(stderr, 25))
	}
	rep, err := report.Read(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Environment.Runtime != "docker" || rep.Environment.StartupMS <= 0 {
		t.Errorf("environment %+v", rep.Environment)
	}
	by := map[string]report.Component{}
	for _, c := range rep.Components {
		by[c.Name] = c
	}
	// Every victim is recalled; the quickstart probes a sample of them at each gateway.
	probed := func(c report.Component) int {
		if c.Sample != nil {
			return c.Sample.Size
		}
		return rep.Tokens.Victims
	}
	for _, name := range []string{"edge-push", "edge-poll", "edge-introspect"} {
		c := by[name]
		if n := probed(c); c.Converged != n || c.GroundTruth == nil || c.GroundTruth.Within != c.GroundTruth.Checked || c.GroundTruth.Checked != n {
			t.Errorf("%s: converged %d of %d, ground truth %+v", name, c.Converged, n, c.GroundTruth)
		}
	}
	push, poll, intro := by["edge-push"], by["edge-poll"], by["edge-introspect"]
	if push.GroundTruth == nil || poll.GroundTruth == nil || intro.GroundTruth == nil {
		t.FailNow()
	}
	// What the probes measured is the truth plus at most the resolution; the truth itself is
	// held to the known answers below.
	for _, c := range []report.Component{poll, intro} {
		if c.TTCMS.Max > c.GroundTruth.TTCMS.Max+c.TTCMS.ResolutionMaxMS+100 {
			t.Errorf("%s: measured max %.0f ms exceeds the true max %.0f ms by more than its resolution %.0f ms",
				c.Name, c.TTCMS.Max, c.GroundTruth.TTCMS.Max, c.TTCMS.ResolutionMaxMS)
		}
	}
	// Push learns at once: its true TTC is far below poll's 2 s interval and introspect's 5 s
	// TTL, and what the probes measured for it is no more than the resolution. Not an absolute
	// bound of a few ms (an idle machine's), nor poll's true p50 (the tick's phase puts that
	// anywhere in its interval): a loaded cold CI run had push's true max at 152 ms.
	if push.GroundTruth.TTCMS.P50*3 > 2000 || push.GroundTruth.TTCMS.Max > 500 || push.GroundTruth.TTCMS.Max*2 > intro.GroundTruth.TTCMS.Max {
		t.Errorf("push is not far below poll and introspect: true p50 %.0f ms, max %.0f ms vs poll interval 2 s (true p50 %.0f ms), introspect true max %.0f ms",
			push.GroundTruth.TTCMS.P50, push.GroundTruth.TTCMS.Max, poll.GroundTruth.TTCMS.P50, intro.GroundTruth.TTCMS.Max)
	}
	if push.TTCMS.Max > push.GroundTruth.TTCMS.Max+push.TTCMS.ResolutionMaxMS+100 {
		t.Errorf("push: measured max %.0f ms exceeds the true max %.0f ms by more than its resolution %.0f ms",
			push.TTCMS.Max, push.GroundTruth.TTCMS.Max, push.TTCMS.ResolutionMaxMS)
	}
	// Poll learns at its first tick after the recall, plus the sync that tick starts; the slack
	// is that sync on a loaded machine (239 ms in a cold CI run), far short of a missed tick.
	if poll.GroundTruth.TTCMS.Max > 2000+500 || intro.GroundTruth.TTCMS.Max > 5000+500 {
		t.Errorf("true max: poll %.0f ms (interval 2 s), introspect %.0f ms (TTL 5 s)", poll.GroundTruth.TTCMS.Max, intro.GroundTruth.TTCMS.Max)
	}
	if jwt := by["edge-jwt"]; jwt.NotConverged != probed(jwt) {
		t.Errorf("jwt-only: %d not converged, want %d", jwt.NotConverged, probed(jwt))
	}
	logs, _ := filepath.Glob(filepath.Join(out, "logs", "*.log"))
	if len(logs) < 6 {
		t.Errorf("container logs saved: %v", logs)
	}
	for _, l := range logs {
		if b, _ := os.ReadFile(l); jwtRE.Match(b) {
			t.Errorf("%s holds a token in clear", l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n, err := docker.Cleanup(ctx, id); err != nil || n != 0 {
		t.Errorf("after the drill, %d containers or networks of drill %s were left behind (%v)", n, id, err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
