package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/recall-drills/recall/internal/oauth/oauthtest"
	"github.com/recall-drills/recall/report"
)

// ownStackSection returns README.md's section "Drill your own identity stack".
func ownStackSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Drill your own identity stack\n")
	if !ok {
		t.Fatal(`README.md has no section "Drill your own identity stack"`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// scenarioVars lists the ${VAR}s of a scenario's lines that are not comments.
func scenarioVars(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line, _, _ = strings.Cut(line, " #")
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// TestReadmeOwnStack follows README's "Drill your own identity stack" as written against a
// provider that is neither recall's nor the reference stack: internal/oauth/oauthtest's
// server, with opaque tokens for two pre-registered clients, no admin API, and introspection
// on another listener with its own basic credentials. Its step 5's export lines are run by
// bash, with this provider's values in place of the README's examples and "..." (so that the
// README's own base64 line computes the Basic credential); every variable the scenario uses
// must be one of them. Then its recall command lines run as written, the drill's timeline
// shortened with --set. The drill must pass with every recall confirmed at the discovered
// endpoints, and no secret may reach report.json.
func TestReadmeOwnStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an 8 s drill")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run the README's export lines")
	}
	srv := oauthtest.NewServer(map[string]string{"drill-a": "readme-secret-a-1", "drill-b": "readme-secret-b-2"})
	t.Cleanup(srv.Close)
	// What a user of this provider would fill in: the issuer identifier, the metadata's
	// introspection_endpoint, the two clients' secrets and the introspection account.
	fill := map[string]string{"IDP_ISSUER": srv.Issuer.URL, "IDP_INTROSPECTION_URL": srv.Introspection.URL + "/introspect",
		"DRILL_A_SECRET": "readme-secret-a-1", "DRILL_B_SECRET": "readme-secret-b-2",
		"INTROSPECT_USER": srv.IntrospectUser, "INTROSPECT_PASSWORD": srv.IntrospectPassword}

	sec := ownStackSection(t)
	_, block, ok := strings.Cut(sec, "```sh\n")
	if !ok {
		t.Fatal("the section has no sh block")
	}
	block, _, _ = strings.Cut(block, "```")
	var exports, cmds []string
	assign := regexp.MustCompile(`\b([A-Z_][A-Z0-9_]*)=(\S+)`)
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "export "):
			line, _, _ = strings.Cut(line, " #")
			exports = append(exports, assign.ReplaceAllStringFunc(line, func(kv string) string {
				name, _, _ := strings.Cut(kv, "=")
				if v, ok := fill[name]; ok {
					return name + "='" + v + "'"
				}
				return kv
			}))
		case strings.HasPrefix(line, "go run ./cmd/recall "):
			cmds = append(cmds, strings.TrimPrefix(line, "go run ./cmd/recall "))
		}
	}
	if len(exports) == 0 || len(cmds) < 2 {
		t.Fatalf("the sh block gave %d export lines and %d recall commands", len(exports), len(cmds))
	}
	sh := exec.Command("bash", "-euc", strings.Join(exports, "\n")+"\nenv -0")
	sh.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("the README's export lines failed in bash: %v", err)
	}
	set := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "PATH" && k != "PWD" && k != "SHLVL" && k != "_" {
			set[k] = v
		}
	}
	for _, v := range scenarioVars(t, "../../scenarios/external-oidc.yaml") {
		if _, ok := set[v]; !ok {
			t.Errorf("scenarios/external-oidc.yaml uses ${%s}, which the README's step 5 does not export", v)
		}
	}
	if want := base64.StdEncoding.EncodeToString([]byte(srv.IntrospectUser + ":" + srv.IntrospectPassword)); set["INTROSPECT_BASIC"] != want {
		t.Errorf("INTROSPECT_BASIC from the README's line is %d bytes, not the base64 of user:password", len(set["INTROSPECT_BASIC"]))
	}
	for k, v := range set {
		if strings.Contains(v, "...") {
			t.Errorf("%s: the README's value %q is a placeholder this test does not fill", k, v)
		}
		t.Setenv(k, v)
	}
	if t.Failed() {
		t.FailNow()
	}

	outDir := filepath.Join(t.TempDir(), "out")
	for _, c := range cmds {
		args := strings.Fields(strings.ReplaceAll(c, "scenarios/", "../../scenarios/"))
		if args[0] == "run" {
			for i := range args {
				if args[i] == "--out" && i+1 < len(args) {
					args[i+1] = outDir
				}
			}
			args = append(args, "--quiet", "--set", "traffic.duration=8s", "--set", "recall.at=2s")
		}
		code, _, stderr := runMain(args...)
		if code != exitPass {
			t.Fatalf("recall %s: exit %d: %s", c, code, lastLines(stderr, 15))
		}
	}
	b, err := os.ReadFile(filepath.Join(outDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"readme-secret-a-1", "readme-secret-b-2", srv.IntrospectPassword, set["INTROSPECT_BASIC"], "opq_"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("report.json holds %q in clear", secret)
		}
	}
	rep, err := report.Read(filepath.Join(outDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Provider == nil || rep.Provider.Source != "accounts" || rep.Provider.Endpoints["revocation_endpoint"] != "discovered" ||
		rep.Provider.Endpoints["introspection_endpoint"] != "discovered" {
		t.Errorf("provider %+v: want the accounts source over discovered endpoints", rep.Provider)
	}
	if rep.Tokens.Opaque != rep.Tokens.Victims+rep.Tokens.Controls || rep.Recall.Failed != 0 || rep.Recall.Confirmed != rep.Tokens.Victims {
		t.Errorf("tokens %+v, recall %+v: want every token opaque and every recall confirmed", rep.Tokens, rep.Recall)
	}
}
