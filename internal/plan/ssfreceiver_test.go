package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/journal"
	"github.com/recall-drills/recall/internal/oauth/oauthtest"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/report"
)

const ssfTestToken = "ssf-receiver-test-token-0123456789"

func ssfLookup(k string) (string, bool) {
	if k == "RECALL_SSF_TOKEN" {
		return ssfTestToken, true
	}
	return "", false
}

// keepTransmitter is the embedded environment, keeping the issuer's SSF transmitter when it
// closes, so that the test can read what it recorded.
type keepTransmitter struct {
	*embedded.Env
	tx *ssf.Transmitter
}

func (k *keepTransmitter) Close(ctx context.Context) error {
	k.tx, _ = k.Env.IssuerSSF("issuer")
	return k.Env.Close(ctx)
}

// began records the start of traffic, with its monotonic reading.
type began struct {
	mu sync.Mutex
	at time.Time
}

func (b *began) Record(e drill.Event) {
	if e.Kind == drill.EventTraffic {
		b.mu.Lock()
		b.at = e.Wall
		b.mu.Unlock()
	}
}

// TestSSFReceiverScenario runs scenarios/ssf-receiver.yaml: the reference issuer emits a CAEP
// session-revoked SET per recalled user, and recall, subscribed as its push receiver, reports
// a component ssf-receiver. The known answers, from the instants the issuer's transmitter
// recorded: every recalled credential got its user's event; each was delivered to recall
// between the transmitter starting the POST and receiving the 202; its event_timestamp is no
// later than that POST; nothing was rejected; the stream is gone at the end; the token is in no
// part of the report.
func TestSSFReceiverScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill")
	}
	s, err := Load("../../scenarios/ssf-receiver.yaml", scenario.WithLookupEnv(ssfLookup))
	if err != nil {
		t.Fatal(err)
	}
	s.Report.Dir = t.TempDir()
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &keepTransmitter{Env: p.Env.(*embedded.Env)}
	p.Env = env
	b := &began{}
	jpath := t.TempDir() + "/journal.jsonl"
	jw, err := journal.Create(jpath)
	if err != nil {
		t.Fatal(err)
	}
	p.Observer = tee{b, jw}
	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	checkJournaled(t, jw, jpath, rep)
	if rep.Verdict != report.Pass {
		t.Errorf("verdict %s: %s", rep.Verdict, rep.Headline)
	}
	var c *report.Component
	for i := range rep.Components {
		if rep.Components[i].Kind == report.KindSSFReceiver {
			c = &rep.Components[i]
		}
	}
	if c == nil || c.SSFReceiver == nil {
		t.Fatalf("no ssf-receiver component in %d components", len(rep.Components))
	}
	f := c.SSFReceiver
	if f.Recalled != 40 || f.WithEvent != 40 || f.WithoutEvent != 0 || f.Rejected != 0 || f.Unmatched != 0 || !f.StreamDeleted ||
		f.Delivery != "push" || len(f.Events) != 1 || f.Events[0] != ssf.CAEPSessionRevoked {
		t.Errorf("ssf receiver %+v: want 40 recalled credentials, each with its event, none rejected, the stream deleted", *f)
	}
	if f.VerificationMS == nil {
		t.Error("no verification at the start (SSF 1.0 §8.1.4): the default verify is 10s")
	}
	if env.tx == nil {
		t.Fatal("the issuer ran no SSF transmitter")
	}
	if st := env.tx.Streams(); len(st) != 0 {
		t.Errorf("transmitter streams after the drill: %+v, want the drill's deleted", st)
	}
	recs := map[string]ssf.Record{}
	verifications := 0
	for _, r := range env.tx.Records() {
		if r.EventType == ssf.SSFVerification {
			verifications++ // the subscription's own check at the start, not about a credential
			continue
		}
		recs[r.JTI] = r
	}
	if verifications != 1 {
		t.Errorf("%d verification events, want the one recall asked for", verifications)
	}
	if len(recs) != f.Received {
		t.Errorf("transmitter recorded %d SETs, receiver validated %d", len(recs), f.Received)
	}
	off := func(at time.Time) float64 { return float64(at.Sub(b.at)) / float64(time.Millisecond) }
	const tick = 0.001 // the report's float milliseconds against the records' nanoseconds
	for _, cr := range f.Credentials {
		r, ok := recs[cr.JTI]
		if !ok || cr.DeliveredAtMS == nil || cr.EventTimestampMS == nil {
			t.Errorf("credential %s: jti %q not recorded by the transmitter, or no instants (%+v)", cr.Token, cr.JTI, cr)
			continue
		}
		if r.Failed || r.Acked.IsZero() || cr.Subject != ssf.FormatIssSub {
			t.Errorf("credential %s: record %+v, subject %s: want acknowledged, iss_sub", cr.Token, r, cr.Subject)
		}
		if d := *cr.DeliveredAtMS; d < off(r.Sent)-tick || d > off(r.Delivered)+tick {
			t.Errorf("credential %s: delivered to recall at %.3f ms, outside the transmitter's POST [%.3f, %.3f]", cr.Token, d, off(r.Sent), off(r.Delivered))
		}
		// event_timestamp is wall-clock milliseconds taken before the POST (plus the conversion's
		// rounding to the millisecond).
		if e := *cr.EventTimestampMS; e > off(r.Sent)+1 {
			t.Errorf("credential %s: event_timestamp %.3f ms after the transmitter sent it at %.3f ms", cr.Token, e, off(r.Sent))
		}
	}
	if l := f.AckToDeliveredMS; l == nil || l.Count != 40 {
		t.Errorf("ack → delivered %+v, want 40 credentials", l)
	} else {
		t.Logf("recall acknowledged → event delivered: p50 %.1f ms, max %.1f ms; issued → delivered p50 %.1f ms",
			l.P50, l.Max, f.IssuedToDeliveredMS.P50)
	}
	for _, fd := range rep.Findings {
		if strings.HasPrefix(fd.Kind, "ssf_") {
			t.Errorf("finding %+v", fd)
		}
	}
	if b, _ := json.Marshal(rep); strings.Contains(string(b), ssfTestToken) {
		t.Error("the report holds the stream management token in clear")
	}
}

