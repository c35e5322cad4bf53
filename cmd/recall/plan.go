package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/plan"
	"github.com/recall-drills/recall/internal/scenario"
)

// loadScenario loads and validates a scenario against the engine's registries, with the
// --set overrides applied.
func loadScenario(path string, sets []string) (*scenario.Scenario, error) {
	return plan.Load(path, scenario.WithOverrides(sets...))
}

// planOptions are run's choices that shape the plan.
type planOptions struct {
	// outDir, when set, is the report directory (the docker runtime saves container logs under it).
	outDir string
	// drillID labels everything the drill creates (random when empty).
	drillID string
}

// buildPlan resolves a scenario into a drill plan (internal/plan), starting nothing: `recall
// validate` runs it too.
func buildPlan(s *scenario.Scenario, log *slog.Logger, o planOptions) (*drill.Plan, error) {
	return plan.Build(s, plan.Options{OutDir: o.outDir, DrillID: o.drillID, Logger: log})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
