package text

import (
	"strings"
	"testing"

	"github.com/recall-drills/recall/report"
)

// TestSSFReceiverLine: the sentence names the transmitter and delivery, counts the credentials
// an event named, gives recall acknowledged → delivered, and says when SETs were rejected or
// the stream was left; nothing without the component.
func TestSSFReceiverLine(t *testing.T) {
	if got := SSFReceiverLine(&report.Report{}); got != "" {
		t.Errorf("no component: %q", got)
	}
	r := &report.Report{Components: []report.Component{{Name: "edge"}, {Name: report.KindSSFReceiver, Kind: report.KindSSFReceiver,
		SSFReceiver: &report.SSFReceiver{Transmitter: "idp", Delivery: "poll", Recalled: 40, WithEvent: 38, Rejected: 2,
			AckToDeliveredMS: &report.Latency{Count: 38, P50: 12, Max: 80}}}}}
	got := SSFReceiverLine(r)
	for _, want := range []string{"SSF receiver (idp, poll)", "38 of 40 recalled credentials", "delivered p50 12ms, max 80ms", "2 SETs rejected", "not deleted"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
