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
	keyCompromise.check(t, passingDrill(t, keyCompromise.file))
}

// TestKeyCompromiseScenarioDocker: the same scenario in containers (the gateway image's
// -jwks-ttl, -jwks-min-refresh and -jwks-refetch; the issuer's -signing-keys).
func TestKeyCompromiseScenarioDocker(t *testing.T) {
	keyCompromise.check(t, passingDrill(t, keyCompromise.file, dockerRuntime...))
}

// keyDrill is what a signing-key scenario is known to do when nothing is planted.
type keyDrill struct {
	file, action string
	// gateways are its gateways; ttls its jwt-only ones, which learn of the removed key only
	// from their JWKS fetches, with their jwks_ttl.
	gateways []string
	ttls     map[string]time.Duration
}

var (
	keyCompromise = keyDrill{file: "key-compromise.yaml", action: "revoke-key",
		gateways: []string{"edge-push", "edge-jwt", "edge-jwt-slow"},
		ttls:     map[string]time.Duration{"edge-jwt": 2 * time.Second, "edge-jwt-slow": 3 * time.Second}}
	keyRotation = keyDrill{file: "key-rotation.yaml", action: "rotate-key",
		gateways: []string{"edge-push", "edge-jwt", "edge-ttl"},
		ttls:     map[string]time.Duration{"edge-jwt": 2 * time.Second, "edge-ttl": 4 * time.Second}}
)

// check asserts the known answers: every victim recalled and confirmed, no control (signed by
// the key that signs now) rejected, every pair converged at every gateway, each jwt-only one
// within its jwks_ttl plus the resolution and the others as they recorded it.
func (k keyDrill) check(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, k.action, 200)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: a control signed by the key that signs now was refused", rep.Overall.FalseRejects)
	}
	for _, c := range checkConverged(t, rep, 150, k.gateways...) {
		if ttl, ok := k.ttls[c.Name]; ok {
			checkHonouredWithinTTL(t, c, ttl)
		} else {
			checkGroundTruth(t, c) // edge-push hears of the recall on the bus
		}
	}
}

// checkHonouredWithinTTL asserts the known answer of a verifier with JWKS TTL ttl that nothing
// forced to refetch: the removed key is honoured for at most ttl plus the resolution, both as
// measured (the upper bounds of the brackets) and as the gateway recorded it (ground truth), and
// each recorded instant falls inside its pair's bracket.
func checkHonouredWithinTTL(t *testing.T, c report.Component, ttl time.Duration) {
	t.Helper()
	bound := float64(ttl.Milliseconds()) + c.TTCMS.ResolutionMaxMS
	t.Logf("%s (jwks_ttl %v): removed key honoured up to %.0f ms measured, %.0f ms true; bound %.0f ms (resolution %.0f ms)",
		c.Name, ttl, c.TTCMS.Max, trueMax(c), bound, c.TTCMS.ResolutionMaxMS)
	if c.TTCMS.Count == 0 || c.TTCMS.Max > bound {
		t.Errorf("%s: removed key honoured up to %.0f ms (%d pairs); want at most jwks_ttl %v + resolution %.0f ms",
			c.Name, c.TTCMS.Max, c.TTCMS.Count, ttl, c.TTCMS.ResolutionMaxMS)
	}
	checkGroundTruth(t, c)
	if c.GroundTruth != nil && c.GroundTruth.TTCMS.Max > bound {
		t.Errorf("%s: the gateway dropped the key %.0f ms after the recall; want at most jwks_ttl %v + resolution %.0f ms",
			c.Name, c.GroundTruth.TTCMS.Max, ttl, c.TTCMS.ResolutionMaxMS)
	}
}

func trueMax(c report.Component) float64 {
	if c.GroundTruth == nil {
		return -1
	}
	return c.GroundTruth.TTCMS.Max
}

