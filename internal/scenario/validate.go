package scenario

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/params"
)

// Strategies lists how a reference gateway or service learns of recalls (targets/gateway).
var Strategies = params.Strategies

// FailModes lists what a reference gateway does when its revocation source is unreachable.
var FailModes = params.FailModes

// references describes the reference components by their use: value (internal/params types
// their with: keys once, for validation and both runtimes).
var references = params.Reference

// UseAPIKeys is the reference API-key authority: a scenario may name it as tokens.issuer, the
// component that mints the drill's credentials (long-lived API keys, not OAuth tokens).
const UseAPIKeys = "reference/apikeys"

// ReferenceUses lists the valid values of a component's use.
var ReferenceUses = params.ReferenceUses

// Methods lists the HTTP methods a probe or an http action may use.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// DefaultRejectStatus is the status list of a probe's reject when the probe leaves reject out.
var DefaultRejectStatus = []int{401, 403}

// targetless faults need no target; instant faults need no for.
var (
	targetless = []string{"command", "http"}
	instant    = []string{"restart", "command", "http"}
)

var (
	scenarioName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	portSpec     = regexp.MustCompile(`^([0-9]{1,5})(/(tcp|udp))?$`)
	placeholder  = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
)

// defaults applies the defaults that depend on other fields.
func (l *loader) defaults(s *Scenario) {
	for i := range s.System.Components {
		c := &s.System.Components[i]
		if ref, ok := references[c.Use]; ok && c.Kind == "" {
			c.Kind = ref.Kind
		}
		if p := c.Probe; p != nil {
			if p.Headers == nil {
				p.Headers = DefaultProbeHeaders()
			}
			if len(p.Reject.Status) == 0 && p.Reject.BodyMatch == nil && p.Reject.JSON == nil {
				p.Reject.Status = slices.Clone(DefaultRejectStatus)
			}
		}
	}
	if s.Tokens.Issuer == "" {
		if issuers := kindNames(s, KindIssuer); len(issuers) == 1 {
			s.Tokens.Issuer = issuers[0]
		} else if auth := useNames(s, UseAPIKeys); len(issuers) == 0 && len(auth) == 1 {
			// The API-key authority mints the drill's credentials when there is no OAuth issuer.
			s.Tokens.Issuer = auth[0]
		}
	}
	if s.Recall.Action == ActionRevokeTokens && s.Recall.Mode == "" {
		s.Recall.Mode = ModeBatch
	}
	for i := range s.Faults {
		if s.Faults[i].Name == "" && s.Faults[i].Fault != "" {
			s.Faults[i].Name = fmt.Sprintf("%s-%d", s.Faults[i].Fault, i)
		}
	}
	if s.Tokens.Controls == 0 && !l.has("traffic.controls") {
		s.Traffic.Controls = Percent{Text: "0%"}
	}
	l.ssfReceiverDefaults(s)
	for i := range s.Expect {
		if ref, ok := l.idx[fmt.Sprintf("expect[%d]", i)]; ok {
			s.Expect[i].Line, s.Expect[i].Col = ref.val.Line, ref.val.Column
		}
	}
}

// fail records a validation error at path unless the walk already reported path or a path
// it lies under.
func (l *loader) fail(path, format string, args ...any) {
	if l.isBad(path) {
		return
	}
	l.errorf(path, format, args...)
}

func (l *loader) validate(s *Scenario) {
	switch {
	case s.Name == "":
		l.fail("name", "required, e.g. name: quickstart")
	case !scenarioName.MatchString(s.Name):
		l.fail("name", "bad name %q: want letters, digits, '.', '_' and '-'", s.Name)
	}
	l.validateSystem(s)
	l.validateTokens(s)
	l.validateTraffic(s)
	l.validateRecall(s)
	l.validateLinks(s)
	l.validateFaults(s)
	l.validateExpect(s)
	l.validateLimits(s)
	if s.Report.Dir == "" {
		l.fail("report.dir", "must not be empty (default %s)", DefaultReport.Dir)
	}
}

