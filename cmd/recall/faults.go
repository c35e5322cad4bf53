package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
)

// runtimeProto is a typed nil of the runtime's Environment type, for capability checks before
// anything is built.
func runtimeProto(name string) any {
	switch name {
	case scenario.RuntimeExternal:
		return (*runtime.External)(nil)
	case scenario.RuntimeDocker:
		return (*runtime.Docker)(nil)
	}
	return (*runtime.Embedded)(nil)
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

// checkFaults is the fault registry's check for scenario.Load: what each kind is done to, its
// parameters and the runtime's capabilities, each reported at the fault's own line.
func checkFaults(s *scenario.Scenario) error {
	var errs []error
	proto := runtimeProto(s.System.Runtime)
	if _, ok := proto.(runtime.Linker); !ok && len(s.System.Links) > 0 {
		errs = append(errs, scenario.Errorf("system.links", "the %s runtime cannot route links through a proxy (have: embedded, docker)", s.System.Runtime))
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		k, ok := chaos.Lookup(f.Fault)
		if !ok {
			continue // reported by Load (WithKnownFaults)
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
		if err := chaos.Supports(f.Fault, proto); err != nil {
			errs = append(errs, scenario.Errorf(p+".fault", "%s: %v", f.Fault, err))
		}
		if _, err := chaos.New(f.Fault, faultParams(f)); err != nil {
			for _, e := range flattenErrs(err) {
				var pe *chaos.ParamError
				if errors.As(e, &pe) && pe.Key != "" {
					errs = append(errs, scenario.Errorf(p+".with."+pe.Key, "%v", pe.Err))
				} else {
					errs = append(errs, scenario.Errorf(p, "%v", e))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func flattenErrs(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrs(e)...)
		}
		return out
	}
	return []error{err}
}

// faultSteps resolves the scenario's faults on the drill's timeline.
func faultSteps(s *scenario.Scenario) ([]drill.FaultStep, error) {
	var out []drill.FaultStep
	var errs []error
	for i := range s.Faults {
		f := &s.Faults[i]
		k, ok := chaos.Lookup(f.Fault)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: faults[%d]: unknown fault %q", s.Path, i, f.Fault))
			continue
		}
		// Checked again here: run --runtime may have changed the runtime since Load.
		if err := chaos.Supports(f.Fault, runtimeProto(s.System.Runtime)); err != nil {
			errs = append(errs, fmt.Errorf("%s: faults[%d]: %s: %w", s.Path, i, f.Fault, err))
			continue
		}
		p := faultParams(f)
		flt, err := chaos.New(f.Fault, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: faults[%d]: %w", s.Path, i, err))
			continue
		}
		out = append(out, drill.FaultStep{Name: f.Name, Kind: f.Fault, Target: f.Target, Link: p.Link,
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
