package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/recall-drills/recall/internal/expect"
)

// noEnv resolves no variable.
func noEnv(string) (string, bool) { return "", false }

// env resolves variables from a map.
func env(m map[string]string) LoadOption {
	return WithLookupEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

// TestLoadBadConfigs loads one testdata/invalid-<name>.yaml per defect and compares the whole
// error, every problem with its file:line:col.
func TestLoadBadConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string
	}{
		{"action", "testdata/invalid-action.yaml:12:11: recall.action: unknown action \"revoke-everything\" (have: revoke-tokens, revoke-users, revoke-clients, revoke-sessions, revoke-key, rotate-key, revoke-mfa, revoke-issued-before, refresh-replay, revoke-api-keys, http, command, ssf-event)"},
		{"bad-component-name", "testdata/invalid-bad-component-name.yaml:6:14: system.components[2].name: bad name \"Edge_Poll\": want a DNS label (lowercase letters, digits and '-'), e.g. edge-push"},
		{"bad-url", "testdata/invalid-bad-url.yaml:6:42: system.components[2].url: bad URL \"ftp://x\": want an absolute http(s) URL like https://staging.example.com"},
		{"controls-without-tokens", "testdata/invalid-controls-without-tokens.yaml:9:13: traffic.controls: 5% of probes for controls, but tokens.controls is 0"},
		{"cycle", "testdata/invalid-cycle.yaml:6:123: system.components[2].depends_on[1]: dependency cycle edge-push -> edge-poll -> edge-push"},
		{"depends-on", "testdata/invalid-depends-on.yaml:6:38: system.components[2].depends_on[0]: unknown component \"isuer\" (have: issuer, edge-push, edge-poll)"},
		{"duplicate-component", "testdata/invalid-duplicate-component.yaml:6:14: system.components[2].name: duplicate component \"edge-push\" (first at line 5)"},
		{"duplicate-key", "testdata/invalid-duplicate-key.yaml:10:3: traffic.rate: duplicate key \"rate\" (first at line 8)"},
		{"duration-unit", "testdata/invalid-duration-unit.yaml:9:13: traffic.duration: bad duration 40: want a Go duration like 150ms, 2s or 1m30s (the unit is required)"},
		{"empty", "testdata/invalid-empty.yaml: empty scenario: want a mapping with name, system, traffic and recall"},
		{"empty-item", "testdata/invalid-empty-item.yaml:14:5: expect[1]: empty list item"},
		{"env-bad-name", "testdata/invalid-env-bad-name.yaml:8:10: tokens.scope: bad variable name \"bad-name\" in ${bad-name}: want letters, digits and _ (write $${ for a literal ${)"},
		{"env-unset", "testdata/invalid-env-unset.yaml:5:101: system.components[1].url: environment variable GW_HOST is not set (write $${GW_HOST} for a literal ${GW_HOST})"},
		{"env-unterminated", "testdata/invalid-env-unterminated.yaml:8:16: tokens.scope: unterminated ${ (write $${ for a literal ${)"},
		{"expect-component", "testdata/invalid-expect-component.yaml:14:5: expect[1]: unknown component \"edge-psh\" (have: issuer, edge-push, edge-poll)"},
		{"expect-mapping-syntax", "testdata/invalid-expect-mapping-syntax.yaml:14:12: expect[1].expr: failed parsing expectation \"stale_accepts < 2s\": column 17: stale_accepts is a count: want a number like 0 or 10, got 2s"},
		{"expect-no-expr", "testdata/invalid-expect-no-expr.yaml:13:5: expect[0].expr: required: the expression, e.g. time_to_consistency.p99 < 2s"},
		{"expect-severity", "testdata/invalid-expect-severity.yaml:13:52: expect[0].severity: unknown severity \"critical\" (have: fail, warn)"},
		{"expect-syntax", "testdata/invalid-expect-syntax.yaml:14:5: expect[1]: failed parsing expectation \"ttc.p99 << 2s\": column 9: unknown operator \"<<\" (want one of <, <=, ==, !=, >=, >)"},
		{"fault-after-end", "testdata/invalid-fault-after-end.yaml:13:10: faults[0].at: recall+30s is 45s from the start (the recall is at 15s), after the end of traffic (duration 40s)"},
		{"fault-before-start", "testdata/invalid-fault-before-start.yaml:13:10: faults[0].at: recall-20s is -5s from the start (the recall is at 15s), before the start of traffic"},
		{"fault-duplicate-name", "testdata/invalid-fault-duplicate-name.yaml:14:12: faults[1].name: duplicate fault name \"f\" (first at faults[0])"},
		{"fault-for", "testdata/invalid-fault-for.yaml:13:20: faults[0].for: must be > 0, got 0s"},
		{"fault-kind", "testdata/invalid-fault-kind.yaml:13:31: faults[0].fault: unknown fault \"explode\" (have: pause, kill, restart, stop, partition, latency, bandwidth, timeout, reset_peer, slow_close, lose_answers, command, http)"},
		{"fault-no-for", "testdata/invalid-fault-no-for.yaml:13:5: faults[0].for: required: how long the fault lasts, e.g. for: 5s"},
		{"fault-no-target", "testdata/invalid-fault-no-target.yaml:13:5: faults[0].target: required: the component pause is done to (have: issuer, edge-push, edge-poll)"},
		{"fault-target", "testdata/invalid-fault-target.yaml:13:56: faults[0].target: unknown component \"edge-psh\" (have: issuer, edge-push, edge-poll)"},
		{"grant", "testdata/invalid-grant.yaml:7:17: tokens.grant: unknown grant \"implicit\" (have: client_credentials, password, refresh_token)"},
		{"issuer-not-issuer", "testdata/invalid-issuer-not-issuer.yaml:7:18: tokens.issuer: edge-push is of kind gateway, not issuer (issuers: issuer)"},
		{"kind-mismatch", "testdata/invalid-kind-mismatch.yaml:4:28: system.components[0].kind: reference/issuer is a component of kind issuer, not gateway"},
		{"kind", "testdata/invalid-kind.yaml:6:31: system.components[2].kind: unknown kind \"gw\" (have: issuer, gateway, cache, service, bus, other)"},
		{"list-for-mapping", "testdata/invalid-list-for-mapping.yaml:7:9: tokens: want a mapping with keys issuer, grant, victims, controls, users, clients, refresh_tokens, scope, source, recovery, got a list"},
		{"many", "testdata/invalid-many.yaml:1:7: name: bad name \"many problems\": want letters, digits, '.', '_' and '-'\ntestdata/invalid-many.yaml:3:12: system.runtime: unknown runtime \"dokcer\" (have: embedded, docker, external)\ntestdata/invalid-many.yaml:7:14: system.components[2].name: duplicate component \"edge-push\" (first at line 6)\ntestdata/invalid-many.yaml:11:3: traffic.workerz: unknown key \"workerz\" (valid: rate, ramp, duration, workers, targets, recheck, controls, sample, resolution, after_faults, settle)\ntestdata/invalid-many.yaml:13:7: recall.at: 50s is after the end of traffic (duration 40s)\ntestdata/invalid-many.yaml:15:71: faults[0].target: unknown component \"edge-psh\" (have: issuer, edge-push)\ntestdata/invalid-many.yaml:17:5: expect[0]: failed parsing expectation \"ttc.p99 << 2s\": column 9: unknown operator \"<<\" (want one of <, <=, ==, !=, >=, >)"},
		{"missing-duration", "testdata/invalid-missing-duration.yaml:7:1: traffic.duration: required: how long traffic runs, e.g. duration: 40s"},
		{"missing-name", "testdata/invalid-missing-name.yaml:1:1: name: required, e.g. name: quickstart"},
		{"missing-rate", "testdata/invalid-missing-rate.yaml:7:1: traffic.rate: required: the probe rate, e.g. rate: 2000/s"},
		{"missing-recall-at", "testdata/invalid-missing-recall-at.yaml:10:1: recall.at: required: when the recall starts, from the start of traffic, e.g. at: 15s"},
		{"no-components", "testdata/invalid-no-components.yaml:3:3: system.components: at least one component is required"},
		{"null-name", "testdata/invalid-null-name.yaml:1:6: name: required, e.g. name: quickstart"},
		{"offset", "testdata/invalid-offset.yaml:11:7: recall.at: bad offset \"soon\": want a duration from the start of traffic (15s) or one relative to the recall (recall, recall-1s, recall+2s)"},
		{"percent", "testdata/invalid-percent.yaml:10:12: traffic.recheck: bad percentage \"150%\": want 0%..100% like 10%, or a fraction 0..1 like 0.1"},
		{"probe-no-token", "testdata/invalid-probe-no-token.yaml:9:7: system.components[2].probe: never sends the credential: put {{token}} in a header (Authorization: Bearer {{token}}), the path, the url or the body"},
		{"probe-path-and-url", "testdata/invalid-probe-path-and-url.yaml:9:30: system.components[2].probe.url: set path or url, not both\ntestdata/invalid-probe-path-and-url.yaml:9:69: system.components[2].probe.method: unknown method \"FETCH\" (have: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)"},
		{"probe-placeholder", "testdata/invalid-probe-placeholder.yaml:10:15: system.components[2].probe.path: unknown placeholder {{user}} (have: {{token}})"},
		{"probe-regexp", "testdata/invalid-probe-regexp.yaml:9:51: system.components[2].probe.accept.body_match: bad regular expression \"ok(\": missing closing ): `ok(`\ntestdata/invalid-probe-regexp.yaml:9:89: system.components[2].probe.reject.json: failed parsing JSON condition \"active = false\": column 8: unknown operator \"=\" (want one of <, <=, ==, !=, >=, >)"},
		{"probe-status-overlap", "testdata/invalid-probe-status-overlap.yaml:11:27: system.components[2].probe.reject.status[0]: status 200 is both accepted and rejected; add body_match or json to tell them apart"},
		{"ramp", "testdata/invalid-ramp.yaml:10:27: traffic.ramp.for: 50s is longer than traffic (duration 40s)"},
		{"rate", "testdata/invalid-rate.yaml:8:9: traffic.rate: bad rate \"fast\": want N/s, N/m or N/ms, e.g. 2000/s"},
		{"recall-after-end", "testdata/invalid-recall-after-end.yaml:11:7: recall.at: 50s is after the end of traffic (duration 40s)"},
		{"recall-at-end", "testdata/invalid-recall-at-end.yaml:11:7: recall.at: 40s is at the end of traffic (duration 40s)"},
		{"recall-relative", "testdata/invalid-recall-relative.yaml:11:7: recall.at: recall+1s is relative to the recall itself; want a duration from the start of traffic, e.g. 15s"},
		{"runtime", "testdata/invalid-runtime.yaml:3:12: system.runtime: unknown runtime \"dokcer\" (have: embedded, docker, external)"},
		{"several-issuers", "testdata/invalid-several-issuers.yaml:5:14: tokens.issuer: required with several issuers: one of issuer, issuer-b"},
		{"sample", "testdata/invalid-sample.yaml:10:11: traffic.sample: 5000 victims per component, but tokens.victims is 1000\ntestdata/invalid-sample.yaml:11:15: traffic.resolution: set sample or resolution, not both: resolution sizes the sample"},
		{"sample-value", "testdata/invalid-sample-value.yaml:9:11: traffic.sample: bad sample \"0%\": want a share in (0%, 100%] like 10%, or a count like 100"},
		{"shares", "testdata/invalid-shares.yaml:11:13: traffic.controls: recheck (60%) and controls (0.4) leave no probes for victims; keep their sum under 100%"},
		{"syntax", "testdata/invalid-syntax.yaml:8: YAML syntax: did not find expected key"},
		{"tokens-range", "testdata/invalid-tokens-range.yaml:7:19: tokens.victims: must be >= 1, got 0\ntestdata/invalid-tokens-range.yaml:7:29: tokens.users: must be >= 1, got -1"},
		{"two-documents", "testdata/invalid-two-documents.yaml:14:1: more than one YAML document: a scenario file holds one"},
		{"unknown-issuer", "testdata/invalid-unknown-issuer.yaml:7:18: tokens.issuer: unknown component \"isuer\" (have: issuer, edge-push, edge-poll)"},
		{"unknown-key", "testdata/invalid-unknown-key.yaml:12:3: recall.actoin: unknown key \"actoin\" (valid: at, action, select, mode, concurrency, confirm, confirm_window, wait_for_baseline, with, ssf_receiver)"},
		{"unknown-target", "testdata/invalid-unknown-target.yaml:10:24: traffic.targets[1]: unknown component \"edge-psh\" (have: issuer, edge-push, edge-poll)"},
		{"use", "testdata/invalid-use.yaml:6:45: system.components[2].use: unknown reference component \"reference/cache\" (have: reference/issuer, reference/gateway, reference/service, reference/nats, reference/apikey-service, reference/apikeys, reference/rp, reference/ssf)"},
		{"user-component-probe", "testdata/invalid-user-component-probe.yaml:7:7: system.components[2].probe: required: my-api is probed (by default every gateway and service is probed) and is not a reference component, so say how to ask it whether it honours a credential"},
		{"wait", "testdata/invalid-wait.yaml:9:23: system.components[2].ports[1]: bad port \"70000\": want a container port like 8080 or 8080/tcp\ntestdata/invalid-wait.yaml:10:7: system.components[2].wait: set exactly one of http, log and port (have 2)\ntestdata/invalid-wait.yaml:10:20: system.components[2].wait.http: bad path \"healthz\": want a path starting with /, e.g. /healthz"},
		{"with-bad-duration", "testdata/invalid-with-bad-duration.yaml:6:97: system.components[2].with.interval: bad duration 2: want a Go duration like 150ms, 2s or 1m30s"},
		{"with-missing-strategy", "testdata/invalid-with-missing-strategy.yaml:5:7: system.components[1].with.strategy: required for reference/gateway: one of push, poll, introspect, jwt-only, ssf"},
		{"with-on-user-component", "testdata/invalid-with-on-user-component.yaml:6:83: system.components[2].with: only reference components (use: reference/...) take with; configure your own component with env and command"},
		{"with-strategy", "testdata/invalid-with-strategy.yaml:5:81: system.components[1].with.strategy: unknown strategy \"pull\" (have: push, poll, introspect, jwt-only, ssf)"},
		{"with-unknown-key", "testdata/invalid-with-unknown-key.yaml:5:92: system.components[1].with.ttl: unknown key \"ttl\" for reference/gateway (valid: cache_ttl, delivery, fail_mode, ignore_event, interval, jwks_min_refresh, jwks_refetch, jwks_ttl, max_staleness, restart_resync_delay, restart_snapshot, strategy, transmitter, upstream, upstream_max_conns, upstream_max_inflight)"},
		{"with-wrong-strategy", "testdata/invalid-with-wrong-strategy.yaml:6:98: system.components[2].with.cache_ttl: cache_ttl applies only to strategy introspect (strategy is poll)"},
		{"wrong-type", "testdata/invalid-wrong-type.yaml:7:19: tokens.victims: want an integer, got \"many\""},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen["testdata/invalid-"+tc.name+".yaml"] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := "testdata/invalid-" + tc.name + ".yaml"
			s, err := Load(path, WithLookupEnv(noEnv))
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want error:\n%s", path, tc.want)
			}
			if s != nil {
				t.Errorf("Load(%s) returned a scenario with its error", path)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Load(%s) error\n got: %s\nwant: %s", path, got, tc.want)
			}
			if n := len(Errors(err)); n != strings.Count(tc.want, "\n")+1 {
				t.Errorf("Errors() found %d errors, want one per line of the message", n)
			}
		})
	}
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f] {
			t.Errorf("%s has no case in this table", f)
		}
	}
}

