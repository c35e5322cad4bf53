package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// ssfServiceScenario is the test scenario of reference services that receive SETs themselves:
// api-ssf-push by push, api-ssf-poll by poll (interval 1s), probed directly, 60 victims.
const ssfServiceScenario = "../internal/plan/testdata/ssf-service.yaml" // runShipped reads it under scenarios/

// TestSSFServiceScenario runs internal/plan/testdata/ssf-service.yaml: two reference services
// of strategy ssf, no gateway in front, each on its own stream of the drill's transmitter; a
// RISC credential-compromise per victim naming its user. The known answers: every victim's SET
// is acknowledged by both services; each service refuses the victims' tokens (every pair
// converges) and no control's; it enforces before it acknowledges, so its TTC, counted from its
// own acknowledgement, is at most the resolution; the instants it recorded (ground truth, read
// from the service as from a gateway) lie inside every bracket and no later than the
// acknowledgement; and its delivery section is push's (delivered = acknowledged, the 202) or
// poll's (delivered within the interval).
func TestSSFServiceScenario(t *testing.T) { checkSSFService(t, passingDrill(t, ssfServiceScenario)) }

func checkSSFService(t *testing.T, rep *report.Report) {
	t.Helper()
	if r := rep.Recall; r.Action != "ssf-event" || r.Credentials != 60 || r.Sent != 60 || r.Acknowledged != 60 || r.Failed != 0 {
		t.Errorf("recall %+v: want ssf-event, all 60 victims' SETs sent and acknowledged by both services", r)
	}
	for _, c := range checkConverged(t, rep, 10, "api-ssf-push", "api-ssf-poll") {
		if c.Kind != "service" {
			t.Errorf("%s: kind %q, want service", c.Name, c.Kind)
		}
		t.Logf("%s: TTC max %.0f ms (resolution %.0f ms), enforcement %.0f ms median before the acknowledgement (ground truth)",
			c.Name, c.TTCMS.Max, c.TTCMS.ResolutionMaxMS, -groundTruthLowerP50(c))
		if c.TTCMS.Count == 0 || c.TTCMS.Max > c.TTCMS.ResolutionMaxMS {
			t.Errorf("%s: TTC max %.0f ms (%d pairs); want at most the resolution %.0f ms: it enforces before acknowledging",
				c.Name, c.TTCMS.Max, c.TTCMS.Count, c.TTCMS.ResolutionMaxMS)
		}
		checkGroundTruth(t, c)
		if gt := c.GroundTruth; gt != nil && gt.TTCMS.Max != 0 {
			t.Errorf("%s: enforcement began up to %.0f ms after the acknowledgement; want before it", c.Name, gt.TTCMS.Max)
		}
	}
	checkSSFDelivery(t, component(t, rep, "api-ssf-push"), "push", 60, 0, 0, 0)
	checkSSFDelivery(t, component(t, rep, "api-ssf-poll"), "poll", 60, 0, 1000, 1000)
}

// TestSSFServiceScenarioDocker: the same scenario, unchanged, with the services in recall-service
// containers (-strategy ssf and its -ssf-* flags) and the transmitter in the harness:
// api-ssf-poll polls it at the drill network's gateway address, the transmitter pushes to
// api-ssf-push's /ssf/events at the port its container publishes on 127.0.0.1, and the ground
// truth is read from the containers over HTTP. The same findings against the same ground truth.
func TestSSFServiceScenarioDocker(t *testing.T) {
	checkSSFService(t, passingDrill(t, ssfServiceScenario, dockerRuntime...))
}
