// Package plan turns a loaded scenario into a drill plan: it resolves the runtime, the recall
// action, the probes, the population and the faults through the engine's registries, starting
// nothing. Everything that can be wrong with a scenario is found here or in [Load], before
// anything starts, and every error points into the file (file:line:col: path: message). `recall
// validate` and `recall run` share this code.
//
//	scenario.yaml ──Load (scenario.Parse + Registry)──► *scenario.Scenario ──Build──► *drill.Plan ──drill.Run──► report
//
// See docs/architecture.md for the data flow and how to add a runtime, an action or a fault.
package plan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/source"
)

// Load loads and validates the scenario file at path against the engine's registries ([Registry]).
func Load(path string, opts ...scenario.LoadOption) (*scenario.Scenario, error) {
	return scenario.Load(path, append([]scenario.LoadOption{scenario.WithRegistry(Registry{})}, opts...)...)
}

// Parse is [Load] for a scenario already read; name is used in messages.
func Parse(name string, src []byte, opts ...scenario.LoadOption) (*scenario.Scenario, error) {
	return scenario.Parse(name, src, append([]scenario.LoadOption{scenario.WithRegistry(Registry{})}, opts...)...)
}

// Options are the run's choices that shape the plan.
type Options struct {
	// OutDir, when set, is the report directory (the docker runtime saves container logs under
	// it).
	OutDir string
	// DrillID labels everything the drill creates (random when empty).
	DrillID string
	// Logger receives the engine's logs (default: discarded).
	Logger *slog.Logger
}

// Build resolves s into a drill plan: it builds the runtime environment (starting nothing),
// the action (checking its parameters), the probes, the population and the faults. On error
// it still returns what it built, so that the caller can close the environment; every error
// is an *scenario.Error at the field it is about.
func Build(s *scenario.Scenario, o Options) (*drill.Plan, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	specs := Specs(s)
	drillID := o.DrillID
	if drillID == "" {
		drillID = randomHex(4)
	}
	secrets := runtime.Secrets{AdminSecret: randomHex(24), GatewayID: "recall-gateways-" + drillID, GatewaySecret: randomHex(24)}
	// The reference stack's secrets are credentials the drill holds: no quoted answer, log line
	// or saved container log may show them.
	redact.Global.Add(secrets.AdminSecret, secrets.GatewaySecret)
	var env runtime.Environment
	if rt, err := runtime.Lookup(s.System.Runtime); err != nil {
		errs = append(errs, s.Errorf("system.runtime", "%v", err))
	} else {
		e, err := rt.New(runtime.Params{Specs: specs, Secrets: &secrets, Logger: log, StartTimeout: s.System.StartTimeout,
			Links: links(s), DrillID: drillID, OutDir: o.OutDir})
		for _, err := range flatten(err) {
			errs = append(errs, s.Errorf("system", "runtime %s: %v", rt.Name, err))
		}
		env = e
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
		errs = append(errs, s.Errorf("tokens.issuer", "no issuer: add a component of kind issuer or set tokens.issuer"))
	}

	action, err := drill.NewAction(s.Recall.Action, drill.ActionParams{
		Mode: s.Recall.Mode, Concurrency: s.Recall.Concurrency, With: s.Recall.With, Logger: log,
	})
	if err != nil {
		// Load has placed parameter errors already (checkRecall); this is what remains.
		if placed := checkRecall(s); placed != nil {
			for _, e := range flatten(placed) {
				var se *scenario.Error
				if errors.As(e, &se) {
					errs = append(errs, s.Errorf(se.Path, "%s", se.Msg))
				}
			}
		} else {
			errs = append(errs, s.Errorf("recall.action", "%v", err))
		}
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
		Users: s.Tokens.Users.Count, Clients: s.Tokens.Clients.Count, Scope: s.Tokens.Scope}
	mode := s.Recall.Mode
	if k, ok := drill.LookupAction(s.Recall.Action); ok {
		if mode == "" && len(k.Modes) > 0 {
			mode = k.Modes[0]
		}
		needs := k.PopulationFor(s.Recall.With)
		pop.MFA = needs.MFA
		pop.RotateKeyBeforeControls = needs.ExtraKey
		pop.NewSecondBeforeControls = needs.NewSecond
	}
	steps, err := faultSteps(s)
	if err != nil {
		errs = append(errs, err)
	}
	opener, perrs := provider(s, issuer, secrets, drillID, env)
	errs = append(errs, perrs...)
	opener = withTransmitters(opener, env)
	p := &drill.Plan{
		Name: s.Name, Seed: s.Seed, DrillID: drillID, Env: env, Runtime: s.System.Runtime,
		Components: comps, Issuer: issuer, Provider: opener,
		Population: pop,
		Traffic: drill.Traffic{Rate: s.Traffic.Rate.PerSecond(), RampFrom: rampFrom, RampFor: rampFor,
			Duration: s.Traffic.Duration, AfterFaults: s.Traffic.AfterFaults, Settle: s.Traffic.Settle, Workers: s.Traffic.Workers, Timeout: timeout,
			Recheck: s.Traffic.Recheck.Fraction, Controls: s.Traffic.Controls.Fraction,
			Sample: sampleSpec(&s.Traffic)},
		Recall: drill.Recall{At: s.Recall.At.D, Kind: s.Recall.Action, Mode: mode, Action: action, Confirm: s.Recall.Confirm,
			ConfirmWindow: s.Recall.ConfirmWindow, WaitForBaseline: s.Recall.WaitForBaseline},
		StartTimeout: s.System.StartTimeout,
		Expect:       exps,
		Recovery:     recovery(s.Tokens.Recovery),
		Logger:       log,
		Faults:       steps,
		SSFReceiver:  ssfReceiver(s),
	}
	return p, errors.Join(errs...)
}

