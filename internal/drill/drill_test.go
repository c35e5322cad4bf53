package drill

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	refsource "github.com/recall-drills/recall/internal/source/reference"
	"github.com/recall-drills/recall/report"
)

// groundTruthPlan is a small drill on the embedded reference stack: one gateway of each
// strategy, with a short poll interval and cache TTL so the test is quick.
func groundTruthPlan(t *testing.T, pollInterval, cacheTTL time.Duration) *Plan {
	t.Helper()
	gw := func(name string, with map[string]any) runtime.Spec {
		return runtime.Spec{Name: name, Kind: "gateway", Use: runtime.UseGateway, With: with}
	}
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		gw("push", map[string]any{"strategy": "push"}),
		gw("poll", map[string]any{"strategy": "poll", "interval": pollInterval.String()}),
		gw("introspect", map[string]any{"strategy": "introspect", "cache_ttl": cacheTTL.String()}),
		gw("jwt", map[string]any{"strategy": "jwt-only"}),
	}
	secrets := runtime.Secrets{AdminSecret: "test-admin-secret", GatewayID: "gw", GatewaySecret: "gw-secret"}
	env, err := embedded.New(specs, secrets)
	if err != nil {
		t.Fatal(err)
	}
	action, err := NewAction("revoke-tokens", ActionParams{Mode: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	probe := &ProbeSpec{Path: DefaultProbePath, Accept: DefaultAccept, Reject: DefaultReject, Timeout: 2 * time.Second}
	comps := []Component{{Name: "issuer", Kind: "issuer"}}
	for _, n := range []string{"push", "poll", "introspect", "jwt"} {
		comps = append(comps, Component{Name: n, Kind: "gateway", Probe: probe})
	}
	return &Plan{
		Name: "ground-truth", Seed: 1, DrillID: "gt", Env: env, Runtime: "embedded",
		Components: comps, Issuer: "issuer", Provider: refsource.Open(NewSecret(secrets.AdminSecret), "gt"),
		Population: Population{Grant: "client_credentials", Victims: 150, Controls: 30, Clients: 4},
		// Settle and WaitForBaseline keep every pair measured on a loaded machine (CI runs
		// every package at once), where each pair comes back every few seconds.
		Traffic: Traffic{Rate: 1500, Duration: 8 * time.Second, Settle: 20 * time.Second, Workers: 16, Timeout: 2 * time.Second},
		Recall:  Recall{At: 3 * time.Second, WaitForBaseline: 20 * time.Second, Kind: "revoke-tokens", Mode: "batch", Action: action, Confirm: true},
		Expect: []Expectation{
			{Text: "false_rejects == 0", Expr: expect.MustParse("false_rejects == 0"), Severity: report.SeverityFail},
			{Text: `not_converged{component="jwt"} == 0`, Expr: expect.MustParse(`not_converged{component="jwt"} == 0`), Severity: report.SeverityWarn},
		},
	}
}

// TestDrillAgainstGroundTruth runs a drill on the reference stack and checks the harness's
// measurement against the instants each gateway recorded that it started enforcing: every
// recorded instant lies inside the measured bracket, each strategy stays within its bound plus
// the reported resolution, push is far faster than poll and introspect, jwt-only never converges,
// and controls are never rejected.
func TestDrillAgainstGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	const poll, ttl = time.Second, 1500 * time.Millisecond
	p := groundTruthPlan(t, poll, ttl)
	rep, err := Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if rep.Verdict != report.Pass {
		t.Errorf("verdict %s: %s", rep.Verdict, rep.Headline)
	}
	if rep.Recall.Confirmed != 150 || rep.Recall.Ineffective != 0 || rep.Recall.Failed != 0 {
		t.Errorf("recall confirmed %d, ineffective %d, failed %d; want 150, 0, 0", rep.Recall.Confirmed, rep.Recall.Ineffective, rep.Recall.Failed)
	}
	by := map[string]report.Component{}
	for _, c := range rep.Components {
		by[c.Name] = c
	}
	// On a loaded machine some pairs may miss their baseline accept before the trigger; they are
	// reported apart (never accepted) and measure nothing. Every measured pair must converge.
	for _, name := range []string{"push", "poll", "introspect"} {
		c := by[name]
		if c.Pairs < 100 || c.Converged != c.Pairs || c.Pairs+c.NeverAccepted != 150 {
			t.Errorf("%s: %d pairs (+%d never accepted), %d converged; want all measured pairs converged", name, c.Pairs, c.NeverAccepted, c.Converged)
		}
		gt := c.GroundTruth
		if gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
			t.Errorf("%s: ground truth %+v: every recorded instant must lie in its measured bracket", name, gt)
		}
		if c.FalseRejects != 0 || c.Resurrections != 0 {
			t.Errorf("%s: %d false rejects, %d resurrections", name, c.FalseRejects, c.Resurrections)
		}
	}
	// Each bound plus the resolution actually achieved (and 100 ms for the gateway's own work).
	slack := 100.0
	if c := by["poll"]; c.TTCMS.Max > millis(poll)+c.TTCMS.ResolutionMaxMS+slack {
		t.Errorf("poll: max TTC %.0f ms > interval %v + resolution %.0f ms", c.TTCMS.Max, poll, c.TTCMS.ResolutionMaxMS)
	}
	if c := by["introspect"]; c.TTCMS.Max > millis(ttl)+c.TTCMS.ResolutionMaxMS+slack {
		t.Errorf("introspect: max TTC %.0f ms > TTL %v + resolution %.0f ms", c.TTCMS.Max, ttl, c.TTCMS.ResolutionMaxMS)
	}
	push, pollC, intro := by["push"], by["poll"], by["introspect"]
	// Push learns from an event: on an idle machine within a few ms (the gateway's own tests
	// bound it under 100 ms); here, loaded by other tests, it must stay far below the others'
	// bounds. Not below poll's true p50: the tick's phase puts that anywhere in its interval
	// (a cold CI run with two burners had push at 83 ms and the tick at 198 ms).
	if push.GroundTruth.TTCMS.P50*3 > millis(poll) || push.GroundTruth.TTCMS.Max*2 > intro.GroundTruth.TTCMS.Max ||
		push.GroundTruth.TTCMS.Max > 500 {
		t.Errorf("push is not far below poll and introspect: true p50 %.0f ms, max %.0f ms vs poll interval %v (p50 %.0f ms), introspect max %.0f ms",
			push.GroundTruth.TTCMS.P50, push.GroundTruth.TTCMS.Max, poll, pollC.GroundTruth.TTCMS.P50, intro.GroundTruth.TTCMS.Max)
	}
	if push.TTCMS.P50 >= pollC.TTCMS.P50 {
		t.Errorf("measured push p50 %.0f ms not below poll p50 %.0f ms", push.TTCMS.P50, pollC.TTCMS.P50)
	}
	// The estimated distribution, beside the upper bounds: each strategy's true median lies in
	// its estimated median's interval (widened by 2ms and the grid step: the truth's own median
	// is of a sample of 150), and jwt-only's estimate reaches no quantile. Not introspect's: its
	// cache is filled by the probes, so its TTC is set by them, which breaks the estimator's
	// second assumption (docs/measurement.md); with brackets of seconds on a loaded machine its
	// true median fell outside the interval (236 ms against [17, 154]). It is logged.
	for _, name := range []string{"push", "poll", "introspect"} {
		c := by[name]
		e, gt := c.TTCEstimate, c.GroundTruth
		if e == nil || gt == nil || e.N != c.Pairs || e.P50.MS == nil || e.P50.LowMS == nil || e.P50.HighMS == nil {
			t.Errorf("%s: estimate %+v for %d pairs", name, e, c.Pairs)
			continue
		}
		slack := 2 + e.GridMS
		if truth := gt.TTCMS.P50; name != "introspect" && (truth < *e.P50.LowMS-slack || truth > *e.P50.HighMS+slack) {
			t.Errorf("%s: true median %.1f ms outside the estimated median %.1f ms [%.1f, %.1f] (upper-bound p50 %.1f ms)",
				name, truth, *e.P50.MS, *e.P50.LowMS, *e.P50.HighMS, c.TTCMS.P50)
		}
		t.Logf("%s: true p50 %.1f ms, estimated %.1f ms [%.1f, %.1f], upper-bound p50 %.1f ms ±%.1f",
			name, gt.TTCMS.P50, *e.P50.MS, *e.P50.LowMS, *e.P50.HighMS, c.TTCMS.P50, c.TTCMS.ResolutionMS)
	}
	if e := by["jwt"].TTCEstimate; e == nil || e.P50.MS != nil || e.RightCensored != e.N {
		t.Errorf("jwt-only: estimate %+v, want every pair right-censored and no median", e)
	}
	if c := by["jwt"]; c.NotConverged != c.Pairs || c.Pairs < 100 || c.GroundTruth == nil || c.GroundTruth.Checked != 0 {
		t.Errorf("jwt-only: %d of %d pairs not converged (want all), truth %+v", c.NotConverged, c.Pairs, c.GroundTruth)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects", rep.Overall.FalseRejects)
	}
	if rep.Probes.Dropped != 0 || rep.Probes.Total == 0 || rep.Probes.AfterRecall == 0 {
		t.Errorf("probes %+v", rep.Probes)
	}
	// The warn expectation on jwt-only failed without failing the drill.
	if len(rep.Expectations) != 2 || !rep.Expectations[0].Pass || rep.Expectations[1].Pass {
		t.Errorf("expectations %+v", rep.Expectations)
	}
}