func TestLoadQuickstart(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/valid-quickstart.yaml", env(map[string]string{"API_KEY": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "quickstart" || s.Seed != 42 || s.System.Runtime != RuntimeEmbedded || s.System.StartTimeout != 30*time.Second {
		t.Errorf("header: %q seed %d runtime %q start_timeout %s", s.Name, s.Seed, s.System.Runtime, s.System.StartTimeout)
	}
	api, ok := s.Component("my-api")
	if !ok {
		t.Fatal(`Component("my-api") not found`)
	}
	wantAPI := Component{
		Name: "my-api", Kind: KindService, Image: "example/api:1.2", URL: "https://staging.example.com",
		Env: map[string]string{"API_KEY": "s3cret"}, Command: []string{"serve", "--port=8080"}, Ports: []string{"8080"},
		DependsOn: []string{"issuer"},
		Wait:      &Wait{HTTP: "/healthz", Status: 200, Timeout: 30 * time.Second},
		Probe: &Probe{Method: "GET", Path: "/api/whoami", Headers: map[string]string{"Authorization": "Bearer {{token}}"},
			Timeout: 2 * time.Second, Accept: Match{Status: []int{200}}, Reject: Match{Status: []int{401, 403}}},
	}
	if d := cmp.Diff(&wantAPI, api); d != "" {
		t.Errorf("my-api (-want +got):\n%s", d)
	}
	wantTraffic := Traffic{
		Rate:     Rate{Freq: 4000, Per: time.Second, Text: "4000/s"},
		Ramp:     &Ramp{From: Rate{Freq: 100, Per: time.Second, Text: "100/s"}, For: 5 * time.Second},
		Duration: 40 * time.Second, Workers: 16, Targets: []string{"edge-push", "edge-poll"},
		Recheck: Percent{Fraction: 0.1, Text: "10%"}, Controls: Percent{Fraction: 0.1, Text: "10%"},
	}
	if d := cmp.Diff(wantTraffic, s.Traffic); d != "" {
		t.Errorf("traffic (-want +got):\n%s", d)
	}
	wantRecall := Recall{At: Offset{Anchor: AnchorStart, D: 15 * time.Second, Text: "15s"}, Action: ActionRevokeTokens,
		Select: "victims", Mode: ModeBatch, Concurrency: 32, Confirm: true, ConfirmWindow: 2 * time.Second, With: map[string]any{}}
	if d := cmp.Diff(wantRecall, s.Recall); d != "" {
		t.Errorf("recall (-want +got):\n%s", d)
	}
	wantFaults := []Fault{{Name: "cut-bus", At: Offset{Anchor: AnchorRecall, D: -time.Second, Text: "recall-1s"},
		For: 5 * time.Second, Fault: "partition", Target: "edge-push", With: map[string]any{}}}
	if d := cmp.Diff(wantFaults, s.Faults); d != "" {
		t.Errorf("faults (-want +got):\n%s", d)
	}
	wantExpect := []Expectation{
		{Text: "time_to_consistency.p99 < 2s", Severity: SeverityFail, Line: 58, Col: 5},
		{Text: `stale_accepts{component="edge-push"} == 0`, Severity: SeverityFail, Line: 59, Col: 5},
		{Text: `time_to_consistency.p99{component="edge-jwt"} < 5s`, Severity: SeverityWarn, Note: "jwt-only never learns", Line: 60, Col: 5},
	}
	if d := cmp.Diff(wantExpect, s.Expect, cmpopts.IgnoreFields(Expectation{}, "Expr")); d != "" {
		t.Errorf("expect (-want +got):\n%s", d)
	}
	if e := s.Expect[1].Expr; e.Metric != "stale_accepts" || e.Component != "edge-push" || e.Op != "==" {
		t.Errorf("expect[1] parsed as %+v", e)
	}
	wantReport := ReportSpec{Dir: filepath.Join("testdata", "reports"), HTML: true}
	if d := cmp.Diff(wantReport, s.Report); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if got := s.Fault0Start(); got != 14*time.Second {
		t.Errorf("faults[0] starts at %s, want 14s", got)
	}
	var probed []string
	for _, c := range s.ProbedComponents() {
		probed = append(probed, c.Name)
	}
	if d := cmp.Diff([]string{"edge-push", "edge-poll"}, probed); d != "" {
		t.Errorf("ProbedComponents (-want +got):\n%s", d)
	}
	src, _ := os.ReadFile("testdata/valid-quickstart.yaml")
	if string(s.Source) != string(src) || strings.Contains(string(s.Source), "s3cret") {
		t.Error("Source is not the unexpanded file text")
	}
}

