package main

import (
	"testing"

	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/targets/gateway"
)

// checkSSFDelivery asserts a receiver's delivery section (report.Delivery) against what the
// reference receiver does and against the component's own TTC. Every victim's SET was
// acknowledged on its stream, so the section counts all victims, and retried of them took more
// than one delivery (the receiver was cut off when pushed to); the TTC splits are over the converged pairs, the same as ttc_ms. Per pair sent ≤ delivered ≤ acknowledged = R(t), so per
// quantile ttc_ms ≤ enforcement_ms ≤ ttc_from_sent_ms, and ttc_from_sent ≤ ttc + acknowledged.
// Push: delivered and acknowledged are the same 202 (so enforcement is ttc_ms), and the
// reference receiver enforces before answering it, so enforcement is within the bracket's
// width. Poll: the receiver polls every pollEvery, so a SET made available is fetched within
// that and a poll's round trip (slack, generous on a loaded machine), and acknowledged after.
func checkSSFDelivery(t *testing.T, c report.Component, method string, victims, retried int, pollEvery, slackMS float64) {
	t.Helper()
	d := c.Delivery
	if d == nil {
		t.Errorf("%s: no delivery section", c.Name)
		return
	}
	t.Logf("%s (%s, stream %s): %d events, delivered p50 %.1f max %.1f ms, acknowledged p50 %.1f max %.1f ms; enforcement p50 %.1f max %.1f ms (±%.0f), TTC from sent p50 %.1f max %.1f ms, TTC from its acknowledgement max %.1f ms",
		c.Name, d.Method, d.Stream, d.Events, d.DeliveredMS.P50, d.DeliveredMS.Max, d.AcknowledgedMS.P50, d.AcknowledgedMS.Max,
		d.EnforcementMS.P50, d.EnforcementMS.Max, d.EnforcementMS.ResolutionMaxMS, d.TTCFromSentMS.P50, d.TTCFromSentMS.Max, c.TTCMS.Max)
	if d.Method != method || d.Stream == "" || d.Events != victims || d.DeliveredMS.Count != victims || d.AcknowledgedMS.Count != victims {
		t.Errorf("%s: delivery %s on stream %q, %d events (%d delivered, %d acknowledged); want %s, every one of %d victims",
			c.Name, d.Method, d.Stream, d.Events, d.DeliveredMS.Count, d.AcknowledgedMS.Count, method, victims)
	}
	if d.Retried != retried {
		t.Errorf("%s: %d SETs retried; want %d", c.Name, d.Retried, retried)
	}
	if n := c.TTCMS.Count; n == 0 || d.EnforcementMS.Count != n || d.TTCFromSentMS.Count != n {
		t.Errorf("%s: enforcement over %d pairs, TTC from sent over %d; want the %d converged pairs of ttc_ms", c.Name, d.EnforcementMS.Count, d.TTCFromSentMS.Count, n)
	}
	q := func(s report.Stats) [4]float64 { return [4]float64{s.P50, s.P90, s.P99, s.Max} }
	ttc, enf, sent, del, ack := q(c.TTCMS), q(d.EnforcementMS), q(d.TTCFromSentMS), q(d.DeliveredMS), q(d.AcknowledgedMS)
	for i, name := range []string{"p50", "p90", "p99", "max"} {
		if ttc[i] > enf[i] || enf[i] > sent[i] || del[i] > ack[i] {
			t.Errorf("%s %s: ttc %.2f ≤ enforcement %.2f ≤ ttc from sent %.2f, delivered %.2f ≤ acknowledged %.2f: want each to hold",
				c.Name, name, ttc[i], enf[i], sent[i], del[i], ack[i])
		}
	}
	if sent[3] > ttc[3]+ack[3]+0.001 {
		t.Errorf("%s: TTC from sent max %.2f ms > TTC max %.2f + acknowledged max %.2f", c.Name, sent[3], ttc[3], ack[3])
	}
	switch method {
	case "push":
		if d.DeliveredMS != d.AcknowledgedMS || enf != ttc {
			t.Errorf("%s: push delivered %+v, acknowledged %+v, enforcement %v, ttc %v; want delivered = acknowledged (the 202), enforcement = ttc",
				c.Name, d.DeliveredMS, d.AcknowledgedMS, enf, ttc)
		}
		if d.EnforcementMS.Max > d.EnforcementMS.ResolutionMaxMS {
			t.Errorf("%s: enforcement max %.1f ms > the bracket width %.1f ms: it enforces before its 202", c.Name, d.EnforcementMS.Max, d.EnforcementMS.ResolutionMaxMS)
		}
	case "poll":
		// It fetches at most gateway.SSFPollMaxEvents SETs a poll: 200 at once take two polls
		// (a loaded CI run delivered the second hundred 2.4 s after they were sent).
		polls := float64((victims + gateway.SSFPollMaxEvents - 1) / gateway.SSFPollMaxEvents)
		if d.DeliveredMS.Max > polls*pollEvery+slackMS {
			t.Errorf("%s: delivered up to %.0f ms after sent; want within %.0f polls of its interval %.0f ms (+%.0f ms slack)", c.Name, d.DeliveredMS.Max, polls, pollEvery, slackMS)
		}
	}
}
