package drill

import (
	"errors"
	"fmt"
	"time"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/report"
)

// Observer is told what the drill does while it runs, so that a kill -9 loses nothing that was
// already measured: internal/journal streams these events to journal.jsonl, and
// `recall report --from-journal` rebuilds a report from them. Record is called from any
// goroutine, sometimes under the tracker's locks: it must be quick and must not call back into
// the drill. Events never carry a credential, only fingerprints.
type Observer interface {
	Record(e Event)
}

// Event kinds.
const (
	// EventHeader opens the journal: the report as known at the start (scenario, population,
	// recall kind): what a rebuilt report starts from.
	EventHeader = "header"
	// EventPhase: the drill entered Phase.
	EventPhase = "phase"
	// EventEnvironment: the system started; Environment describes it.
	EventEnvironment = "environment"
	// EventMinted: the population is minted; Tokens describes it (fingerprints only).
	EventMinted = "minted"
	// EventTraffic: probing starts (offset 0 of every AtNS); Tracker is the measurement's
	// configuration.
	EventTraffic = "traffic"
	// EventTrigger: the recall is sent (AtNS).
	EventTrigger = "trigger"
	// EventAck: one credential's recall was acknowledged, or failed.
	EventAck = "ack"
	// EventFault: a fault was injected or reverted.
	EventFault = "fault"
	// EventPair: a (component, victim) pair changed state in the tracker's send-ordered fold
	// (its first result, the converging reject found or forgotten, a first stale accept, a
	// first resurrection), or at the end of the drill, whatever changed since.
	EventPair = "pair"
	// EventCounters: the tracker's per-component counters and the load's (Load: probes chosen,
	// answered and errors per component, before and after the recall), about once a second.
	EventCounters = "counters"
	// EventConfirm: the acknowledged recalls were confirmed at the source; Recall is the
	// report's recall section with the outcomes, Findings the finding they gave (if any).
	EventConfirm = "confirm"
	// EventTrafficEnd: probing ended (AtNS: the end of the observation window).
	EventTrafficEnd = "traffic_end"
	// EventSSFReceiver: recall's subscription to the system's SSF transmitter ended; Component
	// is the report's ssf-receiver component and Findings its findings (recall.ssf_receiver).
	EventSSFReceiver = "ssf_receiver"
	// EventEnd: the drill ended normally (the report was built): its verdict, reason, judged
	// expectations and every finding.
	EventEnd = "end"
)

// Event is one line of the journal. AtNS is an offset from the start of traffic (0 before it);
// Wall the wall-clock instant it was recorded.
type Event struct {
	Kind        string              `json:"kind"`
	Wall        time.Time           `json:"wall"`
	AtNS        int64               `json:"at_ns,omitempty"`
	Phase       string              `json:"phase,omitempty"`
	Report      *report.Report      `json:"report,omitempty"`
	Environment *report.Environment `json:"environment,omitempty"`
	Tokens      *report.Tokens      `json:"tokens,omitempty"`
	Tracker     *TrackerSummary     `json:"tracker,omitempty"`
	Ack         *AckEvent           `json:"ack,omitempty"`
	Fault       *FaultEvent         `json:"fault,omitempty"`
	Pair        *PairSnapshot       `json:"pair,omitempty"`
	Counters    *Counters           `json:"counters,omitempty"`
	Recall      *report.Recall      `json:"recall,omitempty"`
	Verdict     string              `json:"verdict,omitempty"`
	Component   *report.Component   `json:"component,omitempty"`
	// Findings: in an ssf_receiver event, the receiver's findings; in the end event, every
	// finding of the drill's report.
	Findings []report.Finding `json:"findings,omitempty"`
	// Reason: in the end event, why the verdict is ERROR ("" otherwise).
	Reason string `json:"reason,omitempty"`
	// Load: in a counters event, each probed component's load counts (tracker order).
	Load []LoadCounters `json:"load,omitempty"`
	// Expectations: in the header, the scenario's expectations, not yet evaluated (expression
	// and severity); in the end event, as the drill judged them.
	Expectations []report.Expectation `json:"expectations,omitempty"`
}