// TestKeyCompromiseScenarioFindsStaleVerifier plants the stale verifier: edge-jwt-slow never
// fetches the JWKS again (jwks_refetch: never). It does not know the new key the controls are
// signed with and refuses them: false rejects, the drill fails. It also honours the removed key
// to the end. The other gateways, which refetch on an unknown kid, are unaffected.
func TestKeyCompromiseScenarioFindsStaleVerifier(t *testing.T) {
	checkStaleVerifier(t)
}

// TestKeyCompromiseScenarioFindsStaleVerifierDocker: the same in containers (the gateway
// image's -jwks-refetch never).
func TestKeyCompromiseScenarioFindsStaleVerifierDocker(t *testing.T) {
	checkStaleVerifier(t, dockerRuntime...)
}

func checkStaleVerifier(t *testing.T, extra ...string) {
	t.Helper()
	rep := failingDrill(t, keyCompromise.file, []string{"false_rejects == 0", "not_converged == 0"}, append([]string{staleVerifier}, extra...)...)
	checkConverged(t, rep, 150, "edge-push", "edge-jwt")
	checkHonouredWithinTTL(t, component(t, rep, "edge-jwt"), keyCompromise.ttls["edge-jwt"])
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

// TestKeyRotationScenario runs scenarios/key-rotation.yaml, the planned rotation: the next key
// was published from the start, signing switched to it before the controls (the fresh cohort)
// were minted, and the trigger retires the victims' kid. The known answers: every verifier
// accepts the fresh cohort, even edge-ttl, which never refetches on an unknown kid (the key was
// in its cache before it signed anything); a jwt-only verifier with JWKS TTL T honours the
// retired key at most T plus the resolution, measured and as it recorded (ground truth).
func TestKeyRotationScenario(t *testing.T) {
	rep := passingDrill(t, keyRotation.file)
	keyRotation.check(t, rep)
	// The retirement is the recall instant; with.grace (1s after the old key's last signature,
	// before traffic began) was over by the trigger.
	if rep.Recall.SentAtMS < 3000 {
		t.Errorf("retirement sent at %.0f ms; want at the trigger (3s) or later", rep.Recall.SentAtMS)
	}
}

// TestKeyRotationScenarioDocker: the same scenario in containers.
func TestKeyRotationScenarioDocker(t *testing.T) {
	keyRotation.check(t, passingDrill(t, keyRotation.file, dockerRuntime...))
}

// TestKeyRotationScenarioFindsVerifierWithoutRefetch plants a rotation that publishes the new
// key only as it switches to it (the issuer's signing_keys: 1). The gateways that refetch on an
// unknown kid accept the fresh cohort at once; edge-ttl (jwks_refetch: ttl) rejects it until its
// cache expires: false rejects, the drill fails. It still refetches every jwks_ttl, so it
// honours the retired key no longer than T plus the resolution, and it accepts the credentials
// re-issued after the recall, signed by the new key, in the end (recovery).
func TestKeyRotationScenarioFindsVerifierWithoutRefetch(t *testing.T) {
	checkVerifierWithoutRefetch(t)
}

// TestKeyRotationScenarioFindsVerifierWithoutRefetchDocker: the same in containers (the
// issuer's -signing-keys 1, the gateway image's -jwks-refetch ttl).
func TestKeyRotationScenarioFindsVerifierWithoutRefetchDocker(t *testing.T) {
	checkVerifierWithoutRefetch(t, dockerRuntime...)
}

func checkVerifierWithoutRefetch(t *testing.T, extra ...string) {
	t.Helper()
	extra = append([]string{publishAtSwitch, staleTTL}, extra...)
	drillTest(t, extra)
	rep := runScenario(t, keyRotation.file, extra...)
	// The planted defect shows only when traffic meets edge-ttl's stale cache (below): a machine
	// slow enough to start traffic after it was refreshed is said so, not blamed on the drill (a
	// loaded CI run got there and found no false reject). staleTTL keeps that cache for 8 s
	// rather than the scenario's 4 s, so that only a start slower than 7 s skips.
	ttl := staleTTLValue
	lead := time.Duration((rep.Environment.StartupMS - startupMS(rep, "issuer") + rep.Tokens.MintMS) * float64(time.Millisecond))
	if lead > ttl-time.Second {
		t.Skipf("traffic began up to %v after edge-ttl's first fetch, less than 1s before its jwks_ttl %v ran out: the stale cache may have been refreshed before traffic", lead, ttl)
	}
	checkFailing(t, rep, []string{"false_rejects == 0"}, extra)
	checkRecalled(t, rep, "rotate-key", 200)
	checkConverged(t, rep, 150, "edge-push", "edge-jwt")
	checkHonouredWithinTTL(t, component(t, rep, "edge-jwt"), keyRotation.ttls["edge-jwt"])
	c := component(t, rep, "edge-ttl")
	if c.Pairs < 150 || c.Converged != c.Pairs {
		t.Errorf("edge-ttl: %d of %d pairs converged; want all of at least 150 (it refetches every jwks_ttl)", c.Converged, c.Pairs)
	}
	checkHonouredWithinTTL(t, c, ttl)
	if c.RecoveryMS == nil || c.RecoveryMS.Count == 0 || c.NotRecovered != 0 {
		t.Errorf("edge-ttl: recovery %+v, %d not recovered; want every re-issued credential (new key) accepted once its cache expired", c.RecoveryMS, c.NotRecovered)
	}
	// edge-ttl fetched its keys once the issuer answered, before the new key existed, and
	// fetches them next jwks_ttl later: the traffic meets its stale cache when it began sooner
	// than that. How much sooner is measured, not assumed of the machine: the traffic began at
	// most the system's startup after the issuer was ready, plus the mint, after that fetch
	// (lead, above).
	t.Logf("edge-ttl: %d false rejects, the first at %.0f ms of traffic; traffic began at most %v after its first fetch (jwks_ttl %v)",
		c.FalseRejects, firstAt(rep, "false_reject", "edge-ttl"), lead.Round(time.Millisecond), ttl)
	if c.FalseRejects == 0 || len(findings(rep, "false_reject", "edge-ttl")) != 1 {
		t.Errorf("edge-ttl (ttl): %d false rejects; want the fresh cohort refused until its cache expired", c.FalseRejects)
	}
	// Its cache expired at most jwks_ttl into the traffic.
	if at := firstAt(rep, "false_reject", "edge-ttl"); at > float64(ttl.Milliseconds()) {
		t.Errorf("edge-ttl: first false reject at %.0f ms of traffic; want before its cache expired, within its jwks_ttl %v", at, ttl)
	}
}

// startupMS is how long the component took to start (create to ready), in ms.
func startupMS(rep *report.Report, name string) float64 {
	for _, c := range rep.Environment.Components {
		if c.Name == name {
			return c.StartupMS
		}
	}
	return 0
}

// publishAtSwitch plants, in key-rotation.yaml, a rotation whose new key is published only as
// signing switches to it.
const publishAtSwitch = "--set=system.components[issuer].with.signing_keys=1"

// staleTTL gives key-rotation.yaml's edge-ttl a JWKS cache of staleTTLValue, so that the
// cache it filled at startup, before the new key existed, is still stale when traffic begins
// on a loaded machine (its 4 s was not, after a cold start with two CPU burners).
const (
	staleTTL      = "--set=system.components[edge-ttl].with.jwks_ttl=8s"
	staleTTLValue = 8 * time.Second
)

// firstAt is the instant (ms of traffic) of the component's finding of kind; -1 without one.
func firstAt(rep *report.Report, kind, comp string) float64 {
	if fs := findings(rep, kind, comp); len(fs) == 1 {
		return fs[0].AtMS
	}
	return -1
}
