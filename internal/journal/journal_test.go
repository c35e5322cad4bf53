package journal

import (
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// arrival is one thing reaching the tracker: a probe result or an acknowledgement.
type arrival struct {
	at  time.Duration
	obs *drill.Observation
	ack int // victim acknowledged when obs is nil
}

// TestRebuildMatchesTracker feeds a tracker a synthetic drill (baselines, per-pair enforcement
// instants, stale accepts, resurrections, errors, false rejects, results arriving out of order
// within MaxLag), journals it through a Writer as the drill does, and rebuilds: every pair's
// state, bracket, stale accepts and resurrections, and the TTC statistics, timeline and CDF per
// component, must equal the tracker's own Finalize.
func TestRebuildMatchesTracker(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewSource(seed))
		const victims, controls = 60, 8
		comps := []string{"a", "b", "c"}
		maxLag := 300 * time.Millisecond
		trigger := 2 * time.Second
		end := 6 * time.Second
		ts := &drill.TrackerSummary{Components: comps, Kinds: []string{"gateway", "gateway", "gateway"},
			Victims: victims, Controls: controls, MaxLagNS: int64(maxLag), SampleSize: -1, EstimateSeed: seed, Rate: 1000}
		path := filepath.Join(t.TempDir(), FileName)
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		hdr := &report.Report{Scenario: report.Scenario{Name: "synthetic"}, Recall: report.Recall{Credentials: victims}}
		w.Record(drill.Event{Kind: drill.EventHeader, Wall: time.Now(), Report: hdr})
		w.Record(drill.Event{Kind: drill.EventTraffic, Wall: time.Now(), Tracker: ts})
		lines := 2
		orig := drill.NewTracker(drill.TrackerConfig{Components: comps, Victims: victims, Controls: controls,
			MaxLag: maxLag, Estimate: drill.EstimateConfig{Seed: seed},
			OnPair: func(s drill.PairSnapshot) { w.Record(drill.Event{Kind: drill.EventPair, Pair: &s}); lines++ }})
		cutAt, cutLines := end-time.Second, -1 // a kill one second before the end

		var arr []arrival
		recallAt := make([]time.Duration, victims)
		for v := range victims {
			recallAt[v] = trigger + time.Duration(rng.Intn(200))*time.Millisecond
			arr = append(arr, arrival{at: recallAt[v], ack: v})
		}
		for c := range comps {
			for tok := range victims + controls {
				enforce := trigger + time.Duration(rng.Intn(2500))*time.Millisecond
				if tok < victims && rng.Intn(10) == 0 {
					enforce = end + time.Second // never converges
				}
				resurrect := time.Duration(-1)
				if tok < victims && rng.Intn(8) == 0 {
					resurrect = enforce + time.Duration(200+rng.Intn(800))*time.Millisecond
				}
				for s := time.Duration(rng.Intn(50)) * time.Millisecond; s < end; s += time.Duration(20+rng.Intn(180)) * time.Millisecond {
					out := drill.Accept
					switch {
					case rng.Intn(20) == 0:
						out = drill.Error
					case tok >= victims:
						if rng.Intn(60) == 0 {
							out = drill.Reject
						}
					case s >= enforce && (resurrect < 0 || s < resurrect || s > resurrect+300*time.Millisecond):
						out = drill.Reject
					}
					lat := time.Duration(1+rng.Intn(40)) * time.Millisecond
					o := drill.Observation{Component: c, Token: tok, Sent: s, Latency: lat, Outcome: out}
					delay := lat + time.Duration(rng.Int63n(int64(maxLag)-int64(lat)))
					arr = append(arr, arrival{at: s + delay, obs: &o})
				}
			}
		}
		sort.SliceStable(arr, func(i, j int) bool { return arr[i].at < arr[j].at })
		triggered := false
		for _, a := range arr {
			if cutLines < 0 && a.at >= cutAt {
				cutLines = lines
			}
			if !triggered && a.at >= trigger {
				orig.SetTrigger(trigger)
				w.Record(drill.Event{Kind: drill.EventTrigger, AtNS: int64(trigger)})
				lines++
				triggered = true
			}
			if a.obs == nil {
				orig.Recalled(a.ack, trigger, recallAt[a.ack])
				w.Record(drill.Event{Kind: drill.EventAck, Ack: &drill.AckEvent{Token: a.ack, FP: "fp", SentNS: int64(trigger), AckedNS: int64(recallAt[a.ack])}})
				lines++
				continue
			}
			orig.Observe(*a.obs)
		}
		want := orig.Finalize(end)
		k := orig.Counters()
		w.Record(drill.Event{Kind: drill.EventCounters, Counters: &k})
		w.Record(drill.Event{Kind: drill.EventTrafficEnd, AtNS: int64(end)})
		w.Record(drill.Event{Kind: drill.EventEnd, Wall: time.Now(), Verdict: report.Pass})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rb, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if !rb.Complete || rb.Report.Incomplete {
			t.Errorf("seed %d: a journal with its end event rebuilt as incomplete", seed)
		}
		got := rb.Measurement
		converged, resurrected := 0, 0
		for c := range comps {
			wc, gc := want.Components[c], got.Components[c]
			for i := range wc.Pairs {
				wp, gp := wc.Pairs[i], gc.Pairs[i]
				if wp.State != gp.State || wp.Lower != gp.Lower || wp.Upper != gp.Upper ||
					wp.StaleAccepts != gp.StaleAccepts || wp.Resurrections != gp.Resurrections ||
					wp.FirstResurrection != gp.FirstResurrection || wp.Recalled != gp.Recalled {
					t.Errorf("seed %d %s token %d: rebuilt %+v\ntracker %+v", seed, wc.Name, i, gp, wp)
				}
				if wp.State == drill.PairConverged {
					converged++
				}
				if wp.Resurrections > 0 {
					resurrected++
				}
			}
			wc.Summary.ProbeLatencyMS, gc.Summary.ProbeLatencyMS = report.Stats{}, report.Stats{} // not journaled
			if d := cmp.Diff(wc.Summary, gc.Summary); d != "" {
				t.Errorf("seed %d %s summary (-tracker +rebuilt):\n%s", seed, wc.Name, d)
			}
			if wc.FalseRejectPairs != gc.FalseRejectPairs {
				t.Errorf("seed %d %s: false-reject pairs %d, rebuilt %d", seed, wc.Name, wc.FalseRejectPairs, gc.FalseRejectPairs)
			}
		}
		if d := cmp.Diff(want.Timeline, got.Timeline); d != "" {
			t.Errorf("seed %d timeline (-tracker +rebuilt):\n%s", seed, d)
		}
		if d := cmp.Diff(want.CDF, got.CDF); d != "" {
			t.Errorf("seed %d CDF (-tracker +rebuilt):\n%s", seed, d)
		}
		// The synthetic drill must exercise what it claims to.
		if converged == 0 || resurrected == 0 || want.Overall.NotConverged == 0 || want.Overall.FalseRejects == 0 {
			t.Fatalf("seed %d: degenerate drill: %d converged, %d resurrected, %d not converged, %d false rejects",
				seed, converged, resurrected, want.Overall.NotConverged, want.Overall.FalseRejects)
		}
		// Not every probe: far fewer pair events than results.
		b, _ := os.ReadFile(path)

		// Cut where a kill a second before the end would have: a pair the cut journal shows
		// converged has the final bracket, unless something after the cut (a resurrection,
		// a late result) changed it; most converged pairs are there already.
		cut := strings.Join(strings.SplitAfter(string(b), "\n")[:cutLines], "")
		crb, err := Rebuild(strings.NewReader(cut), "cut")
		if err != nil {
			t.Fatal(err)
		}
		if !crb.Report.Incomplete {
			t.Errorf("seed %d: cut journal not marked incomplete", seed)
		}
		early := 0
		for c := range comps {
			for i, cp := range crb.Measurement.Components[c].Pairs {
				fp := want.Components[c].Pairs[i]
				if cp.State != drill.PairConverged || fp.Resurrections > 0 || cp.Resurrections > 0 {
					continue
				}
				early++
				if fp.State != drill.PairConverged || cp.Lower != fp.Lower || cp.Upper != fp.Upper {
					t.Errorf("seed %d %s token %d: cut journal's bracket [%v, %v] (%v), the tracker's [%v, %v] (%v)",
						seed, comps[c], i, cp.Lower, cp.Upper, cp.State, fp.Lower, fp.Upper, fp.State)
				}
			}
		}
		if early < converged/2 {
			t.Errorf("seed %d: the journal cut a second before the end has %d of %d converged pairs", seed, early, converged)
		}
		if n, probes := strings.Count(string(b), `"kind":"pair"`), want.Overall.Probes; n*5 > probes {
			t.Errorf("seed %d: %d pair events for %d probes: the journal records probes, not state changes", seed, n, probes)
		}
	}
}