// TestDrillSystemDoesNotStart: a broken system gives a report with verdict ERROR and a reason
// naming the component, and the environment is closed.
func TestDrillSystemDoesNotStart(t *testing.T) {
	t.Parallel()
	p := groundTruthPlan(t, time.Second, time.Second)
	p.Issuer = "nope"
	rep, err := Run(context.Background(), p)
	if err == nil || rep.Verdict != report.Error || rep.Reason == "" {
		t.Fatalf("err %v, verdict %s, reason %q", err, rep.Verdict, rep.Reason)
	}
	if _, err := p.Env.Endpoint("push"); err != nil {
		t.Fatalf("push never started: %v", err)
	}
	u, _ := p.Env.Endpoint("push")
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(u.String() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("push gateway still serving after Run returned")
	}
}

// TestDrillInterrupted: cancelling the context mid-drill returns the partial report with verdict
// ERROR, what was measured so far, and the system closed.
func TestDrillInterrupted(t *testing.T) {
	t.Parallel()
	p := groundTruthPlan(t, time.Second, time.Second)
	p.Traffic.Duration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	p.OnProgress = func(l Live) {
		if l.Elapsed > 1500*time.Millisecond {
			cancel()
		}
	}
	began := time.Now()
	rep, err := Run(ctx, p)
	if err == nil || rep.Verdict != report.Error {
		t.Fatalf("err %v verdict %s", err, rep.Verdict)
	}
	if time.Since(began) > 20*time.Second {
		t.Errorf("interrupted drill took %v", time.Since(began))
	}
	if rep.Probes.Total == 0 || len(rep.Components) == 0 {
		t.Errorf("partial report lost the figures: %+v", rep.Probes)
	}
}