func (l *loader) validateSystem(s *Scenario) {
	sys := &s.System
	if !slices.Contains(l.cfg.runtimes, sys.Runtime) {
		l.fail("system.runtime", "unknown runtime %q (have: %s)", sys.Runtime, strings.Join(l.cfg.runtimes, ", "))
	}
	if sys.StartTimeout <= 0 {
		l.fail("system.start_timeout", "must be > 0, got %s", sys.StartTimeout)
	}
	if len(sys.Components) == 0 {
		if l.has("system.components") {
			l.fail("system.components", "at least one component is required")
		} else {
			l.fail("system.components", "required: the components of the system under test")
		}
		return
	}
	first := map[string]int{}
	for i := range sys.Components {
		c := &sys.Components[i]
		p := fmt.Sprintf("system.components[%d]", i)
		switch j, dup := first[c.Name]; {
		case c.Name == "":
			l.fail(p+".name", "required, e.g. name: edge-push")
		case !dnsLabel.MatchString(c.Name):
			l.fail(p+".name", "bad name %q: want a DNS label (lowercase letters, digits and '-'), e.g. edge-push", c.Name)
		case dup:
			l.fail(p+".name", "duplicate component %q (first at line %d)", c.Name, l.line(fmt.Sprintf("system.components[%d].name", j)))
		default:
			first[c.Name] = i
		}
		l.validateComponent(s, c, p)
	}
	l.validateCycles(s)

	probed := s.ProbedComponents()
	if len(probed) == 0 && len(s.Traffic.Targets) == 0 {
		l.fail("system.components", "nothing to probe: no gateway or service and no component with a probe; add one or set traffic.targets")
	}
	for _, c := range probed {
		if c.Probe != nil {
			continue
		}
		p := l.componentPath(s, c) + ".probe"
		why := "by default every gateway and service is probed"
		if len(s.Traffic.Targets) > 0 {
			why = "it is in traffic.targets"
		}
		switch ref, isRef := references[c.Use]; {
		case !isRef && c.Use == "":
			l.fail(p, "required: %s is probed (%s) and is not a reference component, so say how to ask it whether it honours a credential", c.Name, why)
		case isRef && !ref.Probe:
			l.fail(p, "required: %s is probed (%s) and %s has no built-in probe", c.Name, why, c.Use)
		}
	}
}

func (l *loader) validateComponent(s *Scenario, c *Component, p string) {
	ref, isRef := references[c.Use]
	switch {
	case c.Use != "" && !isRef:
		l.fail(p+".use", "unknown reference component %q (have: %s)", c.Use, strings.Join(ReferenceUses, ", "))
	case c.Kind == "":
		l.fail(p+".kind", "required: one of %s", strings.Join(Kinds, ", "))
	case !slices.Contains(Kinds, c.Kind):
		l.fail(p+".kind", "unknown kind %q (have: %s)", c.Kind, strings.Join(Kinds, ", "))
	case isRef && c.Kind != ref.Kind:
		l.fail(p+".kind", "%s is a component of kind %s, not %s", c.Use, ref.Kind, c.Kind)
	}
	switch {
	case isRef:
		l.validateWith(s, c, p, ref)
	case len(c.With) > 0:
		l.fail(p+".with", "only reference components (use: reference/...) take with; configure your own component with env and command")
	}

	// What the runtime needs of each component (a url, an image) is the runtime registry's
	// check (Registry.Check), not this package's.
	if c.URL != "" && !absoluteURL(c.URL) {
		l.fail(p+".url", "bad URL %q: want an absolute http(s) URL like https://staging.example.com", shownURL(c.URL))
	}
	for k := range c.Env {
		if !envName.MatchString(k) {
			l.fail(joinPath(p+".env", k), "bad variable name %q: want letters, digits and _", k)
		}
	}
	for j, port := range c.Ports {
		if !validPort(port) {
			l.fail(fmt.Sprintf("%s.ports[%d]", p, j), "bad port %q: want a container port like 8080 or 8080/tcp", port)
		}
	}
	seen := map[string]bool{}
	for j, dep := range c.DependsOn {
		dp := fmt.Sprintf("%s.depends_on[%d]", p, j)
		switch _, ok := s.Component(dep); {
		case dep == c.Name:
			l.fail(dp, "%s depends on itself", c.Name)
		case !ok:
			l.fail(dp, "unknown component %q (have: %s)", dep, names(s))
		case seen[dep]:
			l.fail(dp, "%q listed twice", dep)
		}
		seen[dep] = true
	}
	if w := c.Wait; w != nil {
		wp := p + ".wait"
		set := 0
		for _, v := range []string{w.HTTP, w.Log, w.Port} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			l.fail(wp, "set exactly one of http, log and port (have %d)", set)
		}
		if w.HTTP != "" && !strings.HasPrefix(w.HTTP, "/") {
			l.fail(wp+".http", "bad path %q: want a path starting with /, e.g. /healthz", w.HTTP)
		}
		if w.Port != "" && !validPort(w.Port) {
			l.fail(wp+".port", "bad port %q: want a container port like 8080 or 8080/tcp", w.Port)
		}
		if w.Status < 100 || w.Status > 599 {
			l.fail(wp+".status", "bad status %d: want 100..599", w.Status)
		}
		if w.Timeout <= 0 {
			l.fail(wp+".timeout", "must be > 0, got %s", w.Timeout)
		}
	}
	if c.Probe != nil {
		l.validateProbe(c.Probe, p+".probe")
	}
}

