package scenario

import (
	"strings"
	"testing"
)

// refScenario is minimal with extra components appended and the gateway's with: replaced.
func refScenario(gatewayWith, extra string) string {
	src := strings.Replace(minimal, "with: {strategy: poll}}", "with: {strategy: poll"+gatewayWith+"}}", 1)
	return strings.Replace(src, "traffic:", extra+"traffic:", 1)
}

// TestValidReferenceParamsNewKeys: the reference stack's newer keys and components are
// accepted by validation, each with its type.
func TestValidReferenceParamsNewKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, gw, extra string }{
		{"jwks_ttl", ", jwks_ttl: 30s", ""},
		{"jwks_refetch", ", jwks_refetch: ttl", ""},
		{"jwks_refetch never", ", jwks_refetch: never", ""},
		{"jwks_min_refresh", ", jwks_min_refresh: 250ms", ""},
		{"upstream_max_conns", ", upstream_max_conns: 8", ""},
		{"upstream_max_inflight", ", upstream_max_inflight: 64", ""},
		{"apikeys", "", "    - {name: keys, use: reference/apikeys}\n"},
		{"apikey-service poll", "", "    - {name: keys, use: reference/apikeys}\n" +
			"    - {name: kapi, use: reference/apikey-service, with: {strategy: poll, authority: keys, interval: 1s, max_staleness: 5s, fail_mode: open}, probe: {path: /whoami}}\n"},
		{"apikey-service lookup", "", "    - {name: keys, use: reference/apikeys}\n" +
			"    - {name: kapi, use: reference/apikey-service, with: {strategy: lookup, cache_ttl: 2s, fail_mode: closed}, probe: {path: /whoami}}\n"},
		{"rp", "", "    - {name: app, use: reference/rp, with: {client_id: shop, session_cache_ttl: 10s}, probe: {path: /whoami}}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse("r.yaml", []byte(refScenario(tc.gw, tc.extra)), WithLookupEnv(noEnv)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

// TestValidReferenceParamsBadValues: a bad value of a new key is a positioned error naming
// what was expected.
func TestValidReferenceParamsBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, gw, extra, want string }{
		{"jwks_refetch", ", jwks_refetch: sometimes", "",
			`r.yaml:5:81: system.components[1].with.jwks_refetch: unknown jwks_refetch "sometimes" (have: unknown-kid, ttl, never)`},
		{"jwks_ttl number", ", jwks_ttl: 30", "",
			"system.components[1].with.jwks_ttl: bad duration 30: want a Go duration like 150ms, 2s or 1m30s"},
		{"upstream_max_conns zero", ", upstream_max_conns: 0", "",
			"system.components[1].with.upstream_max_conns: want a whole number > 0, got 0"},
		{"upstream_max_inflight string", `, upstream_max_inflight: "many"`, "",
			`system.components[1].with.upstream_max_inflight: want a whole number > 0, got "many"`},
		{"cache_ttl number", "", "    - {name: keys, use: reference/apikeys}\n" +
			"    - {name: kapi, use: reference/apikey-service, with: {strategy: lookup, cache_ttl: 5}}\n",
			"r.yaml:11:87: system.components[4].with.cache_ttl: bad duration 5: want a Go duration like 150ms, 2s or 1m30s"},
		{"apikey-service strategy", "", "    - {name: kapi, use: reference/apikey-service, with: {strategy: sometimes}}\n",
			`system.components[3].with.strategy: unknown strategy "sometimes" (have: push, poll, lookup, offline)`},
		{"apikey-service authority", "", "    - {name: kapi, use: reference/apikey-service, with: {strategy: poll, authority: nokeys}}\n",
			`system.components[3].with.authority: unknown component "nokeys"`},
		{"cache_ttl wrong strategy", "", "    - {name: kapi, use: reference/apikey-service, with: {strategy: poll, cache_ttl: 2s}}\n",
			"system.components[3].with.cache_ttl: cache_ttl applies only to strategy lookup (strategy is poll)"},
		{"rp unknown key", "", "    - {name: app, use: reference/rp, with: {colour: red}}\n",
			`system.components[3].with.colour: unknown key "colour" for reference/rp (valid: cache_on_logout, client_id, session_cache_ttl)`},
		{"rp session_cache_ttl", "", "    - {name: app, use: reference/rp, with: {session_cache_ttl: 10}}\n",
			"system.components[3].with.session_cache_ttl: bad duration 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("r.yaml", []byte(refScenario(tc.gw, tc.extra)), WithLookupEnv(noEnv))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "r.yaml:") {
				t.Errorf("Parse error = %v\nwant (positioned) %s", err, tc.want)
			}
		})
	}
}