// Fault0Start is a test helper: when the first fault starts.
func (s *Scenario) Fault0Start() time.Duration { return s.Faults[0].At.Resolve(s.Recall.At.D) }

const minimal = `name: minimal
system:
  components:
    - {name: issuer, use: reference/issuer}
    - {name: edge, use: reference/gateway, with: {strategy: poll}}
    - name: api
      kind: service
      url: http://127.0.0.1:8080
      probe: {path: /whoami}
traffic: {rate: 100/s, duration: 10s}
recall: {at: 5s}
faults:
  - {at: recall, for: 1s, fault: pause, target: edge}
expect:
  - stale_window < 1s
`

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	s, err := Parse("dir/minimal.yaml", []byte(minimal), WithLookupEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(DefaultTokens.Grant, s.Tokens.Grant); d != "" {
		t.Error(d)
	}
	want := DefaultTokens
	want.Issuer = "issuer" // the only issuer
	if d := cmp.Diff(want, s.Tokens); d != "" {
		t.Errorf("tokens (-want +got):\n%s", d)
	}
	if s.System.Runtime != DefaultSystem.Runtime || s.System.StartTimeout != DefaultSystem.StartTimeout {
		t.Errorf("system defaults not applied: %+v", s.System)
	}
	if s.System.Components[0].Kind != KindIssuer || s.System.Components[1].Kind != KindGateway {
		t.Errorf("kinds not taken from use: %q, %q", s.System.Components[0].Kind, s.System.Components[1].Kind)
	}
	if s.Traffic.Workers != DefaultTraffic.Workers || s.Traffic.Recheck != DefaultTraffic.Recheck || s.Traffic.Controls != DefaultTraffic.Controls {
		t.Errorf("traffic defaults not applied: %+v", s.Traffic)
	}
	wantRecall := DefaultRecall
	wantRecall.At = Offset{Anchor: AnchorStart, D: 5 * time.Second, Text: "5s"}
	wantRecall.Mode = ModeBatch
	if d := cmp.Diff(wantRecall, s.Recall); d != "" {
		t.Errorf("recall (-want +got):\n%s", d)
	}
	wantProbe := &Probe{Method: "GET", Path: "/whoami", Headers: DefaultProbeHeaders(), Timeout: DefaultProbe.Timeout,
		Reject: Match{Status: DefaultRejectStatus}}
	if d := cmp.Diff(wantProbe, s.System.Components[2].Probe); d != "" {
		t.Errorf("probe (-want +got):\n%s", d)
	}
	if s.Faults[0].Name != "pause-0" {
		t.Errorf("fault name = %q, want pause-0", s.Faults[0].Name)
	}
	if s.Expect[0].Severity != SeverityFail {
		t.Errorf("severity = %q, want fail", s.Expect[0].Severity)
	}
	if want := (ReportSpec{Dir: "reports", HTML: true}); s.Report != want { // under the working directory
		t.Errorf("report = %+v, want %+v", s.Report, want)
	}
	if s.Path != "dir/minimal.yaml" {
		t.Errorf("Path = %q", s.Path)
	}
	// The defaults are not shared: changing one scenario leaves DefaultProbe alone.
	s.System.Components[2].Probe.Reject.Status[0] = 999
	if DefaultRejectStatus[0] != 401 || len(DefaultProbe.Reject.Status) != 0 && DefaultProbe.Reject.Status[0] != 401 {
		t.Error("a scenario shares its reject status list with the defaults")
	}
}

