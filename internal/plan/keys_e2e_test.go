package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/oauth/oauthtest"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/targets/gateway"
	"github.com/recall-drills/recall/targets/truth"
)

// keyCompromiseScenario recalls a signing key at a provider that is not the reference stack:
// the independent server signs JWT access tokens, the user's script (the command source) mints
// them and rotates the provider's key through its management API before the controls, and the
// recall is the user's own http call revoking each victim key at that API (group_by: kid). Two
// verifiers: edge-ttl, a reference jwt-only gateway on the server's JWKS with a 1 s cache, and
// edge-oidc, a service verifying with go-oidc's RemoteKeySet.
const keyCompromiseScenario = `name: independent-key-compromise
seed: 11
system:
  runtime: external
  components:
    - {name: idp, kind: issuer, url: %s}
    - {name: edge-ttl, kind: gateway, url: %s, probe: {path: /api}}
    - {name: edge-oidc, kind: gateway, url: %s, probe: {path: /api}}
tokens:
  issuer: idp
` + independentClients + `  source:
    kind: command
    with:
      run: [%q, "-test.run=^$"]
      env: {RECALL_PLAN_HELPER: oauth-tokens, TOKEN_URL: "${TOKEN_URL}", DRILL_A_SECRET: "${DRILL_A_SECRET}", DRILL_B_SECRET: "${DRILL_B_SECRET}", ROTATE_URL: "${ROTATE_URL}", ADMIN_TOKEN: "${ADMIN_TOKEN}"}
      timeout: 30s
  victims: 20
  controls: 6
  recovery: 0
traffic:
  rate: 150/s
  duration: 5s
  targets: [edge-ttl, edge-oidc]
recall:
  at: 1500ms
  action: http
  with:
    method: DELETE
    url: "%s/admin/keys/{{kid}}"
    group_by: kid
    headers: {Authorization: "Bearer ${ADMIN_TOKEN}"}
expect:
  - false_rejects == 0
  - not_converged == 0
`

// honouredEnv gives the external runtime each verifier's ground truth: the last instant it
// honoured a token.
type honouredEnv struct {
	runtime.Environment
	last map[string]func(string) (time.Time, bool)
}

func (e honouredEnv) Truth(component string) (truth.Source, bool) {
	f, ok := e.last[component]
	return tokenTruth(f), ok
}

