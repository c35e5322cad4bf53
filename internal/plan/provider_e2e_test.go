package plan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/oauth/oauthtest"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// independentScenario drills oauthtest's server (not targets/): discovery at the issuer url,
// two pre-registered clients with secrets from ${VAR}, a gateway with a TTL cache of positive
// introspections, and the introspection endpoint itself probed (its own listener, its own
// basic credentials). The tokens: block after its issuer is the second %s (independentClients
// by default); with is the recall's with: block.
const independentScenario = `name: independent-provider
seed: 5
system:
  runtime: external
  components:
    - name: idp
      kind: issuer
      url: %s
      oauth:
        introspection:
          auth: basic
          username: introspector
          password: ${INTROSPECT_PASSWORD}
    - name: idp-introspect
      kind: other
      url: %s
      probe:
        method: POST
        path: /introspect
        headers: {Authorization: "Basic ${INTROSPECT_BASIC}", Content-Type: application/x-www-form-urlencoded}
        body: "token={{token}}"
        accept: {status: [200], json: "active == true"}
        reject: {status: [200], json: "active == false"}
    - name: gateway
      kind: gateway
      url: %s
      probe: {path: /api}
tokens:
  issuer: idp
%s  victims: 20
  controls: 6
  recovery: 0
traffic:
  rate: 150/s
  duration: 4s
  targets: [idp-introspect, gateway]
recall:
  at: 1500ms
  action: revoke-tokens
  mode: rfc7009
  confirm: true
%s`

// independentClients are the two pre-registered clients of runIndependent's server.
const independentClients = `  clients:
    - {id: drill-a, secret: "${DRILL_A_SECRET}", auth: client_secret_basic}
    - {id: drill-b, secret: "${DRILL_B_SECRET}", auth: client_secret_post}
`

// truthEnv adds the independent server's ground truth to the external runtime: the instant each
// token became inactive (the introspection component) and the last instant the gateway
// honoured it.
type truthEnv struct {
	runtime.Environment
	srv *oauthtest.Server
	gw  *oauthtest.Gateway
}

type tokenTruth func(string) (time.Time, bool)

func (f tokenTruth) EnforcedSince(revocation.Claims) (time.Time, bool) { return time.Time{}, false }
func (f tokenTruth) EnforcedSinceToken(tok string) (time.Time, bool)   { return f(tok) }

func (e truthEnv) Truth(component string) (truth.Source, bool) {
	switch component {
	case "idp-introspect", "idp":
		return tokenTruth(e.srv.InactiveAt), true
	case "gateway":
		return tokenTruth(e.gw.LastHonoured), true
	}
	return nil, false
}

func runIndependent(t *testing.T, with string) (*report.Report, *oauthtest.Server) {
	t.Helper()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	return runIndependentOn(t, srv, independentClients, with)
}

// runIndependentOn is runIndependent against srv with the given tokens: block (after its
// issuer); secrets must not appear in the report either.
func runIndependentOn(t *testing.T, srv *oauthtest.Server, tokens, with string, secrets ...string) (*report.Report, *oauthtest.Server) {
	t.Helper()
	rep, err := runIndependentScenario(t, independentScenario, srv, tokens, with, secrets...)
	if err != nil {
		t.Fatalf("drill: %v (%s)", err, rep.Reason)
	}
	return rep, srv
}

