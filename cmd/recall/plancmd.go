package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/plan"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/targets/issuer"
)

// planOutput are the flags of `recall plan` (and `recall run --dry-run`).
type planOutput struct {
	output string // text or json
	bench  string // a `recall bench --save` file to compare the rate with
}

func (po *planOutput) flags(cmd *cobra.Command, suffix string) {
	cmd.Flags().StringVar(&po.output, "output", "text", "the plan as text or json"+suffix)
	cmd.Flags().StringVar(&po.bench, "bench", defaultBenchFile(), "the rates 'recall bench' measured on this machine, to warn when the scenario asks for more"+suffix)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("bench", "json")
}

func planCmd() *cobra.Command {
	var sets []string
	var po planOutput
	cmd := &cobra.Command{
		Use:   "plan SCENARIO",
		Short: "show what a drill will do, starting nothing",
		Long: `Plans the drill SCENARIO describes, as 'recall run' would, and prints it without starting
anything: the components and how each is reached; the population (credentials, users, clients,
expiry); the timeline (traffic, ramp, recall, fault windows); the probe budget (pairs, the revisit
interval per component before and after the recall, and the resolution to expect); and warnings
(a resolution coarser than an expectation's bound, tokens expiring before the drill ends, a rate
above what 'recall bench' measured). 'recall run --dry-run' prints the same.`,
		Example: `  recall plan scenarios/quickstart.yaml
  recall plan scenarios/quickstart.yaml --set traffic.rate=6000/s --output json`,
		Args:              args(1, 1, "exactly one scenario file"),
		ValidArgsFunction: oneScenarioFile,
		RunE: func(cmd *cobra.Command, a []string) error {
			return printPlan(cmd.OutOrStdout(), a[0], sets, po)
		},
	}
	setFlag(cmd, &sets)
	po.flags(cmd, "")
	return cmd
}

// printPlan loads and plans the scenario at path and prints the plan.
func printPlan(w io.Writer, path string, sets []string, po planOutput) error {
	if po.output != "text" && po.output != "json" {
		return withExit(exitCannotRun, fmt.Errorf("--output: want text or json, got %q", po.output))
	}
	s, err := loadScenario(path, sets)
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	p, err := buildPlan(s, slog.New(slog.DiscardHandler), planOptions{})
	if err != nil {
		return withExit(exitCannotRun, err)
	}
	v := newPlanView(s, p, readBench(po.bench))
	if po.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	return v.writeText(w)
}

// planView is what `recall plan` prints; --output json gives it as is.
type planView struct {
	Scenario   string          `json:"scenario"`
	File       string          `json:"file"`
	Seed       int64           `json:"seed"`
	Runtime    string          `json:"runtime"`
	Overrides  []string        `json:"overrides,omitempty"`
	Components []planComponent `json:"components"`
	Population planPopulation  `json:"population"`
	Timeline   []planEvent     `json:"timeline"`
	Budget     planBudget      `json:"budget"`
	Warnings   []string        `json:"warnings,omitempty"`
}

type planComponent struct {
	Name    string `json:"name"`
	Kind    string `json:"kind,omitempty"`
	Reached string `json:"reached"`
	Probe   string `json:"probe,omitempty"`
	// ExpectedTTC says what the plan expects of a probed component's time to consistency, and
	// from what ("poll every 2s: at one tick, 1s on average"; "unknown" for the user's own).
	ExpectedTTC string `json:"expected_ttc,omitempty"`
	// ResolutionMS is the median bracket to expect at the component (drill.Budget.Resolution);
	// absent for a component expected never to converge. ResolutionRangeMS is the narrowest and
	// the widest over where the components' common instants (poll ticks) fall in their windows.
	ResolutionMS      float64    `json:"resolution_ms,omitempty"`
	ResolutionRangeMS [2]float64 `json:"resolution_range_ms,omitempty"`
}

