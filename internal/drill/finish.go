package drill

import (
	"fmt"
	"slices"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/targets/revocation"
)

// maxFindingTokens bounds the fingerprints listed in one finding.
const maxFindingTokens = 5

// finish turns the tracker's measurement into the report: figures per component and overall,
// the comparison with ground truth where the system records it, and the findings.
func (d *drill) finish(end time.Duration, total, dropped, afterRecall int64) {
	p := d.plan
	m := d.tr.Finalize(end)
	d.measurement = m
	rep := d.rep

	// The recall's instants, per credential.
	var first, last, firstSent time.Time
	failed := 0
	var failErr error
	for _, a := range d.acks {
		if a.Sent.IsZero() {
			continue
		}
		if a.Err != nil {
			failed++
			failErr = a.Err
			continue
		}
		if first.IsZero() || a.Acked.Before(first) {
			first = a.Acked
		}
		if a.Acked.After(last) {
			last = a.Acked
		}
		if firstSent.IsZero() || a.Sent.Before(firstSent) {
			firstSent = a.Sent
		}
	}
	if !firstSent.IsZero() {
		rep.Recall.SentAtMS = millis(firstSent.Sub(d.began))
		rep.Recall.AcknowledgedAtMS = millis(last.Sub(d.began))
		rep.Recall.AckSpreadMS = millis(last.Sub(first))
	}
	rc := countRecalls(d.acks)
	rep.Recall.Failed, rep.Recall.Sent, rep.Recall.Acknowledged, rep.Recall.NotSent = rc.failed, rc.sent, rc.acked, rc.notSent
	if failed > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "recall_failed", Severity: report.Critical, Count: failed,
			Message: rc.failedMessage(failErr)})
	}
	if rep.Recall.Ineffective > 0 {
		rep.Findings = append(rep.Findings, ineffectiveRecall(&rep.Recall))
	}

	if n, ids := falseFamilyKills(d.acks, d.tokens); n > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "false_family_kill", Severity: report.Warning, Count: n, Tokens: ids,
			Message: fmt.Sprintf("%d refresh-token families were killed without an attacker: the legitimate client's retry after a lost answer presented the already rotated refresh token, which reuse detection took for theft (RFC 9700 section 4.14.2); those users were logged out by a fault.", n)})
	}

	var truths runtime.GroundTruth
	if gt, ok := p.Env.(runtime.GroundTruth); ok {
		truths = gt
	}
	// Fault windows: fail-open counts go into the measurement so that expectations see them.
	figs := make([]componentFigures, len(m.Components))
	if d.faults != nil {
		rep.Faults = d.faults.report()
		for i := range m.Components {
			figs[i] = d.faults.figures(i, &m.Components[i], end)
			m.Components[i].Summary.FailOpen = figs[i].failOpen
			m.Overall.FailOpen += figs[i].failOpen
		}
	}
	if d.loads != nil {
		d.syncTurns()
	}
	var sched ScheduleStats
	if d.sched != nil {
		sched = d.sched.Stats()
	}
	for i, cm := range m.Components {
		c := d.comps[i]
		rc := report.Component{Name: c.Name, Kind: c.Kind, Probed: true, Summary: cm.Summary,
			FaultSplit: figs[i].split, TTCAfterFaultMS: figs[i].afterFault}
		if truths != nil {
			rc.GroundTruth = d.groundTruth(truths, c.Name, cm.Pairs)
		}
		if cm.Delivery != nil {
			rc.Delivery = d.delivery(c.Name, cm.Delivery)
		}
		if n := d.sample.Size(i); n >= 0 {
			rc.Sample = sampleReport(n, p.Population.Victims, cm.Pairs)
		}
		if sched.Measuring && end > 0 && total > 0 {
			rc.RevisitMS = millis(sched.Components[i].Interval(float64(total) / end.Seconds()))
		}
		elapsed := min(end, p.Traffic.Duration)
		if d.loads != nil {
			d.loadFigures(&rc, i, elapsed)
		}
		rep.Components = append(rep.Components, rc)
		d.componentFindings(c.Name, &cm, &figs[i])
		if d.loads != nil {
			d.loadFindings(&rc, i, elapsed)
		}
	}
	if d.faults != nil {
		d.faults.findings(rep)
	}
	// Components that were not probed still appear, so the report names the whole system.
	for _, c := range p.Components {
		if !slices.ContainsFunc(d.comps, func(x Component) bool { return x.Name == c.Name }) {
			rep.Components = append(rep.Components, report.Component{Name: c.Name, Kind: c.Kind})
		}
	}
	rep.Overall = m.Overall
	rep.Tokens.NeverAccepted = m.NeverAcceptedVictims
	if m.NeverAcceptedVictims > 0 {
		rep.Findings = append(rep.Findings, neverAccepted(m.NeverAcceptedVictims))
	}
	rep.Slowest = slowest(rep.Components)
	rep.Timeline = m.Timeline
	rep.CDF = m.CDF
	rep.TimelineLower, rep.CDFLower = m.TimelineLower, m.CDFLower
	rep.Probes = report.Probes{
		Total: int(total), TargetRatePerSec: p.Traffic.Rate, AfterRecall: int(afterRecall),
		Dropped: int(dropped) + m.Invalid,
	}
	rep.Probes.TrafficMS = millis(end)
	if end > 0 {
		rep.Probes.RatePerSec = float64(total) / end.Seconds()
	}
	d.finishRecovery()
	d.finishMFA() // mfa.go: after recovery, whose re-enrolment it reports
	d.finishFamily()
	if m.Late > 0 || m.LateRecalls > 0 {
		d.log.Warn("results arrived later than the tracker's bound; some pairs are inexact", "late", m.Late, "late_recalls", m.LateRecalls)
	}
}

