package scenario

import (
	"strings"
	"testing"
	"time"
)

// TestOverrides: --set replaces a scalar (or adds one the file lacks) before the checks, so the
// value is typed, defaulted and validated as if written in the file.
func TestOverrides(t *testing.T) {
	s, err := Parse("m.yaml", []byte(minimal), WithLookupEnv(noEnv), WithOverrides(
		"traffic.rate=5000/s", "recall.at=2s", "traffic.workers=8", "seed=9",
		"system.components[edge].with.interval=3s", "system.components[2].probe.path=/other",
		"expect[0]=resurrections == 0", "recall.at=3s"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Traffic.Rate.PerSecond(); got != 5000 {
		t.Errorf("rate %v, want 5000", got)
	}
	if s.Recall.At.D != 3*time.Second || s.Traffic.Workers != 8 || s.Seed != 9 {
		t.Errorf("recall.at %v (the later --set wins), workers %d, seed %d", s.Recall.At.D, s.Traffic.Workers, s.Seed)
	}
	if s.System.Components[1].With["interval"] != "3s" || s.System.Components[2].Probe.Path != "/other" {
		t.Errorf("with %v, probe %+v", s.System.Components[1].With, s.System.Components[2].Probe)
	}
	if s.Expect[0].Text != "resurrections == 0" {
		t.Errorf("expect[0] %q", s.Expect[0].Text)
	}
	if len(s.Overrides) != 8 || s.Overrides[0] != "traffic.rate=5000/s" {
		t.Errorf("overrides recorded: %q", s.Overrides)
	}
	if !strings.Contains(string(s.Source), "rate: 100/s") {
		t.Error("Source must stay the file as written")
	}
}

// TestOverrideErrors: an override that does not fit names the --set, says what was expected,
// and points at the value it replaced.
func TestOverrideErrors(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"traffic.rate=5000/fortnight", "m.yaml:10:17: --set traffic.rate=5000/fortnight: traffic.rate: bad rate"},
		{"recall.at=soon", "m.yaml:11:14: --set recall.at=soon: recall.at: bad offset \"soon\""},
		{"traffic.workers=7abc", `m.yaml:10:1: --set traffic.workers=7abc: traffic.workers: want an integer, got "7abc"`},
		{"traffic.duration=10", "--set traffic.duration=10: traffic.duration: bad duration 10: want a Go duration like 150ms, 2s or 1m30s (the unit is required)"},
		{"traffic.speed=3", "--set traffic.speed=3: traffic.speed: unknown key \"speed\""},
		{"traffic=3", "m.yaml: --set traffic=3: traffic is a mapping: --set overrides single values"},
		{"system.components[nope].use=x", `has no item named "nope" (have: issuer, edge, api)`},
		{"system.components[7].use=x", "has 3 items: index 7 is out of range"},
		{"traffic.rate", "--set traffic.rate: want path=value"},
		{"a..b=1", `bad path "a..b"`},
	} {
		_, err := Parse("m.yaml", []byte(minimal), WithLookupEnv(noEnv), WithOverrides(tc.set))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: got %v, want %q", tc.set, err, tc.want)
		}
	}
}

// TestHoldBounds: traffic.settle and recall.wait_for_baseline are bounded, positioned, and a
// recall-relative fault is refused with wait_for_baseline (the hold would move the recall away
// from the fault's instant, fixed before the drill).
func TestHoldBounds(t *testing.T) {
	base := strings.Replace(minimal, "faults:\n  - {at: recall, for: 1s, fault: pause, target: edge}\n", "", 1)
	if base == minimal {
		t.Fatal("the minimal scenario changed: drop its fault here")
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"traffic.settle=-1s"}, "traffic.settle: must be >= 0, got -1s"},
		{[]string{"traffic.settle=11m"}, "traffic.settle: 11m0s is more than 10m0s"},
		{[]string{"recall.wait_for_baseline=-2s"}, "recall.wait_for_baseline: must be >= 0, got -2s"},
		{[]string{"recall.wait_for_baseline=1h"}, "recall.wait_for_baseline: 1h0m0s is more than 10m0s"},
	} {
		_, err := Parse("m.yaml", []byte(base), WithLookupEnv(noEnv), WithOverrides(tc.sets...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.yaml:") {
			t.Errorf("--set %v: got %v, want a positioned %q", tc.sets, err, tc.want)
		}
	}
	s, err := Parse("m.yaml", []byte(base), WithLookupEnv(noEnv), WithOverrides("traffic.settle=20s", "recall.wait_for_baseline=15s"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Traffic.Settle != 20*time.Second || s.Recall.WaitForBaseline != 15*time.Second {
		t.Errorf("settle %v, wait_for_baseline %v; want 20s, 15s", s.Traffic.Settle, s.Recall.WaitForBaseline)
	}
	withFault := minimal
	if _, err := Parse("m.yaml", []byte(withFault), WithLookupEnv(noEnv)); err != nil {
		t.Fatalf("a recall-relative fault without the hold: %v", err)
	}
	_, err = Parse("m.yaml", []byte(withFault), WithLookupEnv(noEnv), WithOverrides("recall.wait_for_baseline=5s"))
	if err == nil || !strings.Contains(err.Error(), "faults[0].at: recall is relative to the recall, which recall.wait_for_baseline may move") {
		t.Errorf("recall-relative fault with wait_for_baseline: got %v", err)
	}
}
