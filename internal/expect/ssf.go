package expect

import (
	"fmt"
	"slices"

	"github.com/recall-drills/recall/report"
)

// SSFReceivers is an optional capability of an [Env] whose drill subscribed to the system's
// SSF transmitter (recall.ssf_receiver): ssf_delivery and ssf_events_missing read its figures.
type SSFReceivers interface {
	SSFReceiver() (*report.SSFReceiver, bool)
}

// ssf evaluates ssf_events_missing and ssf_delivery. A delivery quantile counts the
// credentials without an event as +Inf; it is exact when the report lists every recalled
// credential (report.MaxSSFCredentials), otherwise it is read, as an upper bound, from the
// distribution of those with an event.
func (e Expr) ssf(env Env) observation {
	var f *report.SSFReceiver
	if r, ok := env.(SSFReceivers); ok {
		f, _ = r.SSFReceiver()
	}
	if f == nil {
		return observation{reason: "the drill has no recall.ssf_receiver", text: "n/a"}
	}
	if e.Metric == "ssf_events_missing" {
		return observation{value: float64(f.WithoutEvent), defined: true, text: fmt.Sprint(f.WithoutEvent)}
	}
	if f.Recalled == 0 {
		return observation{reason: "no credential was recalled", text: "n/a"}
	}
	q := statLevel[e.Stat]
	inf := observation{defined: true, inf: true, reason: "no event",
		text: fmt.Sprintf("no event (%d of %d credentials)", f.WithoutEvent, f.Recalled)}
	if len(f.Credentials) == f.Recalled {
		var got []float64
		for _, c := range f.Credentials {
			if c.DeliveredAtMS != nil {
				got = append(got, *c.DeliveredAtMS-c.AcknowledgedAtMS)
			}
		}
		slices.Sort(got)
		ms, ok, _ := Quantile(got, f.Recalled-len(got), q)
		if !ok {
			return inf
		}
		return durationObs(ms, 0, "")
	}
	if rank(q, f.Recalled) > f.WithEvent || f.AckToDeliveredMS == nil {
		return inf
	}
	l := f.AckToDeliveredMS
	need := float64(rank(q, f.Recalled)) / float64(f.WithEvent)
	for _, st := range []struct {
		level float64
		v     float64
	}{{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {1, l.Max}} {
		if st.level >= need-1e-9 {
			return durationObs(st.v, 0, "≤ ")
		}
	}
	return durationObs(l.Max, 0, "≤ ")
}