// runIndependentScenario is runIndependentOn with another scenario template (independentScenario's
// placeholders), returning the drill's error.
func runIndependentScenario(t *testing.T, tmpl string, srv *oauthtest.Server, tokens, with string, secrets ...string) (*report.Report, error) {
	t.Helper()
	gw := oauthtest.NewGateway(srv, 500*time.Millisecond)
	t.Cleanup(gw.Close)
	env := map[string]string{"DRILL_A_SECRET": "secret-a-123", "DRILL_B_SECRET": "secret-b-456",
		"INTROSPECT_PASSWORD": srv.IntrospectPassword, "TOKEN_URL": srv.Issuer.URL + "/oauth2/token",
		"INTROSPECT_BASIC": basicValue(srv.IntrospectUser, srv.IntrospectPassword)}
	src := fmt.Sprintf(tmpl, srv.Issuer.URL, srv.Introspection.URL, gw.URL, tokens, with)
	s, err := Parse("independent.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Env = truthEnv{Environment: p.Env, srv: srv, gw: gw}
	rep, err := drill.Run(context.Background(), p)
	b, _ := json.Marshal(rep)
	for _, secret := range append([]string{"secret-a-123", "secret-b-456", srv.IntrospectPassword, "opq_"}, secrets...) {
		if strings.Contains(string(b), secret) {
			t.Errorf("the report holds %q in clear", secret)
		}
	}
	return rep, err
}

func basicValue(u, p string) string {
	return strings.TrimPrefix(oauthBasic(u, p), "Basic ")
}

// TestDrillIndependentProvider drills an authorization server that is not the reference stack:
// opaque tokens for pre-registered clients, endpoints by discovery, RFC 7009 as the owning
// client, confirmation by introspection on another listener. The instants the server recorded
// (a token became inactive) and the gateway recorded (it last honoured the token) lie inside
// the drill's brackets; every recall is confirmed; the endpoints in use are in the report.
func TestDrillIndependentProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	rep, _ := runIndependent(t, "")
	if rep.Tokens.Source != "accounts" || rep.Tokens.Opaque != 26 {
		t.Errorf("tokens %+v: want 26 opaque tokens from the accounts source", rep.Tokens)
	}
	pr := rep.Provider
	if pr == nil || !strings.HasSuffix(pr.Discovery, "/.well-known/oauth-authorization-server") || !strings.HasSuffix(pr.Revocation, "/oauth2/revoke") ||
		pr.Endpoints["token_endpoint"] != "discovered" || !strings.HasSuffix(pr.Introspection, "/introspect") {
		t.Errorf("provider %+v: want the discovered endpoints", pr)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 20 || rep.Recall.Ineffective != 0 || rep.Recall.Unconfirmable != 0 {
		t.Errorf("recall %+v: want 20 confirmed", rep.Recall)
	}
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		if c.FalseRejects != 0 {
			t.Errorf("%s: %d false rejects", c.Name, c.FalseRejects)
		}
		gt := c.GroundTruth
		if gt == nil || gt.Checked < c.Converged || gt.Checked == 0 || gt.Within != gt.Checked {
			t.Errorf("%s: ground truth %+v for %d converged pairs: every recorded instant must lie in its bracket", c.Name, gt, c.Converged)
		}
		if c.Converged < 15 {
			t.Errorf("%s: %d of %d pairs converged, want nearly all", c.Name, c.Converged, c.Pairs)
		}
		t.Logf("%s: TTC p50 %.0f ms, max %.0f ms ±%.0f ms; truth %d/%d within", c.Name, c.TTCMS.P50, c.TTCMS.Max, c.TTCMS.ResolutionMS, gt.Within, gt.Checked)
	}
}

// TestDrillIndependentProviderWrongClient revokes as the other client: the server answers 200
// and revokes nothing, so every recall is acknowledged and comes out ineffective, listed by
// fingerprint in a critical finding.
func TestDrillIndependentProviderWrongClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	rep, _ := runIndependent(t, "  with: {client: drill-b}\n")
	if rep.Recall.Failed != 0 || rep.Recall.Ineffective != 20 || rep.Recall.Confirmed != 0 || len(rep.Recall.IneffectiveTokens) != 20 {
		t.Fatalf("recall %+v: want 20 acknowledged and ineffective", rep.Recall)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Kind == "ineffective_recall" && f.Severity == report.Critical && f.Count == 20 && len(f.Tokens) > 0 && f.Tokens[0] == rep.Recall.IneffectiveTokens[0] {
			found = true
		}
	}
	if !found {
		t.Errorf("findings %+v: want a critical ineffective_recall listing the fingerprints", rep.Findings)
	}
}