// ineffectiveRecall is the finding for recalls acknowledged but still active at the source.
func ineffectiveRecall(r *report.Recall) report.Finding {
	return report.Finding{Kind: "ineffective_recall", Severity: report.Critical, Count: r.Ineffective,
		Tokens:  r.IneffectiveTokens[:min(maxListed, len(r.IneffectiveTokens))],
		Message: fmt.Sprintf("%d recalls were acknowledged but the issuer still reports the credential active: the acknowledgement proved nothing (recall.ineffective_tokens lists them all).", r.Ineffective)}
}

// neverAccepted is the finding for n victims never seen accepted before the recall.
func neverAccepted(n int) report.Finding {
	return report.Finding{Kind: "never_accepted", Severity: report.Warning, Count: n,
		Message: fmt.Sprintf("%d victims were never seen accepted before the recall at some component; those pairs measure nothing.", n)}
}

// delivery is a receiver's delivery section completed from its acknowledgements.
func (d *drill) delivery(name string, del *report.Delivery) *report.Delivery {
	var recs []ReceiverAck
	for _, a := range d.acks {
		if a.Err != nil {
			continue
		}
		for _, r := range a.Receivers {
			if r.Component == name {
				recs = append(recs, r)
			}
		}
	}
	return deliveryNamed(del, recs)
}

// deliveryNamed is a copy of del (the tracker's figures) with what the receiver's
// acknowledgements recs say besides: its stream and method (the first's), and how many of its
// SETs took more than one delivery.
func deliveryNamed(del *report.Delivery, recs []ReceiverAck) *report.Delivery {
	out := *del
	for i, r := range recs {
		if i == 0 {
			out.Stream, out.Method = r.Stream, r.Method
		}
		if r.Attempts > 1 {
			out.Retried++
		}
	}
	return &out
}