// TestDrillRecallKinds runs short drills for the recalls that need a prepared population:
// revoke-key (controls signed by a newer key) and revoke-mfa (password grant with TOTP factors).
// Every victim must converge at the push gateway and no control may be rejected.
func TestDrillRecallKinds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 5 s drills")
	}
	for _, tc := range []struct {
		action string
		pop    func(*Population)
	}{
		{"revoke-key", func(p *Population) { p.RotateKeyBeforeControls = true }},
		{"revoke-mfa", func(p *Population) { p.Grant, p.Users, p.MFA = "password", 6, true }},
		{"revoke-users", func(p *Population) { p.Grant, p.Users = "password", 6 }},
		{"revoke-sessions", func(p *Population) {}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			p := groundTruthPlan(t, time.Second, time.Second)
			p.Population = Population{Grant: "client_credentials", Victims: 40, Controls: 10, Clients: 2}
			tc.pop(&p.Population)
			p.Traffic = Traffic{Rate: 500, Duration: 6 * time.Second, Timeout: 2 * time.Second}
			p.Recall.At = 2 * time.Second
			p.Recall.Kind = tc.action
			var err error
			if p.Recall.Action, err = NewAction(tc.action, ActionParams{}); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), p)
			if err != nil {
				t.Fatalf("drill: %v (%s)", err, rep.Reason)
			}
			for _, c := range rep.Components {
				switch c.Name {
				case "push":
					// A loaded machine may leave a few pairs without a baseline accept or without a
					// probe after the push arrived; the recall itself must have reached the push
					// gateway for (nearly) every credential.
					if c.Pairs < 30 || c.Converged*10 < c.Pairs*9 {
						t.Errorf("push: %d of %d pairs converged, want at least 90%% of at least 30", c.Converged, c.Pairs)
					}
				case "poll", "introspect", "jwt":
					if c.FalseRejects != 0 {
						t.Errorf("%s: %d false rejects: the recall hit controls", c.Name, c.FalseRejects)
					}
				}
			}
			if rep.Overall.FalseRejects != 0 || rep.Recall.Failed != 0 {
				t.Errorf("false rejects %d, failed recalls %d", rep.Overall.FalseRejects, rep.Recall.Failed)
			}
		})
	}
}

