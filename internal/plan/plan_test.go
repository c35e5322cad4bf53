package plan

import (
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/internal/scenario"
)

// TestLoadRegistryChecks loads one testdata/invalid-<name>.yaml per defect found by a
// registry's check (not by scenario's own validation) and compares the whole error.
func TestLoadRegistryChecks(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"external-url", "testdata/invalid-external-url.yaml:6:7: system.components[1].url: required with runtime external: where edge-push is reached, e.g. https://staging.example.com"},
		{"user-component-embedded", "testdata/invalid-user-component-embedded.yaml:6:7: system.components[2].url: required: runtime embedded starts only reference components (use: reference/...) and probes your own at their url; give the url where my-api runs, or use runtime docker with an image"},
		{"command-action", "testdata/invalid-command-action.yaml:13:15: recall.with.run: want a non-empty list like [\"sh\", \"-c\", \"...\"], got \"revoke-all.sh\""},
		{"http-action", "testdata/invalid-http-action.yaml:13:3: recall.with.url: required\ntestdata/invalid-http-action.yaml:13:18: recall.with.method: unknown method \"FETCH\" (have: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)\ntestdata/invalid-http-action.yaml:13:38: recall.with.headers.X: want a string, got 1"},
		{"mode-not-tokens", "testdata/invalid-mode-not-tokens.yaml:13:9: recall.mode: only for revoke-tokens (action is revoke-users)"},
		{"mode", "testdata/invalid-mode.yaml:12:9: recall.mode: unknown mode \"parallel\" (have: batch, rfc7009)"},
		{"no-issuer", "testdata/invalid-no-issuer.yaml:3:3: system.components: recall.action revoke-tokens needs a component of kind issuer (have none); add {name: issuer, kind: issuer, use: reference/issuer}"},
		{"ssf-no-transmitter", "testdata/invalid-ssf-no-transmitter.yaml:3:3: system.components: recall.action ssf-event needs the drill's transmitter: add {name: ssf, use: reference/ssf} and gateways or services with strategy: ssf\ntestdata/invalid-ssf-no-transmitter.yaml:5:95: system.components[1].with.delivery: unknown delivery \"pull\" (have: push, poll)\ntestdata/invalid-ssf-no-transmitter.yaml:12:17: recall.with.event: unknown event \"session-ended\" (have: session-revoked, credential-change, token-claims-change, credential-compromise, account-disabled, sessions-revoked)"},
		{"ssf-transmitter", "testdata/invalid-ssf-transmitter.yaml:6:98: system.components[2].with.transmitter: no reference/ssf component \"issuer\" (have: ssf, ssf-2)"},
		{"ssf-service", "testdata/invalid-ssf-service.yaml:6:94: system.components[2].with.delivery: unknown delivery \"pull\" (have: push, poll)\ntestdata/invalid-ssf-service.yaml:7:96: system.components[3].with.transmitter: no reference/ssf component \"issuer\" (have: ssf)\ntestdata/invalid-ssf-service.yaml:8:96: system.components[4].with.delivery: delivery applies only to strategy ssf (strategy is poll)"},
		{"user-component-image", "testdata/invalid-user-component-image.yaml:7:7: system.components[2].image: required: runtime docker needs an image for my-api (or a url if it already runs somewhere)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("testdata/invalid-"+tc.name+".yaml", scenario.WithLookupEnv(func(string) (string, bool) { return "", false }))
			if err == nil {
				t.Fatalf("Load succeeded, want %s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// TestLoadSSFServiceReceivers: reference services of strategy ssf (push and poll) are the
// transmitter's receivers, as gateways are: the scenario, whose only receivers they are, loads
// and builds (cmd/recall's TestSSFServiceScenario runs it).
func TestLoadSSFServiceReceivers(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/ssf-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(s, Options{}); err != nil {
		t.Fatal(err)
	}
}

const minimal = `name: base
system:
  runtime: embedded
  components:
    - {name: issuer, kind: issuer, use: reference/issuer}
    - {name: edge-push, kind: gateway, use: reference/gateway, with: {strategy: push}}
traffic:
  rate: 1000/s
  duration: 40s
recall:
  at: 15s
`

// TestBuildUnknownRuntime: a runtime name that no registration knows (run --runtime sets it
// after Load) is an error naming the known ones, at system.runtime, not the embedded runtime.
func TestBuildUnknownRuntime(t *testing.T) {
	t.Parallel()
	s, err := Parse("s.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	s.System.Runtime = "dokcer"
	p, err := Build(s, Options{})
	want := `s.yaml:3:12: system.runtime: unknown runtime "dokcer" (have: ` + strings.Join(runtime.Names(), ", ") + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("Build error = %v, want %s", err, want)
	}
	if p != nil && p.Env != nil {
		t.Errorf("Build built an environment (%T) for an unknown runtime", p.Env)
	}
}

// TestBuildPositionsErrors: an error found while planning (here an unknown fault kind slipped
// past Load, as a plan built by hand could) still carries file:line:col.
func TestBuildPositionsErrors(t *testing.T) {
	t.Parallel()
	src := minimal + "faults:\n  - {fault: pause, target: edge-push, at: 10s, for: 2s}\n"
	s, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s.Faults[0].Fault = "freeze"
	_, err = Build(s, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), `f.yaml:13:13: faults[0].fault: unknown fault "freeze"`) {
		t.Fatalf("Build error = %v, want it at f.yaml:13:13", err)
	}
}

// TestBuildMinimal plans a valid scenario without error and with the registered runtime.
func TestBuildMinimal(t *testing.T) {
	t.Parallel()
	s, err := Parse("s.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Env.(*embedded.Env); !ok {
		t.Errorf("Env = %T, want *embedded.Env", p.Env)
	}
	if p.Issuer != "issuer" || len(p.Components) != 2 || p.Components[1].Probe == nil {
		t.Errorf("plan = issuer %q, %d components, want issuer and a probed edge-push", p.Issuer, len(p.Components))
	}
}