// validateWith checks a reference component's with: against its keys (internal/params).
func (l *loader) validateWith(s *Scenario, c *Component, p string, ref params.ReferenceKind) {
	var comps []string
	for _, x := range s.System.Components {
		if x.Name != "" {
			comps = append(comps, x.Name)
		}
	}
	if comps == nil {
		comps = []string{}
	}
	for _, e := range ref.Params.Check(c.With, c.Use, comps) {
		kp := joinPath(p+".with", e.Key)
		switch x := e.Elem.(type) {
		case string:
			kp = joinPath(kp, x)
		case int:
			kp = fmt.Sprintf("%s[%d]", kp, x)
		}
		l.fail(kp, "%s", e.Msg)
	}
}

func (l *loader) validateProbe(pr *Probe, p string) {
	if pr.Kind != "" && !slices.Contains(l.cfg.probes, pr.Kind) {
		l.fail(p+".kind", "unknown probe kind %q (have: %s)", pr.Kind, strings.Join(l.cfg.probes, ", "))
	}
	if !slices.Contains(Methods, pr.Method) {
		l.fail(p+".method", "unknown method %q (have: %s)", pr.Method, strings.Join(Methods, ", "))
	}
	if pr.Path != "" && pr.URL != "" {
		l.fail(p+".url", "set path or url, not both")
	}
	if pr.Path != "" && !strings.HasPrefix(pr.Path, "/") {
		l.fail(p+".path", "bad path %q: want a path starting with /, e.g. /api/whoami", pr.Path)
	}
	if pr.URL != "" && !absoluteURL(pr.URL) {
		l.fail(p+".url", "bad URL %q: want an absolute http(s) URL", shownURL(pr.URL))
	}
	if pr.Timeout <= 0 {
		l.fail(p+".timeout", "must be > 0, got %s", pr.Timeout)
	}
	// The credential must be sent somewhere, and {{token}} is the only placeholder.
	texts := map[string]string{p + ".path": pr.Path, p + ".url": pr.URL, p + ".body": pr.Body}
	for k, v := range pr.Headers {
		texts[joinPath(p+".headers", k)] = v
	}
	sends := false
	for fp, text := range texts {
		for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
			if m[1] == "token" {
				sends = true
			} else {
				l.fail(fp, "unknown placeholder %s (have: %s)", m[0], TokenPlaceholder)
			}
		}
	}
	if !sends {
		l.fail(p, "never sends the credential: put %s in a header (Authorization: Bearer %s), the path, the url or the body", TokenPlaceholder, TokenPlaceholder)
	}
	for _, m := range []struct {
		name  string
		match Match
	}{{"accept", pr.Accept}, {"reject", pr.Reject}} {
		for j, st := range m.match.Status {
			if st < 100 || st > 599 {
				l.fail(fmt.Sprintf("%s.%s.status[%d]", p, m.name, j), "bad status %d: want 100..599", st)
			}
		}
	}
	if pr.Accept.BodyMatch == nil && pr.Accept.JSON == nil && pr.Reject.BodyMatch == nil && pr.Reject.JSON == nil &&
		!l.badUnder(p+".accept") && !l.badUnder(p+".reject") {
		for j, st := range pr.Reject.Status {
			if pr.Accept.statusMatches(st) {
				l.fail(fmt.Sprintf("%s.reject.status[%d]", p, j), "status %d is both accepted and rejected; add body_match or json to tell them apart", st)
			}
		}
	}
}

