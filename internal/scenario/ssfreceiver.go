package scenario

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/params"
)

// Defaults of recall.ssf_receiver.
const (
	DefaultSSFMetadata     = "/.well-known/ssf-configuration"
	DefaultSSFPollInterval = 100 * time.Millisecond
	DefaultSSFWait         = 2 * time.Second
	DefaultSSFVerify       = 10 * time.Second
	// MaxSSFWait bounds recall.ssf_receiver.wait.
	MaxSSFWait = 5 * time.Minute
)

func (l *loader) ssfReceiverDefaults(s *Scenario) {
	r := s.Recall.SSFReceiver
	if r == nil {
		return
	}
	if r.Transmitter == "" {
		r.Transmitter = s.Tokens.Issuer
	}
	if r.Metadata == "" {
		r.Metadata = DefaultSSFMetadata
	}
	if r.Delivery == "" {
		r.Delivery = SSFDeliveryPush
	}
	if r.PollInterval == 0 && r.Delivery == SSFDeliveryPoll {
		r.PollInterval = DefaultSSFPollInterval
	}
	if !l.has("recall.ssf_receiver.wait") {
		r.Wait = DefaultSSFWait
	}
	if r.Verify == nil {
		v := DefaultSSFVerify
		r.Verify = &v
	}
}

// validateSSFReceiver checks recall.ssf_receiver, each error at its key.
func (l *loader) validateSSFReceiver(s *Scenario) {
	r := s.Recall.SSFReceiver
	if r == nil {
		return
	}
	const p = "recall.ssf_receiver"
	switch {
	case r.Transmitter == "":
		l.fail(p+".transmitter", "required: no issuer to default to; name the component that runs the transmitter (have: %s)", names(s))
	case !slices.ContainsFunc(s.System.Components, func(c Component) bool { return c.Name == r.Transmitter }):
		l.fail(p+".transmitter", "unknown component %q (have: %s)", r.Transmitter, names(s))
	}
	if strings.HasPrefix(r.Metadata, "/") {
		if strings.ContainsAny(r.Metadata, "?#") {
			l.fail(p+".metadata", "path %q: want a path with no query or fragment (SSF 1.0 §7.2)", r.Metadata)
		}
	} else if u, err := url.Parse(r.Metadata); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(p+".metadata", "%q: want an http(s) URL or a path on the transmitter's endpoint, e.g. %s", shownURL(r.Metadata), DefaultSSFMetadata)
	}
	switch n := l.nodeFor(p + ".token"); {
	case !l.has(p + ".token"):
		l.fail(p, "token: required: the bearer token of the transmitter's stream management API, as ${VAR}")
	case r.Token == "":
		l.fail(p+".token", "must not be empty")
	case n != nil && !l.expanded[n]:
		l.fail(p+".token", "write the bearer token as ${VAR}: the scenario's text is copied into the report")
	}
	if r.Delivery != SSFDeliveryPush && r.Delivery != SSFDeliveryPoll {
		l.fail(p+".delivery", "unknown delivery %q (have: %s, %s)", r.Delivery, SSFDeliveryPush, SSFDeliveryPoll)
	}
	for i, e := range r.Events {
		if !slices.Contains(params.SSFEvents, e) && !strings.Contains(e, ":") {
			l.fail(fmt.Sprintf("%s.events[%d]", p, i), "unknown event type %q: want a URI or one of %s", e, strings.Join(params.SSFEvents, ", "))
		}
	}
	switch {
	case l.has(p+".poll_interval") && r.Delivery != SSFDeliveryPoll:
		l.fail(p+".poll_interval", "only with delivery: poll")
	case r.PollInterval < 0 || (l.has(p+".poll_interval") && r.PollInterval == 0):
		l.fail(p+".poll_interval", "must be > 0, got %s", r.PollInterval)
	}
	switch {
	case r.Wait < 0:
		l.fail(p+".wait", "must be >= 0, got %s", r.Wait)
	case r.Wait > MaxSSFWait:
		l.fail(p+".wait", "%s is more than %s", r.Wait, MaxSSFWait)
	}
	switch v := r.Verify; {
	case v == nil:
	case *v < 0:
		l.fail(p+".verify", "must be >= 0, got %s", *v)
	case *v > MaxSSFWait:
		l.fail(p+".verify", "%s is more than %s", *v, MaxSSFWait)
	}
}
