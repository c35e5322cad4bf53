package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
)

// proto is a typed nil of the scenario's runtime's Environment type, for capability checks
// before anything is built; nil when the runtime is unknown (reported at system.runtime).
func proto(s *scenario.Scenario) runtime.Environment {
	rt, err := runtime.Lookup(s.System.Runtime)
	if err != nil {
		return nil
	}
	return rt.Proto
}

// parseLink reads "from->to".
func parseLink(s string) (runtime.Link, bool) {
	from, to, ok := strings.Cut(s, "->")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return runtime.Link{}, false
	}
	return runtime.Link{From: from, To: to}, true
}

// links returns the scenario's declared links.
func links(s *scenario.Scenario) []runtime.Link {
	out := make([]runtime.Link, 0, len(s.System.Links))
	for _, l := range s.System.Links {
		out = append(out, runtime.Link{From: l.From, To: l.To})
	}
	return out
}

// faultParams builds a fault's chaos.Params.
func faultParams(f *scenario.Fault) chaos.Params {
	p := chaos.Params{Name: f.Name, Target: f.Target, For: f.For, With: f.With}
	if l, ok := parseLink(f.Link); ok {
		p.Link = l
	}
	return p
}

// checkRuntime is the runtime registry's check: what the runtime needs of each component and
// whether it can proxy the declared links.
func checkRuntime(s *scenario.Scenario) error {
	rt, err := runtime.Lookup(s.System.Runtime)
	if err != nil {
		return nil // reported by Load at system.runtime
	}
	var errs []error
	if rt.Check != nil {
		for _, fe := range rt.Check(Specs(s)) {
			errs = append(errs, scenario.Errorf(fmt.Sprintf("system.components[%d].%s", fe.Component, fe.Field), "%s", fe.Msg))
		}
	}
	if _, ok := rt.Proto.(runtime.Linker); !ok && len(s.System.Links) > 0 {
		var have []string
		for _, n := range runtime.Names() {
			if k, _ := runtime.Lookup(n); k.Proto != nil {
				if _, ok := k.Proto.(runtime.Linker); ok {
					have = append(have, n)
				}
			}
		}
		errs = append(errs, scenario.Errorf("system.links", "the %s runtime cannot route links through a proxy (have: %s)", s.System.Runtime, strings.Join(have, ", ")))
	}
	return errors.Join(errs...)
}

// checkFaults is the fault registry's check: what each kind is done to, its parameters and the
// runtime's capabilities, each reported at the fault's own line.
func checkFaults(s *scenario.Scenario) error {
	var errs []error
	env := proto(s)
	for i := range s.Faults {
		f := &s.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		k, ok := chaos.Lookup(f.Fault)
		if !ok {
			continue // reported by Load (Registry.Faults)
		}
		switch k.Scope {
		case chaos.OnLink:
			if f.Link == "" && f.Target == "" {
				continue // Load reports the missing target
			}
			if f.Link == "" {
				touches := false
				for _, l := range s.System.Links {
					touches = touches || l.From == f.Target || l.To == f.Target
				}
				if !touches {
					errs = append(errs, scenario.Errorf(p+".target", "%s is done to links, and no declared link (system.links) goes from or to %s", f.Fault, f.Target))
					continue
				}
			} else if _, ok := parseLink(f.Link); !ok {
				errs = append(errs, scenario.Errorf(p+".link", "bad link %q: want from->to", f.Link))
				continue
			}
		case chaos.OnComponent:
			if f.Link != "" {
				errs = append(errs, scenario.Errorf(p+".link", "%s is done to a component (target:), not to a link", f.Fault))
				continue
			}
		case chaos.OnNothing:
			if f.Link != "" || f.Target != "" {
				errs = append(errs, scenario.Errorf(p+".fault", "%s takes no target or link: it does what its with: says", f.Fault))
				continue
			}
		}
		if env != nil {
			if err := chaos.Supports(f.Fault, env); err != nil {
				errs = append(errs, scenario.Errorf(p+".fault", "%s: %v", f.Fault, err))
			}
		}
		if _, err := chaos.New(f.Fault, faultParams(f)); err != nil {
			errs = append(errs, paramErrors(p, err)...)
		}
	}
	return errors.Join(errs...)
}

// paramErrors places a constructor's errors: a chaos.ParamError at p.with.<key>, any other at p.
func paramErrors(p string, err error) []error {
	var out []error
	for _, e := range flatten(err) {
		var pe *chaos.ParamError
		if errors.As(e, &pe) && pe.Key != "" {
			out = append(out, scenario.Errorf(p+".with."+pe.Key, "%v", pe.Err))
		} else {
			out = append(out, scenario.Errorf(p, "%v", e))
		}
	}
	return out
}

// faultSteps resolves the scenario's faults on the drill's timeline.
func faultSteps(s *scenario.Scenario) ([]drill.FaultStep, error) {
	var out []drill.FaultStep
	var errs []error
	env := proto(s)
	for i := range s.Faults {
		f := &s.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		k, ok := chaos.Lookup(f.Fault)
		if !ok {
			errs = append(errs, s.Errorf(p+".fault", "unknown fault %q (have: %s)", f.Fault, strings.Join(chaos.Names(), ", ")))
			continue
		}
		// Checked again here: run --runtime may have changed the runtime since Load.
		if env != nil {
			if err := chaos.Supports(f.Fault, env); err != nil {
				errs = append(errs, s.Errorf(p+".fault", "%s: %v", f.Fault, err))
				continue
			}
		}
		fp := faultParams(f)
		flt, err := chaos.New(f.Fault, fp)
		if err != nil {
			for _, e := range paramErrors(p, err) {
				var se *scenario.Error
				errors.As(e, &se)
				errs = append(errs, s.Errorf(se.Path, "%s", se.Msg))
			}
			continue
		}
		out = append(out, drill.FaultStep{Name: f.Name, Kind: f.Fault, Target: f.Target, Link: fp.Link,
			OnLinks: k.Scope == chaos.OnLink && f.Link == "", At: f.At.Resolve(s.Recall.At.D), For: f.For,
			Cuts: k.Cuts, Fault: flt})
	}
	return out, errors.Join(errs...)
}

// sources names the components c learns recalls from: for a reference gateway or service, the
// issuer and (push) the bus; for any component, the targets of its declared links.
func sources(s *scenario.Scenario, c *scenario.Component, issuer string) []string {
	var out []string
	add := func(n string) {
		for _, x := range out {
			if x == n {
				return
			}
		}
		out = append(out, n)
	}
	if c.Use == runtime.UseGateway || c.Use == runtime.UseService {
		if issuer != "" {
			add(issuer)
		}
		if st, _ := c.With["strategy"].(string); st == "push" {
			for _, b := range s.System.Components {
				if b.Use == runtime.UseNATS || b.Kind == scenario.KindBus {
					add(b.Name)
				}
			}
		}
	}
	for _, l := range s.System.Links {
		if l.From == c.Name {
			add(l.To)
		}
	}
	return out
}