// TestDrillIndependentProviderUsersFile mints with the password grant for the users of
// tokens.users: {file: users.csv} at the independent server (not targets/): every token comes
// from the password grant, for a user of the file (the commented one is skipped), all of them
// used; the recall is confirmed, and no password reaches the report.
func TestDrillIndependentProviderUsersFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	users := map[string]string{"alice": "alice-pw-31415", "bob": "bob-pw-92653", "carol": "carol-pw-58979", "dave": "dave-pw-32384"}
	csv := "# username,password\n"
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		srv.AddUser(u, users[u])
		csv += u + "," + users[u] + "\n"
	}
	srv.AddUser("mallory", "mallory-pw-62643")
	csv += "# mallory,mallory-pw-62643\n"
	file := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := "  grant: password\n" + independentClients + "  users: {file: " + file + "}\n"
	rep, _ := runIndependentOn(t, srv, tokens, "", "alice-pw-31415", "bob-pw-92653", "carol-pw-58979", "dave-pw-32384")
	byGrant, bySub := srv.Issued()
	if byGrant["password"] != 26 || len(byGrant) != 1 {
		t.Errorf("tokens issued by grant %v: want 26 from the password grant, nothing else", byGrant)
	}
	for u := range users {
		if bySub[u] == 0 {
			t.Errorf("no token for %s (issued per sub %v): want the tokens spread over every user of the file", u, bySub)
		}
	}
	if bySub["mallory"] != 0 || len(bySub) != 4 {
		t.Errorf("issued per sub %v: want only the 4 users of the file, not the commented one", bySub)
	}
	if rep.Tokens.Grant != "password" || rep.Tokens.Users != 4 || rep.Tokens.Opaque != 26 {
		t.Errorf("tokens %+v: want 26 opaque password-grant tokens over 4 users", rep.Tokens)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 20 {
		t.Errorf("recall %+v: want 20 confirmed", rep.Recall)
	}
	for _, c := range rep.Components {
		if c.Probed && (c.FalseRejects != 0 || c.Converged < 15) {
			t.Errorf("%s: %d false rejects, %d of %d pairs converged", c.Name, c.FalseRejects, c.Converged, c.Pairs)
		}
	}
}

func oauthBasic(u, p string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
}

// TestDrillDiscoveryFails: a provider whose discovery answers an HTML page stops the drill
// before minting, with an error naming the URLs tried and a one-line excerpt.
func TestDrillDiscoveryFails(t *testing.T) {
	t.Parallel()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html>\n<h1>Not Found</h1>\n" + strings.Repeat("filler ", 2000) + "</html>"))
	}))
	defer page.Close()
	env := map[string]string{"DRILL_A_SECRET": "a", "DRILL_B_SECRET": "b", "INTROSPECT_PASSWORD": "p", "INTROSPECT_BASIC": "x"}
	src := fmt.Sprintf(independentScenario, page.URL, page.URL, page.URL, independentClients, "")
	s, err := Parse("d.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drill.Run(context.Background(), p)
	if err == nil || rep.Verdict != report.Error {
		t.Fatalf("err %v, verdict %s", err, rep.Verdict)
	}
	msg := err.Error()
	if !strings.Contains(msg, page.URL+"/.well-known/oauth-authorization-server") || !strings.Contains(msg, "openid-configuration") ||
		!strings.Contains(msg, "Not Found") || strings.Contains(msg, "\n") || len(msg) > 1000 {
		t.Errorf("error %q: want both URLs and a short excerpt of the answer", msg)
	}
}

