package plan

import (
	"errors"
	"fmt"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/scenario"
)

// checkProbes is the probe registry's check: each probe's with: keys against its kind's
// Params, and the kind of component it asks against the kind's Kinds, each at its own field.
func checkProbes(s *scenario.Scenario) error {
	var errs []error
	for i, c := range s.System.Components {
		if c.Probe == nil {
			continue
		}
		k, ok := drill.LookupProbe(c.Probe.Kind)
		if !ok {
			continue // reported by Load (Registry.Probes)
		}
		at := fmt.Sprintf("system.components[%d].probe", i)
		for _, e := range k.CheckParams(c.Kind, c.Probe.With) {
			var pe *params.Error
			if errors.As(e, &pe) {
				errs = append(errs, scenario.Errorf(paramPath(at+".with", pe), "%s", pe.Msg))
				continue
			}
			errs = append(errs, scenario.Errorf(at+".kind", "%v", e))
		}
	}
	return errors.Join(errs...)
}
