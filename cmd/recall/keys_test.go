package main

import (
	"testing"
	"time"

	"github.com/recall-drills/recall/report"
)

// TestKeyCompromiseScenario runs scenarios/key-compromise.yaml: the victims' kid is removed from
// the JWKS at the trigger. Every gateway stops honouring it, and the jwt-only ones, which learn of
// it only from their next JWKS fetch, within their jwks_ttl T plus the resolution: the known
// answer, checked against the instant each gateway's fetch actually dropped the key (ground
// truth). The controls, signed by the new key, survive everywhere.
func TestKeyCompromiseScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	t.Parallel()
	checkKeyCompromise(t, runChaos(t, "key-compromise.yaml"))
}

// keyCompromiseTTLs are the scenario's jwt-only gateways and their jwks_ttl.
var keyCompromiseTTLs = map[string]time.Duration{"edge-jwt": 2 * time.Second, "edge-jwt-slow": 3 * time.Second}

func checkKeyCompromise(t *testing.T, rep *report.Report) {
	t.Helper()
	if rep.Recall.Action != "revoke-key" || rep.Recall.Failed != 0 || rep.Recall.Ineffective != 0 || rep.Recall.Confirmed != 200 {
		t.Errorf("recall %+v: want 200 confirmed, none failed or ineffective", rep.Recall)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: a control signed by the new key was refused", rep.Overall.FalseRejects)
	}
	for _, name := range []string{"edge-push", "edge-jwt", "edge-jwt-slow"} {
		c := component(t, rep, name)
		if c.Pairs < 150 || c.Converged != c.Pairs || c.FalseRejects != 0 {
			t.Errorf("%s: %d of %d pairs converged, %d false rejects; want all of at least 150, none", name, c.Converged, c.Pairs, c.FalseRejects)
		}
	}
	for name, ttl := range keyCompromiseTTLs {
		checkHonouredWithinTTL(t, component(t, rep, name), ttl)
	}
}

// checkHonouredWithinTTL asserts the known answer of a verifier with JWKS TTL ttl that nothing
// forced to refetch: the removed key is honoured for at most ttl plus the resolution, both as
// measured (the upper bounds of the brackets) and as the gateway recorded it (ground truth), and
// each recorded instant falls inside its pair's bracket.
func checkHonouredWithinTTL(t *testing.T, c report.Component, ttl time.Duration) {
	t.Helper()
	bound := float64(ttl.Milliseconds()) + c.TTCMS.ResolutionMaxMS
	if c.TTCMS.Count == 0 || c.TTCMS.Max > bound {
		t.Errorf("%s: removed key honoured up to %.0f ms (%d pairs); want at most jwks_ttl %v + resolution %.0f ms",
			c.Name, c.TTCMS.Max, c.TTCMS.Count, ttl, c.TTCMS.ResolutionMaxMS)
	}
	gt := c.GroundTruth
	if gt == nil || gt.Checked != c.Converged || gt.Within != gt.Checked {
		t.Fatalf("%s: ground truth %+v; want every one of %d converged pairs recorded within its bracket", c.Name, gt, c.Converged)
	}
	if gt.TTCMS.Max > bound {
		t.Errorf("%s: the gateway dropped the key %.0f ms after the recall; want at most jwks_ttl %v + resolution %.0f ms",
			c.Name, gt.TTCMS.Max, ttl, c.TTCMS.ResolutionMaxMS)
	}
}

// TestKeyCompromiseScenarioFindsStaleVerifier plants the stale verifier: edge-jwt-slow never
// fetches the JWKS again (jwks_refetch: never). It does not know the new key the controls are
// signed with and refuses them: false rejects, the drill fails. It also honours the removed key
// to the end. The other gateways, which refetch on an unknown kid, are unaffected.
func TestKeyCompromiseScenarioFindsStaleVerifier(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s drill")
	}
	t.Parallel()
	rep := runScenario(t, "key-compromise.yaml", staleVerifier)
	if rep.Verdict != report.Fail {
		t.Fatalf("verdict %s: the stale verifier went unseen", rep.Verdict)
	}
	failed := map[string]bool{}
	for _, e := range rep.Expectations {
		failed[e.Expr] = !e.Pass
	}
	if !failed["false_rejects == 0"] || !failed["not_converged == 0"] {
		t.Errorf("expectations %+v: false_rejects == 0 and not_converged == 0 must fail", rep.Expectations)
	}
	for _, name := range []string{"edge-push", "edge-jwt"} {
		if c := component(t, rep, name); c.FalseRejects != 0 || c.Converged != c.Pairs {
			t.Errorf("%s (refetches on an unknown kid): %d false rejects, %d of %d converged; want none, all", name, c.FalseRejects, c.Converged, c.Pairs)
		}
	}
	checkHonouredWithinTTL(t, component(t, rep, "edge-jwt"), keyCompromiseTTLs["edge-jwt"])
	stale := component(t, rep, "edge-jwt-slow")
	if stale.FalseRejects == 0 || len(findings(rep, "false_reject", "edge-jwt-slow")) != 1 {
		t.Errorf("edge-jwt-slow (never): %d false rejects; want the new key's controls refused", stale.FalseRejects)
	}
	if stale.NotConverged != stale.Pairs || stale.Pairs == 0 || len(findings(rep, "not_converged", "edge-jwt-slow")) != 1 {
		t.Errorf("edge-jwt-slow (never): %d of %d pairs not converged; want the removed key honoured to the end", stale.NotConverged, stale.Pairs)
	}
}

// staleVerifier plants the stale-verifier bug in key-compromise.yaml's edge-jwt-slow.
const staleVerifier = "--set=system.components[edge-jwt-slow].with.jwks_refetch=never"
