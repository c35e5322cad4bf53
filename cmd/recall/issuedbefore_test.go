package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// issuedBeforeGateways are the gateways of scenarios/issued-before.yaml.
var issuedBeforeGateways = []string{"edge-push", "edge-poll", "edge-introspect"}

// TestIssuedBeforeScenario runs scenarios/issued-before.yaml: every victim (issued before T)
// dies at every gateway, confirmed at the issuer, and no control (issued from T on, some within
// T's second) is rejected.
func TestIssuedBeforeScenario(t *testing.T) {
	checkIssuedBefore(t, passingDrill(t, "issued-before.yaml"))
}

// TestIssuedBeforeScenarioDocker: the same scenario in containers.
func TestIssuedBeforeScenarioDocker(t *testing.T) {
	checkIssuedBefore(t, passingDrill(t, "issued-before.yaml", dockerRuntime...))
}

func checkIssuedBefore(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, "revoke-issued-before", 200)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: controls issued at or after T were recalled", rep.Overall.FalseRejects)
	}
	checkConverged(t, rep, 150, issuedBeforeGateways...)
}

// TestIssuedBeforeScenarioFindsBoundaryBug: the same scenario against an issuer that compares
// iat <= T (issued_before_bound: inclusive) fails on false rejects: the controls minted within
// T's second were recalled with the victims.
func TestIssuedBeforeScenarioFindsBoundaryBug(t *testing.T) {
	checkBoundaryBug(t, failingDrill(t, "issued-before.yaml", []string{"false_rejects == 0"}, inclusiveIssuer))
}

// TestIssuedBeforeScenarioFindsBoundaryBugDocker: the same in containers (the issuer's
// -issued-before-inclusive flag).
func TestIssuedBeforeScenarioFindsBoundaryBugDocker(t *testing.T) {
	checkBoundaryBug(t, failingDrill(t, "issued-before.yaml", []string{"false_rejects == 0"}, append([]string{inclusiveIssuer}, dockerRuntime...)...))
}

// inclusiveIssuer plants the same-second boundary bug in the scenario's issuer.
const inclusiveIssuer = "--set=system.components[issuer].with.issued_before_bound=inclusive"

func checkBoundaryBug(t *testing.T, rep *report.Report) {
	t.Helper()
	for _, name := range issuedBeforeGateways {
		if c := component(t, rep, name); c.FalseRejects == 0 {
			t.Errorf("%s: no false rejects", name)
		}
	}
}
