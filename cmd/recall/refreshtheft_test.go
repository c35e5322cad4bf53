package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestRefreshTheftScenario runs scenarios/refresh-theft.yaml: each victim's refresh token is
// rotated, then replayed; the issuer's reuse detection kills the family, and the victim's access
// token dies at every gateway at the instant the gateway recorded (ground truth, within the
// measured bracket); no control (another session of the same users) is rejected.
func TestRefreshTheftScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 9 s drill")
	}
	t.Parallel()
	rep := runChaos(t, "refresh-theft.yaml")
	checkRefreshTheft(t, rep)
	if n := falseFamilyKills(rep); n != 0 {
		t.Errorf("%d false family kills without a fault", n)
	}
}

// TestRefreshTheftScenarioFindsFalseFamilyKill: the same scenario with 10 legitimate rotations
// whose answers are lost (with.lose_answers): each client's retry presents a rotated refresh
// token and the issuer kills the family without an attacker. The report names all 10 as
// false_family_kill; the families are dead, so the victims still die everywhere.
func TestRefreshTheftScenarioFindsFalseFamilyKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 9 s drill")
	}
	t.Parallel()
	rep := runChaos(t, "refresh-theft.yaml", "--set=recall.with.lose_answers=10")
	checkRefreshTheft(t, rep)
	if n := falseFamilyKills(rep); n != 10 {
		t.Errorf("%d false family kills reported, want the 10 planted (findings %+v)", n, rep.Findings)
	}
}

func falseFamilyKills(rep *report.Report) int {
	n := 0
	for _, f := range rep.Findings {
		if f.Kind == "false_family_kill" {
			n += f.Count
		}
	}
	return n
}

// TestRefreshTheftScenarioDocker: the same scenario in containers.
func TestRefreshTheftScenarioDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 9 s drill in containers")
	}
	checkRefreshTheft(t, runChaos(t, "refresh-theft.yaml", dockerRuntime...))
}

func checkRefreshTheft(t *testing.T, rep *report.Report) {
	t.Helper()
	if rep.Recall.Action != "refresh-replay" || rep.Recall.Acknowledged != 60 || rep.Recall.Failed != 0 || rep.Recall.Confirmed != 60 || rep.Recall.Ineffective != 0 {
		t.Errorf("recall %+v: want 60 replays acknowledged and confirmed at the issuer, none failed", rep.Recall)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: a family nobody replayed was killed", rep.Overall.FalseRejects)
	}
	for _, name := range []string{"edge-push", "edge-poll", "edge-introspect"} {
		c := component(t, rep, name)
		if c.Pairs != 60 || c.Converged != c.Pairs || c.FalseRejects != 0 {
			t.Errorf("%s: %d of %d pairs converged, %d false rejects; want all 60, none", name, c.Converged, c.Pairs, c.FalseRejects)
		}
		if gt := c.GroundTruth; gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
			t.Errorf("%s: ground truth %+v: every victim's death must be recorded, within its measured bracket", name, gt)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == report.Critical {
			t.Errorf("finding %s: %s", f.Kind, f.Message)
		}
	}
}