// validateCycles reports each depends_on cycle once, at the edge that closes it.
func (l *loader) validateCycles(s *Scenario) {
	comps := s.System.Components
	index := map[string]int{}
	for i, c := range comps {
		if _, dup := index[c.Name]; !dup {
			index[c.Name] = i
		}
	}
	state := make([]int, len(comps)) // 0 unvisited, 1 on the stack, 2 done
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = 1
		stack = append(stack, i)
		for j, dep := range comps[i].DependsOn {
			k, ok := index[dep]
			if !ok || k == i {
				continue
			}
			switch state[k] {
			case 0:
				visit(k)
			case 1:
				var cycle []string
				for _, x := range stack[slices.Index(stack, k):] {
					cycle = append(cycle, comps[x].Name)
				}
				cycle = append(cycle, comps[k].Name)
				l.fail(fmt.Sprintf("system.components[%d].depends_on[%d]", i, j), "dependency cycle %s", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = 2
	}
	for i := range comps {
		if state[i] == 0 {
			visit(i)
		}
	}
}

func (l *loader) validateTokens(s *Scenario) {
	t := &s.Tokens
	issuers := kindNames(s, KindIssuer)
	switch c, ok := s.Component(t.Issuer); {
	case t.Issuer != "" && !ok:
		l.fail("tokens.issuer", "unknown component %q (have: %s)", t.Issuer, names(s))
	case t.Issuer != "" && c.Kind != KindIssuer && c.Use != UseAPIKeys:
		l.fail("tokens.issuer", "%s is of kind %s, not issuer (issuers: %s)", t.Issuer, c.Kind, listOrNone(issuers))
	case t.Issuer == "" && len(issuers) > 1:
		// Point at the second issuer: tokens.issuer is not in the file.
		at := "tokens"
		if !l.has(at) {
			for i, c := range s.System.Components {
				if c.Name == issuers[1] {
					at = fmt.Sprintf("system.components[%d].name", i)
				}
			}
		}
		l.errorAt(l.nodeFor(at), "tokens.issuer", "required with several issuers: one of %s", strings.Join(issuers, ", "))
	}
	if !slices.Contains(Grants, t.Grant) {
		l.fail("tokens.grant", "unknown grant %q (have: %s)", t.Grant, strings.Join(Grants, ", "))
	}
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"victims", t.Victims, 1}, {"controls", t.Controls, 0}, {"users", t.Users.Count, 1}, {"clients", t.Clients.Count, 1}, {"recovery", t.Recovery, 0}} {
		if (f.name == "users" && t.Users.IsList()) || (f.name == "clients" && t.Clients.IsList()) {
			continue
		}
		if f.v < f.min {
			l.fail("tokens."+f.name, "must be >= %d, got %d", f.min, f.v)
		}
	}
	for i, c := range t.Clients.List {
		p := fmt.Sprintf("tokens.clients[%d]", i)
		if c.ID == "" {
			l.fail(p+".id", "required: the client_id")
		}
		if c.Auth != "" && !slices.Contains(ClientAuths, c.Auth) {
			l.fail(p+".auth", "unknown auth %q (have: %s)", c.Auth, strings.Join(ClientAuths, ", "))
		}
		if c.Auth == "private_key_jwt" && c.KeyFile == "" {
			l.fail(p+".key_file", "required for auth private_key_jwt")
		}
		if (c.Auth == "client_secret_basic" || c.Auth == "client_secret_post") && c.Secret == "" {
			l.fail(p+".secret", "required for auth %s", c.Auth)
		}
	}
	for i, u := range t.Users.List {
		if u.Username == "" {
			l.fail(fmt.Sprintf("tokens.users[%d].username", i), "required")
		}
	}
	if src := t.Source; src != nil {
		switch {
		case src.Kind == "":
			l.fail("tokens.source.kind", "required: one of %s", strings.Join(SourceKinds, ", "))
		case !slices.Contains(SourceKinds, src.Kind):
			l.fail("tokens.source.kind", "unknown token source %q (have: %s)", src.Kind, strings.Join(SourceKinds, ", "))
		}
		// The with: parameters are the source registry's check (Registry.Check).
		for _, k := range []string{"users", "refresh_tokens"} {
			if l.has("tokens." + k) {
				l.fail("tokens."+k, "not with tokens.source: the source gives the credentials")
			}
		}
		if l.has("tokens.clients") && !t.Clients.IsList() {
			l.fail("tokens.clients", "with tokens.source, list the clients its credentials belong to (for RFC 7009 or introspection as the owning client), or leave it out")
		}
		return
	}
	if t.Grant == "refresh_token" && t.RefreshTokens == "" {
		l.fail("tokens.refresh_tokens", "required for grant refresh_token: a file of refresh tokens, one a line")
	}
	if t.Grant == "refresh_token" && len(t.Clients.List) > 1 {
		// A refresh token is bound to the client it was issued to (RFC 6749 section 6), and the
		// file does not say which: spread over several clients, most would be sent as another
		// client's, refused, or taken for a replay that kills the token's family.
		l.fail("tokens.clients", "the refresh_token grant takes one client, the one tokens.refresh_tokens were issued to (got %d)", len(t.Clients.List))
	}
	if t.Grant == "password" && t.Clients.IsList() && !t.Users.IsList() {
		l.fail("tokens.users", "the password grant with existing clients needs existing users: a list or {file: users.csv}")
	}
}

