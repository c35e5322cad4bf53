package expect

import (
	"math"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestEvalSSF: ssf_events_missing counts the recalled credentials without an event;
// ssf_delivery quantiles count them as +Inf (exact from the listed credentials, an upper bound
// from the distribution when the list is cut); both are undefined without an ssf-receiver.
func TestEvalSSF(t *testing.T) {
	at := func(v float64) *float64 { return &v }
	creds := []report.SSFCredential{
		{AcknowledgedAtMS: 100, DeliveredAtMS: at(110)},
		{AcknowledgedAtMS: 100, DeliveredAtMS: at(130)},
		{AcknowledgedAtMS: 100, DeliveredAtMS: at(400)},
		{AcknowledgedAtMS: 100},
	}
	full := &report.SSFReceiver{Recalled: 4, WithEvent: 3, WithoutEvent: 1, Credentials: creds,
		AckToDeliveredMS: &report.Latency{Count: 3, P50: 30, P90: 300, P99: 300, Max: 300}}
	cut := *full
	cut.Credentials = creds[:2]
	rep := func(f *report.SSFReceiver) *report.Report {
		return &report.Report{Components: []report.Component{{Name: "edge"}, {Name: report.KindSSFReceiver, Kind: report.KindSSFReceiver, SSFReceiver: f}}}
	}
	for _, tc := range []struct {
		expr string
		f    *report.SSFReceiver
		pass bool
		obs  float64 // NaN: no value (undefined or +Inf)
	}{
		{"ssf_events_missing == 1", full, true, 1},
		{"ssf_events_missing == 0", full, false, 1},
		{"ssf_delivery.p50 <= 30ms", full, true, 30},
		{"ssf_delivery.p50 < 30ms", full, false, 30},
		{"ssf_delivery.p90 < 1h", full, false, math.NaN()}, // rank 4 of 4: the credential without an event
		// rank 2 of 4 is the 67th percentile of the 3 with an event: read from their p90
		{"ssf_delivery.p50 <= 300ms", &cut, true, 300},
		{"ssf_delivery.p50 < 300ms", &cut, false, 300},
		{"ssf_delivery.max < 1h", &cut, false, math.NaN()},
		{"ssf_events_missing == 0", nil, false, math.NaN()},
	} {
		r := rep(tc.f)
		if tc.f == nil {
			r.Components = r.Components[:1]
		}
		got := MustParse(tc.expr).Eval(ReportEnv(r))
		if got.Pass != tc.pass {
			t.Errorf("%s: pass %v (%s %s), want %v", tc.expr, got.Pass, got.ObservedText, got.Message, tc.pass)
		}
		switch {
		case math.IsNaN(tc.obs) && got.Observed != nil:
			t.Errorf("%s: observed %v, want none", tc.expr, *got.Observed)
		case !math.IsNaN(tc.obs) && (got.Observed == nil || *got.Observed != tc.obs):
			t.Errorf("%s: observed %v (%s), want %v", tc.expr, got.Observed, got.ObservedText, tc.obs)
		}
	}
}
