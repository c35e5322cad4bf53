package plan

import (
	"errors"
	"fmt"
	"slices"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/params"
	"github.com/recall-drills/recall/internal/scenario"
)

// checkRecall is the action registry's check: the action's mode and with: keys, the issuer it
// needs and the population it needs, each at its own field.
func checkRecall(s *scenario.Scenario) error {
	r := &s.Recall
	k, ok := drill.LookupAction(r.Action)
	if !ok {
		return nil // reported by Load (Registry.Actions)
	}
	var errs []error
	for _, e := range k.CheckParams(r.Mode, r.With) {
		var pe *params.Error
		var me *drill.ModeError
		switch {
		case errors.As(e, &pe):
			errs = append(errs, scenario.Errorf(paramPath("recall.with", pe), "%s", pe.Msg))
		case errors.As(e, &me):
			errs = append(errs, scenario.Errorf("recall.mode", "%s", me.Msg))
		default:
			errs = append(errs, scenario.Errorf("recall", "%v", e))
		}
	}
	if r.Action == drill.ActionSSFEvent && len(s.System.Components) > 0 && !slices.ContainsFunc(s.System.Components, func(c scenario.Component) bool { return c.Use == "reference/ssf" }) {
		errs = append(errs, scenario.Errorf("system.components", "recall.action %s needs the drill's transmitter: add {name: ssf, use: reference/ssf} and gateways or services with strategy: ssf", r.Action))
	}
	if k.NeedsIssuer && len(s.System.Components) > 0 && !hasIssuer(s) {
		errs = append(errs, scenario.Errorf("system.components", "recall.action %s needs a component of kind issuer (have none); add {name: issuer, kind: issuer, use: reference/issuer}", r.Action))
	}
	if g := k.Population.Grant; g != "" && s.Tokens.Grant != g {
		errs = append(errs, scenario.Errorf("tokens.grant", "recall.action %s needs tokens.grant: %s (%s)", r.Action, g, k.Population.Why))
	}
	if k.Population.RefreshTokens && s.Tokens.Grant != "password" && s.Tokens.Grant != "refresh_token" {
		errs = append(errs, scenario.Errorf("tokens.grant", "recall.action %s needs credentials with refresh tokens: tokens.grant password or refresh_token (have %s)", r.Action, s.Tokens.Grant))
	}
	return errors.Join(errs...)
}

// hasIssuer reports whether a component is an issuer (by kind, or by use when the kind is
// missing: that is reported elsewhere).
func hasIssuer(s *scenario.Scenario) bool {
	for _, c := range s.System.Components {
		if c.Kind == scenario.KindIssuer || c.Use == "reference/issuer" || c.Use == scenario.UseAPIKeys {
			return true
		}
	}
	return false
}

// paramPath is the scenario path of a params.Error under block (e.g. recall.with).
func paramPath(block string, e *params.Error) string {
	if e.Key == "" {
		return block
	}
	p := scenario.JoinPath(block, e.Key)
	switch x := e.Elem.(type) {
	case string:
		p = scenario.JoinPath(p, x)
	case int:
		p = fmt.Sprintf("%s[%d]", p, x)
	}
	return p
}