// TestCutJournal: a journal cut mid-line by a kill rebuilds, marked incomplete, with the
// instant and phase it ends at; one without a header is a clear error.
func TestCutJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Record(drill.Event{Kind: drill.EventHeader, Wall: time.Now(), Report: &report.Report{Scenario: report.Scenario{Name: "cut"}}})
	w.Record(drill.Event{Kind: drill.EventPhase, Phase: drill.PhaseMint})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"phase","pha`)
	f.Close()
	rb, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rb.Report
	if !r.Incomplete || r.JournalPhase != drill.PhaseMint || r.JournalEndsAt == nil || r.Verdict != report.Error ||
		!strings.Contains(r.Reason, "mint") {
		t.Errorf("cut journal: incomplete %v phase %q ends %v verdict %s reason %q", r.Incomplete, r.JournalPhase, r.JournalEndsAt, r.Verdict, r.Reason)
	}
	os.WriteFile(path, []byte(`{"kind":"phase","phase":"mint"}`+"\n"), 0o644)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "no header") {
		t.Errorf("headerless journal: %v", err)
	}
	os.WriteFile(path, []byte("garbage\n{}\n"), 0o644)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), FileName+":1") {
		t.Errorf("garbage journal: %v, want the file and line", err)
	}
}

// smallJournal journals a drill of one component and six victims, each accepted before the
// recall at 1 s and rejected from 1.5 s, with the expectations exps in its header; complete adds
// the end event carrying final, the drill's own judged expectations.
func smallJournal(t *testing.T, exps []report.Expectation, complete bool, final []report.Expectation) *Rebuilt {
	t.Helper()
	const victims = 6
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr := &report.Report{Scenario: report.Scenario{Name: "small"}, Recall: report.Recall{Credentials: victims}, Expectations: exps}
	w.Record(drill.Event{Kind: drill.EventHeader, Wall: time.Now(), Report: hdr})
	ts := &drill.TrackerSummary{Components: []string{"a"}, Kinds: []string{"gateway"}, Victims: victims, Controls: 1,
		MaxLagNS: int64(100 * time.Millisecond), SampleSize: -1, Rate: 100}
	w.Record(drill.Event{Kind: drill.EventTraffic, Wall: time.Now(), Tracker: ts})
	tr := drill.NewTracker(drill.TrackerConfig{Components: ts.Components, Victims: victims, Controls: 1, MaxLag: 100 * time.Millisecond,
		OnPair: func(s drill.PairSnapshot) { w.Record(drill.Event{Kind: drill.EventPair, Pair: &s}) }})
	trigger := time.Second
	for s := time.Duration(0); s < 3*time.Second; s += 100 * time.Millisecond {
		if s == trigger {
			tr.SetTrigger(trigger)
			w.Record(drill.Event{Kind: drill.EventTrigger, AtNS: int64(trigger)})
			for v := range victims {
				tr.Recalled(v, trigger, trigger)
				w.Record(drill.Event{Kind: drill.EventAck, Ack: &drill.AckEvent{Token: v, FP: "fp", SentNS: int64(trigger), AckedNS: int64(trigger)}})
			}
		}
		for tok := range victims + 1 {
			out := drill.Accept
			if tok < victims && s >= 1500*time.Millisecond {
				out = drill.Reject
			}
			tr.Observe(drill.Observation{Component: 0, Token: tok, Sent: s, Latency: time.Millisecond, Outcome: out})
		}
	}
	k := tr.Counters()
	w.Record(drill.Event{Kind: drill.EventCounters, Counters: &k})
	if complete {
		w.Record(drill.Event{Kind: drill.EventTrafficEnd, AtNS: int64(3 * time.Second)})
		w.Record(drill.Event{Kind: drill.EventEnd, Wall: time.Now(), Verdict: report.Pass, Expectations: final})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rb, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// TestRebuiltSaysWhatIsMissing: a report rebuilt from a journal names the sections the journal
// cannot give (probe latency, load figures, ground truth, recovery), and evaluates the
// expectations the header carried on what was journaled: TTC and counts are evaluated, an
// expectation on a figure the journal lacks is marked not evaluated rather than passed or
// silently dropped. A complete journal gives the drill's own judged expectations.
func TestRebuiltSaysWhatIsMissing(t *testing.T) {
	pending := func(expr string) report.Expectation {
		return report.Expectation{Expr: expr, Severity: report.SeverityFail}
	}
	exps := []report.Expectation{
		pending(`time_to_consistency.p99{component="a"} < 2s`),
		pending(`resurrections == 0`),
		pending(`time_to_consistency.max{component="a"} < 100ms`),
		pending(`probe_latency.p99 < 1s`),
		pending(`recovery_time.p99 < 5s`),
	}
	rb := smallJournal(t, exps, false, nil)
	r := rb.Report
	if !r.Incomplete || r.Verdict != report.Error {
		t.Fatalf("incomplete %v, verdict %s", r.Incomplete, r.Verdict)
	}
	// report.json carries the headline too (JUnit quotes it), not only the views.
	if !strings.Contains(r.Headline, "could not complete") || !strings.Contains(r.Headline, "incomplete") {
		t.Errorf("headline %q", r.Headline)
	}
	for _, want := range []string{report.MissingProbeLatency, report.MissingLoad, report.MissingGroundTruth, report.MissingRecovery} {
		if !slices.Contains(r.Missing, want) {
			t.Errorf("missing %v: want %s listed", r.Missing, want)
		}
	}
	if len(r.Expectations) != len(exps) {
		t.Fatalf("%d expectations rebuilt, want %d: %+v", len(r.Expectations), len(exps), r.Expectations)
	}
	by := map[string]report.Expectation{}
	for _, e := range r.Expectations {
		by[e.Expr] = e
	}
	if e := by[exps[0].Expr]; !e.Pass || e.Observed == nil || *e.Observed < 500 || *e.Observed > 700 {
		t.Errorf("TTC p99 rebuilt: %+v (observed %v), want pass at ~600 ms", e, e.Observed)
	}
	if e := by[exps[1].Expr]; !e.Pass {
		t.Errorf("resurrections rebuilt: %+v", e)
	}
	if e := by[exps[2].Expr]; e.Pass || e.Observed == nil {
		t.Errorf("TTC max < 100ms rebuilt: %+v, want evaluated and failed", e)
	}
	for _, x := range exps[3:] {
		if e := by[x.Expr]; e.Pass || e.Observed != nil || !strings.Contains(e.Message, "not in the journal") {
			t.Errorf("%s rebuilt: %+v, want not evaluated (not in the journal)", x.Expr, e)
		}
	}

	final := []report.Expectation{{Expr: exps[0].Expr, Pass: true, ObservedText: "600ms ±100ms", Severity: report.SeverityFail}}
	rb = smallJournal(t, exps, true, final)
	if rb.Report.Incomplete || !cmp.Equal(rb.Report.Expectations, final) {
		t.Errorf("complete journal: incomplete %v, expectations %+v; want the drill's own %+v", rb.Report.Incomplete, rb.Report.Expectations, final)
	}
	if !slices.Contains(rb.Report.Missing, report.MissingProbeLatency) {
		t.Errorf("complete journal: missing %v, want probe latency listed", rb.Report.Missing)
	}
}

// TestRebuiltOwnRecall: an acknowledgement's receivers are journaled, so a rebuild counts a
// receiver's pairs from its own acknowledgement as the drill did, and gives it the same
// delivery section, named by its stream and method, with its retried SETs (victim 3's took two
// attempts); the other component has none.
func TestRebuiltOwnRecall(t *testing.T) {
	t.Parallel()
	const victims = 4
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Record(drill.Event{Kind: drill.EventHeader, Wall: time.Now(), Report: &report.Report{Recall: report.Recall{Credentials: victims}}})
	ts := &drill.TrackerSummary{Components: []string{"push", "svc"}, Kinds: []string{"gateway", "service"}, Victims: victims,
		MaxLagNS: int64(100 * time.Millisecond), SampleSize: -1, Rate: 100}
	w.Record(drill.Event{Kind: drill.EventTraffic, Wall: time.Now(), Tracker: ts})
	tr := drill.NewTracker(drill.TrackerConfig{Components: ts.Components, Victims: victims, MaxLag: 100 * time.Millisecond,
		OnPair: func(s drill.PairSnapshot) { w.Record(drill.Event{Kind: drill.EventPair, Pair: &s}) }})
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	for s := ms(0); s < 3*time.Second; s += ms(50) {
		if s == time.Second {
			tr.SetTrigger(s)
			w.Record(drill.Event{Kind: drill.EventTrigger, AtNS: int64(s)})
			for v := range victims {
				ev := &drill.AckEvent{Token: v, FP: "fp", SentNS: int64(ms(1000)), AckedNS: int64(ms(1600)),
					Receivers: []drill.ReceiverEvent{{C: 0, Stream: "s1", Method: "push", SentNS: int64(ms(1000)), DeliveredNS: int64(ms(1010 + v)), AckedNS: int64(ms(1010 + v)), Attempts: 1 + v/3}}}
				tr.Recalled(v, ms(1000), ms(1600), ev.Own()...)
				w.Record(drill.Event{Kind: drill.EventAck, Ack: ev})
			}
		}
		for c := range 2 {
			for tok := range victims {
				out := drill.Accept
				if s >= ms(1300+400*c) {
					out = drill.Reject
				}
				tr.Observe(drill.Observation{Component: c, Token: tok, Sent: s, Latency: time.Millisecond, Outcome: out})
			}
		}
	}
	k := tr.Counters()
	w.Record(drill.Event{Kind: drill.EventCounters, Counters: &k})
	w.Record(drill.Event{Kind: drill.EventTrafficEnd, AtNS: int64(3 * time.Second)})
	w.Record(drill.Event{Kind: drill.EventEnd, Wall: time.Now(), Verdict: report.Pass})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := tr.Finalize(3 * time.Second)
	rb, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got := rb.Measurement
	for c := range 2 {
		for tok := range victims {
			wp, gp := want.Components[c].Pairs[tok], got.Components[c].Pairs[tok]
			if wp.Recalled != gp.Recalled || wp.RecallSent != gp.RecallSent || wp.State != gp.State || wp.Upper != gp.Upper || wp.StaleAccepts != gp.StaleAccepts {
				t.Errorf("pair (%d,%d): rebuilt %+v, drill %+v", c, tok, gp, wp)
			}
		}
	}
	if p := got.Components[0].Pairs[1]; p.Recalled != ms(1011) || p.State != drill.PairConverged {
		t.Errorf("push pair 1: %s from %v, want converged from its own 1.011s", p.State, p.Recalled)
	}
	d := rb.Report.Components[0].Delivery
	if d == nil || d.Stream != "s1" || d.Method != "push" || d.Events != victims || d.Retried != 1 || d.DeliveredMS != want.Components[0].Delivery.DeliveredMS ||
		d.EnforcementMS != want.Components[0].Delivery.EnforcementMS {
		t.Errorf("push delivery rebuilt %+v, drill %+v", d, want.Components[0].Delivery)
	}
	if rb.Report.Components[1].Delivery != nil {
		t.Errorf("svc: delivery %+v, want none", rb.Report.Components[1].Delivery)
	}
}

// TestRebuiltFindingsFromCutJournal: a journal cut before its end (a kill while observing)
// still gives the findings its events hold, as the drill's finish would have made them: a
// recall that failed (from the acknowledgements), one acknowledged but still active at the
// source (from the confirmation), victims never accepted (from the pairs), and a component
// answering nothing but errors after the recall (from the counters' load counts),
// each critical one marked as failing the verdict, which stays ERROR.
func TestRebuiltFindingsFromCutJournal(t *testing.T) {
	t.Parallel()
	const victims = 4
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Record(drill.Event{Kind: drill.EventHeader, Wall: time.Now(), Report: &report.Report{Recall: report.Recall{Credentials: victims}}})
	ts := &drill.TrackerSummary{Components: []string{"a", "b"}, Kinds: []string{"gateway", "gateway"}, Victims: victims,
		MaxLagNS: int64(100 * time.Millisecond), SampleSize: -1, Rate: 100, DurationNS: int64(10 * time.Second)}
	w.Record(drill.Event{Kind: drill.EventTraffic, Wall: time.Now(), Tracker: ts})
	tr := drill.NewTracker(drill.TrackerConfig{Components: ts.Components, Victims: victims, MaxLag: 100 * time.Millisecond,
		OnPair: func(s drill.PairSnapshot) { w.Record(drill.Event{Kind: drill.EventPair, Pair: &s}) }})
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	for s := ms(0); s < 3*time.Second; s += ms(50) {
		if s == time.Second {
			tr.SetTrigger(s)
			w.Record(drill.Event{Kind: drill.EventTrigger, AtNS: int64(s)})
			for v := range victims {
				ev := &drill.AckEvent{Token: v, FP: "fp", SentNS: int64(s), AckedNS: int64(s + ms(5))}
				if v == 3 {
					ev.AckedNS, ev.Err = 0, "revoke: 503 Service Unavailable"
				} else {
					tr.Recalled(v, s, s+ms(5))
				}
				w.Record(drill.Event{Kind: drill.EventAck, Ack: ev})
			}
		}
		for tok := range victims {
			out := drill.Accept
			if s >= ms(1200) {
				out = drill.Reject
			}
			if tok == 0 && s < time.Second {
				out = drill.Error // victim 0 is never seen accepted at a before the recall
			}
			tr.Observe(drill.Observation{Component: 0, Token: tok, Sent: s, Latency: time.Millisecond, Outcome: out})
			if s < time.Second {
				tr.Observe(drill.Observation{Component: 1, Token: tok, Sent: s, Latency: time.Millisecond, Outcome: drill.Accept})
			} else {
				tr.Observe(drill.Observation{Component: 1, Token: tok, Sent: s, Latency: time.Millisecond, Outcome: drill.Error})
			}
		}
	}
	// Victim 2's recall was acknowledged, yet the issuer still reports it active.
	w.Record(drill.Event{Kind: drill.EventConfirm, AtNS: int64(2 * time.Second),
		Recall: &report.Recall{Credentials: victims, Confirmed: 2, Ineffective: 1, IneffectiveTokens: []string{"fp-2"}}})
	k := tr.Counters()
	load := []drill.LoadCounters{{Chosen: 240, Probes: [2]int64{80, 160}, Errors: [2]int64{20, 0}}, {Chosen: 240, Probes: [2]int64{80, 160}, Errors: [2]int64{0, 160}}}
	w.Record(drill.Event{Kind: drill.EventCounters, AtNS: int64(3 * time.Second), Counters: &k, Load: load})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rb, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rb.Report
	if !r.Incomplete || r.Verdict != report.Error {
		t.Errorf("incomplete %v, verdict %s; want incomplete, ERROR", r.Incomplete, r.Verdict)
	}
	by := map[string]report.Finding{}
	for _, f := range r.Findings {
		by[f.Kind+"@"+f.Component] = f
	}
	if f, ok := by["recall_failed@"]; !ok || f.Count != 1 || !f.FailsDrill || !strings.Contains(f.Message, "503 Service Unavailable") {
		t.Errorf("recall_failed: %+v (found %v); findings %+v", f, ok, r.Findings)
	}
	if f, ok := by["ineffective_recall@"]; !ok || f.Count != 1 || !f.FailsDrill || !slices.Equal(f.Tokens, []string{"fp-2"}) {
		t.Errorf("ineffective_recall: %+v (found %v); findings %+v", f, ok, r.Findings)
	}
	if r.Recall.Confirmed != 2 || r.Recall.Ineffective != 1 {
		t.Errorf("recall rebuilt %d confirmed, %d ineffective; want 2 and 1", r.Recall.Confirmed, r.Recall.Ineffective)
	}
	if f, ok := by["never_accepted@"]; !ok || f.Count != 1 || f.FailsDrill {
		t.Errorf("never_accepted: %+v (found %v); findings %+v", f, ok, r.Findings)
	}
	if f, ok := by["unavailable@b"]; !ok || !f.FailsVerdict() || !strings.Contains(f.Message, "100% of its 160 probes after the recall") {
		t.Errorf("unavailable at b: %+v (found %v); findings %+v", f, ok, r.Findings)
	}
	if _, ok := by["unavailable@a"]; ok {
		t.Errorf("a (25%% errors before the recall) reported unavailable: %+v", r.Findings)
	}
	if c := r.Components[1]; c.ErrorShareAfterRecall != 1 || c.RatePerSec != 80 {
		t.Errorf("b's load figures: error share after the recall %v, rate %v/s; want 1 and 80/s", c.ErrorShareAfterRecall, c.RatePerSec)
	}
	if slices.Contains(r.Missing, report.MissingLoad) {
		t.Errorf("missing %v lists the load, which the counters journaled", r.Missing)
	}
}

// TestFlushBounded: a pair line, which is buffered, reaches the file without Close, within a
// bounded time (FlushInterval, with slack for a loaded machine), so a kill loses at most the
// last interval of them; a phase line reaches it at once.
func TestFlushBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Record(drill.Event{Kind: drill.EventPhase, Phase: drill.PhaseBaseline})
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"phase":"baseline"`) {
		t.Errorf("a phase line is not on disk at once: %q", b)
	}
	began := time.Now()
	w.Record(drill.Event{Kind: drill.EventPair, Pair: &drill.PairSnapshot{C: 0, Token: 7, Accepts: 3}})
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), `"t":7`) {
			t.Logf("pair line on disk after %s (FlushInterval %s)", time.Since(began).Round(time.Millisecond), FlushInterval)
			return
		}
		if time.Since(began) > 20*FlushInterval {
			t.Fatalf("a pair line is not on disk %s after it was recorded (FlushInterval %s)", time.Since(began).Round(time.Millisecond), FlushInterval)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
