package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	"github.com/recall-drills/recall/report"
)

// issuedBeforeGateways are the gateways of scenarios/issued-before.yaml.
var issuedBeforeGateways = []string{"edge-push", "edge-poll", "edge-introspect"}

// TestIssuedBeforeScenario runs scenarios/issued-before.yaml: every victim (issued before T)
// dies at every gateway, confirmed at the issuer, within the gateway's known bound and at the
// instant it recorded, and no control (issued from T on, some within T's second) is rejected.
func TestIssuedBeforeScenario(t *testing.T) {
	checkIssuedBefore(t, passingDrill(t, "issued-before.yaml"))
}

// TestIssuedBeforeScenarioDocker: the same scenario in containers.
func TestIssuedBeforeScenarioDocker(t *testing.T) {
	checkIssuedBefore(t, passingDrill(t, "issued-before.yaml", dockerRuntime...))
}

func checkIssuedBefore(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, "revoke-issued-before", 200)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: controls issued at or after T were recalled", rep.Overall.FalseRejects)
	}
	for _, c := range checkConverged(t, rep, 150, issuedBeforeGateways...) {
		checkGroundTruth(t, c)
		checkWithinBound(t, c, gatewayBounds[c.Name])
	}
}

// TestIssuedBeforeScenarioFindsBoundaryBug: the same scenario against an issuer that compares
// iat <= T (issued_before_bound: inclusive) fails on false rejects: the controls minted within
// T's second were recalled with the victims.
func TestIssuedBeforeScenarioFindsBoundaryBug(t *testing.T) {
	checkBoundaryBug(t, failingDrill(t, "issued-before.yaml", []string{"false_rejects == 0"}, inclusiveIssuer))
}

// TestIssuedBeforeScenarioFindsBoundaryBugDocker: the same in containers (the issuer's
// -issued-before-inclusive flag).
func TestIssuedBeforeScenarioFindsBoundaryBugDocker(t *testing.T) {
	checkBoundaryBug(t, failingDrill(t, "issued-before.yaml", []string{"false_rejects == 0"}, append([]string{inclusiveIssuer}, dockerRuntime...)...))
}

// inclusiveIssuer plants the same-second boundary bug in the scenario's issuer.
const inclusiveIssuer = "--set=system.components[issuer].with.issued_before_bound=inclusive"

func checkBoundaryBug(t *testing.T, rep *report.Report) {
	t.Helper()
	for _, name := range issuedBeforeGateways {
		if c := component(t, rep, name); c.FalseRejects == 0 {
			t.Errorf("%s: no false rejects", name)
		}
	}
}

// TestIssuedBeforeThroughHTTPAction drills the same recall the way a provider that is not ours
// is drilled: runtime external, and an http action on the provider's "not before" admin call
// with T as {{issued_before}} (here the reference issuer's admin recall, posted by the
// scenario, not by a recall action that knows it). T is the second after the victims' last iat
// and the controls are minted from T on, the first within T's second, as for
// revoke-issued-before: against the correct issuer every victim dies and no control does;
// against the issuer with the same-second bug (iat <= T) the controls of T's second die too,
// false rejects that fail the drill.
func TestIssuedBeforeThroughHTTPAction(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 5 s drills")
	}
	const admin = "issued-before-admin-secret"
	t.Setenv("RECALL_TEST_ADMIN", admin)
	for _, bound := range []string{"exclusive", "inclusive"} {
		t.Run(bound, func(t *testing.T) {
			stack, err := embedded.New([]runtime.Spec{
				{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer, With: map[string]any{"issued_before_bound": bound}},
				{Name: "push", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "push"}},
			}, runtime.Secrets{AdminSecret: admin, GatewayID: "gw", GatewaySecret: "gw-secret"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := stack.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer stack.Close(ctx)
			iss, _ := stack.Endpoint("issuer")
			gw, _ := stack.Endpoint("push")
			scenario := `name: issued-before-http
system:
  runtime: external
  components:
    - {name: issuer, kind: issuer, use: reference/issuer, url: "` + iss.String() + `", with: {admin_secret: "${RECALL_TEST_ADMIN}"}, wait: {http: /healthz}}
    - {name: edge, kind: gateway, url: "` + gw.String() + `", probe: {path: /api/whoami}}
tokens: {victims: 30, controls: 20}
traffic: {rate: 300/s, duration: 5s, settle: 10s}
recall:
  at: 2s
  wait_for_baseline: 10s
  action: http
  with:
    url: "` + iss.String() + `/admin/recalls"
    headers: {Authorization: "Bearer ${RECALL_TEST_ADMIN}", Content-Type: application/json}
    body: '{"type": "issued_before", "before": "{{issued_before}}"}'
expect:
  - false_rejects == 0
  - not_converged == 0
`
			path := filepath.Join(t.TempDir(), "issued-before-http.yaml")
			if err := os.WriteFile(path, []byte(scenario), 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			code, stdout, stderr := runMain("run", "--out", out, "--no-html", "--quiet", path)
			rep, err := report.Read(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatalf("exit %d, no report: %v\n%s\n%s", code, err, stdout, lastLines(stderr, 20))
			}
			if rep.Recall.Action != "http" || rep.Recall.Acknowledged != 30 || rep.Recall.Failed != 0 {
				t.Fatalf("recall %+v (%s): want all 30 acknowledged\n%s", rep.Recall, rep.Reason, lastLines(stderr, 20))
			}
			if b, _ := os.ReadFile(filepath.Join(out, "report.json")); bytesContains(b, admin) || bytesContains([]byte(stderr+stdout), admin) {
				t.Error("the admin secret leaked into the report or the logs")
			}
			edge := component(t, rep, "edge")
			t.Logf("%s: exit %d, %d of %d pairs converged, %d false rejects", bound, code, edge.Converged, edge.Pairs, edge.FalseRejects)
			if edge.Pairs < 25 || edge.Converged != edge.Pairs {
				t.Errorf("edge: %d of %d pairs converged; want every victim (issued before T) dead", edge.Converged, edge.Pairs)
			}
			if bound == "exclusive" {
				if code != exitPass || edge.FalseRejects != 0 {
					t.Errorf("exit %d, %d false rejects: controls issued from T on were recalled\n%s", code, edge.FalseRejects, lastLines(stderr, 20))
				}
				return
			}
			if code != exitFail || edge.FalseRejects == 0 || len(findings(rep, "false_reject", "edge")) != 1 {
				t.Errorf("exit %d, %d false rejects: the same-second boundary bug went unseen", code, edge.FalseRejects)
			}
		})
	}
}