func TestParseSample(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want SampleSize
		res  time.Duration
	}{
		{"sample: 100", SampleSize{Count: 100, Text: "100"}, 0},
		{"sample: 12.5%", SampleSize{Share: 0.125, Text: "12.5%"}, 0},
		{"resolution: 20ms", SampleSize{}, 20 * time.Millisecond},
	} {
		src := strings.Replace(minimal, "duration: 10s}", "duration: 10s, "+tc.line+"}", 1)
		s, err := Parse("m.yaml", []byte(src), WithLookupEnv(noEnv))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		var got SampleSize
		if s.Traffic.Sample != nil {
			got = *s.Traffic.Sample
		}
		if got != tc.want || s.Traffic.Resolution != tc.res {
			t.Errorf("%s: sample %+v resolution %v, want %+v %v", tc.line, got, s.Traffic.Resolution, tc.want, tc.res)
		}
	}
	if n := (SampleSize{Share: 0.125}).Of(1000); n != 125 {
		t.Errorf("12.5%% of 1000 = %d", n)
	}
}

func TestParseControlsShareFollowsTokens(t *testing.T) {
	t.Parallel()
	src := strings.Replace(minimal, "traffic:", "tokens: {controls: 0}\ntraffic:", 1)
	s, err := Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Traffic.Controls.Fraction != 0 {
		t.Errorf("traffic.controls = %s with tokens.controls 0, want 0%%", s.Traffic.Controls)
	}
}

