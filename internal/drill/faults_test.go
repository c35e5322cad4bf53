package drill

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/runtime/embedded"
	refsource "github.com/recall-drills/recall/internal/source/reference"
	"github.com/recall-drills/recall/report"
)

// recFault records its calls; its Revert fails when failRevert is set.
type recFault struct {
	mu              sync.Mutex
	injects, revert int
	failRevert      bool
}

func (f *recFault) Inject(context.Context, runtime.Environment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injects++
	return nil
}

func (f *recFault) Revert(context.Context, runtime.Environment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revert++
	if f.failRevert {
		return errors.New("stuck")
	}
	return nil
}

func (f *recFault) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injects, f.revert
}

// TestFaultsRevertedOnInterrupt interrupts a drill while faults are on: each started fault is
// reverted exactly once, on a fresh context, and the report gives every window, the failed
// revert (a critical finding) and the fault that never started.
func TestFaultsRevertedOnInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 2 s drill")
	}
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "interval": "500ms"}},
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
	long, stuck, late, short := &recFault{}, &recFault{failRevert: true}, &recFault{}, &recFault{}
	probe := &ProbeSpec{Path: DefaultProbePath, Accept: DefaultAccept, Reject: DefaultReject, Timeout: 2 * time.Second}
	p := &Plan{
		Name: "faults", Seed: 1, DrillID: "f", Env: env, Runtime: "embedded",
		Components: []Component{{Name: "issuer", Kind: "issuer"}, {Name: "edge", Kind: "gateway", Probe: probe, Sources: []string{"issuer"}}},
		Issuer:     "issuer", Provider: refsource.Open(NewSecret(secrets.AdminSecret), "gt"),
		Population: Population{Grant: "client_credentials", Victims: 10, Controls: 2, Clients: 1},
		Traffic:    Traffic{Rate: 100, Duration: 20 * time.Second, Workers: 4, Timeout: 2 * time.Second},
		Recall:     Recall{At: time.Second, Kind: "revoke-tokens", Mode: "batch", Action: action},
		Faults: []FaultStep{
			{Name: "long", Kind: "pause", Target: "issuer", At: 500 * time.Millisecond, For: time.Hour, Cuts: true, Fault: long},
			{Name: "stuck", Kind: "command", At: 600 * time.Millisecond, For: time.Hour, Fault: stuck},
			{Name: "short", Kind: "command", At: 700 * time.Millisecond, Fault: short},
			{Name: "late", Kind: "command", At: time.Hour, Fault: late},
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Interrupt on the drill's own clock (0 is the start of traffic, after the system started
	// and the population was minted, which takes longer on a loaded machine).
	p.OnProgress = func(l Live) {
		if l.Elapsed >= 1900*time.Millisecond {
			cancel()
		}
	}
	go func() {
		timer := time.NewTimer(30 * time.Second) // a bound, should the progress hook never fire
		defer timer.Stop()
		select {
		case <-timer.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The test ends the drill itself: the fakes do nothing to the system.
	rep, err := Run(ctx, p)
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: %v; want ErrInterrupted", err)
	}
	for name, f := range map[string]*recFault{"long": long, "stuck": stuck, "short": short} {
		if i, r := f.counts(); i != 1 || r != 1 {
			t.Errorf("%s: %d injects, %d reverts; want 1, 1", name, i, r)
		}
	}
	if i, r := late.counts(); i != 0 || r != 0 {
		t.Errorf("late: %d injects, %d reverts; want none", i, r)
	}
	byName := map[string]report.Fault{}
	for _, f := range rep.Faults {
		byName[f.Name] = f
	}
	if f := byName["long"]; f.StartMS < 450 || f.EndMS < 1900 || f.Error != "" {
		t.Errorf("long: %+v; want started at 0.5 s, reverted at the interrupt", f)
	}
	if f := byName["short"]; f.EndMS < f.StartMS || f.EndMS > 1500 || f.Error != "" {
		t.Errorf("short: %+v; want reverted at once", f)
	}
	if f := byName["stuck"]; !strings.Contains(f.Error, "revert: stuck") {
		t.Errorf("stuck: %+v; want the revert error", f)
	}
	if f := byName["late"]; f.StartMS != 0 || !strings.Contains(f.Error, "not started") {
		t.Errorf("late: %+v; want not started", f)
	}
	crit := false
	for _, f := range rep.Findings {
		if f.Kind == "fault_failed" && f.Severity == report.Critical && strings.Contains(f.Message, "stuck") {
			crit = true
		}
	}
	if !crit {
		t.Errorf("findings %+v; want a critical fault_failed for stuck", rep.Findings)
	}
	var edge *report.Component
	for i := range rep.Components {
		if rep.Components[i].Name == "edge" {
			edge = &rep.Components[i]
		}
	}
	if edge == nil || edge.FaultSplit == nil || len(edge.FaultSplit.Faults) != 1 || edge.FaultSplit.Faults[0] != "long" {
		t.Errorf("edge fault split %+v; want affected by long only (its source, the issuer)", edge)
	}
}

// slowFault takes at least its delay to inject, as a restart does on a slow engine.
type slowFault struct{ delay time.Duration }

func (f slowFault) Inject(ctx context.Context, _ runtime.Environment) error {
	select {
	case <-time.After(f.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (slowFault) Revert(context.Context, runtime.Environment) error { return nil }

// TestTrafficHeldAfterFaults: with after_faults, traffic outlasts its duration until the
// slowest fault's window ended that long ago, however long the fault took.
func TestTrafficHeldAfterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3 s drill")
	}
	t.Parallel()
	specs := []runtime.Spec{
		{Name: "issuer", Kind: "issuer", Use: runtime.UseIssuer},
		{Name: "edge", Kind: "gateway", Use: runtime.UseGateway, With: map[string]any{"strategy": "poll", "interval": "200ms"}},
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
	const duration, after = time.Second, time.Second
	p := &Plan{
		Name: "hold", Seed: 1, DrillID: "h", Env: env, Runtime: "embedded",
		Components: []Component{{Name: "issuer", Kind: "issuer"}, {Name: "edge", Kind: "gateway", Probe: probe, Sources: []string{"issuer"}}},
		Issuer:     "issuer", Provider: refsource.Open(NewSecret(secrets.AdminSecret), "h"),
		Population: Population{Grant: "client_credentials", Victims: 5, Controls: 2, Clients: 1},
		Traffic:    Traffic{Rate: 50, Duration: duration, AfterFaults: after, Workers: 4, Timeout: 2 * time.Second},
		Recall:     Recall{At: 200 * time.Millisecond, Kind: "revoke-tokens", Mode: "batch", Action: action},
		Faults:     []FaultStep{{Name: "slow", Kind: "command", At: 300 * time.Millisecond, Fault: slowFault{1500 * time.Millisecond}}},
		Recovery:   Recovery{Sample: RecoveryOff},
	}
	rep, err := Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].EndMS < 1800 {
		t.Fatalf("faults %+v; want one ending after 1.8 s", rep.Faults)
	}
	end := rep.Faults[0].EndMS
	if got := rep.Probes.TrafficMS; got < end+millis(after) || got > millis(2*DefaultFaultStepTimeout+duration+after) {
		t.Errorf("traffic ran %.0f ms; want at least %.0f ms (the fault ended at %.0f ms, then %v)", got, end+millis(after), end, after)
	}
}