// TrackerSummary is what a [Tracker] needs to be rebuilt: its configuration and the component
// kinds for the report.
type TrackerSummary struct {
	Components []string `json:"components"`
	Kinds      []string `json:"kinds"`
	// Unprobed lists the components that were not probed (name, kind), in scenario order.
	Unprobed          []report.Component `json:"unprobed,omitempty"`
	Victims, Controls int
	MaxLagNS          int64 `json:"max_lag_ns"`
	// SampleSeed and SampleSize redraw the sample (SampleSize -1: every victim probed).
	SampleSeed   int64   `json:"sample_seed"`
	SampleSize   int     `json:"sample_size"`
	EstimateSeed int64   `json:"estimate_seed"`
	Rate         float64 `json:"rate"`
	// The rest of traffic's shape, for the asked rate per component (the load findings).
	RampFrom   float64 `json:"ramp_from,omitempty"`
	RampForNS  int64   `json:"ramp_for_ns,omitempty"`
	DurationNS int64   `json:"duration_ns,omitempty"`
	Workers    int     `json:"workers,omitempty"`
}

// traffic is the traffic's shape as the summary keeps it.
func (ts *TrackerSummary) traffic() Traffic {
	return Traffic{Rate: ts.Rate, RampFrom: ts.RampFrom, RampFor: time.Duration(ts.RampForNS),
		Duration: time.Duration(ts.DurationNS), Workers: ts.Workers}
}

// LoadCounters are one probed component's load counts: probes the scheduler chose for it,
// results before ([0]) and after ([1]) the first acknowledgement and the errors among them
// (outside fault windows), and probes not sent because it had its workers in flight.
type LoadCounters struct {
	Chosen  int64    `json:"chosen"`
	Probes  [2]int64 `json:"probes"`
	Errors  [2]int64 `json:"errors"`
	NotSent int64    `json:"not_sent,omitempty"`
}

// AckEvent is one recall acknowledgement: Token is the victim's index, FP its fingerprint.
type AckEvent struct {
	Token   int    `json:"token"`
	FP      string `json:"fp"`
	SentNS  int64  `json:"sent_ns"`
	AckedNS int64  `json:"acked_ns"`
	// Err is why the recall failed (already redacted by the action), "" when acknowledged.
	Err string `json:"err,omitempty"`
	// Receivers are the probed components' own recall instants (Ack.Receivers, OwnRecall).
	Receivers []ReceiverEvent `json:"receivers,omitempty"`
}

// ReceiverEvent is one probed component's own recall of the acknowledged credential: C indexes
// the tracker's components; instants are offsets in nanoseconds.
type ReceiverEvent struct {
	C           int    `json:"c"`
	Stream      string `json:"stream,omitempty"`
	Method      string `json:"method,omitempty"`
	SentNS      int64  `json:"sent_ns"`
	DeliveredNS int64  `json:"delivered_ns"`
	AckedNS     int64  `json:"acked_ns"`
	Attempts    int    `json:"attempts,omitempty"`
}

// Own returns the receivers as the tracker takes them (Tracker.Recalled).
func (a *AckEvent) Own() []OwnRecall {
	var out []OwnRecall
	for _, r := range a.Receivers {
		out = append(out, OwnRecall{Component: r.C, Sent: time.Duration(r.SentNS), Delivered: time.Duration(r.DeliveredNS), Acked: time.Duration(r.AckedNS)})
	}
	return out
}

// FaultEvent is a fault's start ("inject") or end ("revert").
type FaultEvent struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Event  string `json:"event"`
	Err    string `json:"err,omitempty"`
}

// PairSnapshot is a victim pair's state as the tracker's fold had it: every field a final
// measurement of the pair reads. Times are offsets in nanoseconds; the sentinels are those of
// the tracker (math.MinInt64 for none, math.MaxInt64 for never).
type PairSnapshot struct {
	C       int    `json:"c"`
	Token   int    `json:"t"`
	Accepts uint32 `json:"acc"`
	Rejects uint32 `json:"rej"`
	Errors  uint32 `json:"err"`
	// FirstAccept is the first accept's send time (baseline); LastAccept the largest folded
	// accept's (the bracket's lower end); LastDecisive the largest folded accept or reject's.
	FirstAccept  int64  `json:"fa"`
	LastAccept   int64  `json:"la"`
	LastDecisive int64  `json:"ld"`
	HasK         bool   `json:"k,omitempty"`
	KSend        int64  `json:"ks,omitempty"`
	KLat         int64  `json:"kl,omitempty"`
	HasD         bool   `json:"hd,omitempty"`
	D            int64  `json:"d,omitempty"`
	Stale        uint32 `json:"stale,omitempty"`
	Resurrect    uint32 `json:"res,omitempty"`
	FirstResur   int64  `json:"fr"`
	Late         bool   `json:"late,omitempty"`
}