func TestParseReportPaths(t *testing.T) {
	t.Parallel()
	abs := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name, report, wantDir, wantJUnit string
	}{
		{"relative dir and junit", "report: {dir: out, junit: junit.xml}", filepath.Join("sc", "out"), filepath.Join("sc", "out", "junit.xml")},
		{"absolute dir", "report: {dir: " + abs + "}", abs, ""},
		{"html off", "report: {html: false}", "reports", ""},
		{"default: under the working directory", "", "reports", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse("sc/x.yaml", []byte(minimal+tc.report+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Report.Dir != tc.wantDir || s.Report.JUnit != tc.wantJUnit {
				t.Errorf("report = %+v, want dir %q junit %q", s.Report, tc.wantDir, tc.wantJUnit)
			}
			if strings.Contains(tc.report, "html: false") == s.Report.HTML {
				t.Errorf("html = %v", s.Report.HTML)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"KEY": "s3: cr#et", "N": "250", "HOST": "127.0.0.1", "EMPTY": ""}
	tests := []struct {
		name  string
		patch func(string) string
		check func(t *testing.T, s *Scenario)
	}{
		{"set in a header, structure-breaking characters stay data",
			func(s string) string {
				return strings.Replace(s, "probe: {path: /whoami}", `probe: {path: /whoami, headers: {X-Key: "${KEY}", Authorization: "Bearer {{token}}"}}`, 1)
			},
			func(t *testing.T, s *Scenario) {
				if got := s.System.Components[2].Probe.Headers["X-Key"]; got != "s3: cr#et" {
					t.Errorf("X-Key = %q", got)
				}
			}},
		{"plain scalar is typed after expansion",
			func(s string) string { return strings.Replace(s, "traffic:", "tokens:\n  victims: ${N}\ntraffic:", 1) },
			func(t *testing.T, s *Scenario) {
				if s.Tokens.Victims != 250 {
					t.Errorf("victims = %d, want 250", s.Tokens.Victims)
				}
			}},
		{"quoted number in a flow mapping becomes a number for an int field",
			func(s string) string {
				return strings.Replace(s, "traffic:", "tokens: {victims: \"${N}\", scope: \"${N}\"}\ntraffic:", 1)
			},
			func(t *testing.T, s *Scenario) {
				if s.Tokens.Victims != 250 || s.Tokens.Scope != "250" {
					t.Errorf("victims = %d, scope = %q; want 250, \"250\"", s.Tokens.Victims, s.Tokens.Scope)
				}
			}},
		{"quoted stays a string in with",
			func(s string) string {
				return strings.Replace(s, "recall: {at: 5s}", "recall: {at: 5s, action: http, with: {url: 'http://x', body: '${N}'}}", 1)
			},
			func(t *testing.T, s *Scenario) {
				if got := s.Recall.With["body"]; got != "250" {
					t.Errorf("with.body = %#v, want \"250\"", got)
				}
			}},
		{"inside a longer value",
			func(s string) string { return strings.Replace(s, "http://127.0.0.1:8080", "http://${HOST}:8080", 1) },
			func(t *testing.T, s *Scenario) {
				if got := s.System.Components[2].URL; got != "http://127.0.0.1:8080" {
					t.Errorf("url = %q", got)
				}
			}},
		{"escaped",
			func(s string) string {
				return strings.Replace(s, "traffic:", "description: cost $${KEY} and $$ and ${EMPTY}|\ntraffic:", 1)
			},
			func(t *testing.T, s *Scenario) {
				if s.Description != "cost ${KEY} and $$ and |" {
					t.Errorf("description = %q", s.Description)
				}
			}},
		{"comments are not expanded",
			func(s string) string { return strings.Replace(s, "traffic:", "# ${UNSET} in a comment\ntraffic:", 1) },
			func(t *testing.T, s *Scenario) {}},
		{"in an action parameter",
			func(s string) string {
				return strings.Replace(s, "recall: {at: 5s}", "recall: {at: 5s, action: http, with: {url: 'http://${HOST}/recall'}}", 1)
			},
			func(t *testing.T, s *Scenario) {
				if got := s.Recall.With["url"]; got != "http://127.0.0.1/recall" {
					t.Errorf("with.url = %v", got)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.patch(minimal)
			s, err := Parse("env.yaml", []byte(src), env(vars))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
			if string(s.Source) != src {
				t.Error("Source differs from the text as written")
			}
		})
	}
}

func TestEnvUnsetPointsAtTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, want string
	}{
		{"plain", "description: a ${NOPE} b", "env.yaml:1:16: description: environment variable NOPE is not set (write $${NOPE} for a literal ${NOPE})"},
		{"double quoted", `description: "a ${NOPE} b"`, "env.yaml:1:17: description: environment variable NOPE is not set (write $${NOPE} for a literal ${NOPE})"},
		{"single quoted", `description: '${NOPE}'`, "env.yaml:1:15: description: environment variable NOPE is not set (write $${NOPE} for a literal ${NOPE})"},
		{"block", "description: |\n  line\n  ${NOPE}", "env.yaml:1:14: description: environment variable NOPE is not set (write $${NOPE} for a literal ${NOPE})"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("env.yaml", []byte(tc.line+"\n"+strings.TrimPrefix(minimal, "name: minimal\n")+"name: x\n"), WithLookupEnv(noEnv))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestKnownFaultsAndActions(t *testing.T) {
	t.Parallel()
	src := strings.Replace(minimal, "recall: {at: 5s}", "recall: {at: 5s, action: rotate-everything}", 1)
	if _, err := Parse("r.yaml", []byte(src)); err == nil {
		t.Fatal("unknown action accepted with the default list")
	}
	_, err := Parse("r.yaml", []byte(src), WithKnownActions("rotate-everything"), WithKnownFaults("freeze"))
	want := `r.yaml:13:34: faults[0].fault: unknown fault "pause" (have: freeze)`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}

func TestWithCheck(t *testing.T) {
	t.Parallel()
	var seen *Scenario
	check := func(s *Scenario) error {
		seen = s
		return errors.Join(
			Errorf("faults[0].with.latency", "required for pause? no: %s", "just testing"),
			Errorf("faults[0].target", "runtime %s cannot pause", s.System.Runtime),
			errors.New("plain error"),
		)
	}
	_, err := Parse("c.yaml", []byte(minimal), WithCheck(check))
	want := "c.yaml: plain error\n" +
		"c.yaml:13:5: faults[0].with.latency: required for pause? no: just testing\n" +
		"c.yaml:13:49: faults[0].target: runtime embedded cannot pause"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
	if seen == nil || seen.Name != "minimal" {
		t.Error("check did not see the decoded scenario")
	}
	if n := len(Errors(err)); n != 3 {
		t.Errorf("Errors() = %d errors, want 3", n)
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Col: 5, Path: "a.b", Msg: "bad"}, "f.yaml:3:5: a.b: bad"},
		{Error{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{Error{File: "f.yaml", Msg: "bad"}, "f.yaml: bad"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	t.Parallel()
	src := `name: anchors
system:
  components:
    - {name: issuer, use: reference/issuer}
    - &gw {name: edge-a, use: reference/gateway, with: &push {strategy: push}}
    - <<: *gw
      name: edge-b
      with: *push
traffic: {rate: 100/s, duration: 10s}
recall: {at: 5s}
`
	s, err := Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := s.Component("edge-b")
	if !ok || b.Kind != KindGateway || b.With["strategy"] != "push" {
		t.Errorf("edge-b = %+v", b)
	}
	bad := strings.Replace(src, "      name: edge-b\n", "      name: edge-b\n      nmae: x\n", 1)
	_, err = Parse("a.yaml", []byte(bad))
	want := `a.yaml:8:7: system.components[2].nmae: unknown key "nmae" (valid: name, kind, use, with, image, url, env, command, ports, depends_on, wait, probe, oauth)`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}

func TestProbedComponents(t *testing.T) {
	t.Parallel()
	s := &Scenario{System: System{Components: []Component{
		{Name: "issuer", Kind: KindIssuer},
		{Name: "gw", Kind: KindGateway},
		{Name: "bus", Kind: KindBus},
		{Name: "svc", Kind: KindService},
		{Name: "cache", Kind: KindCache, Probe: &Probe{}},
	}}}
	names := func(cs []*Component) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if d := cmp.Diff([]string{"gw", "svc", "cache"}, names(s.ProbedComponents())); d != "" {
		t.Errorf("default set (-want +got):\n%s", d)
	}
	s.Traffic.Targets = []string{"svc", "issuer", "svc"}
	if d := cmp.Diff([]string{"svc", "issuer"}, names(s.ProbedComponents())); d != "" {
		t.Errorf("targets (-want +got):\n%s", d)
	}
	if _, ok := s.Component("nope"); ok {
		t.Error(`Component("nope") found something`)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	introspection := &Probe{
		Accept: Match{Status: []int{200}, JSON: ptr(expect.MustParseJSONCond("active == true"))},
		Reject: Match{Status: []int{200}, JSON: ptr(expect.MustParseJSONCond("active == false"))},
	}
	var body Regexp
	if err := body.UnmarshalText([]byte("revoked")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		probe  *Probe
		status int
		body   string
		want   string
	}{
		{"default accept 2xx", &Probe{}, 204, "", OutcomeAccept},
		{"default reject 401", &Probe{}, 401, "", OutcomeReject},
		{"default reject 403", &Probe{}, 403, "", OutcomeReject},
		{"default 500 is an error", &Probe{}, 500, "", OutcomeError},
		{"default 404 is an error", &Probe{}, 404, "", OutcomeError},
		{"introspection active", introspection, 200, `{"active": true}`, OutcomeAccept},
		{"introspection inactive", introspection, 200, `{"active": false}`, OutcomeReject},
		{"introspection garbage", introspection, 200, `oops`, OutcomeError},
		{"body match on reject, any status", &Probe{Reject: Match{BodyMatch: &body}}, 200, "token revoked", OutcomeReject},
		{"body match not met falls to accept", &Probe{Reject: Match{BodyMatch: &body}}, 200, "hello", OutcomeAccept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.probe.Classify(tc.status, []byte(tc.body)); got != tc.want {
				t.Errorf("Classify(%d, %q) = %s, want %s", tc.status, tc.body, got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestScenariosDir loads every scenario shipped in scenarios/, variables set to placeholders
// (an absolute URL for those named *_URL or *_ISSUER, which a scenario uses as a whole url).
func TestScenariosDir(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) {
				if strings.HasSuffix(k, "_URL") || strings.HasSuffix(k, "_ISSUER") {
					return "https://placeholder.example.invalid/x", true
				}
				return "placeholder", true
			}
			if _, err := Load(f, WithLookupEnv(lookup)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestYAMLTagsMatchJSONTags keeps the schema (built from json tags) and the decoder (yaml tags)
// in step.
func TestYAMLTagsMatchJSONTags(t *testing.T) {
	t.Parallel()
	for _, v := range []any{Scenario{}, System{}, Component{}, Wait{}, Probe{}, Match{}, Tokens{}, Traffic{}, Ramp{}, Recall{}, Fault{}, Expectation{}, ReportSpec{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if y != j {
				t.Errorf("%s.%s: yaml %q, json %q", typ.Name(), f.Name, y, j)
			}
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	opt := WithLookupEnv(func(string) (string, bool) { return "x", true })
	for b.Loop() {
		if _, err := Load("testdata/valid-quickstart.yaml", opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	src := []byte(minimal)
	for b.Loop() {
		if _, err := Parse("m.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInvalid(b *testing.B) {
	src, err := os.ReadFile("testdata/invalid-many.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("many.yaml", src); err == nil {
			b.Fatal("no error")
		}
	}
}
