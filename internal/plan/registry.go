package plan

import (
	"errors"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
)

// Registry is the engine's registries as scenario.Load sees them: the runtimes
// (internal/runtime), the recall actions and probe kinds (internal/drill) and the faults
// (internal/chaos). It is
// the only place that joins them to the scenario format.
type Registry struct{}

var _ scenario.Registry = Registry{}

// Runtimes implements scenario.Registry.
func (Registry) Runtimes() []string { return runtime.Names() }

// Actions implements scenario.Registry.
func (Registry) Actions() []string { return drill.ActionNames() }

// Faults implements scenario.Registry.
func (Registry) Faults() []string { return chaos.Names() }

// Probes implements scenario.Registry.
func (Registry) Probes() []string { return drill.ProbeNames() }

// Check implements scenario.Registry: the runtime's needs and capabilities, the recall
// action's mode, parameters and needs, the faults' scopes and parameters, the probes' kinds
// and parameters, and the token source's parameters (internal/source).
func (Registry) Check(s *scenario.Scenario) error {
	return errors.Join(checkRuntime(s), checkRecall(s), checkFaults(s), checkProbes(s), checkSource(s))
}
