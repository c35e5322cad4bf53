package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Kind is a registered runtime: its name, a typed nil of its Environment type (for capability
// checks before anything is built), what it asks of the components a scenario lists, and its
// constructor. A runtime is a package of its own (embedded, docker, external) whose init makes
// one [Register] call; package builtin links recall's in, and nothing else names them (see
// docs/architecture.md, "How to add a runtime").
type Kind struct {
	// Name is the value of system.runtime, e.g. "embedded".
	Name string
	// Doc is one line for `recall validate` and the docs.
	Doc string
	// Proto is a typed nil of the Environment type New returns, e.g. (*embedded.Env)(nil): plan
	// time asks it for capabilities (Pauser, Killer, Linker) by type assertion.
	Proto Environment
	// Check, when set, reports what is missing or wrong in the components for this runtime,
	// each as a [FieldError] naming the component by its index in specs. It starts nothing.
	Check func(specs []Spec) []FieldError
	// New builds the environment, starting nothing. Like the constructors it wraps it returns
	// what it built even with an error.
	New func(Params) (Environment, error)
	// Reach, when set, says in a few words how the harness reaches component s once started,
	// for `recall plan` (e.g. "container of example/edge:1"); see [Kind.Reached].
	Reach func(s Spec) string
}

// Reached says how the harness reaches component s on this runtime, for `recall plan`: "at
// <url>" for a component with a url, else what Reach says, else the runtime's name.
func (k Kind) Reached(s Spec) string {
	if s.URL != "" {
		return "at " + s.URL
	}
	if k.Reach != nil {
		if r := k.Reach(s); r != "" {
			return r
		}
	}
	return k.Name
}

// Params is what a runtime's constructor is given.
type Params struct {
	// Specs are the components, in scenario order.
	Specs []Spec
	// Secrets are the credentials the harness chose for the reference stack. A runtime that
	// does not start the stack (external) may replace AdminSecret with the one its issuer
	// already has.
	Secrets *Secrets
	// Logger receives the runtime's logs (never nil).
	Logger *slog.Logger
	// StartTimeout bounds the start of the whole system.
	StartTimeout time.Duration
	// Links are the declared links faults may cut.
	Links []Link
	// DrillID labels everything the drill creates.
	DrillID string
	// OutDir, when set, is the report directory (the docker runtime saves container logs under
	// it).
	OutDir string
}

// FieldError is a problem with one field of one component, for validation to place at
// system.components[Component].<Field>.
type FieldError struct {
	Component int
	Field     string
	Msg       string
}

var kinds = map[string]Kind{}

// Register makes a runtime available to scenarios; call it from init. A duplicate name panics.
func Register(k Kind) {
	if k.Name == "" || k.New == nil || k.Proto == nil {
		panic("runtime: Register needs a name, a prototype and a constructor")
	}
	if _, dup := kinds[k.Name]; dup {
		panic("runtime: registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Names lists the registered runtimes, sorted.
func Names() []string {
	out := make([]string, 0, len(kinds))
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the runtime registered as name, or an error naming the known ones.
func Lookup(name string) (Kind, error) {
	k, ok := kinds[name]
	if !ok {
		return Kind{}, fmt.Errorf("unknown runtime %q (have: %s)", name, strings.Join(Names(), ", "))
	}
	return k, nil
}

// NameOf returns the registered name of env's runtime (env may be a typed nil), or its Go type
// when no runtime registered that type (a test's wrapper, say). A runtime's own type is always
// registered: the package that defines it registers it in its init.
func NameOf(env any) string {
	t := reflect.TypeOf(env)
	for _, k := range kinds {
		if reflect.TypeOf(k.Proto) == t {
			return k.Name
		}
	}
	s := strings.TrimPrefix(fmt.Sprintf("%T", env), "*")
	return strings.ToLower(s[strings.LastIndex(s, ".")+1:])
}

// Preparer is an Environment with slow work to do before Start (the docker runtime compiles
// and builds its reference images) that has its own time budget: the system's start deadline
// counts from the end of Prepare.
type Preparer interface {
	// Prepare does that work; Start then skips it. It honours ctx's cancellation.
	Prepare(ctx context.Context) error
}

// InProcess is an Environment that can run components in the harness's own process, where they
// share its Go scheduler with the probes (see package procs).
type InProcess interface {
	// InProcess says whether any component runs in this process.
	InProcess() bool
}

// Imager is an Environment that runs components from images and can say which image ran each
// one, for the report.
type Imager interface {
	// ComponentImage returns the image reference component ran from; ok is false for a
	// component that ran from no image (it was only reached at a url).
	ComponentImage(component string) (ref string, ok bool)
}