type planPopulation struct {
	Grant string `json:"grant"`
	// Source is tokens.source's kind, when a command or a request gives the credentials.
	Source          string `json:"source,omitempty"`
	Victims         int    `json:"victims"`
	Controls        int    `json:"controls"`
	Users           int    `json:"users,omitempty"`
	Clients         int    `json:"clients"`
	VictimClients   int    `json:"victim_clients"`
	ControlClients  int    `json:"control_clients"`
	VictimUsers     int    `json:"victim_users,omitempty"`
	ControlUsers    int    `json:"control_users,omitempty"`
	Issuer          string `json:"issuer"`
	TokenTTLMS      int64  `json:"token_ttl_ms,omitempty"`
	Expires         string `json:"expires"`
	RecoverySample  int    `json:"recovery_sample"`
	RecallAction    string `json:"recall_action"`
	RecallMode      string `json:"recall_mode,omitempty"`
	RecallConfirmed bool   `json:"recall_confirmed"`
}

type planEvent struct {
	// AtMS and EndMS are offsets from the start of traffic; EndMS is 0 for an instant.
	AtMS  int64  `json:"at_ms"`
	EndMS int64  `json:"end_ms,omitempty"`
	What  string `json:"what"`
}

type planBudget struct {
	RatePerS        float64 `json:"rate_per_s"`
	ProbedComps     int     `json:"probed_components"`
	VictimPairs     int     `json:"victim_pairs"`
	ControlPairs    int     `json:"control_pairs"`
	PerComponent    int     `json:"victims_per_component"`
	ProbesTotal     int64   `json:"probes_total"`
	BeforeMS        float64 `json:"revisit_before_ms"`
	AfterMS         float64 `json:"revisit_after_ms"`
	AfterAloneMS    float64 `json:"revisit_after_alone_ms"`
	ResolutionMS    float64 `json:"resolution_ms"`
	ResolutionMinMS float64 `json:"resolution_min_ms"`
	UnconvShare     float64 `json:"unconverged_share"`
	// Simulated is true when the components' resolution_ms come from the drill's scheduler
	// simulated on a virtual clock (drill.PlanBudget).
	Simulated    bool    `json:"simulated"`
	RecheckShare float64 `json:"recheck_share"`
	ControlShare float64 `json:"control_share"`
	// PerComponentRevisit is the same for every probed component: the scheduler's rotation
	// holds every component's pairs.
	Probed []string `json:"probed"`
	// Sampled is true when only a sample of the victims is probed at each component
	// (traffic.sample or traffic.resolution); every victim is still recalled.
	Sampled bool `json:"sampled"`
	// AskedResolutionMS is traffic.resolution, when set.
	AskedResolutionMS float64 `json:"asked_resolution_ms,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newPlanView(s *scenario.Scenario, p *drill.Plan, bench *benchResult) *planView {
	v := &planView{Scenario: s.Name, File: s.Path, Seed: s.Seed, Runtime: p.Runtime, Overrides: s.Overrides}
	if v.Runtime == "" {
		v.Runtime = scenario.RuntimeEmbedded
	}
	rt, _ := runtime.Lookup(v.Runtime) // known: the plan was built
	specs := plan.Specs(s)
	for i, c := range s.System.Components {
		pc := planComponent{Name: c.Name, Kind: c.Kind, Reached: rt.Reached(specs[i])}
		for _, dc := range p.Components {
			if dc.Name == c.Name && dc.Probe != nil {
				target := dc.Probe.Path
				if dc.Probe.URL != "" {
					target = dc.Probe.URL
				}
				pc.Probe = dc.Probe.Method + " " + target
			}
		}
		v.Components = append(v.Components, pc)
	}

	pop := p.Population
	vp := planPopulation{Grant: pop.Grant, Victims: pop.Victims, Controls: pop.Controls, Clients: pop.Clients,
		Issuer: p.Issuer, RecallAction: p.Recall.Kind, RecallMode: p.Recall.Mode, RecallConfirmed: p.Recall.Confirm}
	if vp.Grant == "" {
		vp.Grant = "client_credentials"
	}
	if ts := s.Tokens.Source; ts != nil {
		vp.Source = ts.Kind
	}
	vp.VictimClients, vp.ControlClients = drill.SplitIdentities(pop.Clients, pop.Victims, pop.Controls)
	if vp.Grant == "password" {
		vp.Users = pop.Users
		vp.VictimUsers, vp.ControlUsers = drill.SplitIdentities(pop.Users, pop.Victims, pop.Controls)
	}
	if p.Recovery.Sample > 0 {
		vp.RecoverySample = p.Recovery.Sample
	}
	ttl, known := tokenTTL(s, p.Issuer)
	end := s.Traffic.Duration
	if vp.Source == source.KindRPSessions {
		// Cookie sessions, not the issuer's tokens: the reference relying party's do not expire.
		vp.Expires = "cookie sessions at " + fmt.Sprint(s.Tokens.Source.With["rp"]) + ": they do not expire"
	} else if known {
		vp.TokenTTLMS = ttl.Milliseconds()
		vp.Expires = fmt.Sprintf("access tokens live %s from minting, which ends before traffic starts (traffic lasts %s)", ttl, end)
	} else {
		vp.Expires = "the issuer's own access-token lifetime (not known before the drill)"
	}
	v.Population = vp

	// Timeline.
	v.Timeline = append(v.Timeline, planEvent{AtMS: 0, EndMS: end.Milliseconds(), What: fmt.Sprintf("traffic at %s", rateText(p.Traffic.Rate))})
	if p.Traffic.RampFor > 0 {
		v.Timeline = append(v.Timeline, planEvent{AtMS: 0, EndMS: p.Traffic.RampFor.Milliseconds(),
			What: fmt.Sprintf("ramp from %s to %s", rateText(p.Traffic.RampFrom), rateText(p.Traffic.Rate))})
	}
	v.Timeline = append(v.Timeline, planEvent{AtMS: 0, EndMS: p.Recall.At.Milliseconds(), What: "baseline: every victim pair must be seen accepted"})
	v.Timeline = append(v.Timeline, planEvent{AtMS: p.Recall.At.Milliseconds(), What: fmt.Sprintf("recall of %d victims: %s", pop.Victims, recallText(p.Recall))})
	if h := p.Recall.WaitForBaseline; h > 0 {
		v.Timeline = append(v.Timeline, planEvent{AtMS: p.Recall.At.Milliseconds(), EndMS: (p.Recall.At + h).Milliseconds(),
			What: "the recall waits, at most this long, for every victim pair's baseline accept (recall.wait_for_baseline); traffic ends as much later"})
	}
	for _, f := range s.Faults {
		at := f.At.Resolve(s.Recall.At.D)
		what := "fault " + f.Fault
		if f.Target != "" {
			what += " on " + f.Target
		}
		if f.Link != "" {
			what += " on link " + f.Link
		}
		if f.Name != "" {
			what += " (" + f.Name + ")"
		}
		ev := planEvent{AtMS: at.Milliseconds(), What: what}
		if f.For > 0 {
			ev.EndMS = (at + f.For).Milliseconds()
		}
		v.Timeline = append(v.Timeline, ev)
	}
	if st := p.Traffic.Settle; st > 0 {
		v.Timeline = append(v.Timeline, planEvent{AtMS: end.Milliseconds(), EndMS: (end + st).Milliseconds(),
			What: "traffic held while a component that began enforcing the recall still honours some credentials (traffic.settle)"})
	}
	endWhat := "traffic ends; report"
	if p.Traffic.Settle > 0 {
		endWhat = fmt.Sprintf("traffic ends, or up to %s later when held; report", p.Traffic.Settle)
	}
	v.Timeline = append(v.Timeline, planEvent{AtMS: end.Milliseconds(), What: endWhat})

	// Budget.
	var probed []string
	var expected []drill.ExpectedTTC
	for _, c := range p.Components {
		if c.Probe != nil {
			probed = append(probed, c.Name)
			e := drill.ExpectedTTC{Why: "unknown (not a reference component): planned as never converging"}
			for _, sc := range s.System.Components {
				if sc.Name == c.Name {
					e = expectedTTC(sc, s.Recall.Action)
					if e.Known && !e.Never {
						var notes []string
						if e.Faults, notes = faultEffects(s, sc); len(notes) > 0 {
							e.Why += "; " + strings.Join(notes, "; ")
						}
					}
				}
			}
			expected = append(expected, e)
		}
	}
	b := drill.PlanBudget(drill.BudgetConfig{Rate: p.Traffic.Rate, Components: len(probed), Victims: pop.Victims, Controls: pop.Controls,
		Sample: p.Traffic.Sample, Schedule: drill.ScheduleConfig{ControlShare: p.Traffic.Controls, Recheck: p.Traffic.Recheck},
		Expected: expected, RecallAt: p.Recall.At, After: max(end-p.Recall.At, 0), Seed: p.Seed,
		AckSpread: ackSpread(s, pop.Victims)})
	for i, name := range probed {
		for j := range v.Components {
			if v.Components[j].Name == name {
				v.Components[j].ExpectedTTC, v.Components[j].ResolutionMS = expected[i].Why, ms(b.Resolution[i])
				if b.Simulated {
					v.Components[j].ResolutionRangeMS = [2]float64{ms(b.ResolutionRange[i][0]), ms(b.ResolutionRange[i][1])}
				}
			}
		}
	}
	v.Budget = planBudget{RatePerS: p.Traffic.Rate, ProbedComps: len(probed), VictimPairs: b.VictimPairs, ControlPairs: b.ControlPairs,
		PerComponent: b.PerComponent, ProbesTotal: int64(p.Traffic.Rate * end.Seconds()),
		BeforeMS: ms(b.Before), AfterMS: ms(b.After), AfterAloneMS: ms(b.AfterAlone), ResolutionMS: ms(b.After), ResolutionMinMS: ms(b.AfterAlone),
		UnconvShare: b.UnconvergedShare, Simulated: b.Simulated, RecheckShare: b.RecheckShare, ControlShare: b.ControlShare, Probed: probed,
		Sampled: b.PerComponent < pop.Victims, AskedResolutionMS: ms(p.Traffic.Sample.Resolution)}
	if r := p.Traffic.Sample.Resolution; r > 0 && b.PerComponent == pop.Victims && b.After > r {
		v.Warnings = append(v.Warnings, fmt.Sprintf("traffic.resolution %s is out of reach even probing every victim (±%s): raise traffic.rate", r, report1(b.After)))
	}

	// Warnings.
	for _, e := range s.Expect {
		if comp, bound, ok := ttcBound(e.Text); ok && b.After > 0 && bound < b.After {
			who := "every probed component"
			if comp != "" {
				who = comp
			}
			v.Warnings = append(v.Warnings, fmt.Sprintf("resolution ±%s is larger than the bound of %q (%s): raise traffic.rate or probe fewer credentials", report1(b.After), e.Text, who))
		}
	}
	if known && ttl <= end {
		v.Warnings = append(v.Warnings, fmt.Sprintf("tokens expire %s after minting, before traffic ends (%s): expiry will look like convergence and controls will be rejected", ttl, end))
	}
	if p.Recall.At >= end {
		v.Warnings = append(v.Warnings, "the recall is at or after the end of traffic: nothing is measured after it")
	} else if left := end - p.Recall.At; b.After > 0 && left < 2*b.After {
		v.Warnings = append(v.Warnings, fmt.Sprintf("only %s of traffic after the recall, less than two revisits (%s each): pairs may end unconverged", left, report1(b.After)))
	}
	if bench != nil && bench.MaxAchieved > 0 && p.Traffic.Rate > bench.MaxAchieved {
		v.Warnings = append(v.Warnings, fmt.Sprintf("rate %s is above what 'recall bench' measured here (%s on %s): expect a shortfall and a coarser resolution",
			rateText(p.Traffic.Rate), rateText(bench.MaxAchieved), bench.MeasuredAt.Format(time.DateOnly)))
	}
	return v
}

// oneByOneRequest is what the plan takes one RFC 7009 request to last, to spread a one-by-one
// recall's acknowledgements: the reference issuer's answer on loopback (a 500-token recall at
// concurrency 32 was acknowledged over 148 ms).
const oneByOneRequest = 10 * time.Millisecond

// ackSpread is how long the plan expects a recall's acknowledgements to spread: a batch is
// acknowledged at once, a one-by-one recall (mode rfc7009) over its rounds of concurrency
// requests.
func ackSpread(s *scenario.Scenario, victims int) time.Duration {
	if s.Recall.Mode != "rfc7009" || s.Recall.Concurrency <= 0 {
		return 0
	}
	rounds := (victims + s.Recall.Concurrency - 1) / s.Recall.Concurrency
	return time.Duration(rounds) * oneByOneRequest
}

// expectedTTC is what the plan expects of a component's time to consistency under the
// recall action: known for the reference gateway's and API-key service's strategies and the
// relying party, from their own parameters; unknown otherwise.
func expectedTTC(c scenario.Component, action string) drill.ExpectedTTC {
	unknown := drill.ExpectedTTC{Why: "unknown: planned as never converging"}
	// At once: a hop after the recall's acknowledgement (a bus message and the apply of the
	// recall's rules; the reference stack's push gateway enforced a 1,000-token batch 18 ms
	// after it, in ground truth). Where that instant falls in the burst of first probes that
	// follows the acknowledgement is what sets these brackets, so the plan simulates it.
	atOnce := func(what string) drill.ExpectedTTC {
		return drill.ExpectedTTC{Known: true, From: 20 * time.Millisecond, To: 20 * time.Millisecond, Why: what + ": at once (about 20ms after the acknowledgement)"}
	}
	atTick := func(what string, every time.Duration) drill.ExpectedTTC {
		if every <= 0 {
			return unknown
		}
		return drill.ExpectedTTC{Known: true, From: every / 2, To: every / 2, FromRecall: true, Phase: every,
			Why: fmt.Sprintf("%s every %s: all at one tick, %s on average", what, every, every/2)}
	}
	cached := func(what string, ttl time.Duration) drill.ExpectedTTC {
		if ttl <= 0 {
			return unknown
		}
		return drill.ExpectedTTC{Known: true, From: 0, To: ttl, FromRecall: true, Refill: true,
			Why: fmt.Sprintf("%s, cache %s: entries filled by the probes expire within a few revisits of each other, anywhere in 0–%s", what, ttl, ttl)}
	}
	switch c.Use {
	case "reference/gateway":
	case "reference/apikey-service":
		k, err := params.DecodeAPIKeyService(c.With)
		if err != nil {
			return unknown
		}
		switch k.Strategy {
		case "push":
			return atOnce("push")
		case "poll":
			return atTick("poll", k.Interval)
		case "lookup":
			return cached("lookup", k.CacheTTL)
		}
		return unknown
	case "reference/rp":
		// Back-channel logout: the issuer posts the logout token before it answers the recall.
		return atOnce("back-channel logout")
	case "":
		unknown.Why = "unknown (your own component): planned as never converging"
		return unknown
	default:
		return unknown
	}
	g, err := params.DecodeGateway(c.With)
	if err != nil {
		return unknown
	}
	if action == "revoke-key" || action == "rotate-key" {
		// A key recall reaches a verifier that checks signatures only when it fetches the JWKS
		// again: at its next refetch, one instant for every credential, anywhere within its TTL.
		if g.Strategy == "jwt-only" {
			if g.JWKSRefetch == "never" {
				return drill.ExpectedTTC{Known: true, Never: true, Why: "jwt-only, jwks_refetch never: never (until expiry)"}
			}
			ttl := g.JWKSTTL
			if ttl <= 0 {
				ttl = 5 * time.Minute // the gateway's default
			}
			return atTick("jwt-only: JWKS refetched", ttl)
		}
	}
	switch g.Strategy {
	case "push":
		return atOnce(g.Strategy)
	case "poll":
		return atTick("poll", g.Interval)
	case "ssf":
		// Push or poll, a receiver's pairs count from its own acknowledgement of the event, by
		// which it enforces (docs/measurement.md, "Delivery and enforcement").
		return atOnce("ssf " + cmp.Or(g.Delivery, "push"))
	case "introspect":
		return cached("introspect", g.CacheTTL)
	case "jwt-only":
		return drill.ExpectedTTC{Known: true, Never: true, Why: "jwt-only: never (until expiry)"}
	}
	return unknown
}

// faultEffects is what the scenario's faults do to a reference gateway's answers, as the
// reference gateway behaves (targets/gateway): cut off from its revocation source (the bus for
// push, the issuer's list for poll) across the recall, it enforces no earlier than the heal,
// and failing closed it refuses every credential once its state is older than max_staleness;
// a slowed link to the issuer slows an introspecting gateway's rejecting answers (an entry no
// longer cached is introspected again); paused, stopped or killed it answers nothing; restarted
// from a stale snapshot it honours recalled credentials again until its resync. Anything else is
// not modelled: the plan then says what a drill without the fault would achieve.
// The notes say, for the plan's text, what was modelled, in offsets from the recall.
func faultEffects(s *scenario.Scenario, c scenario.Component) (f drill.FaultEffects, notes []string) {
	if c.Use != "reference/gateway" {
		return f, nil
	}
	g, err := params.DecodeGateway(c.With)
	if err != nil {
		return f, nil
	}
	rel := func(d time.Duration) string {
		if d < 0 {
			return "recall" + d.String()
		}
		return "recall+" + d.String()
	}
	kinds := map[string]string{}
	for _, sc := range s.System.Components {
		kinds[sc.Name] = sc.Use
	}
	recallAt := s.Recall.At.D
	for _, ft := range s.Faults {
		from := ft.At.Resolve(recallAt) - recallAt
		to := from + ft.For
		if ft.Target == c.Name {
			switch ft.Fault {
			case "pause", "stop", "kill":
				if ft.For > 0 {
					f.Down = append(f.Down, drill.Window{From: from, To: to})
					notes = append(notes, fmt.Sprintf("%s: no answer %s to %s", ft.Fault, rel(from), rel(to)))
				}
			case "restart":
				if g.StaleRestart {
					resync := g.ResyncDelay
					if resync <= 0 {
						resync = g.Interval
					}
					f.Resurrect = append(f.Resurrect, drill.Window{From: from, To: from + resync})
					notes = append(notes, fmt.Sprintf("restarted from a stale snapshot: honours recalled credentials again %s to %s", rel(from), rel(from+resync)))
				}
			}
			continue
		}
		src, dst, ok := strings.Cut(ft.Link, "->")
		if !ok || src != c.Name || ft.For <= 0 {
			continue
		}
		source := (g.Strategy == "push" && kinds[dst] == "reference/nats") ||
			(g.Strategy == "poll" && kinds[dst] == "reference/issuer")
		switch {
		case ft.Fault == "partition" && source && from <= 0 && to > 0:
			if !f.HasNotBefore || to > f.NotBefore {
				f.NotBefore, f.HasNotBefore = to, true
			}
			notes = append(notes, fmt.Sprintf("cut from %s until %s: enforces no earlier", dst, rel(to)))
			if g.FailMode != "open" && g.MaxStaleness > 0 && from+g.MaxStaleness < to {
				f.Down = append(f.Down, drill.Window{From: from + g.MaxStaleness, To: to})
				notes = append(notes, fmt.Sprintf("fails closed %s to %s", rel(from+g.MaxStaleness), rel(to)))
			}
		case ft.Fault == "latency" && g.Strategy == "introspect" && kinds[dst] == "reference/issuer":
			l, err := params.ParseDuration(ft.With["latency"])
			if err == nil && l > 0 {
				f.SlowRejects = append(f.SlowRejects, drill.Window{From: from, To: to, Extra: l})
				notes = append(notes, fmt.Sprintf("rejecting answers %s slower %s to %s (link %s)", l, rel(from), rel(to), ft.Link))
			}
		}
	}
	return f, notes
}

// report1 rounds a duration for display.
func report1(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func rateText(r float64) string { return fmt.Sprintf("%.0f probes/s", r) }

func recallText(r drill.Recall) string {
	t := r.Kind
	if r.Mode != "" {
		t += " (" + r.Mode + ")"
	}
	if r.Confirm {
		t += ", confirmed by introspection"
	}
	return t
}

// tokenTTL returns the access-token lifetime of a reference issuer (with.token_ttl or the
// default); other issuers' lifetimes are not known before the drill.
func tokenTTL(s *scenario.Scenario, name string) (time.Duration, bool) {
	c, ok := s.Component(name)
	if !ok || !c.IsReference() {
		return 0, false
	}
	if v, ok := c.With["token_ttl"].(string); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d, true
		}
	}
	return issuer.DefaultTokenTTL, true
}

// ttcBoundRE matches a bound on a TTC quantile or maximum: time_to_consistency.p99{component="x"} < 1s.
var ttcBoundRE = regexp.MustCompile(`^\s*time_to_consistency\.(?:p\d+|max)\s*(?:\{\s*component\s*=\s*"([^"]+)"\s*\})?\s*<=?\s*([0-9.]+[a-zµ]+)\s*$`)

// ttcBound extracts the component (empty: all) and the bound of a TTC expectation.
func ttcBound(expr string) (component string, bound time.Duration, ok bool) {
	m := ttcBoundRE.FindStringSubmatch(expr)
	if m == nil {
		return "", 0, false
	}
	d, err := time.ParseDuration(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], d, true
}

func (v *planView) writeText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "plan: %s (%s), seed %d, runtime %s — nothing was started\n", v.Scenario, v.File, v.Seed, v.Runtime)
	for _, o := range v.Overrides {
		fmt.Fprintf(ew, "  --set %s\n", o)
	}
	fmt.Fprintf(ew, "\ncomponents\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, c := range v.Components {
		probe := "not probed"
		if c.Probe != "" {
			probe = "probed: " + c.Probe
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Kind, c.Reached, probe)
	}
	tw.Flush()
	p := v.Population
	fmt.Fprintf(ew, "\npopulation (issuer %s, grant %s)\n", p.Issuer, p.Grant)
	switch {
	case p.Source != "":
		fmt.Fprintf(ew, "  %d victims and %d controls from tokens.source %s: one call per cohort (RECALL_COHORT, RECALL_COUNT)", p.Victims, p.Controls, p.Source)
	default:
		fmt.Fprintf(ew, "  %d victims over %d client(s)", p.Victims, p.VictimClients)
		if p.Grant == "password" {
			fmt.Fprintf(ew, " and %d user(s)", p.VictimUsers)
		}
		fmt.Fprintf(ew, "; %d controls over %d client(s)", p.Controls, p.ControlClients)
		if p.Grant == "password" {
			fmt.Fprintf(ew, " and %d user(s)", p.ControlUsers)
		}
	}
	fmt.Fprintf(ew, "\n  expiry: %s\n", p.Expires)
	if p.RecoverySample > 0 {
		fmt.Fprintf(ew, "  recovery: fresh credentials for %d affected identities after the recall\n", p.RecoverySample)
	}
	fmt.Fprintf(ew, "\ntimeline (from the start of traffic)\n")
	for _, e := range v.Timeline {
		at := time.Duration(e.AtMS) * time.Millisecond
		if e.EndMS > 0 {
			fmt.Fprintf(ew, "  %7s – %-7s %s\n", at, time.Duration(e.EndMS)*time.Millisecond, e.What)
		} else {
			fmt.Fprintf(ew, "  %7s           %s\n", at, e.What)
		}
	}
	b := v.Budget
	d := func(x float64) string { return report1(time.Duration(x * float64(time.Millisecond))) }
	fmt.Fprintf(ew, "\nprobe budget: %s over %d components (%s), about %d probes\n", rateText(b.RatePerS), b.ProbedComps, strings.Join(b.Probed, ", "), b.ProbesTotal)
	fmt.Fprintf(ew, "  pairs: %d victim (%d per component) + %d control\n", b.VictimPairs, b.PerComponent, b.ControlPairs)
	if b.Sampled {
		fmt.Fprintf(ew, "  sample: %d of the %d victims probed at each component (every victim is recalled)", b.PerComponent, v.Population.Victims)
		if b.AskedResolutionMS > 0 {
			fmt.Fprintf(ew, ", sized for traffic.resolution %s", d(b.AskedResolutionMS))
		}
		fmt.Fprintln(ew)
	}
	fmt.Fprintf(ew, "  after the recall: %.0f%% to unconverged pairs, %.0f%% re-checks, %.0f%% controls\n", 100*b.UnconvShare, 100*b.RecheckShare, 100*b.ControlShare)
	fmt.Fprintf(ew, "  revisit per pair, at every probed component: %s before the recall, %s right after it,\n", d(b.BeforeMS), d(b.AfterMS))
	fmt.Fprintf(ew, "    down to %s for the last component still converging (the others leave the rotation)\n", d(b.AfterAloneMS))
	fmt.Fprintf(ew, "  resolution to expect: ±%s (the first component to converge; ±%s at best)\n", d(b.ResolutionMS), d(b.ResolutionMinMS))
	fmt.Fprintf(ew, "  median bracket to expect per component, as converged pairs leave the rotation%s:\n", map[bool]string{true: " (the scheduler simulated)"}[b.Simulated])
	for _, c := range v.Components {
		switch {
		case c.ExpectedTTC == "":
		case c.ResolutionMS > 0 && c.ResolutionRangeMS[1] > 1.05*c.ResolutionRangeMS[0]:
			fmt.Fprintf(ew, "    %s ±%s, ±%s to ±%s as the poll ticks fall (%s)\n", c.Name, d(c.ResolutionMS), d(c.ResolutionRangeMS[0]), d(c.ResolutionRangeMS[1]), c.ExpectedTTC)
		case c.ResolutionMS > 0:
			fmt.Fprintf(ew, "    %s ±%s (%s)\n", c.Name, d(c.ResolutionMS), c.ExpectedTTC)
		default:
			fmt.Fprintf(ew, "    %s — (%s)\n", c.Name, c.ExpectedTTC)
		}
	}
	if len(v.Warnings) > 0 {
		fmt.Fprintf(ew, "\nwarnings\n")
		for _, w := range v.Warnings {
			fmt.Fprintf(ew, "  ! %s\n", w)
		}
	}
	return ew.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}

// benchResult is what `recall bench` saves for `recall plan`.
type benchResult struct {
	MeasuredAt  time.Time `json:"measured_at"`
	Workers     int       `json:"workers"`
	MaxAchieved float64   `json:"max_achieved_per_s"`
}

// defaultBenchFile is where `recall bench` saves its result.
func defaultBenchFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "recall", "bench.json")
}

// readBench reads a saved bench result (nil when there is none).
func readBench(path string) *benchResult {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var r benchResult
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
