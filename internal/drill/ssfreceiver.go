package drill

// This file is recall.ssf_receiver: recall subscribed, as an OpenID Shared Signals Event
// Receiver, to a transmitter of the system under test, and the report component of kind
// ssf-receiver that says, per recalled credential, recall acknowledged → event issued → event
// delivered to recall. It needs nothing of the provider but its transmitter's standard API, so
// it works against providers recall did not write (runtime external).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/report"
)

// SSFReceiverSpec is recall.ssf_receiver resolved: see scenario.SSFReceiver.
type SSFReceiverSpec struct {
	// Transmitter is the component running the transmitter; Metadata, when a path, is read at
	// its endpoint, otherwise it is the metadata's URL.
	Transmitter string
	Metadata    string
	// Token is the bearer token of the stream management API.
	Token string
	// Delivery is ssf.MethodPush or ssf.MethodPoll; Events the event type URIs requested.
	Delivery     string
	Events       []string
	PollInterval time.Duration
	// Wait is how long after traffic the drill still waits for recalled credentials' events.
	Wait time.Duration
	// Verify, when positive, is how long the subscription waits for the verification event it
	// asks for (SSF 1.0 §8.1.4) before the drill starts.
	Verify time.Duration
}

// ssfReceiver is the running subscription.
type ssfReceiver struct {
	spec     SSFReceiverSpec
	metadata string
	sub      *ssf.Subscriber
}

// subscribeSSF creates the drill's stream at the transmitter, before any credential exists, so
// that no event of the recall can be missed.
func (d *drill) subscribeSSF(ctx context.Context) error {
	spec := d.plan.SSFReceiver
	if spec == nil {
		return nil
	}
	redact.Global.Add(spec.Token)
	mdURL := spec.Metadata
	if strings.HasPrefix(mdURL, "/") {
		ep, err := d.plan.Env.Endpoint(spec.Transmitter)
		if err != nil {
			return fmt.Errorf("ssf receiver: transmitter %s: %w", spec.Transmitter, err)
		}
		u := *ep
		u.Path = strings.TrimSuffix(u.Path, "/") + mdURL
		u.RawQuery = ""
		mdURL = u.String()
	} else if _, err := url.Parse(mdURL); err != nil {
		return fmt.Errorf("ssf receiver: metadata %q: %w", mdURL, err)
	}
	sub, err := ssf.Subscribe(ctx, ssf.SubscriberConfig{ConfigURL: mdURL, Token: spec.Token, Delivery: spec.Delivery,
		Events: spec.Events, PollInterval: spec.PollInterval, Verify: spec.Verify, Description: "recall drill " + d.plan.DrillID})
	if err != nil {
		return err
	}
	d.ssfrx = &ssfReceiver{spec: *spec, metadata: mdURL, sub: sub}
	d.log.Info("subscribed to the transmitter as an SSF receiver", "transmitter", spec.Transmitter, "issuer", sub.Metadata().Issuer,
		"stream", sub.Stream().ID, "delivery", spec.Delivery, "events", sub.Stream().EventsDelivered)
	return nil
}

