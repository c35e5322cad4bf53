package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestRefreshTheftScenario runs scenarios/refresh-theft.yaml: each victim's refresh token is
// rotated, then replayed; the issuer's reuse detection kills the family, and the victim's access
// token dies at every gateway within its known bound, at the instant the gateway recorded
// (ground truth, within the measured bracket); no control (another session of the same users)
// is rejected.
func TestRefreshTheftScenario(t *testing.T) {
	rep := passingDrill(t, "refresh-theft.yaml")
	checkRefreshTheft(t, rep)
	if n := falseFamilyKills(rep); n != 0 {
		t.Errorf("%d false family kills without a fault", n)
	}
}

// TestRefreshTheftScenarioFindsFalseFamilyKill: the same scenario with a link fault on the
// token endpoint (lose_answers on harness->issuer, which the legitimate rotations take) that
// lets 10 rotations reach the issuer and loses their answers: each client's retry presents a
// rotated refresh token and the issuer kills the family without an attacker. The report names
// exactly the 10 the fault lost as false_family_kill; the families are dead, so the victims
// still die everywhere.
func TestRefreshTheftScenarioFindsFalseFamilyKill(t *testing.T) {
	checkFalseFamilyKill(t, passingDrill(t, "refresh-theft.yaml", loseRotations))
}

// TestRefreshTheftScenarioFindsFalseFamilyKillDocker: the same link fault in containers (the
// toxiproxy container publishes the harness's link on 127.0.0.1); the same 10 false family
// kills.
func TestRefreshTheftScenarioFindsFalseFamilyKillDocker(t *testing.T) {
	checkFalseFamilyKill(t, passingDrill(t, "refresh-theft.yaml", append([]string{loseRotations}, dockerRuntime...)...))
}

// TestRefreshTheftScenarioFindsPlantedFalseFamilyKill: the alternative for providers no link
// reaches, with.lose_answers: the drill drops the 10 answers itself.
func TestRefreshTheftScenarioFindsPlantedFalseFamilyKill(t *testing.T) {
	checkFalseFamilyKill(t, passingDrill(t, "refresh-theft.yaml", "--set=recall.with.lose_answers=10"))
}

// loseRotations has the link fault lose the answers of 10 legitimate rotations.
const loseRotations = "--set=faults[lost-rotations].with.count=10"

func checkFalseFamilyKill(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRefreshTheft(t, rep)
	if n := falseFamilyKills(rep); n != 10 {
		t.Errorf("%d false family kills reported, want the 10 answers lost (findings %+v)", n, rep.Findings)
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
	checkRefreshTheft(t, passingDrill(t, "refresh-theft.yaml", dockerRuntime...))
}

func checkRefreshTheft(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, "refresh-replay", 60)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: a family nobody replayed was killed", rep.Overall.FalseRejects)
	}
	for _, c := range checkConverged(t, rep, 60, "edge-push", "edge-poll", "edge-introspect") {
		checkGroundTruth(t, c)
		checkWithinBound(t, c, gatewayBounds[c.Name])
	}
	for _, f := range rep.Findings {
		if f.Severity == report.Critical {
			t.Errorf("finding %s: %s", f.Kind, f.Message)
		}
	}
}
