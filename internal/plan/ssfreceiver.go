package plan

import (
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/ssf"
)

// ssfReceiver resolves recall.ssf_receiver (validated by Load): short event names become the
// CAEP and RISC event type URIs (default: every one), push and poll the SSF delivery methods.
func ssfReceiver(s *scenario.Scenario) *drill.SSFReceiverSpec {
	r := s.Recall.SSFReceiver
	if r == nil {
		return nil
	}
	spec := &drill.SSFReceiverSpec{Transmitter: r.Transmitter, Metadata: r.Metadata, Token: r.Token,
		Delivery: ssf.MethodPush, PollInterval: r.PollInterval, Wait: r.Wait}
	if r.Verify != nil {
		spec.Verify = *r.Verify
	}
	if r.Delivery == scenario.SSFDeliveryPoll {
		spec.Delivery = ssf.MethodPoll
	}
	events := r.Events
	if len(events) == 0 {
		events = params.SSFEvents
	}
	for _, e := range events {
		if uri, ok := ssf.EventTypes[e]; ok {
			spec.Events = append(spec.Events, uri)
		} else {
			spec.Events = append(spec.Events, e)
		}
	}
	return spec
}