// runKeyCompromise runs keyCompromiseScenario against a JWT-signing independent server; rotate
// false leaves ROTATE_URL empty, a script that does not rotate.
func runKeyCompromise(t *testing.T, rotate bool) (*report.Report, *oauthtest.Server, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Second
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	srv.EnableJWT("recall-api")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref, err := gateway.New(ctx, gateway.Config{Name: "edge-ttl", Strategy: gateway.JWTOnly, IssuerURL: srv.Issuer.URL, Audience: "recall-api",
		JWKSTTL: ttl, JWKSMinRefresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	var refHonoured oauthtest.Honoured
	refSrv := httptest.NewServer(refHonoured.Record(ref.Handler()))
	t.Cleanup(refSrv.Close)
	oidcGW := oauthtest.NewKeySetGateway(srv.Issuer.URL + "/jwks")
	t.Cleanup(oidcGW.Close)

	env := map[string]string{"DRILL_A_SECRET": "secret-a-123", "DRILL_B_SECRET": "secret-b-456",
		"TOKEN_URL": srv.Issuer.URL + "/oauth2/token", "ADMIN_TOKEN": srv.AdminToken, "ROTATE_URL": ""}
	if rotate {
		env["ROTATE_URL"] = srv.Issuer.URL + "/admin/keys/rotate"
	}
	src := fmt.Sprintf(keyCompromiseScenario, srv.Issuer.URL, refSrv.URL, oidcGW.URL, exe, srv.Issuer.URL)
	s, err := Parse("key-compromise.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Population.RotateKeyBeforeControls {
		t.Error("an http recall by kid did not ask for the controls signed by another key")
	}
	p.Env = honouredEnv{Environment: p.Env, last: map[string]func(string) (time.Time, bool){
		"edge-ttl": refHonoured.Last, "edge-oidc": oidcGW.LastHonoured}}
	rep, err := drill.Run(context.Background(), p)
	b, _ := json.Marshal(rep)
	for _, secret := range []string{"secret-a-123", "secret-b-456", srv.AdminToken, "eyJhbGci"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the report holds %q in clear", secret)
		}
	}
	return rep, srv, err
}

// TestDrillIndependentProviderKeyCompromise recalls a signing key at a provider that is not
// ours, verified by a library we did not write. The user's script rotates the key before the
// controls; the recall revokes the victims' one kid at the provider's API. The known answers:
// the reference verifier with a 1 s JWKS cache honours the removed key for at most 1 s plus the
// resolution, its recorded instants inside the brackets; go-oidc's RemoteKeySet, which refetches
// only on an unknown kid, honours it to the end of the drill (nothing after the recall names a
// new kid), so not one of its victim pairs converges; both accept every control, signed by the
// new key, so there is no false reject anywhere.
func TestDrillIndependentProviderKeyCompromise(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 5 s drill")
	}
	t.Parallel()
	rep, srv, err := runKeyCompromise(t, true)
	if err != nil && rep.Verdict == report.Error {
		t.Fatalf("drill: %v (%s)", err, rep.Reason)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Acknowledged != 20 {
		t.Errorf("recall %+v: want the 20 victims acknowledged by their key's revocation", rep.Recall)
	}
	// The victims' key (the first) is unpublished; the controls' (the current one) is not.
	if _, revoked := srv.KeyRevokedAt(srv.SigningKid()); revoked {
		t.Error("the controls' signing key was revoked")
	}
	for _, c := range rep.Components {
		if c.FalseRejects != 0 {
			t.Errorf("%s: %d false rejects: the controls, signed by the new key, were refused", c.Name, c.FalseRejects)
		}
		switch c.Name {
		case "edge-ttl":
			if c.NotConverged != 0 || c.Converged < 15 {
				t.Errorf("edge-ttl: %d converged, %d not: want every victim pair refused within the JWKS TTL", c.Converged, c.NotConverged)
			}
			bound := 1000 + c.TTCMS.ResolutionMaxMS
			gt := c.GroundTruth
			t.Logf("edge-ttl (jwks ttl 1s): removed key honoured up to %.0f ms measured ±%.0f ms; truth %+v", c.TTCMS.Max, c.TTCMS.ResolutionMaxMS, gt)
			if c.TTCMS.Max > bound {
				t.Errorf("edge-ttl: removed key honoured up to %.0f ms; want at most the 1 s TTL + resolution %.0f ms", c.TTCMS.Max, c.TTCMS.ResolutionMaxMS)
			}
			if gt == nil || gt.Checked < c.Converged || gt.Within != gt.Checked || gt.TTCMS.Max > bound {
				t.Errorf("edge-ttl: ground truth %+v for %d converged pairs: every instant inside its bracket, at most %.0f ms", gt, c.Converged, bound)
			}
		case "edge-oidc":
			t.Logf("edge-oidc (go-oidc RemoteKeySet): %d of %d pairs converged, %d not", c.Converged, c.Pairs, c.NotConverged)
			if c.Converged != 0 || c.NotConverged < 15 {
				t.Errorf("edge-oidc: %d converged, %d not: go-oidc refetches only on an unknown kid, so the removed key must be honoured to the end", c.Converged, c.NotConverged)
			}
		}
	}
	for _, e := range rep.Expectations {
		if want := e.Expr != "not_converged == 0"; e.Pass != want {
			t.Errorf("expectation %s: pass %v, observed %s; want only not_converged to fail (edge-oidc)", e.Expr, e.Pass, e.ObservedText)
		}
	}
	if rep.Verdict != report.Fail {
		t.Errorf("verdict %s (%s): want FAIL, edge-oidc never converged", rep.Verdict, rep.Reason)
	}
}

// TestDrillIndependentProviderKeyNotRotated: a script that does not rotate the key before the
// controls gives controls signed by the victims' key, which the recall would take with it; the
// drill stops before traffic saying so and what to do, with no recall sent.
func TestDrillIndependentProviderKeyNotRotated(t *testing.T) {
	if testing.Short() {
		t.Skip("mints through a command")
	}
	t.Parallel()
	rep, srv, err := runKeyCompromise(t, false)
	if err == nil || rep.Verdict != report.Error {
		t.Fatalf("err %v, verdict %s: want the drill refused", err, rep.Verdict)
	}
	kid := srv.SigningKid()
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("signed by kid %q, as victims are", kid)) || !strings.Contains(msg, "RECALL_COHORT=controls") {
		t.Errorf("error %q: want the shared kid named and what the source must do", msg)
	}
	if _, revoked := srv.KeyRevokedAt(kid); revoked || rep.Recall.Acknowledged != 0 {
		t.Errorf("the key was revoked (recall %+v): want nothing sent", rep.Recall)
	}
}

// TestExternalKeyCompromiseScenarioPlans: scenarios/external-key-compromise.yaml loads and plans
// (variables set to placeholders) into a population whose controls must be signed by another
// key, from the command source.
func TestExternalKeyCompromiseScenarioPlans(t *testing.T) {
	t.Parallel()
	if p := planShipped(t, "external-key-compromise.yaml"); !p.Population.RotateKeyBeforeControls {
		t.Error("the recall by kid did not ask for the controls signed by another key")
	}
}

// planShipped loads and plans a scenario of scenarios/ that needs your provider, its variables
// set to placeholders: an absolute URL for those named *_URL or *_ISSUER.
func planShipped(t *testing.T, name string) *drill.Plan {
	t.Helper()
	lookup := func(k string) (string, bool) {
		if strings.HasSuffix(k, "_URL") || strings.HasSuffix(k, "_ISSUER") {
			return "https://idp.example.invalid/x", true
		}
		return "placeholder", true
	}
	s, err := Load("../../scenarios/"+name, scenario.WithLookupEnv(lookup))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