// tee records each event with every observer.
type tee []drill.Observer

func (t tee) Record(e drill.Event) {
	for _, o := range t {
		o.Record(e)
	}
}

// checkJournaled rebuilds the report from the journal at path and compares its ssf-receiver
// component and ssf findings with the drill's own.
func checkJournaled(t *testing.T, w *journal.Writer, path string, rep *report.Report) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rb, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(r *report.Report) (string, string) {
		var c, f []byte
		for _, comp := range r.Components {
			if comp.Kind == report.KindSSFReceiver {
				c, _ = json.Marshal(comp)
			}
		}
		var fs []report.Finding
		for _, fd := range r.Findings {
			if strings.HasPrefix(fd.Kind, "ssf_") {
				fs = append(fs, fd)
			}
		}
		f, _ = json.Marshal(fs)
		return string(c), string(f)
	}
	wc, wf := pick(rep)
	gc, gf := pick(rb.Report)
	if wc == "" || gc != wc || gf != wf {
		t.Errorf("rebuilt from the journal:\n component %s\n findings %s\nwant\n component %s\n findings %s", gc, gf, wc, wf)
	}
}

// TestSSFReceiverMissingEvents: the same drill with a stream of credential-compromise only,
// which the issuer never emits: every recalled credential is counted without an event, and
// the finding says so.
func TestSSFReceiverMissingEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill")
	}
	s, err := Load("../../scenarios/ssf-receiver.yaml", scenario.WithLookupEnv(ssfLookup),
		scenario.WithOverrides("recall.ssf_receiver.events[0]=credential-compromise", "recall.ssf_receiver.wait=200ms",
			"recall.ssf_receiver.delivery=poll"))
	if err != nil {
		t.Fatal(err)
	}
	s.Report.Dir = t.TempDir()
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jpath := t.TempDir() + "/journal.jsonl"
	jw, err := journal.Create(jpath)
	if err != nil {
		t.Fatal(err)
	}
	p.Observer = jw
	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	checkJournaled(t, jw, jpath, rep)
	var f *report.SSFReceiver
	for _, c := range rep.Components {
		if c.Kind == report.KindSSFReceiver {
			f = c.SSFReceiver
		}
	}
	if f == nil || f.Recalled != 40 || f.WithoutEvent != 40 || f.Received != 0 || f.Delivery != "poll" || !f.StreamDeleted {
		t.Fatalf("ssf receiver %+v: want 40 recalled credentials without an event on a poll stream", f)
	}
	var found int
	for _, fd := range rep.Findings {
		if fd.Kind == "ssf_event_missing" && fd.Count == 40 && fd.Component == report.KindSSFReceiver {
			found++
		}
	}
	if found != 1 {
		t.Errorf("findings %+v: want one ssf_event_missing of 40", rep.Findings)
	}
	// The scenario's expectations on the events fail: 40 missing, and no delivery quantile.
	failed := map[string]bool{}
	for _, e := range rep.Expectations {
		failed[e.Expr] = !e.Pass
	}
	if rep.Verdict != report.Fail || !failed["ssf_events_missing == 0"] || !failed["ssf_delivery.p99 < 2s"] || failed["false_rejects == 0"] {
		t.Errorf("verdict %s, expectations %+v: want FAIL on the two ssf expectations only", rep.Verdict, rep.Expectations)
	}
}

