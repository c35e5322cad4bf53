package plan

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/report"
)

// testOnlyRuntimes are the runtimes registered by this package's tests, not by the engine.
var testOnlyRuntimes = map[string]bool{"test-wrapped": true}

// wrapped is the test-only runtime's Environment: the reference stack of package embedded
// behind a type of this file that has none of that stack's capabilities (no Pauser, Killer,
// Linker, GroundTruth), so that what plan time finds on it is what this file declares. It
// records what it was given and how often it was started and closed.
type wrapped struct {
	inner          *embedded.Env
	params         runtime.Params
	starts, closes atomic.Int32
}

var _ runtime.Environment = (*wrapped)(nil)

func (w *wrapped) Start(ctx context.Context) error {
	w.starts.Add(1)
	return w.inner.Start(ctx)
}

func (w *wrapped) Endpoint(c string) (*url.URL, error) { return w.inner.Endpoint(c) }

func (w *wrapped) Close(ctx context.Context) error {
	w.closes.Add(1)
	return w.inner.Close(ctx)
}

// The test-only runtime exists only here: registering it is all it takes for scenarios to say
// system.runtime: test-wrapped. Its Check asks every component to be a reference one.
func init() {
	runtime.Register(runtime.Kind{
		Name:  "test-wrapped",
		Doc:   "the reference stack behind a wrapper with no capabilities (test only)",
		Proto: (*wrapped)(nil),
		Check: func(specs []runtime.Spec) []runtime.FieldError {
			var out []runtime.FieldError
			for i, s := range specs {
				if s.Use == "" {
					out = append(out, runtime.FieldError{Component: i, Field: "use", Msg: "required: runtime test-wrapped runs reference components only"})
				}
			}
			return out
		},
		New: func(p runtime.Params) (runtime.Environment, error) {
			inner, err := embedded.New(p.Specs, *p.Secrets, embedded.WithLogger(p.Logger), embedded.WithStartTimeout(p.StartTimeout))
			return &wrapped{inner: inner, params: p}, err
		},
	})
}

const wrappedScenario = `name: test-only-runtime
seed: 5
system:
  runtime: test-wrapped
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge, kind: gateway, use: reference/gateway, with: {strategy: push}}
tokens:
  victims: 20
  controls: 10
  clients: 2
  recovery: 0
traffic:
  rate: 200/s
  duration: 3s
recall:
  at: 1s
expect:
  - false_rejects == 0
`

// TestRuntimeRegisteredInTestRunsEndToEnd registers a runtime in this _test.go file only and
// runs a drill on it from YAML: Load accepts its name and places what its Check reports at the
// component's line, plan time refuses a fault it has no capability for, naming it, and Build
// hands its constructor the components and secrets; the drill starts it, measures the
// gateway and closes it. Nothing outside this file names it.
func TestRuntimeRegisteredInTestRunsEndToEnd(t *testing.T) {
	t.Parallel()
	if !strings.Contains(strings.Join(Registry{}.Runtimes(), " "), "test-wrapped") {
		t.Fatalf("the registry's runtimes %v lack test-wrapped", Registry{}.Runtimes())
	}

	ownComponent := strings.Replace(wrappedScenario, "tokens:", "    - {name: store, kind: cache, url: http://127.0.0.1:1}\ntokens:", 1)
	want := `own.yaml:8:7: system.components[2].use: required: runtime test-wrapped runs reference components only`
	if _, err := Parse("own.yaml", []byte(ownComponent)); err == nil || err.Error() != want {
		t.Errorf("a component the runtime's Check refuses: error = %v, want\n%s", err, want)
	}
	paused := wrappedScenario + "faults:\n  - {fault: pause, target: edge, at: 1s, for: 1s}\n"
	want = `pause: the test-wrapped runtime cannot pause a component (it is not a runtime.Pauser)`
	if _, err := Parse("pause.yaml", []byte(paused)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a pause fault on a runtime that is no Pauser: error = %v, want one containing %q", err, want)
	}

	s, err := Parse("wrapped.yaml", []byte(wrappedScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{DrillID: "wrapped-1"})
	if err != nil {
		t.Fatal(err)
	}
	w, ok := p.Env.(*wrapped)
	if !ok {
		t.Fatalf("Env = %T, want *plan.wrapped", p.Env)
	}
	if len(w.params.Specs) != 2 || w.params.Specs[1].Use != runtime.UseGateway || w.params.DrillID != "wrapped-1" ||
		w.params.Secrets == nil || w.params.Secrets.AdminSecret == "" {
		t.Errorf("the constructor was given %+v", w.params)
	}
	if w.starts.Load() != 0 {
		t.Error("Build started the runtime")
	}

	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if w.starts.Load() != 1 || w.closes.Load() == 0 {
		t.Errorf("the drill started the runtime %d times and closed it %d times, want 1 and at least 1", w.starts.Load(), w.closes.Load())
	}
	if rep.Environment.Runtime != "test-wrapped" {
		t.Errorf("report runtime = %q, want test-wrapped", rep.Environment.Runtime)
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
