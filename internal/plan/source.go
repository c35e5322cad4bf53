package plan

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"

	"github.com/recall-drills/recall/internal/drill"
	"github.com/recall-drills/recall/internal/oauth"
	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/scenario"
	"github.com/recall-drills/recall/internal/source"
	refsource "github.com/recall-drills/recall/internal/source/reference"
)

// envName is a variable name a token source's command may be given.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkSource validates tokens.source against the token source registry (internal/source): the
// kind's with: parameters, the command's variable names, and what the recall action needs of
// minting that a source outside the issuer cannot do.
func checkSource(s *scenario.Scenario) error {
	ts := s.Tokens.Source
	if ts == nil {
		return nil
	}
	k, ok := source.LookupExternalKind(ts.Kind)
	if !ok {
		return nil // reported by Load (scenario.SourceKinds)
	}
	var errs []error
	var names []string
	for _, c := range s.System.Components {
		names = append(names, c.Name)
	}
	for _, e := range k.Params.Check(ts.With, "tokens.source "+ts.Kind, names) {
		errs = append(errs, scenario.Errorf(paramPath("tokens.source.with", e), "%s", e.Msg))
	}
	if env, ok := ts.With["env"].(map[string]any); ok {
		keys := make([]string, 0, len(env))
		for name := range env {
			keys = append(keys, name)
		}
		sort.Strings(keys)
		for _, name := range keys {
			if !envName.MatchString(name) {
				errs = append(errs, scenario.Errorf(scenario.JoinPath("tokens.source.with.env", name), "bad variable name %q: want letters, digits and _", name))
			}
		}
	}
	if ts.Kind == source.KindRPSessions {
		if name, ok := ts.With["rp"].(string); ok {
			for _, c := range s.System.Components {
				if c.Name == name && c.Use != "reference/rp" {
					errs = append(errs, scenario.Errorf("tokens.source.with.rp", "%s is not a reference/rp: rp-sessions opens sessions through the reference relying party's admin API", name))
				}
			}
		}
	}
	// A key recall (Population.ExtraKey) is allowed: the source rotates its provider's signing
	// key when called for the controls, which Mint checks.
	if a, ok := drill.LookupAction(s.Recall.Action); ok && a.Population.MFA {
		errs = append(errs, scenario.Errorf("tokens.source", "recall.action %s needs MFA factors enrolled before minting, which the reference issuer does and a token source cannot", a.Name))
	}
	return errors.Join(errs...)
}

// tokenSource builds the scenario's tokens.source (nil when none), its credentials owned by the
// listed clients. rp-sessions reaches its reference/rp at env's endpoint with the admin secret,
// and also gives the confirmer of its sessions (the app's session store); the other kinds none.
func tokenSource(s *scenario.Scenario, clients []*oauth.Client, env runtime.Environment, adminSecret string) (*source.External, source.Confirmer, error) {
	ts := s.Tokens.Source
	if ts == nil {
		return nil, nil, nil
	}
	k, ok := source.LookupExternalKind(ts.Kind)
	if !ok {
		return nil, nil, s.Errorf("tokens.source.kind", "unknown token source %q", ts.Kind)
	}
	var confirmer source.Confirmer
	with := k.Params.Decode(ts.With)
	ext := &source.External{Kind: ts.Kind, Format: with.String("format"), Clients: clients}
	switch ts.Kind {
	case source.KindCommand:
		argv := with.Argv("run")
		env := stringMap(ts.With["env"])
		ext.What = source.CommandWhat(argv)
		ext.Fetch = source.CommandFetch(argv, env, with.Duration("timeout"), 0)
	case source.KindHTTP:
		h := source.HTTPTemplate{Method: with.String("method"), URL: with.String("url"), Headers: stringMap(ts.With["headers"]),
			Body: with.String("body"), Timeout: with.Duration("timeout"), HTTP: oauth.NewHTTPClient(0, nil)}
		ext.What, ext.Fetch = h.What(), h.Fetch()
	case source.KindRPSessions:
		name := with.String("rp")
		rp := &refsource.RP{AdminSecret: source.NewSecret(adminSecret), Users: with.Int("users"), HTTP: oauth.NewHTTPClient(providerTimeout, nil),
			Endpoint: func() (*url.URL, error) {
				if env == nil {
					return nil, errors.New("no runtime")
				}
				return env.Endpoint(name)
			}}
		ext.What, ext.Fetch, ext.Format = "at "+name, rp.Fetch, source.FormatJSON
		confirmer = rp
	default:
		return nil, nil, fmt.Errorf("tokens.source: kind %s has no constructor", ts.Kind)
	}
	return ext, confirmer, nil
}

// stringMap reads a mapping of strings checked by params (Headers).
func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k], _ = x.(string)
	}
	return out
}
