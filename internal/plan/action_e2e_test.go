package plan

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/report"
)

// testOnlyActions are the actions registered by this package's tests, not by the engine.
var testOnlyActions = map[string]bool{"test-retire-key": true}

// retireKeyCalls counts the drills that ran the test-only action.
var retireKeyCalls atomic.Int64

// The test-only action retires the key that signed the victims, through the reference
// issuer's admin API, and asks for a population whose controls are signed by a later key. It
// exists only here: registering it is all it takes for scenarios to use it.
func init() {
	drill.RegisterAction(drill.ActionKind{
		Name: "test-retire-key", Doc: "retire the victims' signing key (test only)",
		Params:      params.Spec{{Key: "reason", Type: params.String, Required: true}},
		NeedsIssuer: true,
		Population:  drill.PopulationNeeds{ExtraKey: true},
		New: func(p drill.ActionParams) (drill.Action, error) {
			reason := params.Spec{{Key: "reason", Type: params.String}}.Decode(p.With).String("reason")
			return drill.ActionFunc(func(ctx context.Context, iss drill.Issuer, victims []*drill.Token, ack drill.AckFunc) error {
				retireKeyCalls.Add(1)
				kids := map[string]bool{}
				var values []string
				for _, v := range victims {
					if !kids[v.Claims.KeyID] {
						kids[v.Claims.KeyID] = true
						values = append(values, v.Claims.KeyID)
					}
				}
				sent := time.Now()
				_, err := iss.Recaller.RecallBy(ctx, "kid", values)
				acked := time.Now()
				for i := range victims {
					ack(i, drill.Ack{Sent: sent, Acked: acked, Err: err})
				}
				p.Logger.Info("retired", "reason", reason, "keys", len(values))
				return err
			}), nil
		},
	})
}

const retireKeyScenario = `name: test-only-action
seed: 3
system:
  runtime: embedded
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge, kind: gateway, use: reference/gateway, with: {strategy: push}}
tokens:
  victims: 30
  controls: 10
  clients: 2
  recovery: 0
traffic:
  rate: 300/s
  duration: 3s
recall:
  at: 1s
  action: test-retire-key
  with: {reason: drill}
expect:
  - false_rejects == 0
`

// TestActionRegisteredInTestRunsEndToEnd registers a recall action in this _test.go file only
// and runs it in a real drill from YAML: Load accepts its name and checks its with: keys, the
// plan honours the population it asks for (controls signed by a later key, so they survive
// the key's retirement), and the drill measures it.
func TestActionRegisteredInTestRunsEndToEnd(t *testing.T) {
	t.Parallel()
	bad := strings.Replace(retireKeyScenario, "{reason: drill}", "{reasn: drill}", 1)
	want := "bad.yaml:19:3: recall.with.reason: required\n" +
		`bad.yaml:19:17: recall.with.reasn: unknown key "reasn" for the test-retire-key action (valid: reason)`
	if _, err := Parse("bad.yaml", []byte(bad)); err == nil || err.Error() != want {
		t.Errorf("a misspelt with: key of the test-only action: error = %v, want\n%s", err, want)
	}

	s, err := Parse("retire.yaml", []byte(retireKeyScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Population.RotateKeyBeforeControls {
		t.Error("the plan ignored the action's population need (ExtraKey)")
	}
	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if retireKeyCalls.Load() != 1 {
		t.Errorf("the action ran %d times, want 1", retireKeyCalls.Load())
	}
	if rep.Recall.Action != "test-retire-key" || rep.Recall.Failed != 0 {
		t.Errorf("report recall = %+v, want action test-retire-key, none failed", rep.Recall)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: the controls were signed by the retired key", rep.Overall.FalseRejects)
	}
	var edge report.Component
	for _, c := range rep.Components {
		if c.Name == "edge" {
			edge = c
		}
	}
	if edge.Converged == 0 || edge.NotConverged != 0 {
		t.Errorf("edge converged %d, not converged %d: want every measured pair converged", edge.Converged, edge.NotConverged)
	}
	if rep.Verdict != report.Pass {
		t.Errorf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
}

// TestUnknownWithKeyOnBuiltInAction: recall.with on an action that takes none was accepted and
// ignored; now every key must be known to the action.
func TestUnknownWithKeyOnBuiltInAction(t *testing.T) {
	t.Parallel()
	_, err := Parse("w.yaml", []byte(minimal+"  with: {jtis: all}\n"))
	want := `w.yaml:12:16: recall.with.jtis: unknown key "jtis" for the revoke-tokens action (valid: client, token_type_hint)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}
