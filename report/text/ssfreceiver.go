package text

import (
	"fmt"

	"github.com/recall-drills/recall/report"
)

// SSFReceiverLine returns one sentence on recall's own subscription to the system's SSF
// transmitter (a component of kind ssf-receiver), "" without one: how many recalled
// credentials an event named, recall acknowledged → event delivered, issued → delivered, and
// the SETs rejected.
func SSFReceiverLine(r *report.Report) string {
	for _, c := range r.Components {
		f := c.SSFReceiver
		if f == nil {
			continue
		}
		out := fmt.Sprintf("SSF receiver (%s, %s): %s of %s recalled credentials named by an event", oneLine(f.Transmitter), oneLine(f.Delivery),
			Count(f.WithEvent), Count(f.Recalled))
		if l := f.AckToDeliveredMS; l != nil {
			out += fmt.Sprintf("; recall acknowledged → event delivered p50 %s, max %s", report.FormatMS(l.P50), report.FormatMS(l.Max))
		}
		if l := f.IssuedToDeliveredMS; l != nil {
			out += fmt.Sprintf("; issued → delivered p50 %s (issued is the transmitter's clock, often whole seconds)", report.FormatMS(l.P50))
		}
		if f.Rejected > 0 {
			out += fmt.Sprintf("; %s SETs rejected", Count(f.Rejected))
		}
		if !f.StreamDeleted {
			out += "; its stream was not deleted"
		}
		return out + "."
	}
	return ""
}
