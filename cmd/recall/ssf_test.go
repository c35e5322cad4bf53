package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
)

// ssfGateways are scenarios/ssf-caep.yaml's receivers: one by push, one by poll.
var ssfGateways = []string{"edge-ssf-push", "edge-ssf-poll"}

// TestSSFCAEPScenario runs scenarios/ssf-caep.yaml: a CAEP session-revoked SET per victim on
// the push and the poll stream. The known answers: every victim's SETs are acknowledged by both
// receivers; each receiver enforces before it acknowledges, so by its recall instant (its own
// acknowledgement of the victim's SET) it has converged: its TTC is at most the resolution and
// the instant it recorded (ground truth) lies inside every bracket and no later than the
// acknowledgement; its delivery section splits that TTC at the delivery (checkSSFDelivery); the
// controls, whose users no event names, survive.
func TestSSFCAEPScenario(t *testing.T) {
	rep := passingDrill(t, "ssf-caep.yaml")
	checkSSFAcknowledged(t, rep)
	for _, c := range checkConverged(t, rep, 20, ssfGateways...) {
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
	checkSSFDelivery(t, component(t, rep, "edge-ssf-push"), "push", 200, 0, 0)
	checkSSFDelivery(t, component(t, rep, "edge-ssf-poll"), "poll", 200, 1000, 1000)
}

// TestSSFCAEPScenarioIgnoredEvent plants the receiver that acknowledges session-revoked without
// enforcing it at edge-ssf-poll: delivery looks perfect (every SET acknowledged), and the drill
// finds that edge-ssf-poll honours every recalled credential to the end, while edge-ssf-push
// still converges.
func TestSSFCAEPScenarioIgnoredEvent(t *testing.T) {
	rep := failingDrill(t, "ssf-caep.yaml", []string{"not_converged == 0"},
		"--set", "system.components[edge-ssf-poll].with.ignore_event=session-revoked")
	checkSSFAcknowledged(t, rep)
	checkConverged(t, rep, 20, "edge-ssf-push")
	c := component(t, rep, "edge-ssf-poll")
	if c.Pairs < 20 || c.NotConverged != c.Pairs || len(findings(rep, "not_converged", "edge-ssf-poll")) != 1 {
		t.Errorf("edge-ssf-poll (ignores session-revoked): %d of %d pairs not converged; want every one, one finding", c.NotConverged, c.Pairs)
	}
	if c.FalseRejects != 0 {
		t.Errorf("edge-ssf-poll: %d false rejects, want none", c.FalseRejects)
	}
}

// checkSSFAcknowledged asserts that ssf-event sent every victim's SETs and that every receiver
// acknowledged them.
func checkSSFAcknowledged(t *testing.T, rep *report.Report) {
	t.Helper()
	r := rep.Recall
	if r.Action != "ssf-event" || r.Credentials != 200 || r.Sent != 200 || r.Acknowledged != 200 || r.Failed != 0 {
		t.Errorf("recall %+v: want ssf-event, all 200 victims' SETs sent and acknowledged by every receiver", r)
	}
}

// groundTruthLowerP50 is the median of the recorded enforcement instants relative to the
// recall instant (negative: before it); 0 without ground truth.
func groundTruthLowerP50(c report.Component) float64 {
	if c.GroundTruth == nil {
		return 0
	}
	return c.GroundTruth.TTCMS.LowerP50
}