// MaxAfterFaults bounds traffic.after_faults, and MaxSettle traffic.settle and
// recall.wait_for_baseline.
const (
	MaxAfterFaults = 10 * time.Minute
	MaxSettle      = 10 * time.Minute
)

func (l *loader) validateTraffic(s *Scenario) {
	t := &s.Traffic
	switch {
	case t.Rate.IsZero():
		l.fail("traffic.rate", "required: the probe rate, e.g. rate: 2000/s")
	case t.Rate.Freq <= 0:
		l.fail("traffic.rate", "must be > 0, got %s", t.Rate)
	}
	switch {
	case t.Duration == 0 && !l.has("traffic.duration"):
		l.fail("traffic.duration", "required: how long traffic runs, e.g. duration: 40s")
	case t.Duration <= 0:
		l.fail("traffic.duration", "must be > 0, got %s", t.Duration)
	}
	if r := t.Ramp; r != nil {
		if r.From.IsZero() {
			l.fail("traffic.ramp.from", "required: the rate at the start of traffic, e.g. from: 100/s")
		}
		switch {
		case r.For <= 0:
			l.fail("traffic.ramp.for", "must be > 0, got %s", r.For)
		case t.Duration > 0 && r.For > t.Duration:
			l.fail("traffic.ramp.for", "%s is longer than traffic (duration %s)", r.For, t.Duration)
		}
	}
	switch {
	case t.AfterFaults < 0:
		l.fail("traffic.after_faults", "must be >= 0, got %s", t.AfterFaults)
	case t.AfterFaults > MaxAfterFaults:
		l.fail("traffic.after_faults", "%s is more than %s", t.AfterFaults, MaxAfterFaults)
	}
	switch {
	case t.Settle < 0:
		l.fail("traffic.settle", "must be >= 0, got %s", t.Settle)
	case t.Settle > MaxSettle:
		l.fail("traffic.settle", "%s is more than %s", t.Settle, MaxSettle)
	}
	if t.Workers < 1 {
		l.fail("traffic.workers", "must be >= 1, got %d", t.Workers)
	}
	seen := map[string]bool{}
	for i, name := range t.Targets {
		p := fmt.Sprintf("traffic.targets[%d]", i)
		switch _, ok := s.Component(name); {
		case !ok:
			l.fail(p, "unknown component %q (have: %s)", name, names(s))
		case seen[name]:
			l.fail(p, "%q listed twice", name)
		}
		seen[name] = true
	}
	if t.Recheck.Fraction+t.Controls.Fraction >= 1 {
		l.fail("traffic.controls", "recheck (%s) and controls (%s) leave no probes for victims; keep their sum under 100%%", t.Recheck, t.Controls)
	}
	if s.Tokens.Controls == 0 && t.Controls.Fraction > 0 {
		l.fail("traffic.controls", "%s of probes for controls, but tokens.controls is 0", t.Controls)
	}
	switch {
	case t.Sample != nil && t.Resolution != 0:
		l.fail("traffic.resolution", "set sample or resolution, not both: resolution sizes the sample")
	case t.Resolution < 0:
		l.fail("traffic.resolution", "must be > 0, got %s", t.Resolution)
	}
	if z := t.Sample; z != nil && z.Count > s.Tokens.Victims && s.Tokens.Victims > 0 {
		l.fail("traffic.sample", "%s victims per component, but tokens.victims is %d", z, s.Tokens.Victims)
	}
}

