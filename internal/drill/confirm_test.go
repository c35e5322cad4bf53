package drill

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// fakeConfirmer answers per token: inactive, active for ever, or an error.
type fakeConfirmer struct {
	active map[string]bool
	fail   map[string]error
	asked  atomic.Int64
}

func (f *fakeConfirmer) Active(_ context.Context, t *Token) (bool, error) {
	f.asked.Add(1)
	if err := f.fail[t.Access.Reveal()]; err != nil {
		return false, err
	}
	return f.active[t.Access.Reveal()], nil
}

// TestConfirmOutcomes: every acknowledged credential comes out confirmed, ineffective or
// unconfirmable with its reason; none is dropped, and the reason never carries the token.
func TestConfirmOutcomes(t *testing.T) {
	t.Parallel()
	vs := victims(4) // tok-a … tok-d
	fc := &fakeConfirmer{
		active: map[string]bool{"tok-b": true},
		fail:   map[string]error{"tok-c": errors.New(`introspect: 401 Unauthorized: {"error":"invalid_client","token":"tok-c"}`)},
	}
	now := time.Now()
	d := &drill{rep: newReport(&Plan{}), prov: &source.Provider{Confirmer: fc},
		acks: []Ack{{Sent: now, Acked: now}, {Sent: now, Acked: now}, {Sent: now, Acked: now}, {Err: errors.New("not sent")}}}
	d.confirm(context.Background(), vs)
	rc := d.rep.Recall
	if rc.Confirmed != 1 || rc.Ineffective != 1 || rc.Unconfirmable != 1 {
		t.Fatalf("confirmed %d, ineffective %d, unconfirmable %d; want 1, 1, 1", rc.Confirmed, rc.Ineffective, rc.Unconfirmable)
	}
	if len(rc.IneffectiveTokens) != 1 || rc.IneffectiveTokens[0] != vs[1].ID() {
		t.Errorf("ineffective tokens %v, want [%s]", rc.IneffectiveTokens, vs[1].ID())
	}
	if len(rc.UnconfirmableTokens) != 1 || rc.UnconfirmableTokens[0].Token != vs[2].ID() ||
		!strings.Contains(rc.UnconfirmableTokens[0].Reason, "401") || strings.Contains(rc.UnconfirmableTokens[0].Reason, "tok-c") {
		t.Errorf("unconfirmable %+v: want tok-c's fingerprint and the 401, never the token", rc.UnconfirmableTokens)
	}
	var kinds []string
	for _, f := range d.rep.Findings {
		kinds = append(kinds, f.Kind)
		if f.Kind == "unconfirmable_recall" && (f.Count != 1 || !strings.Contains(f.Message, "401")) {
			t.Errorf("finding %+v", f)
		}
	}
	if !strings.Contains(strings.Join(kinds, ","), "unconfirmable_recall") {
		t.Errorf("findings %v: want unconfirmable_recall", kinds)
	}
	// No confirmer at all: every acknowledged credential is unconfirmable, saying why.
	d = &drill{rep: newReport(&Plan{}), prov: &source.Provider{}, acks: []Ack{{Acked: now}, {Acked: now}}}
	d.confirm(context.Background(), victims(2))
	if d.rep.Recall.Unconfirmable != 2 || !strings.Contains(d.rep.Recall.UnconfirmableTokens[0].Reason, "introspection") {
		t.Errorf("no confirmer: %+v", d.rep.Recall)
	}
	_ = report.Critical
}

// TestEndpointPasswordNotReported: a password in a component url's userinfo (from ${VAR}) is not
// written into environment.components[].endpoint.
func TestEndpointPasswordNotReported(t *testing.T) {
	t.Parallel()
	env, err := runtime.NewExternal([]runtime.Spec{{Name: "api", URL: "https://drill:s3cret-pw@api.example.invalid/v1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{Env: env, Components: []Component{{Name: "api", Kind: "service"}}}
	d := &drill{plan: p, rep: newReport(p)}
	if err := d.describeEnv(); err != nil {
		t.Fatal(err)
	}
	if got := d.rep.Environment.Components[0].Endpoint; strings.Contains(got, "s3cret-pw") || !strings.Contains(got, "api.example.invalid") {
		t.Errorf("endpoint %q", got)
	}
}
