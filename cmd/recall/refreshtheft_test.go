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
		checkRotatedAccess(t, rep, c)
	}
	for _, f := range rep.Findings {
		if f.Severity == report.Critical {
			t.Errorf("finding %s: %s", f.Kind, f.Message)
		}
	}
}

// checkRotatedAccess asserts the known answer for the access tokens the legitimate rotations
// returned: the family kill takes them too, so each sampled one, seen accepted by the gateway
// before the replay, is refused for good within the gateway's bound plus the resolution, at
// the instant the gateway recorded (ground truth inside every bracket).
func checkRotatedAccess(t *testing.T, rep *report.Report, c report.Component) {
	t.Helper()
	ra := rep.RotatedAccess
	if ra == nil || ra.Sampled < 5 {
		t.Fatalf("rotated access tokens %+v; want a sample of them followed", ra)
	}
	st := c.RotatedAccessMS
	if st == nil || st.Count != ra.Sampled || c.RotatedAlive != 0 {
		t.Errorf("%s: rotated access tokens %+v, %d alive; want all %d refused", c.Name, st, c.RotatedAlive, ra.Sampled)
		return
	}
	limit := float64((gatewayBounds[c.Name] + boundSlack).Milliseconds()) + st.ResolutionMaxMS
	t.Logf("%s: rotated access tokens honoured up to %.0f ms after the replay (resolution %.0f ms)", c.Name, st.Max, st.ResolutionMaxMS)
	if st.Max > limit {
		t.Errorf("%s: rotated access tokens honoured up to %.0f ms; want at most %v + resolution %.0f ms", c.Name, st.Max, gatewayBounds[c.Name], st.ResolutionMaxMS)
	}
	if gt := c.RotatedAccessTruth; gt == nil || gt.Checked != st.Count || gt.Within != gt.Checked {
		t.Errorf("%s: rotated access ground truth %+v; want each of %d inside its bracket", c.Name, gt, st.Count)
	}
}

// TestRefreshTheftScenarioFindsRotatedAccessAlive plants the rotation that escapes the family
// kill (the reference issuer's refresh_rotation_session: new mints the rotated access token in
// a new session, which the session recall of reuse detection does not reach): every sampled
// rotated access token is still honoured at every gateway when the drill ends, and the drill
// fails on it, while the victims' own access tokens still die.
func TestRefreshTheftScenarioFindsRotatedAccessAlive(t *testing.T) {
	checkRotatedAccessAlive(t, failingDrill(t, "refresh-theft.yaml", nil, rotationNewSession))
}

// TestRefreshTheftScenarioFindsRotatedAccessAliveDocker: the same planted defect in containers
// (the issuer image's -rotation-new-session).
func TestRefreshTheftScenarioFindsRotatedAccessAliveDocker(t *testing.T) {
	checkRotatedAccessAlive(t, failingDrill(t, "refresh-theft.yaml", nil, append([]string{rotationNewSession}, dockerRuntime...)...))
}

// rotationNewSession plants the reference issuer's rotation that escapes the family kill.
const rotationNewSession = "--set=system.components[issuer].with.refresh_rotation_session=new"

func checkRotatedAccessAlive(t *testing.T, rep *report.Report) {
	t.Helper()
	ra := rep.RotatedAccess
	if ra == nil || ra.Sampled < 5 {
		t.Fatalf("rotated access tokens %+v; want a sample of them followed", ra)
	}
	for _, name := range []string{"edge-push", "edge-poll", "edge-introspect"} {
		c := component(t, rep, name)
		if c.RotatedAlive != ra.Sampled {
			t.Errorf("%s: %d of %d rotated access tokens alive; want all", name, c.RotatedAlive, ra.Sampled)
		}
		if f := findings(rep, "rotated_access_alive", name); len(f) != 1 || f[0].Count != ra.Sampled || !f[0].FailsVerdict() {
			t.Errorf("%s: findings %+v; want one rotated_access_alive of %d failing the drill", name, f, ra.Sampled)
		}
		if c.NotConverged != 0 {
			t.Errorf("%s: %d victims not converged; the victims' own tokens are in the killed session", name, c.NotConverged)
		}
	}
}