// withTransmitters gives the provider the drill's Shared Signals transmitters, once the system
// runs, when the environment runs any (reference/ssf): the ssf-event action emits on them.
func withTransmitters(open source.Opener, env runtime.Environment) source.Opener {
	txs, ok := env.(runtime.SSFTransmitters)
	if open == nil || !ok {
		return open
	}
	return func(ctx context.Context, u *url.URL) (*source.Provider, error) {
		p, err := open(ctx, u)
		if err == nil && p != nil {
			p.SSF = txs.SSFTransmitters()
		}
		return p, err
	}
}

// Specs returns the scenario's components as the runtime sees them.
func Specs(s *scenario.Scenario) []runtime.Spec {
	specs := make([]runtime.Spec, len(s.System.Components))
	for i, c := range s.System.Components {
		specs[i] = runtime.Spec{Name: c.Name, Kind: c.Kind, Use: c.Use, With: c.With, Image: c.Image, URL: c.URL,
			Env: c.Env, Command: c.Command, Ports: c.Ports, DependsOn: c.DependsOn}
		if w := c.Wait; w != nil {
			specs[i].Wait = &runtime.Wait{HTTP: w.HTTP, Status: w.Status, Log: w.Log, Port: w.Port, Timeout: w.Timeout}
		}
	}
	return specs
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
	return &drill.ProbeSpec{Kind: p.Kind, With: p.With, Method: p.Method, Path: path, URL: p.URL, Header: h, Body: p.Body, Timeout: p.Timeout,
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

// recovery maps tokens.recovery (how many affected identities get fresh credentials after the
// recall; 0 turns the measurement off) to the engine's setting.
func recovery(n int) drill.Recovery {
	if n <= 0 {
		return drill.Recovery{Sample: drill.RecoveryOff}
	}
	return drill.Recovery{Sample: n}
}

// flatten lists the errors joined in err (none for nil).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// sampleSpec is the traffic's sample: a count, a share, or a resolution to size it from.
func sampleSpec(t *scenario.Traffic) drill.SampleSpec {
	spec := drill.SampleSpec{Resolution: t.Resolution}
	if z := t.Sample; z != nil {
		spec.Count, spec.Share = z.Count, z.Share
	}
	return spec
}