// closeSSF waits, at most spec.Wait and only if ctx has not ended, for the events of recalled
// credentials that have none yet, adds the ssf-receiver component to the report, and deletes
// the stream (on a fresh context: also when the drill was interrupted).
func (d *drill) closeSSF(ctx context.Context) {
	rx := d.ssfrx
	if rx == nil {
		return
	}
	victims := d.recalledVictims()
	if len(victims) > 0 && ctx.Err() == nil {
		deadline := time.Now().Add(rx.spec.Wait)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if _, missing := d.matchSSF(rx.sub.Received(), victims); missing == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	delErr := rx.sub.Close(cctx)
	if delErr != nil {
		d.log.Warn("ssf receiver: deleting the stream failed", "stream", rx.sub.Stream().ID, "err", delErr)
	}
	if d.rep == nil || d.tokens == nil || d.acks == nil {
		return
	}
	c := d.ssfComponent(rx, victims, delErr)
	d.rep.Components = append(d.rep.Components, c)
	var findings []report.Finding
	defer func() {
		d.rep.Findings = append(d.rep.Findings, findings...)
		d.record(Event{Kind: EventSSFReceiver, AtNS: d.offset(), Component: &c, Findings: findings})
	}()
	if f := c.SSFReceiver; f.WithoutEvent > 0 {
		var fps []string
		for _, cr := range f.Credentials {
			if cr.DeliveredAtMS == nil && len(fps) < maxListed {
				fps = append(fps, cr.Token)
			}
		}
		findings = append(findings, report.Finding{Kind: "ssf_event_missing", Severity: report.Warning,
			Component: c.Name, Count: f.WithoutEvent, Tokens: fps,
			Message: fmt.Sprintf("%d of %d recalled credentials: no valid SSF event about them reached recall's %s stream from %s by %s after traffic; a receiver of this transmitter would never hear of their recall",
				f.WithoutEvent, f.Recalled, f.Delivery, f.Transmitter, rx.spec.Wait)})
	}
	if f := c.SSFReceiver; f.Rejected > 0 {
		findings = append(findings, report.Finding{Kind: "ssf_event_rejected", Severity: report.Warning,
			Component: c.Name, Count: f.Rejected,
			Message: fmt.Sprintf("%d SETs from %s failed validation (%s)", f.Rejected, f.Transmitter, f.Reasons[0].Reason)})
	}
}

// recalledVictims are the victims whose recall was acknowledged, by index.
func (d *drill) recalledVictims() []int {
	var out []int
	for i, a := range d.acks {
		if !a.Sent.IsZero() && a.Err == nil && !a.Acked.IsZero() {
			out = append(out, i)
		}
	}
	return out
}

// ssfMatch is the first valid SET that named a victim, and how.
type ssfMatch struct {
	got    ssf.Delivered
	format string
}

// matchSSF gives each victim its first SET (in delivery order) whose subject names it, and
// counts the victims without one.
func (d *drill) matchSSF(got []ssf.Delivered, victims []int) (map[int]ssfMatch, int) {
	m, missing, _ := d.matchSSFCount(got, victims)
	return m, missing
}

// matchSSFCount is matchSSF, also counting the SETs that named no victim.
func (d *drill) matchSSFCount(got []ssf.Delivered, victims []int) (map[int]ssfMatch, int, int) {
	idx := map[string][]int{}
	add := func(k, v string, i int) {
		if v != "" {
			idx[k+"\x00"+v] = append(idx[k+"\x00"+v], i)
		}
	}
	for _, i := range victims {
		t := d.tokens[i]
		add("sub", t.Claims.Subject, i)
		add("sid", t.Claims.Session, i)
		add("jti", t.Claims.JTI, i)
		add("client", t.Claims.ClientID, i)
		if t.User != "" {
			add("email", strings.ToLower(t.User), i)
		}
		if strings.Contains(t.Claims.Subject, "@") {
			add("email", strings.ToLower(t.Claims.Subject), i)
		}
	}
	out := map[int]ssfMatch{}
	unmatched := 0
	for _, g := range got {
		named := false
		for _, hit := range subjectKeys(g.SET.SubID) {
			for _, i := range idx[hit.key] {
				named = true
				if _, ok := out[i]; !ok {
					out[i] = ssfMatch{got: g, format: hit.format}
				}
			}
		}
		if !named {
			unmatched++
		}
	}
	return out, len(victims) - len(out), unmatched
}

type subjectKey struct{ key, format string }

// subjectKeys lists what a subject identifier names, as index keys: iss_sub its sub, email its
// address, opaque its id as a sub, sid, jti or client, jwt_id its jti (RFC 9493 §3.2, SSF 1.0
// §3.5.1). A complex subject (SSF 1.0 §3.3) names its session when it has one (CAEP 1.0 §3.1:
// that session only), else its user; aliases name what each identifier names.
func subjectKeys(s ssf.Subject) []subjectKey {
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	var simple func(m map[string]any, format string) []subjectKey
	simple = func(m map[string]any, format string) []subjectKey {
		var out []subjectKey
		switch str(m, "format") {
		case ssf.FormatIssSub:
			out = append(out, subjectKey{"sub\x00" + str(m, "sub"), format})
		case ssf.FormatEmail:
			out = append(out, subjectKey{"email\x00" + strings.ToLower(str(m, "email")), format})
		case ssf.FormatOpaque:
			for _, k := range []string{"sub", "sid", "jti", "client"} {
				out = append(out, subjectKey{k + "\x00" + str(m, "id"), format})
			}
		case ssf.FormatJWTID:
			out = append(out, subjectKey{"jti\x00" + str(m, "jti"), format})
		case ssf.FormatAliases:
			ids, _ := m["identifiers"].([]any)
			for _, id := range ids {
				if im, ok := id.(map[string]any); ok {
					out = append(out, simple(im, format)...)
				}
			}
		}
		return out
	}
	m := map[string]any(s)
	if s.Format() != ssf.FormatComplex {
		return simple(m, s.Format())
	}
	member := func(k string) map[string]any {
		switch v := m[k].(type) { // decoded JSON, or a Subject built in Go
		case map[string]any:
			return v
		case ssf.Subject:
			return v
		}
		return nil
	}
	if sess := member("session"); sess != nil {
		if str(sess, "format") == ssf.FormatOpaque {
			return []subjectKey{{"sid\x00" + str(sess, "id"), ssf.FormatComplex}}
		}
		return simple(sess, ssf.FormatComplex)
	}
	if u := member("user"); u != nil {
		return simple(u, ssf.FormatComplex)
	}
	return nil
}

// ssfComponent is the report's ssf-receiver component.
func (d *drill) ssfComponent(rx *ssfReceiver, victims []int, delErr error) report.Component {
	got := rx.sub.Received()
	matches, missing, unmatched := d.matchSSFCount(got, victims)
	st := rx.sub.Stream()
	f := &report.SSFReceiver{Transmitter: rx.spec.Transmitter, Issuer: rx.sub.Metadata().Issuer, Metadata: shownMetadata(rx.metadata),
		Stream: st.ID, Delivery: deliveryName(rx.spec.Delivery), Events: st.EventsDelivered, StreamDeleted: delErr == nil,
		Received: len(got), Recalled: len(victims), WithEvent: len(matches), WithoutEvent: missing, Error: rx.sub.PollError()}
	if delErr != nil {
		f.DeleteError = redact.String(delErr.Error(), rx.spec.Token)
	}
	if took, ok := rx.sub.Verified(); ok {
		f.VerificationMS = ptrTo(millis(took))
	}
	reasons := map[string]int{}
	for _, r := range rx.sub.Rejected() {
		f.Rejected++
		reasons[r.Code+": "+r.Description]++
	}
	for r, n := range reasons {
		f.Reasons = append(f.Reasons, report.ReasonCount{Reason: r, Count: n})
	}
	sort.Slice(f.Reasons, func(i, j int) bool {
		if f.Reasons[i].Count != f.Reasons[j].Count {
			return f.Reasons[i].Count > f.Reasons[j].Count
		}
		return f.Reasons[i].Reason < f.Reasons[j].Reason
	})
	f.Reasons = f.Reasons[:min(len(f.Reasons), 20)]
	f.Unmatched = unmatched
	var ackIss, ackDel, issDel []float64
	for _, i := range victims {
		ack := millis(d.acks[i].Acked.Sub(d.began))
		c := report.SSFCredential{Token: d.tokens[i].Access.Fingerprint(), AcknowledgedAtMS: ack}
		if m, ok := matches[i]; ok {
			iat, _ := d.sinceBegan(m.got.SET.IssuedAt)
			del := millis(m.got.At.Sub(d.began))
			c.IssuedAtMS, c.DeliveredAtMS = ptrTo(millis(iat)), ptrTo(del)
			issued := millis(iat)
			if ts, ok := eventTimestamp(m.got.SET.Event); ok {
				at, _ := d.sinceBegan(ts)
				c.EventTimestampMS = ptrTo(millis(at))
				issued = millis(at)
			}
			c.JTI, c.EventType, c.Subject = m.got.SET.ID, m.got.SET.EventType, m.format
			ackIss = append(ackIss, issued-ack)
			ackDel = append(ackDel, del-ack)
			issDel = append(issDel, del-issued)
		}
		if len(f.Credentials) < report.MaxSSFCredentials {
			f.Credentials = append(f.Credentials, c)
		}
	}
	f.AckToIssuedMS, f.AckToDeliveredMS, f.IssuedToDeliveredMS = latency(ackIss), latency(ackDel), latency(issDel)
	return report.Component{Name: report.KindSSFReceiver, Kind: report.KindSSFReceiver, SSFReceiver: f}
}

// eventTimestamp is the event's event_timestamp (CAEP 1.0 §2: NumericDate), when it has one.
func eventTimestamp(ev map[string]any) (time.Time, bool) {
	var secs float64
	switch v := ev["event_timestamp"].(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		secs = f
	case float64:
		secs = v
	case int64:
		secs = float64(v)
	default:
		return time.Time{}, false
	}
	return time.Unix(0, int64(secs*1e9)), true
}

func latency(v []float64) *report.Latency {
	if len(v) == 0 {
		return nil
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return &report.Latency{Count: len(s), Min: s[0], P50: nearestRank(s, 0.5), P90: nearestRank(s, 0.9), P99: nearestRank(s, 0.99), Max: s[len(s)-1]}
}

func ptrTo[T any](v T) *T { return &v }

func deliveryName(method string) string {
	if method == ssf.MethodPoll {
		return "poll"
	}
	return "push"
}

// shownMetadata is the metadata URL without userinfo or query, which may carry credentials.
func shownMetadata(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redact.String(s)
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