// Counters are the tracker's running counts.
type Counters struct {
	Probes     int64               `json:"probes"`
	Components []ComponentCounters `json:"components"`
	Invalid    int64               `json:"invalid,omitempty"`
}

// ComponentCounters are one component's running counts.
type ComponentCounters struct {
	Probes, Accepts, Rejects, Errors int64
	FalseRejects                     int64 `json:"false_rejects,omitempty"`
	FirstFalseReject                 int64 `json:"first_false_reject"`
	Late                             int64 `json:"late,omitempty"`
	LateRecalls                      int64 `json:"late_recalls,omitempty"`
	// FalseRejectTokens are the controls rejected at least once.
	FalseRejectTokens []int `json:"false_reject_tokens,omitempty"`
}

// record sends e to the plan's observer, if any.
func (d *drill) record(e Event) {
	if d.plan == nil || d.plan.Observer == nil {
		return
	}
	if e.Wall.IsZero() {
		e.Wall = time.Now()
	}
	d.plan.Observer.Record(e)
}

// recordFault journals a fault's injection or revert.
func (d *drill) recordFault(r *faultRun, event string, err error) {
	if d.plan.Observer == nil {
		return
	}
	s := r.step
	fe := &FaultEvent{Name: s.Name, Kind: s.Kind, Target: s.what(), Event: event}
	if err != nil {
		fe.Err = redact.Excerpt([]byte(err.Error()))
	}
	d.record(Event{Kind: EventFault, AtNS: d.offset(), Fault: fe})
}

// recordCounters journals the tracker's running counts.
func (d *drill) recordCounters() {
	if d.plan.Observer == nil || d.tr == nil {
		return
	}
	k := d.tr.Counters()
	d.record(Event{Kind: EventCounters, AtNS: d.offset(), Counters: &k, Load: d.loadCounters()})
}

// trackerSummary is the tracker's configuration as a journal rebuilds it.
func (d *drill) trackerSummary(names []string, cfg TrackerConfig) *TrackerSummary {
	p := d.plan
	ts := &TrackerSummary{Components: names, Victims: cfg.Victims, Controls: cfg.Controls,
		MaxLagNS: int64(cfg.MaxLag), SampleSeed: p.Seed, SampleSize: -1, EstimateSeed: cfg.Estimate.Seed,
		Rate: p.Traffic.Rate, RampFrom: p.Traffic.RampFrom, RampForNS: int64(p.Traffic.RampFor),
		DurationNS: int64(p.Traffic.Duration), Workers: p.Traffic.Workers}
	if d.sample != nil && len(names) > 0 {
		ts.SampleSize = d.sample.Size(0)
	}
	for _, c := range d.comps {
		ts.Kinds = append(ts.Kinds, c.Kind)
	}
	for _, c := range p.Components {
		if c.Probe == nil {
			ts.Unprobed = append(ts.Unprobed, report.Component{Name: c.Name, Kind: c.Kind})
		}
	}
	return ts
}

// fingerprint is credential id's fingerprint (from the journal's when rebuilding).
func (d *drill) fingerprint(id int) string {
	if d.fps != nil {
		return d.fps(id)
	}
	return d.tokens[id].Access.Fingerprint()
}

// Rebuilt is what a journal gives back: the report as the header had it, the tracker's
// configuration, and the recall's acknowledgements; [Rebuilt.Report] measures from the
// tracker restored from it.
type Rebuilt struct {
	Report  *report.Report
	Tracker *TrackerSummary
	Acks    []AckEvent
	// Fingerprint gives a credential's fingerprint ("" when the journal does not know it).
	Fingerprint func(int) string
	// Load is the last counters event's load counts (nil in a journal without them), and
	// LoadAt the offset that event was recorded at.
	Load   []LoadCounters
	LoadAt time.Duration
	// Confirmed is the recall section as the confirm event had it (nil when the journal has
	// none) and ConfirmFindings that event's findings.
	Confirmed       *report.Recall
	ConfirmFindings []report.Finding
}

// NewTrackerFrom returns an empty tracker configured as the journal's TrackerSummary says.
func NewTrackerFrom(ts *TrackerSummary) *Tracker {
	var smp *Sample
	if ts.SampleSize >= 0 {
		smp = NewSample(ts.SampleSeed, ts.Components, ts.Victims, ts.SampleSize)
	}
	return NewTracker(TrackerConfig{Components: ts.Components, Victims: ts.Victims, Controls: ts.Controls,
		MaxLag: time.Duration(ts.MaxLagNS), Sample: smp, Estimate: EstimateConfig{Seed: ts.EstimateSeed}})
}

