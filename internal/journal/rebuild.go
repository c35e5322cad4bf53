package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/report"
)

// maxLine bounds one journal line (a header with a long scenario, a counters line with many
// false-reject tokens).
const maxLine = 16 << 20

// Rebuilt is a report rebuilt from a journal with the measurement it came from.
type Rebuilt struct {
	Report      *report.Report
	Measurement *drill.Measurement
	// Complete is true when the journal has its end event (the drill ended normally).
	Complete bool
	// Events counts the journal's lines read.
	Events int
}

// Read rebuilds the report from the journal at path: the header's report, filled with the
// measurement of a tracker restored from each pair's last journaled state, the last counters
// and every acknowledgement, up to the journal's last event. A journal without its end event
// (the drill was killed) gives a report marked incomplete, with verdict ERROR; a last line cut
// short by the kill is ignored.
func Read(path string) (*Rebuilt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Rebuild(f, path)
}

// Rebuild is Read from r; name is used in errors.
func Rebuild(r io.Reader, name string) (*Rebuilt, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		rep        *report.Report
		ts         *drill.TrackerSummary
		began      time.Time
		trigger    *int64
		trafficEnd *int64
		acks       []drill.AckEvent
		fps        = map[int]string{}
		pairs      = map[[2]int]drill.PairSnapshot{}
		counters   *drill.Counters
		load       []drill.LoadCounters // the last counters event's, and its instant
		loadAt     int64
		ended      string           // the end event's verdict
		endFinds   []report.Finding // the end event's findings: every finding of the drill
		confirm    *drill.Event     // the confirm event: the recall's outcomes at the source
		phase      string
		lastWall   time.Time
		lastAt     int64
		out        = &Rebuilt{}
		faults     = map[string]*report.Fault{}
		order      []string
		judged     bool         // the end event gave the drill's own judged expectations
		ssfrx      *drill.Event // recall.ssf_receiver's component and findings
	)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if len(b) > maxLine {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line, maxLine)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			if err == io.EOF {
				break
			}
			continue
		}
		var e drill.Event
		if uerr := json.Unmarshal(b, &e); uerr != nil {
			if err == io.EOF {
				break // the last line, cut short by the kill
			}
			return nil, fmt.Errorf("%s:%d: not a journal event: %v", name, line, uerr)
		}
		out.Events++
		if !e.Wall.IsZero() {
			lastWall = e.Wall
		}
		if e.AtNS > lastAt {
			lastAt = e.AtNS
		}
		switch e.Kind {
		case drill.EventHeader:
			if e.Report == nil {
				return nil, fmt.Errorf("%s:%d: header without a report", name, line)
			}
			rep = e.Report
		case drill.EventPhase:
			phase = e.Phase
		case drill.EventEnvironment:
			if rep != nil && e.Environment != nil {
				rep.Environment = *e.Environment
			}
		case drill.EventMinted:
			if rep != nil && e.Tokens != nil {
				rep.Tokens = *e.Tokens
			}
		case drill.EventTraffic:
			ts, began = e.Tracker, e.Wall
		case drill.EventTrigger:
			at := e.AtNS
			trigger = &at
		case drill.EventAck:
			if e.Ack != nil {
				acks = append(acks, *e.Ack)
				fps[e.Ack.Token] = e.Ack.FP
			}
		case drill.EventFault:
			if fe := e.Fault; fe != nil {
				rf, ok := faults[fe.Name]
				if !ok {
					rf = &report.Fault{Name: fe.Name, Fault: fe.Kind, Target: fe.Target}
					faults[fe.Name] = rf
					order = append(order, fe.Name)
				}
				switch fe.Event {
				case "inject":
					rf.StartMS = ms(e.AtNS)
				case "revert":
					rf.EndMS = ms(e.AtNS)
				}
				if fe.Err != "" {
					if rf.Error != "" {
						rf.Error += "; "
					}
					rf.Error += fe.Event + ": " + fe.Err
				}
			}
		case drill.EventPair:
			if e.Pair != nil {
				pairs[[2]int{e.Pair.C, e.Pair.Token}] = *e.Pair
			}
		case drill.EventCounters:
			counters = e.Counters
			if e.Load != nil {
				load, loadAt = e.Load, e.AtNS
			}
		case drill.EventConfirm:
			if e.Recall != nil {
				ev := e
				confirm = &ev
			}
		case drill.EventTrafficEnd:
			at := e.AtNS
			trafficEnd = &at
		case drill.EventSSFReceiver:
			if e.Component != nil {
				ev := e
				ssfrx = &ev
			}
		case drill.EventEnd:
			out.Complete = true
			ended, endFinds = e.Verdict, e.Findings
			if rep != nil {
				rep.Reason = e.Reason
				rep.Expectations, judged = append([]report.Expectation{}, e.Expectations...), true
				rep.FinishedAt = e.Wall
				rep.DurationMS = ms(int64(e.Wall.Sub(rep.StartedAt)))
			}
		}
		if err == io.EOF {
			break
		}
	}
	if rep == nil {
		return nil, fmt.Errorf("%s: no header: not a recall journal, or cut before its first line", name)
	}
	out.Report = rep
	for _, n := range order {
		rep.Faults = append(rep.Faults, *faults[n])
	}
	if !out.Complete {
		rep.Incomplete = true
		rep.JournalPhase = phase
		if !lastWall.IsZero() {
			w := lastWall
			rep.JournalEndsAt = &w
			rep.FinishedAt = w
			rep.DurationMS = ms(int64(w.Sub(rep.StartedAt)))
		}
		rep.JournalEndsAtMS = ms(lastAt)
		rep.Verdict = report.Error
		rep.Reason = fmt.Sprintf("incomplete: rebuilt from the journal, which ends in phase %s", orNone(phase))
		if ts != nil {
			rep.Reason += fmt.Sprintf(" at %s from the start of traffic", report.FormatMS(ms(lastAt)))
		}
	}
	rep.Missing = (&drill.Rebuilt{Report: rep, Load: load}).Missing()
	if ts == nil {
		b := drill.Rebuilt{Report: rep}
		if !judged {
			b.Evaluate(nil)
		}
		if out.Complete {
			rep.Findings = endFinds
		}
		b.Judge(ended)
		rep.Headline = report.Headline(rep)
		return out, nil // killed before traffic: nothing measured
	}
	tr := drill.NewTrackerFrom(ts)
	if trigger != nil {
		tr.SetTrigger(time.Duration(*trigger))
	}
	for _, a := range acks {
		if a.Err == "" {
			tr.Recalled(a.Token, time.Duration(a.SentNS), time.Duration(a.AckedNS), a.Own()...)
		}
	}
	for _, s := range pairs {
		tr.Restore(s)
	}
	var probes int64
	if counters != nil {
		tr.RestoreCounters(*counters)
		probes = counters.Probes
	}
	end := time.Duration(lastAt)
	if trafficEnd != nil {
		end = time.Duration(*trafficEnd)
	}
	m := tr.Finalize(end)
	out.Measurement = m
	b := drill.Rebuilt{Report: rep, Tracker: ts, Acks: acks, Fingerprint: func(id int) string { return fps[id] },
		Load: load, LoadAt: time.Duration(loadAt)}
	if confirm != nil {
		b.Confirmed, b.ConfirmFindings = confirm.Recall, confirm.Findings
	}
	b.Fill(m, end, probes)
	if ssfrx != nil { // after Fill, which lays the components and findings anew
		rep.Components = append(rep.Components, *ssfrx.Component)
		rep.Findings = append(rep.Findings, ssfrx.Findings...)
	}
	if out.Complete {
		// The drill's own findings, those on what the journal does not hold (recovery, fault
		// windows, confirmation) included; Fill's are what the journal alone gives.
		rep.Findings = endFinds
	}
	if !judged {
		b.Evaluate(m)
	}
	b.Judge(ended)
	_ = began
	rep.Headline = report.Headline(rep)
	return out, nil
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
