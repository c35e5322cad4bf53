package scenario

import "slices"

// Registry is what Load asks the engine: the names its registries hold, and the checks only
// they can make. internal/plan implements it over the runtime, recall action, fault and probe
// registries; this package imports none of them, and holds no copy of their lists beyond the
// defaults used when Load is given no Registry (a test in internal/plan fails when those
// defaults, the JSON Schema's enumerations and the registries disagree).
type Registry interface {
	// Runtimes lists the valid values of system.runtime.
	Runtimes() []string
	// Actions lists the valid values of recall.action.
	Actions() []string
	// Faults lists the valid values of faults[].fault.
	Faults() []string
	// Probes lists the valid values of probe.kind.
	Probes() []string
	// Check validates what only the registries know: the parameters (with:) of recall actions,
	// faults and reference components, the runtime's capabilities and needs, the population
	// an action needs. It runs after the built-in validation, also when that found problems,
	// so it must cope with fields left at zero values. Errors made with [Errorf] (alone or
	// joined) are placed at their path's file:line:col.
	Check(s *Scenario) error
}

// WithRegistry makes Load validate names and parameters against the engine's registries: it
// sets the known runtimes, actions, faults and probe kinds and adds r.Check as a [WithCheck] check.
func WithRegistry(r Registry) LoadOption {
	return func(c *loadConfig) {
		c.runtimes = slices.Clone(r.Runtimes())
		c.actions = slices.Clone(r.Actions())
		c.faults = slices.Clone(r.Faults())
		c.probes = slices.Clone(r.Probes())
		c.checks = append(c.checks, r.Check)
	}
}

// Errorf returns an error about the field at path of s, located at that field's file:line:col
// (or its nearest ancestor present in the file) when s came from Load or Parse. It is for checks
// made after loading, such as planning, that must still point into the file.
func (s *Scenario) Errorf(path, format string, args ...any) error {
	e := Errorf(path, format, args...).(*Error)
	e.File = s.Path
	if s.locate != nil {
		e.Line, e.Col = s.locate(path)
	}
	if s.overridden != nil {
		e.Set = s.overridden(path)
	}
	return e
}

// JoinPath appends key to a field path as Load writes paths: path.key, or path["key"] for a
// key that is not a plain name.
func JoinPath(path, key string) string { return joinPath(path, key) }