// Fill puts a measurement rebuilt from a journal into b.Report, as the drill's finish does with
// what the journal holds: figures per component and overall, timeline, CDF, the recall's
// counts, the load figures (rates, error shares) as of the last counters event, and the
// findings these give (recall_failed, resurrection, false_reject, not_converged, unavailable,
// rate_shortfall, never_accepted). Ground truth, fault figures, recovery and expectations are
// not journaled and stay empty. end is where the journal ends.
func (b *Rebuilt) Fill(m *Measurement, end time.Duration, probes int64) {
	rep := b.Report
	d := &drill{rep: rep, fps: b.Fingerprint, plan: &Plan{Traffic: b.Tracker.traffic()}, log: nil}
	if b.Load != nil {
		d.loads = loadsFrom(b.Load)
	}
	rep.Components = nil
	if c := b.Confirmed; c != nil {
		r := &rep.Recall
		r.Confirmed, r.Ineffective, r.Unconfirmable = c.Confirmed, c.Ineffective, c.Unconfirmable
		r.IneffectiveTokens, r.UnconfirmableTokens, r.UnconfirmableReasons = c.IneffectiveTokens, c.UnconfirmableTokens, c.UnconfirmableReasons
		rep.Findings = append(rep.Findings, b.ConfirmFindings...)
	}
	var first, last, firstSent int64
	have := false
	var rc recallCounts
	lastErr := ""
	for _, a := range b.Acks {
		rc.sent++
		if a.Err != "" {
			rc.failed++
			lastErr = a.Err
			continue
		}
		rc.acked++
		if !have || a.AckedNS < first {
			first = a.AckedNS
		}
		if !have || a.AckedNS > last {
			last = a.AckedNS
		}
		if !have || a.SentNS < firstSent {
			firstSent = a.SentNS
		}
		have = true
	}
	rc.notSent = max(rep.Recall.Credentials-rc.sent, 0)
	if have {
		rep.Recall.SentAtMS = millis(time.Duration(firstSent))
		rep.Recall.AcknowledgedAtMS = millis(time.Duration(last))
		rep.Recall.AckSpreadMS = millis(time.Duration(last - first))
	}
	rep.Recall.Failed, rep.Recall.Sent, rep.Recall.Acknowledged, rep.Recall.NotSent = rc.failed, rc.sent, rc.acked, rc.notSent
	if rc.failed > 0 {
		rep.Findings = append(rep.Findings, report.Finding{Kind: "recall_failed", Severity: report.Critical, Count: rc.failed,
			Message: rc.failedMessage(errors.New(lastErr))})
	}
	if rep.Recall.Ineffective > 0 {
		rep.Findings = append(rep.Findings, ineffectiveRecall(&rep.Recall))
	}
	// The load counts are from the last counters event, so their rates run to its instant.
	elapsed := end
	if b.Load != nil {
		elapsed = min(elapsed, b.LoadAt)
	}
	if d.plan.Traffic.Duration > 0 {
		elapsed = min(elapsed, d.plan.Traffic.Duration)
	}
	for i, cm := range m.Components {
		kind := ""
		if i < len(b.Tracker.Kinds) {
			kind = b.Tracker.Kinds[i]
		}
		rc := report.Component{Name: cm.Name, Kind: kind, Probed: true, Summary: cm.Summary}
		if cm.Delivery != nil {
			var recs []ReceiverAck
			for _, a := range b.Acks {
				for _, r := range a.Receivers {
					if r.C == i {
						recs = append(recs, ReceiverAck{Stream: r.Stream, Method: r.Method, Attempts: r.Attempts})
					}
				}
			}
			rc.Delivery = deliveryNamed(cm.Delivery, recs)
		}
		haveLoad := i < len(d.loads)
		if haveLoad {
			d.loadFigures(&rc, i, elapsed)
		}
		rep.Components = append(rep.Components, rc)
		d.componentFindings(cm.Name, &m.Components[i], &componentFigures{})
		if haveLoad {
			d.loadFindings(&rc, i, elapsed)
		}
	}
	rep.Components = append(rep.Components, b.Tracker.Unprobed...)
	rep.Overall = m.Overall
	rep.Tokens.NeverAccepted = m.NeverAcceptedVictims
	if m.NeverAcceptedVictims > 0 {
		rep.Findings = append(rep.Findings, neverAccepted(m.NeverAcceptedVictims))
	}
	rep.Slowest = slowest(rep.Components)
	rep.Timeline, rep.CDF = m.Timeline, m.CDF
	rep.TimelineLower, rep.CDFLower = m.TimelineLower, m.CDFLower
	rep.Probes = report.Probes{Total: int(probes), TargetRatePerSec: b.Tracker.Rate, Dropped: m.Invalid}
	rep.Probes.TrafficMS = millis(end)
	if end > 0 {
		rep.Probes.RatePerSec = float64(probes) / end.Seconds()
	}
}

