package main

import (
	"testing"
	"time"

	"github.com/recall-drills/recall/report"
)

// apiKeyBounds are the known answers of scenarios/api-keys.yaml: how long each service may
// honour a recalled key after the recall's acknowledgement, before the resolution is added —
// push hears of it on the bus (0), poll at its next fetch (interval 1s), lookup when its cached
// positive answer expires (cache_ttl 1s).
var apiKeyBounds = map[string]time.Duration{"api-push": 0, "api-poll": time.Second, "api-lookup": time.Second}

// TestAPIKeysScenario runs scenarios/api-keys.yaml: the authority mints the keys, revoke-api-keys
// recalls the victims in one admin call (each confirmed at the authority's lookup), and every
// service stops honouring every recalled key within its bound, as measured and as it recorded,
// while every control key survives.
func TestAPIKeysScenario(t *testing.T) {
	checkAPIKeys(t, passingDrill(t, "api-keys.yaml"))
}

// TestAPIKeysScenarioDocker: the same in containers (recall-apikeys, recall-apikey-service).
func TestAPIKeysScenarioDocker(t *testing.T) {
	checkAPIKeys(t, passingDrill(t, "api-keys.yaml", dockerRuntime...))
}

func checkAPIKeys(t *testing.T, rep *report.Report) {
	t.Helper()
	checkRecalled(t, rep, "revoke-api-keys", 200)
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: a control key was refused", rep.Overall.FalseRejects)
	}
	for _, c := range checkConverged(t, rep, 150, "api-push", "api-poll", "api-lookup") {
		checkGroundTruth(t, c)
		bound := float64(apiKeyBounds[c.Name].Milliseconds()) + c.TTCMS.ResolutionMaxMS
		t.Logf("%s: recalled keys honoured up to %.0f ms measured, %.0f ms recorded; bound %.0f ms (resolution %.0f ms)",
			c.Name, c.TTCMS.Max, trueMax(c), bound, c.TTCMS.ResolutionMaxMS)
		if c.TTCMS.Count == 0 || c.TTCMS.Max > bound {
			t.Errorf("%s: recalled keys honoured up to %.0f ms (%d pairs); want at most %v + resolution %.0f ms",
				c.Name, c.TTCMS.Max, c.TTCMS.Count, apiKeyBounds[c.Name], c.TTCMS.ResolutionMaxMS)
		}
		if gt := c.GroundTruth; gt != nil && gt.TTCMS.Max > bound {
			t.Errorf("%s: the service recorded enforcing %.0f ms after the recall; want at most %v + resolution %.0f ms",
				c.Name, gt.TTCMS.Max, apiKeyBounds[c.Name], c.TTCMS.ResolutionMaxMS)
		}
	}
}

// everlastingLookup plants the lookup cache that outlives the recall: an hour's cache_ttl.
const everlastingLookup = "--set=system.components[api-lookup].with.cache_ttl=1h"

// TestAPIKeysScenarioFindsEverlastingLookupCache: with the lookup cache outliving the drill, the
// lookup service honours every recalled key it had cached to the end and never recorded
// enforcing one: not_converged fails the drill. The push and poll services, and the controls,
// are unaffected.
func TestAPIKeysScenarioFindsEverlastingLookupCache(t *testing.T) {
	checkEverlastingLookup(t, failingDrill(t, "api-keys.yaml", []string{"not_converged == 0"}, everlastingLookup))
}

// TestAPIKeysScenarioFindsEverlastingLookupCacheDocker: the same in containers (the service
// image's -cache-ttl).
func TestAPIKeysScenarioFindsEverlastingLookupCacheDocker(t *testing.T) {
	checkEverlastingLookup(t, failingDrill(t, "api-keys.yaml", []string{"not_converged == 0"}, append([]string{everlastingLookup}, dockerRuntime...)...))
}

func checkEverlastingLookup(t *testing.T, rep *report.Report) {
	t.Helper()
	c := component(t, rep, "api-lookup")
	if c.Pairs < 150 || c.Converged != 0 || c.NotConverged != c.Pairs {
		t.Errorf("api-lookup: %d of %d pairs converged, %d not; want none of at least 150 converged", c.Converged, c.Pairs, c.NotConverged)
	}
	if gt := c.GroundTruth; gt != nil && gt.Checked != 0 {
		t.Errorf("api-lookup: ground truth %+v; the service recorded enforcing a recall its cache hid", gt)
	}
	if rep.Overall.FalseRejects != 0 {
		t.Errorf("%d false rejects: the planted defect must not refuse control keys", rep.Overall.FalseRejects)
	}
	checkConverged(t, rep, 150, "api-push", "api-poll")
}
