package drill

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/recall-drills/recall/internal/params"
)

// ProbeHTTP is the default probe kind: the scenario's own HTTP request template.
const ProbeHTTP = "http"

// ProbeParams is what a probe constructor is given once the probed component's endpoint is
// known.
type ProbeParams struct {
	// Component names the probed component; Endpoint is where it is reached (nil when the
	// runtime gives none: then Spec.URL must be absolute).
	Component string
	Endpoint  *url.URL
	// Spec is the probe as the scenario wrote it (defaults applied); Spec.With has passed the
	// kind's Params.Check.
	Spec ProbeSpec
}

// ProbeConstructor builds a probe of one kind. Every kind yields a [Probe]: a request template
// and the classification of its answer, which the load and the tracker use unchanged.
type ProbeConstructor func(ProbeParams) (*Probe, error)

// ProbeKind is a registered probe kind: its name (the value of probe.kind), the parameters
// probe.with takes, what it needs, and its constructor, so that adding a kind is one
// [RegisterProbe] call and no edit elsewhere (see docs/architecture.md).
type ProbeKind struct {
	Name string
	// Doc is one line for the docs.
	Doc string
	// Params are the keys probe.with accepts, typed and with their defaults; any other key is a
	// positioned error.
	Params params.Spec
	// Kinds lists the component kinds (issuer, gateway, service, …) the probe can ask; empty:
	// any. A probe of this kind on another kind of component is a positioned error.
	Kinds []string
	// New builds the probe.
	New ProbeConstructor
}

var probeKinds = map[string]ProbeKind{}

// RegisterProbe makes a probe kind available to scenarios; call it from init (a _test.go file
// may register one too). A duplicate name, or a kind without name or constructor, panics.
func RegisterProbe(k ProbeKind) {
	if k.Name == "" || k.New == nil {
		panic("drill: RegisterProbe needs a name and a constructor")
	}
	if _, dup := probeKinds[k.Name]; dup {
		panic("drill: probe kind registered twice: " + k.Name)
	}
	probeKinds[k.Name] = k
}

// ProbeNames lists the registered probe kinds, sorted.
func ProbeNames() []string {
	names := make([]string, 0, len(probeKinds))
	for n := range probeKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupProbe returns the probe kind registered as name ("" is ProbeHTTP).
func LookupProbe(name string) (ProbeKind, bool) {
	if name == "" {
		name = ProbeHTTP
	}
	k, ok := probeKinds[name]
	return k, ok
}

// CheckParams checks with against the kind's Params and the component kind against Kinds.
// Errors about with are [*params.Error]s naming the key; one about the component kind is a
// [*ProbeTargetError].
func (k ProbeKind) CheckParams(componentKind string, with map[string]any) []error {
	var errs []error
	if len(k.Kinds) > 0 && componentKind != "" && !slices.Contains(k.Kinds, componentKind) {
		errs = append(errs, &ProbeTargetError{fmt.Sprintf("a %s probe asks components of kind %s, not %s", k.Name, strings.Join(k.Kinds, ", "), componentKind)})
	}
	for _, e := range k.Params.Check(with, "the "+k.Name+" probe", nil) {
		errs = append(errs, e)
	}
	return errs
}

// ProbeTargetError is a probe kind put on a component it cannot ask.
type ProbeTargetError struct{ Msg string }

func (e *ProbeTargetError) Error() string { return e.Msg }

// BuildProbe builds the probe of p.Spec.Kind (default ProbeHTTP), checking its parameters.
func BuildProbe(p ProbeParams) (*Probe, error) {
	k, ok := LookupProbe(p.Spec.Kind)
	if !ok {
		return nil, fmt.Errorf("probe %s: unknown probe kind %q (have: %s)", p.Component, p.Spec.Kind, strings.Join(ProbeNames(), ", "))
	}
	if errs := k.Params.Check(p.Spec.With, "the "+k.Name+" probe", nil); len(errs) > 0 {
		all := make([]error, len(errs))
		for i, e := range errs {
			all[i] = e
		}
		return nil, fmt.Errorf("probe %s: %w", p.Component, errors.Join(all...))
	}
	return k.New(p)
}

func init() {
	RegisterProbe(ProbeKind{Name: ProbeHTTP, Doc: "an HTTP request of yours (method, path or url, headers, body) classified by accept and reject",
		New: func(p ProbeParams) (*Probe, error) {
			s := p.Spec
			return NewProbe(p.Component, p.Endpoint, s.Method, s.Path, s.URL, s.Header, s.Body, s.Accept, s.Reject)
		}})
}
