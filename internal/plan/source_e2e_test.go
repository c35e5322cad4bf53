package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/oauth/oauthtest"
)

// TestMain makes the test binary the token-source command of TestDrillCommandSource: with
// RECALL_PLAN_HELPER set it runs as that command and exits (the re-exec trick: no shell, no
// go run, nothing to build).
func TestMain(m *testing.M) {
	if mode := os.Getenv("RECALL_PLAN_HELPER"); mode != "" {
		os.Exit(planHelper(mode))
	}
	os.Exit(m.Run())
}

// planHelper "oauth-tokens" is a user's script for a flow the harness cannot drive: it obtains
// RECALL_COUNT tokens from the provider on its own (here client_credentials at TOKEN_URL, the
// victims for drill-a and the controls for drill-b) and prints the token endpoint's answers as
// JSON lines, labelled with the client_id that owns each.
func planHelper(mode string) int {
	if mode != "oauth-tokens" {
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	n, err := strconv.Atoi(os.Getenv("RECALL_COUNT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "RECALL_COUNT:", err)
		return 2
	}
	id, secret := "drill-a", os.Getenv("DRILL_A_SECRET")
	if os.Getenv("RECALL_COHORT") == "controls" {
		id, secret = "drill-b", os.Getenv("DRILL_B_SECRET")
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	// For a key recall the script rotates the provider's signing key before it mints the
	// controls, through the provider's management API, so that they outlive the victims' key.
	if u := os.Getenv("ROTATE_URL"); u != "" && os.Getenv("RECALL_COHORT") == "controls" {
		req, _ := http.NewRequest(http.MethodPost, u, nil)
		req.Header.Set("Authorization", "Bearer "+os.Getenv("ADMIN_TOKEN"))
		resp, err := hc.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rotate:", err)
			return 1
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			fmt.Fprintln(os.Stderr, "rotate:", resp.Status)
			return 1
		}
	}
	for range n {
		req, _ := http.NewRequest(http.MethodPost, os.Getenv("TOKEN_URL"), strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := hc.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "token request:", err)
			return 1
		}
		var answer map[string]any
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &answer) != nil {
			fmt.Fprintln(os.Stderr, "token request:", resp.Status)
			return 1
		}
		answer["client_id"] = id
		line, _ := json.Marshal(answer)
		fmt.Println(string(line))
	}
	return 0
}

// TestDrillCommandSource drills credentials that a command obtained from the independent
// server (not targets/) on its own, as a script would for a browser or device flow: the command
// is called once for the victims and once for the controls, its JSON lines become the
// population, each token owned by the client its label names, so RFC 7009 as the owning client
// revokes it and introspection confirms it; the instants the server and its gateway recorded
// lie in the drill's brackets, and no token is in the report.
func TestDrillCommandSource(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4 s drill")
	}
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := oauthtest.NewServer(map[string]string{"drill-a": "secret-a-123", "drill-b": "secret-b-456"})
	t.Cleanup(srv.Close)
	tokens := independentClients + fmt.Sprintf(`  source:
    kind: command
    with:
      run: [%q, "-test.run=^$"]
      env: {RECALL_PLAN_HELPER: oauth-tokens, TOKEN_URL: "${TOKEN_URL}", DRILL_A_SECRET: "${DRILL_A_SECRET}", DRILL_B_SECRET: "${DRILL_B_SECRET}"}
      timeout: 30s
`, exe)
	rep, _ := runIndependentOn(t, srv, tokens, "")
	if rep.Tokens.Source != "command" || rep.Provider == nil || rep.Provider.Source != "command" || rep.Tokens.Opaque != 26 || rep.Tokens.Clients != 2 {
		t.Errorf("tokens %+v, provider %+v: want 26 opaque tokens of 2 clients from the command source", rep.Tokens, rep.Provider)
	}
	byGrant, bySub := srv.Issued()
	if byGrant["client_credentials"] != 26 || bySub["svc-drill-a"] != 20 || bySub["svc-drill-b"] != 6 {
		t.Errorf("issued %v %v: want the command's 20 victims for drill-a and 6 controls for drill-b, nothing minted by the harness", byGrant, bySub)
	}
	if rep.Recall.Failed != 0 || rep.Recall.Confirmed != 20 || rep.Recall.Ineffective != 0 || rep.Recall.Unconfirmable != 0 {
		t.Errorf("recall %+v: want 20 confirmed (RFC 7009 as the client the label names)", rep.Recall)
	}
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		gt := c.GroundTruth
		if c.FalseRejects != 0 || c.Converged < 15 || gt == nil || gt.Checked == 0 || gt.Within != gt.Checked {
			t.Errorf("%s: %d false rejects, %d of %d converged, ground truth %+v: every recorded instant must lie in its bracket", c.Name, c.FalseRejects, c.Converged, c.Pairs, gt)
			continue
		}
		t.Logf("%s: TTC p50 %.0f ms, max %.0f ms ±%.0f ms; truth %d/%d within", c.Name, c.TTCMS.P50, c.TTCMS.Max, c.TTCMS.ResolutionMS, gt.Within, gt.Checked)
	}
}
