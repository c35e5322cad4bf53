package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strconv"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/plan"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/scenario"
)

// loadScenario loads and validates a scenario against the engine's registries, with the
// --set overrides applied. Every value a ${VAR} brings in may be a secret: it joins the values
// every quoted answer redacts (see redactEnvValue).
func loadScenario(path string, sets []string) (*scenario.Scenario, error) {
	return plan.Load(path, scenario.WithOverrides(sets...), scenario.WithLookupEnv(func(name string) (string, bool) {
		v, ok := os.LookupEnv(name)
		if ok {
			redactEnvValue(v)
		}
		return v, ok
	}))
}

// redactEnvValue adds a value from the environment to redact.Global, so that an echoing system
// under test cannot put it in a log line or a report through a quoted answer. A URL is kept
// visible (error messages name the endpoint) but its userinfo is redacted; a number is kept.
func redactEnvValue(v string) {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return
	}
	if u, err := url.Parse(v); err == nil && u.IsAbs() && u.Host != "" {
		if u.User != nil {
			p, _ := u.User.Password()
			redact.Global.Add(u.User.Username(), p)
		}
		return
	}
	redact.Global.Add(v)
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