// pendingExpectations are the expectations as the journal's header carries them: expression,
// severity and note, not yet evaluated.
func pendingExpectations(exps []Expectation) []report.Expectation {
	out := make([]report.Expectation, 0, len(exps))
	for _, e := range exps {
		out = append(out, report.Expectation{Expr: e.Text, Severity: e.Severity, Message: e.Note})
	}
	return out
}

// notJournaled says why metric cannot be evaluated on a rebuilt report ("" when it can).
func notJournaled(metric string, rep *report.Report) string {
	switch metric {
	case "probe_latency":
		return "probe latencies are not in the journal"
	case "recovery_time":
		return "recovery times are not in the journal"
	case "fail_open":
		if len(rep.Faults) > 0 {
			return "fault-window figures are not in the journal"
		}
	}
	return ""
}

// Evaluate evaluates b.Report's expectations (as the journal's header carried them) on the
// rebuilt measurement m, as the drill's judge does, without touching the verdict: those on
// figures the journal does not hold (probe latency, recovery, fault windows) are marked not
// evaluated, neither passed nor dropped. m may be nil (the journal ends before traffic).
func (b *Rebuilt) Evaluate(m *Measurement) {
	rep := b.Report
	env := evalEnv{Env: expect.ReportEnv(rep), m: m}
	for i, pe := range rep.Expectations {
		out := report.Expectation{Expr: pe.Expr, Severity: pe.Severity}
		e, err := expect.Parse(pe.Expr)
		switch {
		case err != nil:
			out.ObservedText, out.Message = "n/a", fmt.Sprintf("not evaluated: %v", err)
		case m == nil:
			out.ObservedText, out.Message = "n/a", "not evaluated: not in the journal, which ends before traffic began"
		case notJournaled(e.Metric, rep) != "":
			out.ObservedText, out.Message = "n/a", "not evaluated: "+notJournaled(e.Metric, rep)+" (not in the journal)"
		default:
			out = e.Eval(env)
			out.Expr, out.Severity = pe.Expr, pe.Severity
			if pe.Message != "" && out.Message == "" && !out.Pass {
				out.Message = pe.Message
			}
		}
		rep.Expectations[i] = out
	}
}

// Judge sets the verdict of b.Report from its findings and evaluated expectations, as the
// drill's judge does (a failed expectation of severity fail, or a finding that fails the verdict
// by itself: FAIL); ended is the verdict the journal's end event gave ("" when the journal has
// none). A rebuild of a journal that did not end, or of a drill that ended in ERROR, keeps
// ERROR: its findings still say which of them would fail it (Finding.FailsDrill).
func (b *Rebuilt) Judge(ended string) {
	rep := b.Report
	var exps []Expectation
	failed := false
	for _, e := range rep.Expectations {
		if x, err := expect.Parse(e.Expr); err == nil {
			exps = append(exps, Expectation{Text: e.Expr, Expr: x, Severity: e.Severity})
		}
		failed = failed || (!e.Pass && e.Severity != report.SeverityWarn && !rep.Incomplete)
	}
	failed = markFindings(rep, exps) || failed
	switch {
	case rep.Incomplete || ended == report.Error:
		rep.Verdict = report.Error
	case failed:
		rep.Verdict = report.Fail
	default:
		rep.Verdict = report.Pass
	}
}

// Missing lists the sections of b.Report the journal cannot give (report.Missing*).
func (b *Rebuilt) Missing() []string {
	out := []string{report.MissingProbeLatency}
	if b.Load == nil {
		out = append(out, report.MissingLoad)
	}
	out = append(out, report.MissingRevisit, report.MissingGroundTruth)
	if len(b.Report.Faults) > 0 {
		out = append(out, report.MissingFaults)
	}
	return append(out, report.MissingRecovery)
}