// falseFamilyKills counts the acknowledgements marked FalseFamilyKill and lists the first
// fingerprints.
func falseFamilyKills(acks []Ack, tokens []*Token) (int, []string) {
	n := 0
	var ids []string
	for i, a := range acks {
		if !a.FalseFamilyKill {
			continue
		}
		n++
		if len(ids) < maxFindingTokens && i < len(tokens) {
			ids = append(ids, tokens[i].Access.Fingerprint())
		}
	}
	return n, ids
}

// groundTruth compares each converged pair's bracket with the instant the component recorded
// that it started enforcing.
// TokenTruth is a ground-truth source that knows credentials by their value rather than their
// claims: providers of opaque tokens. A truth.Source that implements it is asked this way.
type TokenTruth interface {
	EnforcedSinceToken(token string) (time.Time, bool)
}

// sinceBegan is a recorded instant's offset from the start of traffic on the drill's monotonic
// timeline, and its uncertainty (see wallClock).
func (d *drill) sinceBegan(at time.Time) (time.Duration, time.Duration) {
	if d.clock == nil {
		return at.Sub(d.began), 0
	}
	return d.clock.since(at, d.began)
}

func (d *drill) groundTruth(gt runtime.GroundTruth, component string, pairs []PairResult) *report.GroundTruth {
	src, ok := gt.Truth(component)
	if !ok {
		return nil
	}
	out := &report.GroundTruth{}
	var true_, instants []PairResult
	for _, pr := range pairs {
		if pr.State != PairConverged {
			continue
		}
		var at time.Time
		if tt, byToken := src.(TokenTruth); byToken {
			at, ok = tt.EnforcedSinceToken(d.tokens[pr.Token].Access.Reveal())
		} else {
			at, ok = src.EnforcedSince(d.tokens[pr.Token].Claims)
		}
		if !ok {
			continue
		}
		// A component restarted mid-drill may have begun enforcing more than once (a stale
		// restart honours the credential again, then resyncs): the bracket holds the start the
		// probes saw, which is one of them.
		if ss, ok := src.(interface {
			Starts(revocation.Claims) []time.Time
		}); ok {
			for _, st := range ss.Starts(d.tokens[pr.Token].Claims) {
				if o, u := d.sinceBegan(st); o >= pr.Lower-u && o <= pr.Upper+u {
					at = st
				}
			}
		}
		off, unc := d.sinceBegan(at)
		out.ClockUncertaintyMS = max(out.ClockUncertaintyMS, millis(unc))
		out.Checked++
		if off >= pr.Lower-unc && off <= pr.Upper+unc {
			out.Within++
		} else if out.Checked-out.Within <= 3 {
			d.log.Warn("ground truth outside the measured bracket", "component", component,
				"token", d.tokens[pr.Token].Access, "truth_ms", millis(off), "lower_ms", millis(pr.Lower), "upper_ms", millis(pr.Upper))
		}
		// Reuse the TTC statistics: a "pair" whose upper bound is the true instant.
		true_ = append(true_, PairResult{State: PairConverged, Recalled: pr.Recalled, Lower: off, Upper: off})
		instants = append(instants, PairResult{State: PairConverged, Lower: off, Upper: off})
	}
	out.TTCMS = ttcStats(true_)
	if len(instants) > 0 {
		st := ttcStats(instants)
		out.EnforcedAtMS = &st
	}
	return out
}