func (l *loader) validateRecall(s *Scenario) {
	r := &s.Recall
	dur := s.Traffic.Duration
	switch {
	case r.At.IsZero():
		l.fail("recall.at", "required: when the recall starts, from the start of traffic, e.g. at: 15s")
	case r.At.Anchor == AnchorRecall:
		l.fail("recall.at", "%s is relative to the recall itself; want a duration from the start of traffic, e.g. 15s", r.At)
	case r.At.D <= 0:
		l.fail("recall.at", "%s leaves no time to see victims accepted before the recall; want > 0", r.At)
	case dur > 0 && r.At.D == dur:
		l.fail("recall.at", "%s is at the end of traffic (duration %s)", r.At, dur)
	case dur > 0 && r.At.D > dur:
		l.fail("recall.at", "%s is after the end of traffic (duration %s)", r.At, dur)
	}
	switch {
	case r.WaitForBaseline < 0:
		l.fail("recall.wait_for_baseline", "must be >= 0, got %s", r.WaitForBaseline)
	case r.WaitForBaseline > MaxSettle:
		l.fail("recall.wait_for_baseline", "%s is more than %s", r.WaitForBaseline, MaxSettle)
	}
	if !slices.Contains(l.cfg.actions, r.Action) {
		l.fail("recall.action", "unknown action %q (have: %s)", r.Action, strings.Join(l.cfg.actions, ", "))
	}
	if r.Select != "victims" {
		l.fail("recall.select", "unknown selection %q (have: victims)", r.Select)
	}
	// The action's mode, with: keys, the issuer and population it needs are the action
	// registry's check (Registry.Check).
	if r.Concurrency < 1 {
		l.fail("recall.concurrency", "must be >= 1, got %d", r.Concurrency)
	}
	switch w := r.ConfirmWindow; {
	case !l.has("recall.confirm_window"):
		// The default: confirmation ends with traffic anyway.
	case !r.Confirm:
		l.fail("recall.confirm_window", "only with confirm: true (it bounds how long a recalled credential may stay active at the source)")
	case w <= 0:
		l.fail("recall.confirm_window", "must be > 0, got %s", w)
	case dur > 0 && w > dur:
		l.fail("recall.confirm_window", "%s is longer than traffic (duration %s): confirmation ends with traffic", w, dur)
	}
	l.validateSSFReceiver(s)
}