// TestExternalOIDCScenarioPlans: scenarios/external-oidc.yaml loads and plans (variables set to
// placeholders) into the standards-based source, not the reference issuer's.
func TestExternalOIDCScenarioPlans(t *testing.T) {
	t.Parallel()
	lookup := func(k string) (string, bool) {
		if strings.HasPrefix(k, "IDP_") {
			return "https://idp.example.invalid/realms/drills", true
		}
		return "placeholder", true
	}
	s, err := Load("../../scenarios/external-oidc.yaml", scenario.WithLookupEnv(lookup))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Tokens.Clients.IsList() || s.Tokens.Clients.List[1].Auth != "client_secret_post" {
		t.Errorf("clients %+v", s.Tokens.Clients)
	}
	if _, err := Build(s, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestDrillIndependentProviderRefreshTokens mints with the refresh_token grant from the refresh
// tokens of tokens.refresh_tokens at the independent server (not targets/), whose refresh
// tokens are bound to their client and good for one use: 26 access tokens from 4 refresh
// tokens need each rotated one kept and used next (a reuse is counted by the server and its
// request refused). The recall is confirmed, ground truth lies in the brackets, and no refresh
// token reaches the report.
func TestDrillIndependentProviderRefreshTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	var lines []string
	for _, sub := range []string{"alice", "bob", "carol", "dave"} {
		lines = append(lines, srv.IssueRefresh("drill-a", sub))
	}
	file := filepath.Join(t.TempDir(), "refresh.txt")
	if err := os.WriteFile(file, []byte("# one a line\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := "  grant: refresh_token\n  clients:\n    - {id: drill-a, secret: \"${DRILL_A_SECRET}\"}\n  refresh_tokens: " + file + "\n"
	rep, _ := runIndependentOn(t, srv, tokens, "", lines...)
	byGrant, bySub := srv.Issued()
	if byGrant["refresh_token"] != 26 || len(byGrant) != 1 || srv.Reused() != 0 {
		t.Errorf("issued by grant %v, %d refresh tokens reused: want 26 from the refresh_token grant, each rotated refresh token kept", byGrant, srv.Reused())
	}
	if len(bySub) != 4 {
		t.Errorf("issued per sub %v: want the tokens spread over the 4 refresh tokens", bySub)
	}
	if rep.Tokens.Grant != "refresh_token" || rep.Tokens.Opaque != 26 {
		t.Errorf("tokens %+v: want 26 opaque refresh_token-grant tokens", rep.Tokens)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 20 {
		t.Errorf("recall %+v: want 20 confirmed", rep.Recall)
	}
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		gt := c.GroundTruth
		if c.FalseRejects != 0 || c.Converged < 15 || gt == nil || gt.Checked == 0 || gt.Within != gt.Checked {
			t.Errorf("%s: %d false rejects, %d of %d converged, ground truth %+v", c.Name, c.FalseRejects, c.Converged, c.Pairs, gt)
		}
	}
}

// TestExternalOIDCScenarioDrillsIndependentServer drills scenarios/external-oidc.yaml, the file
// README's "Drill your own identity stack" copies, as written but for a shorter timeline,
// against the independent server (not targets/: opaque tokens, two pre-registered clients, no
// admin API, introspection on its own listener with its own basic credentials), with only the
// variables the file's header exports. Every recall is confirmed, and the instant the server
// recorded each token becoming inactive lies in the bracket the drill measured for it at the
// probed introspection endpoint: the per-credential TTC agrees with the provider's ground truth
// within the reported resolution. (cmd/recall's TestReadmeOwnStack runs the README's own lines.)
func TestExternalOIDCScenarioDrillsIndependentServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an 8 s drill")
	}
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	env := map[string]string{"IDP_ISSUER": srv.Issuer.URL, "IDP_INTROSPECTION_URL": srv.Introspection.URL + "/introspect",
		"DRILL_A_SECRET": "secret-a-123", "DRILL_B_SECRET": "secret-b-456",
		"INTROSPECT_USER": srv.IntrospectUser, "INTROSPECT_PASSWORD": srv.IntrospectPassword,
		"INTROSPECT_BASIC": basicValue(srv.IntrospectUser, srv.IntrospectPassword)}
	b, err := os.ReadFile("../../scenarios/external-oidc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, r := range [][2]string{{"  duration: 40s\n", "  duration: 8s\n"}, {"  at: 10s\n", "  at: 2s\n"}} {
		if !strings.Contains(src, r[0]) {
			t.Fatalf("scenarios/external-oidc.yaml has no %q to shorten", r[0])
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	s, err := Parse("external-oidc.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Env = truthEnv{Environment: p.Env, srv: srv}
	rep, err := drill.Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v (%s)", err, rep.Reason)
	}
	js, _ := json.Marshal(rep)
	for _, secret := range []string{"secret-a-123", "secret-b-456", srv.IntrospectPassword, env["INTROSPECT_BASIC"], "opq_"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("the report holds %q in clear", secret)
		}
	}
	if rep.Verdict != report.Pass || rep.Tokens.Opaque != 120 || rep.Provider == nil || rep.Provider.Endpoints["revocation_endpoint"] != "discovered" {
		t.Errorf("verdict %s, tokens %+v, provider %+v: want a pass over 120 opaque tokens and discovered endpoints", rep.Verdict, rep.Tokens, rep.Provider)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 100 {
		t.Errorf("recall %+v: want 100 confirmed", rep.Recall)
	}
	probed := 0
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		probed++
		gt := c.GroundTruth
		if c.FalseRejects != 0 || c.Converged < 95 || gt == nil || gt.Checked < c.Converged || gt.Within != gt.Checked {
			t.Errorf("%s: %d false rejects, %d of %d converged, ground truth %+v: every recorded instant must lie in its bracket", c.Name, c.FalseRejects, c.Converged, c.Pairs, gt)
			continue
		}
		t.Logf("%s: TTC p50 %.0f ms, max %.0f ms ±%.0f ms; truth %d/%d within", c.Name, c.TTCMS.P50, c.TTCMS.Max, c.TTCMS.ResolutionMS, gt.Within, gt.Checked)
	}
	if probed != 1 {
		t.Errorf("%d probed components, want the provider's introspection endpoint", probed)
	}
}

// TestDrillIndependentProviderTokensExpireFirst: tokens of the independent server that expire
// (expires_in) before the drill ends stop it before traffic, with an error that says so:
// a natural expiry would pass for a recall.
func TestDrillIndependentProviderTokensExpireFirst(t *testing.T) {
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	srv.SetTokenTTL(3 * time.Second) // the drill runs 4 s
	gw := oauthtest.NewGateway(srv, 500*time.Millisecond)
	t.Cleanup(gw.Close)
	env := map[string]string{"DRILL_A_SECRET": "secret-a-123", "DRILL_B_SECRET": "secret-b-456",
		"INTROSPECT_PASSWORD": srv.IntrospectPassword, "INTROSPECT_BASIC": basicValue(srv.IntrospectUser, srv.IntrospectPassword)}
	src := fmt.Sprintf(independentScenario, srv.Issuer.URL, srv.Introspection.URL, gw.URL, independentClients, "")
	s, err := Parse("expire.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rep, err := drill.Run(context.Background(), p)
	if err == nil || rep.Verdict != report.Error || !strings.Contains(err.Error(), "26 of 26 tokens expire before the drill ends") {
		t.Fatalf("err %v, verdict %s: want the drill refused before traffic", err, rep.Verdict)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("the refusal took %s: want it before traffic, not after a drill", took)
	}
}

// TestRefreshGrantTakesOneClient: a refresh token is bound to the client it was issued to and
// the file of refresh tokens does not say which, so the refresh_token grant over several listed
// clients is refused at tokens.clients rather than sending refresh tokens as the wrong client.
func TestRefreshGrantTakesOneClient(t *testing.T) {
	t.Parallel()
	tokens := "  grant: refresh_token\n  refresh_tokens: r.txt\n  clients: [{id: a, secret: x}%s]"
	if _, err := Parse("s.yaml", []byte(strings.Replace(sourceBase, "%s", fmt.Sprintf(tokens, ""), 1))); err != nil {
		t.Errorf("one client: %v", err)
	}
	_, err := Parse("s.yaml", []byte(strings.Replace(sourceBase, "%s", fmt.Sprintf(tokens, ", {id: b, secret: y}"), 1)))
	if want := "s.yaml:11:3: tokens.clients: the refresh_token grant takes one client, the one tokens.refresh_tokens were issued to (got 2)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("two clients: %v\nwant %s", err, want)
	}
}

// TestDrillIndependentProviderFailures drills the independent server where it fails: a wrong
// client secret stops the drill at the mint with the provider's error code, naming the client
// and not the secret; an introspection endpoint nobody listens on makes every acknowledged
// recall unconfirmable with the reason, and the drill still ends on time (no hang, no panic).
func TestDrillIndependentProviderFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	build := func(t *testing.T, srv *oauthtest.Server, gw *oauthtest.Gateway, env map[string]string, edit func(string) string) *drill.Plan {
		t.Helper()
		src := edit(fmt.Sprintf(independentScenario, srv.Issuer.URL, srv.Introspection.URL, gw.URL, independentClients, ""))
		s, err := Parse("f.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	gw := oauthtest.NewGateway(srv, 500*time.Millisecond)
	t.Cleanup(gw.Close)
	env := func(a string) map[string]string {
		return map[string]string{"DRILL_A_SECRET": a, "DRILL_B_SECRET": "secret-b-456",
			"INTROSPECT_PASSWORD": srv.IntrospectPassword, "INTROSPECT_BASIC": basicValue(srv.IntrospectUser, srv.IntrospectPassword)}
	}
	t.Run("wrong secret", func(t *testing.T) {
		rep, err := drill.Run(context.Background(), build(t, srv, gw, env("wrong-secret-7182"), func(s string) string { return s }))
		if err == nil || rep.Verdict != report.Error {
			t.Fatalf("err %v, verdict %s: want the drill stopped", err, rep.Verdict)
		}
		msg := err.Error()
		if !strings.Contains(msg, "client drill-a") || !strings.Contains(msg, "401") || !strings.Contains(msg, "invalid_client") || strings.Contains(msg, "wrong-secret-7182") {
			t.Errorf("error %q: want the client, the status and the error code, not the secret", msg)
		}
		for _, line := range strings.Split(msg, "\n") {
			if len(line) > 400 {
				t.Errorf("error line of %d bytes: %q", len(line), line)
			}
		}
	})
	t.Run("unreachable introspection", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + l.Addr().String() + "/introspect"
		l.Close()
		p := build(t, srv, gw, env("secret-a-123"), func(s string) string {
			return strings.Replace(s, "          auth: basic\n", "          endpoint: "+dead+"\n          auth: basic\n", 1)
		})
		began := time.Now()
		rep, err := drill.Run(context.Background(), p)
		if err != nil {
			t.Fatalf("drill: %v", err)
		}
		if took := time.Since(began); took > 30*time.Second {
			t.Errorf("the drill took %s", took)
		}
		if rep.Provider == nil || rep.Provider.Introspection != dead || rep.Provider.Endpoints["introspection_endpoint"] != "set" {
			t.Errorf("provider %+v: want the set introspection endpoint", rep.Provider)
		}
		rc := rep.Recall
		if rc.Acknowledged != 20 || rc.Unconfirmable != 20 || rc.Confirmed != 0 || rc.Ineffective != 0 || len(rc.UnconfirmableReasons) == 0 ||
			!strings.Contains(rc.UnconfirmableReasons[0].Reason, "introspect") || strings.Contains(rc.UnconfirmableReasons[0].Reason, "opq_") {
			t.Fatalf("recall %+v: want 20 acknowledged, each unconfirmable with the failed introspection as the reason", rc)
		}
		found := false
		for _, f := range rep.Findings {
			found = found || f.Kind == "unconfirmable_recall" && f.Count == 20
		}
		if !found {
			t.Errorf("findings %+v: want unconfirmable_recall for the 20", rep.Findings)
		}
	})
}

// TestDrillIndependentProviderPrivateKeyJWT drills a client that authenticates with
// private_key_jwt (RFC 7523, key_file: a PKCS #8 PEM) at the independent server, which checks
// each assertion's signature, iss and sub, its aud (the issuer or the token endpoint, RFC 7523
// section 3) and its single use: the victims' tokens are minted, revoked by RFC 7009 and so
// confirmed as that client, the controls' client uses a secret.
func TestDrillIndependentProviderPrivateKeyJWT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "drill-k.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := oauthtest.NewServer(map[string]string{"drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	srv.AddKeyClient("drill-k", &key.PublicKey)
	tokens := "  clients:\n    - {id: drill-k, auth: private_key_jwt, key_file: " + file + "}\n    - {id: drill-b, secret: \"${DRILL_B_SECRET}\", auth: client_secret_post}\n"
	rep, _ := runIndependentOn(t, srv, tokens, "")
	_, bySub := srv.Issued()
	if bySub["svc-drill-k"] != 20 || bySub["svc-drill-b"] != 6 {
		t.Errorf("issued per sub %v: want the 20 victims for drill-k (private_key_jwt) and the 6 controls for drill-b", bySub)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 20 {
		t.Errorf("recall %+v: want 20 revoked as drill-k and confirmed", rep.Recall)
	}
}

// refreshTheftTokens writes n refresh tokens of client drill-a (one per credential, each its own
// grant) and returns the tokens: block that mints from them, and the tokens.
func refreshTheftTokens(t *testing.T, srv *oauthtest.Server, n int) (string, []string) {
	t.Helper()
	var lines []string
	for i := range n {
		lines = append(lines, srv.IssueRefresh("drill-a", fmt.Sprintf("user-%02d", i)))
	}
	file := filepath.Join(t.TempDir(), "refresh.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "  grant: refresh_token\n  clients:\n    - {id: drill-a, secret: \"${DRILL_A_SECRET}\"}\n  refresh_tokens: " + file + "\n", lines
}

// refreshTheftScenario is independentScenario with the refresh-token theft recall.
var refreshTheftScenario = strings.Replace(independentScenario, "  action: revoke-tokens\n  mode: rfc7009\n", "  action: refresh-replay\n", 1)

// TestDrillIndependentProviderRefreshTheft drills refresh-token theft (refresh-replay: rotate,
// replay the old refresh token, check the rotated one) against the independent server, whose
// reuse detection revokes the whole grant (RFC 9700 section 4.14.2) in its own code: every
// replay is refused and acknowledged, the victims' access tokens die at the introspection
// endpoint and behind the gateway's cache, and so do the access tokens the rotations returned,
// followed apart, each inside its bracket by the server's and the gateway's own records; the
// controls (other grants) survive.
func TestDrillIndependentProviderRefreshTheft(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	srv.RevokeFamilyOnReuse = true
	t.Cleanup(srv.Close)
	tokens, lines := refreshTheftTokens(t, srv, 26)
	rep, err := runIndependentScenario(t, refreshTheftScenario, srv, tokens, "", lines...)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if r := rep.Recall; r.Action != "refresh-replay" || r.Acknowledged != 20 || r.Failed != 0 || r.Confirmed != 20 {
		t.Fatalf("recall %+v: want 20 replays refused and acknowledged, each confirmed inactive", r)
	}
	if srv.Reused() < 40 {
		t.Errorf("%d reuses seen by the server; want each of 20 replays and 20 rotated refresh tokens presented after the kill", srv.Reused())
	}
	ra := rep.RotatedAccess
	if ra == nil || ra.Sampled < 5 {
		t.Fatalf("rotated access tokens %+v; want a sample followed", ra)
	}
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		gt := c.GroundTruth
		if c.FalseRejects != 0 || c.NotConverged != 0 || c.Converged != 20 || gt == nil || gt.Checked == 0 || gt.Within != gt.Checked {
			t.Errorf("%s: %d false rejects, %d of %d converged, ground truth %+v", c.Name, c.FalseRejects, c.Converged, c.Pairs, gt)
		}
		st, rgt := c.RotatedAccessMS, c.RotatedAccessTruth
		if st == nil || st.Count != ra.Sampled || c.RotatedAlive != 0 || rgt == nil || rgt.Checked != st.Count || rgt.Within != rgt.Checked {
			t.Errorf("%s: rotated access tokens %+v (%d alive), ground truth %+v; want all %d refused, each inside its bracket", c.Name, st, c.RotatedAlive, rgt, ra.Sampled)
		}
	}
}

// TestDrillIndependentProviderRefreshTheftFamilySurvives: the same server without family
// revocation only refuses a reused refresh token: each replay is refused, but the rotated
// refresh token still works, so every victim's recall fails saying the family survived, and
// the drill ends in ERROR (nothing was recalled to measure), saying why.
func TestDrillIndependentProviderRefreshTheftFamilySurvives(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	tokens, lines := refreshTheftTokens(t, srv, 26)
	rep, err := runIndependentScenario(t, refreshTheftScenario, srv, tokens, "", lines...)
	if err == nil || !strings.Contains(err.Error(), "family survived") || rep.Verdict != report.Error || rep.Recall.Failed != 20 ||
		!strings.Contains(rep.Reason, "family survived") {
		t.Fatalf("err %v, verdict %s (%s), recall %+v; want ERROR with all 20 recalls failed, saying the family survived", err, rep.Verdict, rep.Reason, rep.Recall)
	}
	var msg string
	for _, f := range rep.Findings {
		if f.Kind == "recall_failed" {
			msg = f.Message
		}
	}
	if !strings.Contains(msg, "family survived") {
		t.Errorf("recall_failed finding %q; want it to say the family survived the theft", msg)
	}
}

// TestRefreshReplayNeedsOneRefreshTokenPerCredential: minted from fewer refresh tokens than
// credentials, tokens share a chain and a replay would kill the others: refused at plan time,
// at tokens.refresh_tokens.
func TestRefreshReplayNeedsOneRefreshTokenPerCredential(t *testing.T) {
	t.Parallel()
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123"})
	t.Cleanup(srv.Close)
	tokens, _ := refreshTheftTokens(t, srv, 4)
	src := fmt.Sprintf(refreshTheftScenario, srv.Issuer.URL, srv.Introspection.URL, srv.Issuer.URL, tokens, "")
	env := map[string]string{"DRILL_A_SECRET": "x", "INTROSPECT_PASSWORD": "y", "INTROSPECT_BASIC": "z"}
	s, err := Parse("independent.yaml", []byte(src), scenario.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err == nil {
		_, err = Build(s, Options{})
	}
	if err == nil || !strings.Contains(err.Error(), "tokens.refresh_tokens") || !strings.Contains(err.Error(), "one refresh token per credential (victims + controls = 26), have 4") {
		t.Fatalf("err %v; want tokens.refresh_tokens refused: 4 for 26 credentials", err)
	}
}
