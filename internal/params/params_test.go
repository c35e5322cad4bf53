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

// TestDecodeReferenceParamsNewKeys: the gateway's JWKS and upstream keys, the API-key service's and
// the relying party's are decoded from the same spec validation checks.
func TestDecodeReferenceParamsNewKeys(t *testing.T) {
	t.Parallel()
	g, err := DecodeGateway(map[string]any{"strategy": "poll", "jwks_ttl": "30s", "jwks_refetch": "never",
		"jwks_min_refresh": "2s", "upstream_max_conns": 8, "upstream_max_inflight": 64})
	if err != nil {
		t.Fatal(err)
	}
	if g.JWKSTTL != 30*time.Second || g.JWKSRefetch != "never" || g.JWKSMinRefresh != 2*time.Second ||
		g.UpstreamMaxConns != 8 || g.UpstreamMaxInflight != 64 {
		t.Errorf("DecodeGateway = %+v", g)
	}
	if _, err := DecodeGateway(map[string]any{"strategy": "poll", "jwks_refetch": "sometimes"}); err == nil ||
		!strings.Contains(err.Error(), "with.jwks_refetch: unknown jwks_refetch \"sometimes\" (have: unknown-kid, ttl, never)") {
		t.Errorf("jwks_refetch: sometimes: %v", err)
	}
	if _, err := DecodeGateway(map[string]any{"strategy": "poll", "upstream_max_conns": "8"}); err == nil {
		t.Error("upstream_max_conns: \"8\" accepted: a count is a number, not a string")
	}
	a, err := DecodeAPIKeyService(map[string]any{"strategy": "lookup", "authority": "keys", "cache_ttl": "2s", "fail_mode": "open"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (APIKeyService{Strategy: "lookup", Authority: "keys", CacheTTL: 2 * time.Second, FailMode: "open"}); a != want {
		t.Errorf("DecodeAPIKeyService = %+v, want %+v", a, want)
	}
	if _, err := DecodeAPIKeyService(map[string]any{"strategy": "lookup", "cache_ttl": 5}); err == nil ||
		err.Error() != "with.cache_ttl: bad duration 5: want a Go duration like 150ms, 2s or 1m30s" {
		t.Errorf("cache_ttl: 5: %v", err)
	}
	if _, err := DecodeAPIKeyService(map[string]any{}); err == nil || !strings.Contains(err.Error(), "with.strategy: required") {
		t.Errorf("no strategy: %v", err)
	}
	r, err := DecodeRP(map[string]any{"session_cache_ttl": "10s"})
	if err != nil || r != (RP{ClientID: "recall-rp", SessionCacheTTL: 10 * time.Second, CacheOnLogout: "evict"}) {
		t.Errorf("DecodeRP = %+v, %v", r, err)
	}
	if r, err := DecodeRP(map[string]any{"cache_on_logout": "keep"}); err != nil || r.CacheOnLogout != "keep" {
		t.Errorf("DecodeRP cache_on_logout keep = %+v, %v", r, err)
	}
	if _, err := DecodeRP(map[string]any{"cache_on_logout": "forget"}); err == nil {
		t.Error("DecodeRP accepted cache_on_logout: forget")
	}
}