func (l *loader) validateFaults(s *Scenario) {
	dur := s.Traffic.Duration
	at := s.Recall.At
	recallOK := !at.IsZero() && at.Anchor == AnchorStart && at.D > 0 && (dur == 0 || at.D < dur) && !l.isBad("recall.at")
	seen := map[string]int{}
	for i := range s.Faults {
		f := &s.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.Fault == "":
			l.fail(p+".fault", "required: one of %s", strings.Join(l.cfg.faults, ", "))
		case !slices.Contains(l.cfg.faults, f.Fault):
			l.fail(p+".fault", "unknown fault %q (have: %s)", f.Fault, strings.Join(l.cfg.faults, ", "))
		}
		if j, dup := seen[f.Name]; dup && f.Name != "" {
			l.fail(p+".name", "duplicate fault name %q (first at faults[%d])", f.Name, j)
		} else {
			seen[f.Name] = i
		}
		if f.Link != "" {
			l.validateFaultLink(s, f, p)
		}
		switch _, ok := s.Component(f.Target); {
		case f.Target == "" && f.Link != "":
		case f.Target == "" && f.Fault != "" && !slices.Contains(targetless, f.Fault):
			l.fail(p+".target", "required: the component %s is done to (have: %s)", f.Fault, names(s))
		case f.Target != "" && !ok:
			l.fail(p+".target", "unknown component %q (have: %s)", f.Target, names(s))
		}
		switch {
		case f.At.IsZero():
			l.fail(p+".at", "required: when the fault starts, e.g. at: 10s or at: recall-1s")
		case f.At.Anchor == AnchorRecall && !recallOK:
			// nothing to check against
		case f.At.Anchor == AnchorRecall && s.Recall.WaitForBaseline > 0:
			l.fail(p+".at", "%s is relative to the recall, which recall.wait_for_baseline may move: fault instants are fixed before the drill; give one from the start of traffic, e.g. %s", f.At, f.At.Resolve(s.Recall.At.D))
		default:
			start := f.At.Resolve(s.Recall.At.D)
			what := f.At.String()
			if f.At.Anchor == AnchorRecall {
				what = fmt.Sprintf("%s is %s from the start (the recall is at %s),", f.At, start, s.Recall.At)
			} else {
				what += " is"
			}
			switch {
			case start < 0:
				l.fail(p+".at", "%s before the start of traffic", what)
			case dur > 0 && start >= dur:
				l.fail(p+".at", "%s after the end of traffic (duration %s)", what, dur)
			}
		}
		switch {
		case slices.Contains(instant, f.Fault) && f.For >= 0:
		case f.For == 0 && !l.has(p+".for"):
			l.fail(p+".for", "required: how long the fault lasts, e.g. for: 5s")
		case f.For <= 0:
			l.fail(p+".for", "must be > 0, got %s", f.For)
		}
	}
}

// validateFaultLink checks that a fault's link names a declared link.
func (l *loader) validateFaultLink(s *Scenario, f *Fault, p string) {
	var have []string
	for _, k := range s.System.Links {
		have = append(have, k.String())
	}
	switch {
	case f.Target != "":
		l.fail(p+".link", "set target or link, not both")
	case !slices.Contains(have, f.Link):
		if len(have) == 0 {
			l.fail(p+".link", "unknown link %q: declare it in system.links, e.g. {from: edge-push, to: bus}", f.Link)
		} else {
			l.fail(p+".link", "unknown link %q (have: %s)", f.Link, strings.Join(have, ", "))
		}
	}
}

// Harness, as a link's from, names the drill itself (runtime.Harness): harness->issuer carries
// the requests of the drill's that take it (refresh-replay's legitimate rotations).
const Harness = "harness"

// validateLinks checks system.links: known components, no loops, no duplicates.
func (l *loader) validateLinks(s *Scenario) {
	seen := map[Link]int{}
	for i, k := range s.System.Links {
		p := fmt.Sprintf("system.links[%d]", i)
		for _, end := range []struct{ field, name string }{{"from", k.From}, {"to", k.To}} {
			switch c, ok := s.Component(end.name); {
			case end.name == Harness && end.field == "from" && !ok:
				// the drill's own requests that take the link (the runtime checks its to)
			case end.name == Harness && ok:
				l.fail(p+"."+end.field, "%q names the drill itself in a link (harness->issuer): rename component %s", c.Name, c.Name)
			case end.name == "":
				l.fail(p+"."+end.field, "required: a component (have: %s)", names(s))
			case !ok:
				l.fail(p+"."+end.field, "unknown component %q (have: %s)", end.name, names(s))
			}
		}
		if k.From != "" && k.From == k.To {
			l.fail(p+".to", "a link joins two different components")
		}
		if j, dup := seen[k]; dup {
			l.fail(p, "duplicate link %s (first at system.links[%d])", k, j)
		} else {
			seen[k] = i
		}
	}
}

