package plan

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/scenario"
)

// testOnlyProbes are the probe kinds registered by this package's tests, not by the engine.
var testOnlyProbes = map[string]bool{"test-query": true}

// The test-only probe kind sends the credential in the query string of a path of its own, and
// only asks gateways. It exists only here: registering it is all it takes for scenarios to use
// it.
func init() {
	spec := params.Spec{
		{Key: "path", Type: params.String, Default: "/api/whoami", Doc: "the path asked"},
		{Key: "param", Type: params.String, Required: true, Doc: "the query parameter carrying the credential"},
	}
	drill.RegisterProbe(drill.ProbeKind{
		Name: "test-query", Doc: "the credential in the query string (test only)", Params: spec,
		Kinds: []string{scenario.KindGateway},
		New: func(p drill.ProbeParams) (*drill.Probe, error) {
			v := spec.Decode(p.Spec.With)
			path := v.String("path")
			if path == "" {
				path = "/api/whoami"
			}
			return drill.NewProbe(p.Component, p.Endpoint, http.MethodGet, path+"?"+v.String("param")+"="+drill.TokenPlaceholder,
				"", http.Header{}, "", drill.DefaultAccept, drill.DefaultReject)
		},
	})
}

func probeScenario(probe string) string {
	return `name: probe-kind
system:
  runtime: embedded
  components:
    - {name: issuer, kind: issuer, use: reference/issuer` + map[bool]string{true: ", probe: " + strings.TrimPrefix(probe, "@issuer"), false: ""}[strings.HasPrefix(probe, "@issuer")] + `}
    - {name: edge, kind: gateway, use: reference/gateway, with: {strategy: push}, probe: ` + strings.TrimPrefix(probe, "@issuer") + `}
traffic:
  rate: 100/s
  duration: 2s
recall:
  at: 1s
`
}

// TestProbeKindRegisteredInTest: a probe kind registered in this _test.go file only is accepted
// by Load, its with: keys reach its constructor through the plan, and what it builds is the
// probe the drill fills.
func TestProbeKindRegisteredInTest(t *testing.T) {
	t.Parallel()
	s, err := Parse("p.yaml", []byte(probeScenario(`{kind: test-query, with: {param: access_token}}`)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var spec *drill.ProbeSpec
	for _, c := range p.Components {
		if c.Name == "edge" {
			spec = c.Probe
		}
	}
	if spec == nil || spec.Kind != "test-query" {
		t.Fatalf("edge's probe = %+v, want kind test-query", spec)
	}
	base, _ := url.Parse("http://127.0.0.1:1")
	pr, err := drill.BuildProbe(drill.ProbeParams{Component: "edge", Endpoint: base, Spec: *spec})
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://127.0.0.1:1/api/whoami?access_token=" + drill.TokenPlaceholder; pr.URL != want {
		t.Errorf("probe URL = %q, want %q (the kind's default path and its param)", pr.URL, want)
	}
}

// TestProbeKindErrors: an unknown kind names the registered ones; a with: key the kind does not
// know, a missing required one, and a kind put on a component it cannot ask are each an error
// at their own file:line:col.
func TestProbeKindErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, probe, want string }{
		{"unknown kind", `{kind: grpc}`, `p.yaml:6:97: system.components[1].probe.kind: unknown probe kind "grpc" (have: http, test-query)`},
		{"unknown key", `{kind: test-query, with: {param: t, colour: red}}`, `p.yaml:6:134: system.components[1].probe.with.colour: unknown key "colour" for the test-query probe (valid: param, path)`},
		{"http takes no with", `{path: /api/whoami, with: {param: t}}`, `p.yaml:6:124: system.components[1].probe.with.param: unknown key "param": the http probe takes no with`},
		{"missing required", `{kind: test-query}`, `p.yaml:6:83: system.components[1].probe.with.param: required`},
		{"wrong component kind", `@issuer{kind: test-query, with: {param: t}}`, `p.yaml:5:73: system.components[0].probe.kind: a test-query probe asks components of kind gateway, not issuer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("p.yaml", []byte(probeScenario(tc.probe)))
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}
