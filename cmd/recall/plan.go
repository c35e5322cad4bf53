package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/recall-drills/recall/internal/chaos"
	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/report"
)

// loadScenario loads and validates a scenario, with the engine's registries as the source of
// truth for action kinds.
func loadScenario(path string) (*scenario.Scenario, error) {
	return scenario.Load(path, scenario.WithKnownActions(drill.ActionNames()...),
		scenario.WithKnownFaults(chaos.Names()...), scenario.WithCheck(checkFaults))
}

// planOptions are run's choices that shape the plan.
type planOptions struct {
	// outDir, when set, is the report directory (the docker runtime saves container logs under it).
	outDir string
	// drillID labels everything the drill creates (random when empty).
	drillID string
}

// plan resolves a scenario into a drill plan: it builds the runtime environment (starting
// nothing), the action (checking its parameters) and the probes. Everything that can be wrong
// with a scenario is found here, before anything starts — `recall validate` runs it too.
func plan(s *scenario.Scenario, log *slog.Logger, o planOptions) (*drill.Plan, error) {
	var errs []error
	specs := make([]runtime.Spec, len(s.System.Components))
	for i, c := range s.System.Components {
		specs[i] = runtime.Spec{Name: c.Name, Kind: c.Kind, Use: c.Use, With: c.With, Image: c.Image, URL: c.URL,
			Env: c.Env, Command: c.Command, Ports: c.Ports, DependsOn: c.DependsOn}
		if w := c.Wait; w != nil {
			specs[i].Wait = &runtime.Wait{HTTP: w.HTTP, Status: w.Status, Log: w.Log, Port: w.Port, Timeout: w.Timeout}
		}
	}
	drillID := o.drillID
	if drillID == "" {
		drillID = randomHex(4)
	}
	secrets := runtime.Secrets{AdminSecret: randomHex(24), GatewayID: "recall-gateways-" + drillID, GatewaySecret: randomHex(24)}
	var env runtime.Environment
	switch s.System.Runtime {
	case scenario.RuntimeEmbedded, "":
		e, err := runtime.NewEmbedded(specs, secrets, runtime.WithLogger(log), runtime.WithStartTimeout(s.System.StartTimeout),
			runtime.WithLinks(links(s)...))
		if err != nil {
			errs = append(errs, err)
		}
		env = e
	case scenario.RuntimeDocker:
		opts := []runtime.DockerOption{runtime.WithDrillID(drillID), runtime.WithDockerLogger(log),
			runtime.WithDockerStartTimeout(s.System.StartTimeout), runtime.WithDockerLinks(links(s)...)}
		if o.outDir != "" {
			opts = append(opts, runtime.WithLogsDir(filepath.Join(o.outDir, "logs")))
		}
		e, err := runtime.NewDocker(specs, secrets, opts...)
		if err != nil {
			errs = append(errs, err)
		}
		env = e
	case scenario.RuntimeExternal:
		health := map[string]string{}
		for _, c := range s.System.Components {
			if c.Wait != nil && c.Wait.HTTP != "" {
				health[c.Name] = c.Wait.HTTP
			}
		}
		e, err := runtime.NewExternal(specs, health)
		if err != nil {
			errs = append(errs, err)
		}
		env = e
		if v, ok := issuerWith(s, "admin_secret"); ok {
			secrets.AdminSecret = v
		}
	default:
		errs = append(errs, fmt.Errorf("unknown runtime %q (have: embedded, docker, external)", s.System.Runtime))
	}

	issuer := s.Tokens.Issuer
	if issuer == "" {
		for _, c := range s.System.Components {
			if c.Kind == scenario.KindIssuer {
				issuer = c.Name
				break
			}
		}
	}
	if issuer == "" {
		errs = append(errs, errors.New("no issuer: add a component of kind issuer or set tokens.issuer"))
	}

	action, err := drill.NewAction(s.Recall.Action, drill.ActionParams{
		Mode: s.Recall.Mode, Concurrency: s.Recall.Concurrency, With: s.Recall.With, Logger: log,
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: recall: %w", s.Path, err))
	}

	probed := s.ProbedComponents()
	var comps []drill.Component
	var timeout time.Duration
	for _, c := range s.System.Components {
		dc := drill.Component{Name: c.Name, Kind: c.Kind, Use: c.Use, Sources: sources(s, &c, issuer)}
		if slices.ContainsFunc(probed, func(p *scenario.Component) bool { return p.Name == c.Name }) {
			dc.Probe = probeSpec(&c)
			timeout = max(timeout, dc.Probe.Timeout)
		}
		comps = append(comps, dc)
	}
	var exps []drill.Expectation
	for _, e := range s.Expect {
		exps = append(exps, drill.Expectation{Text: e.Text, Expr: e.Expr, Severity: e.Severity, Note: e.Note})
	}
	rampFrom, rampFor := 0.0, time.Duration(0)
	if s.Traffic.Ramp != nil {
		rampFrom, rampFor = s.Traffic.Ramp.From.PerSecond(), s.Traffic.Ramp.For
	}
	pop := drill.Population{Grant: s.Tokens.Grant, Victims: s.Tokens.Victims, Controls: s.Tokens.Controls,
		Users: s.Tokens.Users, Clients: s.Tokens.Clients, Scope: s.Tokens.Scope}
	switch s.Recall.Action {
	case "revoke-mfa":
		// Factors belong to users: the population logs in with password and a TOTP code.
		if pop.Grant != "password" {
			errs = append(errs, fmt.Errorf("%s: recall.action revoke-mfa needs tokens.grant: password (MFA factors belong to users)", s.Path))
		}
		pop.MFA = true
	case "revoke-key":
		// Controls are signed by the next key, so recalling the victims' key spares them.
		pop.RotateKeyBeforeControls = true
	}
	steps, err := faultSteps(s)
	if err != nil {
		errs = append(errs, err)
	}
	p := &drill.Plan{
		Name: s.Name, Seed: s.Seed, DrillID: drillID, Env: env, Runtime: s.System.Runtime,
		Components: comps, Issuer: issuer, AdminSecret: drill.NewSecret(secrets.AdminSecret),
		Population: pop,
		Traffic: drill.Traffic{Rate: s.Traffic.Rate.PerSecond(), RampFrom: rampFrom, RampFor: rampFor,
			Duration: s.Traffic.Duration, Workers: s.Traffic.Workers, Timeout: timeout,
			Recheck: s.Traffic.Recheck.Fraction, Controls: s.Traffic.Controls.Fraction},
		Recall:       drill.Recall{At: s.Recall.At.D, Kind: s.Recall.Action, Mode: s.Recall.Mode, Action: action, Confirm: s.Recall.Confirm},
		StartTimeout: s.System.StartTimeout,
		Expect:       exps,
		Recovery:     recovery(s.Tokens.Recovery),
		Logger:       log,
		Faults:       steps,
	}
	return p, errors.Join(errs...)
}

// issuerWith reads a parameter of the issuer component's with: block.
func issuerWith(s *scenario.Scenario, key string) (string, bool) {
	for _, c := range s.System.Components {
		if c.Kind == scenario.KindIssuer {
			v, ok := c.With[key].(string)
			return v, ok
		}
	}
	return "", false
}

// probeSpec is a component's probe: the scenario's, or the reference components' default.
func probeSpec(c *scenario.Component) *drill.ProbeSpec {
	if c.Probe == nil {
		return &drill.ProbeSpec{Method: http.MethodGet, Path: drill.DefaultProbePath, Timeout: scenario.DefaultProbe.Timeout,
			Accept: drill.DefaultAccept, Reject: drill.DefaultReject}
	}
	p := c.Probe
	h := http.Header{}
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	if len(h) == 0 {
		h = nil
	}
	path := p.Path
	if path == "" && p.URL == "" {
		path = "/"
		if c.IsReference() {
			path = drill.DefaultProbePath
		}
	}
	return &drill.ProbeSpec{Method: p.Method, Path: path, URL: p.URL, Header: h, Body: p.Body, Timeout: p.Timeout,
		Accept: match(p.Accept), Reject: match(p.Reject)}
}

func match(m scenario.Match) drill.Match {
	out := drill.Match{Status: m.Status, JSON: m.JSON}
	if m.BodyMatch != nil {
		out.Body = m.BodyMatch.Regexp
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var _ = report.SchemaVersion

// recovery maps tokens.recovery (how many affected identities get fresh credentials after the
// recall; 0 turns the measurement off) to the engine's setting.
func recovery(n int) drill.Recovery {
	if n <= 0 {
		return drill.Recovery{Sample: drill.RecoveryOff}
	}
	return drill.Recovery{Sample: n}
}