func (l *loader) validateExpect(s *Scenario) {
	for i := range s.Expect {
		e := &s.Expect[i]
		p := fmt.Sprintf("expect[%d]", i)
		exprPath := p
		if l.has(p + ".expr") {
			exprPath = p + ".expr"
		}
		if e.Text == "" {
			l.fail(exprPath, "empty expectation: want an expression like time_to_consistency.p99 < 2s")
			continue
		}
		if !slices.Contains(Severities, e.Severity) {
			l.fail(p+".severity", "unknown severity %q (have: %s)", e.Severity, strings.Join(Severities, ", "))
		}
		// A component that exists but is not probed is allowed: its figures are empty and the
		// expectation reports "nothing measured" (the quickstart keeps such a warn on edge-jwt).
		if comp := e.Expr.Component; comp != "" {
			if _, ok := s.Component(comp); !ok {
				l.fail(exprPath, "unknown component %q (have: %s)", comp, names(s))
			}
		}
	}
}

// statusMatches reports whether status matches m's status list (any 2xx when empty).
func (m Match) statusMatches(status int) bool {
	if len(m.Status) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(m.Status, status)
}

// Outcomes of a probe.
const (
	OutcomeAccept = "accept"
	OutcomeReject = "reject"
	OutcomeError  = "error"
)

// Classify classifies an HTTP answer: OutcomeReject if it matches Reject, OutcomeAccept if it
// matches Accept, OutcomeError otherwise. A Match's status list, when empty, means any 2xx for
// Accept; for Reject it means any status, except that a Reject with no condition at all
// matches DefaultRejectStatus. BodyMatch and JSON, when set, must also hold.
func (p *Probe) Classify(status int, body []byte) string {
	rej := p.Reject
	if len(rej.Status) == 0 && rej.BodyMatch == nil && rej.JSON == nil {
		rej.Status = DefaultRejectStatus
	}
	if (len(rej.Status) == 0 || slices.Contains(rej.Status, status)) && rej.bodyMatches(body) {
		return OutcomeReject
	}
	if p.Accept.statusMatches(status) && p.Accept.bodyMatches(body) {
		return OutcomeAccept
	}
	return OutcomeError
}

func (m Match) bodyMatches(body []byte) bool {
	if m.BodyMatch != nil && m.BodyMatch.Regexp != nil && !m.BodyMatch.Match(body) {
		return false
	}
	if m.JSON != nil && !m.JSON.Match(body) {
		return false
	}
	return true
}

// componentPath returns the path of component c.
func (l *loader) componentPath(s *Scenario, c *Component) string {
	for i := range s.System.Components {
		if &s.System.Components[i] == c {
			return fmt.Sprintf("system.components[%d]", i)
		}
	}
	return "system.components"
}

// line returns the line of path's value, 0 if unknown.
func (l *loader) line(path string) int {
	if n := l.nodeFor(path); n != nil {
		return n.Line
	}
	return 0
}

// names lists the component names, in scenario order.
func names(s *Scenario) string {
	var out []string
	for _, c := range s.System.Components {
		if c.Name != "" && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return listOrNone(out)
}

// useNames lists the components of reference use use.
func useNames(s *Scenario, use string) []string {
	var out []string
	for _, c := range s.System.Components {
		if c.Use == use && c.Name != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

func kindNames(s *Scenario, kind string) []string {
	var out []string
	for _, c := range s.System.Components {
		if c.Kind == kind && c.Name != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// shownURL is a URL as an error may quote it: its userinfo, which may hold a credential from
// ${VAR}, replaced by "xxxxx" (as url.URL.Redacted does), also when the URL does not parse. A
// password may hold '/', so everything up to the last '@' before any query or fragment goes.
func shownURL(s string) string {
	rest, scheme := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	head := rest
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		head = rest[:i]
	}
	if at := strings.LastIndex(head, "@"); at >= 0 {
		return scheme + "xxxxx" + rest[at:]
	}
	return s
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validPort(s string) bool {
	m := portSpec.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	n, _ := strconv.Atoi(m[1])
	return n >= 1 && n <= 65535
}

// describeValue renders an untyped value from a with: map.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}
