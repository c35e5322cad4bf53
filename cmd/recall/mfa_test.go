package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// mfaGateways are the gateways of scenarios/mfa-recall.yaml.
var mfaGateways = []string{"edge-push", "edge-poll", "edge-introspect"}

// TestMFARecallScenario runs scenarios/mfa-recall.yaml: one call recalls the factors of every
// victim's user, with their recovery codes; every session established with a recalled factor
// dies at every gateway, within its bound, as the gateway recorded it; a login with the old
// factor and one with a recovery code, each accepted just before the recall, are refused after
// it; re-enrolled users get fresh sessions; and no control (an MFA session of another user) is
// refused.
func TestMFARecallScenario(t *testing.T) {
	checkMFARecall(t, passingDrill(t, "mfa-recall.yaml"))
}

// TestMFARecallScenarioDocker: the same in containers.
func TestMFARecallScenarioDocker(t *testing.T) {
	checkMFARecall(t, passingDrill(t, "mfa-recall.yaml", dockerRuntime...))
}

func checkMFARecall(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, "revoke-mfa", 200)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: an MFA session of a user whose factor was not recalled was refused", rep.Overall.FalseRejects)
	}
	var slowest float64
	for _, c := range checkConverged(t, rep, 150, mfaGateways...) {
		checkGroundTruth(t, c)
		checkWithinBound(t, c, gatewayBounds[c.Name])
		slowest = max(slowest, c.TTCMS.Max)
	}
	m := rep.Recall.MFA
	if m == nil {
		t.Fatal("no recall.mfa in the report")
	}
	t.Logf("mfa: %d users, %d factors and %d recovery codes recalled; sessions dead everywhere after %.0f ms; old factor refused after %.0f ms, recovery code after %.0f ms; %d re-enrolled, %.0f ms",
		m.Users, m.Factors, m.RecoveryCodes, m.SessionsDeadMS, m.OldFactor.RefusedMS, m.RecoveryCode.RefusedMS, m.Reenrolled, m.ReenrolMS)
	// 200 victims over 13 of the 20 users (source.Split), each with one factor and four recovery
	// codes, one of which the baseline used.
	if m.Users != 13 || m.Factors != m.Users || m.RecoveryCodes != 3*m.Users {
		t.Errorf("bulk recall: %d users, %d factors, %d recovery codes; want 13, one factor each and their 3 unused codes", m.Users, m.Factors, m.RecoveryCodes)
	}
	if m.SessionsDeadMS != slowest || m.SessionsDeadMS <= 0 {
		t.Errorf("sessions_dead_ms %.0f, want the slowest gateway's %.0f", m.SessionsDeadMS, slowest)
	}
	for what, lc := range map[string]report.LoginCheck{"old factor": m.OldFactor, "recovery code": m.RecoveryCode} {
		if lc.Checked != m.Users || lc.Baseline != m.Users || lc.Refused != m.Users || lc.Accepted != 0 {
			t.Errorf("%s: %+v; want every one of %d users accepted before the recall and refused after", what, lc, m.Users)
		}
	}
	// Each is timed from the acknowledgement, so the report gives the time to each.
	if m.OldFactor.RefusedMS <= 0 || m.RecoveryCode.RefusedMS <= 0 || m.ReenrolMS <= 0 {
		t.Errorf("times: old factor refused after %.0f ms, recovery code after %.0f ms, re-enrolled after %.0f ms; want each measured from the acknowledgement",
			m.OldFactor.RefusedMS, m.RecoveryCode.RefusedMS, m.ReenrolMS)
	}
	if r := rep.Recovery; r == nil || r.Identity != "user" || r.Sampled != 5 || r.Reissued != 5 || m.Reenrolled != 5 {
		t.Errorf("re-enrolment: recovery %+v, mfa.reenrolled %d; want 5 users re-enrolled with fresh sessions", r, m.Reenrolled)
	}
	for _, f := range rep.Findings {
		if f.Kind == "mfa_login_survived" {
			t.Errorf("finding %+v", f)
		}
	}
}

// keptRecoveryCodes plants the incomplete MFA recall in the scenario's issuer.
const keptRecoveryCodes = "--set=system.components[issuer].with.mfa_recall_recovery_codes=keep"

// TestMFARecallScenarioFindsKeptRecoveryCodes: an issuer whose MFA recall leaves the recovery
// codes usable is found: every user's recovery code, accepted before the recall, is still
// accepted after it, the report says so (recall.mfa.recovery_code.accepted, a critical finding
// mfa_login_survived), and the recall reports no recovery codes taken back; the old factor is
// still refused and the sessions still die.
func TestMFARecallScenarioFindsKeptRecoveryCodes(t *testing.T) {
	checkKeptRecoveryCodes(t, keptRecoveryCodesDrill(t))
}

// TestMFARecallScenarioFindsKeptRecoveryCodesDocker: the same in containers (the issuer
// image's -mfa-recall-keeps-recovery-codes).
func TestMFARecallScenarioFindsKeptRecoveryCodesDocker(t *testing.T) {
	checkKeptRecoveryCodes(t, keptRecoveryCodesDrill(t, dockerRuntime...))
}

func keptRecoveryCodesDrill(t *testing.T, extra ...string) *report.Report {
	t.Helper()
	drillTest(t, extra)
	return runScenario(t, "mfa-recall.yaml", append([]string{keptRecoveryCodes}, extra...)...)
}

func checkKeptRecoveryCodes(t *testing.T, rep *report.Report) {
	t.Helper()
	m := rep.Recall.MFA
	if m == nil {
		t.Fatal("no recall.mfa in the report")
	}
	if rc := m.RecoveryCode; rc.Baseline != m.Users || rc.Accepted != m.Users || rc.Refused != 0 || m.RecoveryCodes != 0 {
		t.Errorf("recovery codes %+v, %d recalled; want every one of %d users' codes still accepted and none recalled", rc, m.RecoveryCodes, m.Users)
	}
	if of := m.OldFactor; of.Refused != m.Users {
		t.Errorf("old factor %+v: want refused for all %d users (only the codes were kept)", of, m.Users)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || (f.Kind == "mfa_login_survived" && f.Severity == report.Critical && f.Count == m.Users)
	}
	if !found {
		t.Errorf("no critical finding mfa_login_survived counting %d users: %+v", m.Users, rep.Findings)
	}
	checkConverged(t, rep, 150, mfaGateways...)
}