func (d *drill) componentFindings(name string, cm *ComponentMeasurement, fig *componentFigures) {
	rep := d.rep
	fps := func(ids []int) []string {
		var out []string
		for _, id := range ids {
			if len(out) == maxFindingTokens {
				break
			}
			out = append(out, d.fingerprint(id))
		}
		return out
	}
	s := cm.Summary
	if s.Resurrections > 0 {
		var ids []int
		for _, p := range cm.Pairs {
			if p.Resurrections > 0 {
				ids = append(ids, p.Token)
			}
		}
		rep.Findings = append(rep.Findings, report.Finding{Kind: "resurrection", Severity: report.Critical, Component: name,
			Count: s.Resurrections, Tokens: fps(ids), AtMS: millis(cm.FirstResurrection),
			Message: fmt.Sprintf("%s accepted %d recalled credentials again after having rejected them (%d probes)%s.", name, s.Resurrections, cm.ResurrectionProbes, d.afterRestart(name, cm.FirstResurrection))})
	}
	if s.FalseRejects > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "false_reject", Severity: report.Critical, Component: name,
			Count: s.FalseRejects, Tokens: fps(cm.FalseRejectTokens), AtMS: millis(cm.FirstFalseReject),
			Message: fmt.Sprintf("%s rejected %d control credentials that were never recalled (%d probes).", name, cm.FalseRejectPairs, s.FalseRejects)})
	}
	if s.NotConverged > 0 {
		var ids []int
		for _, p := range cm.Pairs {
			if p.State == PairNotConverged {
				ids = append(ids, p.Token)
			}
		}
		rep.Findings = append(rep.Findings, report.Finding{Kind: "not_converged", Severity: report.Warning, Component: name,
			Count: s.NotConverged, Tokens: fps(ids),
			Message: fmt.Sprintf("%s still honoured %d of %d recalled credentials when the drill ended.", name, s.NotConverged, s.Pairs)})
	}
	if s.FailOpen > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "fail_open", Severity: report.Critical, Component: name, Count: s.FailOpen,
			Tokens: fps(fig.failOpenToks), AtMS: millis(fig.firstFailOpen),
			Message: fmt.Sprintf("%s accepted recalled credentials %d times (%d credentials) while its revocation source was cut off.", name, s.FailOpen, len(fig.failOpenToks))})
	}
}

// restartSlack is how much earlier than a restart a resurrection may be stamped and still be
// attributed to it.
const restartSlack = 250 * time.Millisecond

// afterRestart names the restart of component name that came last before at, for a
// resurrection's message.
func (d *drill) afterRestart(name string, at time.Duration) string {
	if d.faults == nil {
		return ""
	}
	out := ""
	for _, r := range d.faults.runs {
		s := r.step
		if s.Target != name || (s.Kind != "restart" && s.Kind != "kill" && s.Kind != "stop") {
			continue
		}
		// A probe is stamped before it is written: one stamped just before the restart began
		// may still be served by the restarted component, hence the slack.
		if start, _, ok := r.window(); ok && start <= at+restartSlack {
			out = fmt.Sprintf(", after fault %s (%s at %.0f ms)", s.Name, s.Kind, millis(start))
		}
	}
	return out
}

// slowest names the component with the largest TTC upper bound; one that did not converge is
// slower than any that did.
func slowest(comps []report.Component) string {
	best, bestV := "", -1.0
	for _, c := range comps {
		if !c.Probed || c.Pairs == 0 {
			continue
		}
		v := c.TTCMS.Max
		if c.NotConverged > 0 {
			v = 1e300
		}
		if v > bestV {
			best, bestV = c.Name, v
		}
	}
	return best
}

// recallCounts counts the recall requests: sent = acked + failed, and notSent never sent.
type recallCounts struct{ sent, acked, failed, notSent int }

func countRecalls(acks []Ack) recallCounts {
	var c recallCounts
	for _, a := range acks {
		switch {
		case a.Sent.IsZero():
			c.notSent++
		case a.Err != nil:
			c.sent++
			c.failed++
		default:
			c.sent++
			c.acked++
		}
	}
	return c
}

// failedMessage is the recall_failed finding's message: failed among those sent, and apart
// those never sent (an interrupted drill), so that neither passes for the other.
func (c recallCounts) failedMessage(last error) string {
	msg := fmt.Sprintf("%d of %d recalls sent were not acknowledged (last error: %v); they measure nothing.", c.failed, c.sent, last)
	if c.notSent > 0 {
		msg += fmt.Sprintf(" %d more were never sent.", c.notSent)
	}
	return msg
}