// revokeEmitter is a provider recall did not write: oauthtest's authorization server, with an
// internal/ssf transmitter beside it that emits a CAEP session-revoked about the client
// (an opaque subject naming its client_id) after each RFC 7009 revocation, as a provider's
// event pipeline would: after answering, in the background.
type revokeEmitter struct {
	tx    *ssf.Transmitter
	inner http.Handler
	wg    sync.WaitGroup
}

func (e *revokeEmitter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/revoke" {
		e.inner.ServeHTTP(w, r)
		return
	}
	_ = r.ParseForm()
	client, _, ok := r.BasicAuth()
	if !ok {
		client = r.PostFormValue("client_id")
	}
	e.inner.ServeHTTP(w, r)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for _, s := range e.tx.Streams() {
			_, _ = e.tx.Emit(context.Background(), s.ID, ssf.CAEPSessionRevoked, ssf.Opaque(client),
				map[string]any{"event_timestamp": time.Now().Unix()}, "")
		}
	}()
}

// TestSSFReceiverExternal: recall.ssf_receiver under runtime external, against a provider and
// a transmitter that are not the reference stack (poll delivery, metadata at the transmitter
// component's well-known path): every victim's client is named by an event, so every recalled
// credential has one; nothing is rejected; the stream is deleted; the token is nowhere in the
// report.
func TestSSFReceiverExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill")
	}
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	txSrv := httptest.NewUnstartedServer(nil)
	key, err := ssf.NewKey("idp-ssf-1")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ssf.New(ssf.Config{Issuer: "http://" + txSrv.Listener.Addr().String(), Key: key,
		Receivers: []ssf.Receiver{{Token: ssfTestToken, Audience: []string{"recall"}}}})
	if err != nil {
		t.Fatal(err)
	}
	txSrv.Config.Handler = tx.Handler()
	txSrv.Start()
	t.Cleanup(txSrv.Close)
	em := &revokeEmitter{tx: tx, inner: srv.Issuer.Config.Handler}
	srv.Issuer.Config.Handler = em
	t.Cleanup(em.wg.Wait)
	gw := oauthtest.NewGateway(srv, 500*time.Millisecond)
	t.Cleanup(gw.Close)

	env := map[string]string{"DRILL_A_SECRET": "secret-a-123", "DRILL_B_SECRET": "secret-b-456",
		"INTROSPECT_PASSWORD": srv.IntrospectPassword, "INTROSPECT_BASIC": basicValue(srv.IntrospectUser, srv.IntrospectPassword),
		"RECALL_SSF_TOKEN": ssfTestToken}
	src := fmt.Sprintf(independentScenario, srv.Issuer.URL, srv.Introspection.URL, gw.URL, independentClients,
		"  ssf_receiver:\n    transmitter: idp-ssf\n    token: ${RECALL_SSF_TOKEN}\n    delivery: poll\n    poll_interval: 20ms\n    events: [session-revoked]\n")
	src = strings.Replace(src, "    - name: gateway\n", "    - {name: idp-ssf, kind: other, url: \""+txSrv.URL+"\"}\n    - name: gateway\n", 1)
	s, err := Parse("external-ssf.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v (%s)", err, rep.Reason)
	}
	var f *report.SSFReceiver
	for _, c := range rep.Components {
		if c.Kind == report.KindSSFReceiver {
			f = c.SSFReceiver
		}
	}
	if f == nil {
		t.Fatal("no ssf-receiver component")
	}
	if f.Recalled != 20 || f.WithEvent != 20 || f.WithoutEvent != 0 || f.Rejected != 0 || f.Unmatched != 0 || !f.StreamDeleted ||
		f.Delivery != "poll" || f.Transmitter != "idp-ssf" {
		t.Errorf("ssf receiver %+v: want 20 recalled credentials each named by its client's event, by poll, the stream deleted", *f)
	}
	for _, c := range f.Credentials {
		if c.Subject != ssf.FormatOpaque || c.DeliveredAtMS == nil {
			t.Errorf("credential %+v: want an opaque subject and a delivery", c)
		}
	}
	if st := tx.Streams(); len(st) != 0 {
		t.Errorf("streams left at the transmitter: %+v", st)
	}
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), ssfTestToken) {
		t.Error("the report holds the stream management token in clear")
	}
}