// TestDrillSampledAgainstGroundTruth recalls 400 credentials and probes a sample of 30 at each
// gateway: every victim must be recalled (and confirmed at the issuer), only the sampled pairs
// measured, the report must say n of N with the percentiles' precision and the achieved
// revisit interval, and every recorded enforcement instant must lie in its measured bracket.
func TestDrillSampledAgainstGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	p := groundTruthPlan(t, time.Second, 1500*time.Millisecond)
	p.Population = Population{Grant: "client_credentials", Victims: 400, Controls: 30, Clients: 4}
	p.Traffic.Sample = SampleSpec{Count: 30}
	rep, err := Run(context.Background(), p)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	if rep.Recall.Confirmed != 400 || rep.Recall.Failed != 0 {
		t.Errorf("recall confirmed %d, failed %d; want every one of the 400 victims recalled", rep.Recall.Confirmed, rep.Recall.Failed)
	}
	for _, c := range rep.Components {
		if !c.Probed {
			continue
		}
		if c.Sample == nil || c.Sample.Size != 30 || c.Sample.Of != 400 {
			t.Errorf("%s: sample %+v, want 30 of 400", c.Name, c.Sample)
			continue
		}
		if c.Pairs+c.NeverAccepted != 30 {
			t.Errorf("%s: %d pairs + %d never accepted, want the 30 sampled", c.Name, c.Pairs, c.NeverAccepted)
		}
		if c.RevisitMS <= 0 {
			t.Errorf("%s: no achieved revisit interval", c.Name)
		}
		if c.Name == "jwt" {
			continue
		}
		if c.Converged != c.Pairs || len(c.Sample.Percentiles) != 3 || !c.Sample.Percentiles[2].Unbounded {
			t.Errorf("%s: %d of %d converged, percentiles %+v (p99 of 30 cannot be bounded)", c.Name, c.Converged, c.Pairs, c.Sample.Percentiles)
		}
		if gt := c.GroundTruth; gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
			t.Errorf("%s: ground truth %+v: every recorded instant must lie in its measured bracket", c.Name, gt)
		}
	}
	if rep.Overall.FalseRejects != 0 || rep.Tokens.NeverAccepted > 4 {
		t.Errorf("false rejects %d, never-accepted victims %d (unsampled victims must not count)", rep.Overall.FalseRejects, rep.Tokens.NeverAccepted)
	}
}

// slowPreparer takes longer to prepare than the system's start deadline, as a cold image build
// does; its Start records what it was given and fails, which ends the drill.
type slowPreparer struct {
	prepare               time.Duration
	prepared              bool
	startErr              error // ctx.Err() when Start was called
	startHadDeadline      bool
	preparedBeforeStarted bool
}

var errStop = errors.New("stop here")

func (s *slowPreparer) Prepare(ctx context.Context) error {
	select {
	case <-time.After(s.prepare):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.prepared = true
	return nil
}

func (s *slowPreparer) Start(ctx context.Context) error {
	s.startErr = ctx.Err()
	_, s.startHadDeadline = ctx.Deadline()
	s.preparedBeforeStarted = s.prepared
	return errStop
}

func (s *slowPreparer) Endpoint(string) (*url.URL, error) { return nil, errStop }
func (s *slowPreparer) Close(context.Context) error       { return nil }

// TestDrillPrepareOutsideStartDeadline: a runtime's preparation (a cold image build) does not
// count against the system's start deadline, which starts after it.
func TestDrillPrepareOutsideStartDeadline(t *testing.T) {
	t.Parallel()
	env := &slowPreparer{prepare: 600 * time.Millisecond}
	p := groundTruthPlan(t, time.Second, time.Second)
	p.Env, p.StartTimeout = env, 200*time.Millisecond
	_, err := Run(context.Background(), p)
	if !errors.Is(err, errStop) {
		t.Fatalf("Run: %v; want the fake Start's error", err)
	}
	if !env.preparedBeforeStarted {
		t.Error("Start was called before Prepare finished")
	}
	if env.startErr != nil || !env.startHadDeadline {
		t.Errorf("Start got a context with error %v (deadline %v); want a live one with the start deadline, counted after Prepare", env.startErr, env.startHadDeadline)
	}
}
