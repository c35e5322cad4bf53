package params

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOneRuleForDurations: the embedded runtime took a bare number as seconds, validation
// refused it and the fault parameters refused it too; now every with: duration goes through
// ParseDuration, which refuses numbers.
func TestOneRuleForDurations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    any
		want time.Duration
		err  bool
	}{
		{"2s", 2 * time.Second, false},
		{"150ms", 150 * time.Millisecond, false},
		{2, 0, true},
		{1.5, 0, true},
		{"2", 0, true},
		{nil, 0, true},
	} {
		d, err := ParseDuration(tc.v)
		if (err != nil) != tc.err || d != tc.want {
			t.Errorf("ParseDuration(%#v) = %s, %v; want %s, error %v", tc.v, d, err, tc.want, tc.err)
		}
	}
	// The gateway decoder the runtimes use applies the same rule.
	if _, err := DecodeGateway(map[string]any{"strategy": "poll", "interval": 2}); err == nil ||
		err.Error() != "with.interval: bad duration 2: want a Go duration like 150ms, 2s or 1m30s" {
		t.Errorf("DecodeGateway(interval: 2) error = %v", err)
	}
	if _, err := DecodeIssuer(map[string]any{"token_ttl": 60}); err == nil {
		t.Error("DecodeIssuer(token_ttl: 60) accepted a bare number")
	}
}

func TestDecodeGatewayDefaults(t *testing.T) {
	t.Parallel()
	g, err := DecodeGateway(map[string]any{"strategy": "push", "restart_snapshot": "stale", "interval": "3s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Gateway{Strategy: "push", Interval: 3 * time.Second, StaleRestart: true, ResyncDelay: DefaultRestartResyncDelay}
	if g != want {
		t.Errorf("DecodeGateway = %+v, want %+v", g, want)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	spec := Spec{
		{Key: "url", Type: URL, Required: true},
		{Key: "headers", Type: Headers},
		{Key: "run", Type: Argv},
		{Key: "mode", Type: Enum, Enum: []string{"a", "b"}},
		{Key: "only_b", Type: String, When: &When{Key: "mode", Values: []string{"b"}}},
	}
	got := spec.Check(map[string]any{"headers": map[string]any{"X": 1}, "run": []any{"sh", 2}, "mode": "a", "only_b": "x", "nope": 1}, "the test", nil)
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Error())
	}
	want := strings.Join([]string{
		"with.headers.X: want a string, got 1",
		`with.nope: unknown key "nope" for the test (valid: headers, mode, only_b, run, url)`,
		"with.only_b: only_b applies only to mode b (mode is a)",
		"with.run[1]: want a string, got 2",
		"with.url: required",
	}, "\n")
	if g := strings.Join(lines, "\n"); g != want {
		t.Errorf("Check:\n%s\nwant:\n%s", g, want)
	}
	if got := (Spec{}).Check(map[string]any{"x": 1}, "revoke-tokens", nil); len(got) != 1 || got[0].Msg != `unknown key "x": revoke-tokens takes no with` {
		t.Errorf("empty spec: %v", fmt.Sprint(got))
	}
}