// TestSSFReceiverScenarioDocker: the docker runtime's issuer image has no SSF transmitter, so
// with.ssf_token is refused at its line and column rather than ignored.
func TestSSFReceiverScenarioDocker(t *testing.T) {
	_, err := Load("../../scenarios/ssf-receiver.yaml", scenario.WithLookupEnv(ssfLookup), scenario.WithOverrides("system.runtime=docker"))
	want := "ssf-receiver.yaml:21:77: system.components[0].with.ssf_token: the docker runtime cannot make reference/issuer (component issuer) an SSF transmitter"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), ssfTestToken) {
		t.Errorf("the token is in the error: %v", err)
	}
}

// TestSSFReceiverInterrupted: a drill interrupted before its recall still deletes its stream at
// the transmitter (SSF 1.0 §8.1.1.5), and its report says the stream was deleted.
func TestSSFReceiverInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a drill")
	}
	s, err := Load("../../scenarios/ssf-receiver.yaml", scenario.WithLookupEnv(ssfLookup))
	if err != nil {
		t.Fatal(err)
	}
	s.Report.Dir = t.TempDir()
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &keepTransmitter{Env: p.Env.(*embedded.Env)}
	p.Env = env
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Observer = cancelAt{drill.PhaseBaseline, cancel} // interrupted once traffic has begun, before the recall
	rep, err := drill.Run(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("drill: %v, want interrupted", err)
	}
	if env.tx == nil {
		t.Fatal("the issuer ran no SSF transmitter")
	}
	if st := env.tx.Streams(); len(st) != 0 {
		t.Errorf("streams left at the transmitter after the interrupt: %+v", st)
	}
	for _, c := range rep.Components {
		if f := c.SSFReceiver; f != nil && (!f.StreamDeleted || f.Recalled != 0) {
			t.Errorf("ssf receiver %+v: want the stream deleted and nothing recalled", *f)
		}
	}
}

// cancelAt cancels the drill's context when it enters phase.
type cancelAt struct {
	phase  string
	cancel context.CancelFunc
}

func (c cancelAt) Record(e drill.Event) {
	if e.Kind == drill.EventPhase && e.Phase == c.phase {
		c.cancel()
	}
}
