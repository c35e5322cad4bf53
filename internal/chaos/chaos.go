// Package chaos is what a drill does to the system on purpose: freeze, kill or restart a
// component, cut or degrade a link between two, or run a command or an HTTP call with its own
// revert step. Each kind is a constructor in a registry, as toxiproxy registers its toxics, and
// each Fault has two steps:
//
//	at ──► Inject ──────── for ────────► Revert ──► (window recorded: start .. end)
//	                 drill ends early ──► Revert (fresh context)
//
// Capabilities are checked before anything starts: a pause needs a runtime that is a
// runtime.Pauser, kill/stop/restart a runtime.Killer, link faults a runtime.Linker with the
// link declared. Unlike toxiproxy's reflect.New of a prototype, a constructor checks its
// parameters once, so `recall validate` reports a bad latency at the fault's line.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
)

// Fault is one fault of a drill.
type Fault interface {
	// Inject starts the fault. It is called once, from the drill's timeline. It may fail
	// halfway; Revert then undoes what was done.
	Inject(ctx context.Context, env runtime.Environment) error
	// Revert ends the fault. It must be safe after a failed or partial Inject, without Inject,
	// and when called twice (the second call does nothing). The drill calls it with a fresh
	// context when the drill ends or fails before the fault's end.
	Revert(ctx context.Context, env runtime.Environment) error
}

// Params are a fault's settings from the scenario.
type Params struct {
	// Name identifies the fault (logs, toxic names).
	Name string
	// Target is the component the fault is done to (component faults).
	Target string
	// Link is the link the fault is done to (link faults).
	Link runtime.Link
	// For is how long the fault lasts (0 for instant faults).
	For time.Duration
	// With holds the kind's parameters.
	With map[string]any
}

// Scope says what a fault kind is done to.
type Scope int

// Scopes.
const (
	// OnComponent faults take a target component.
	OnComponent Scope = iota
	// OnLink faults take a declared link.
	OnLink
	// OnNothing faults (command, http) act outside the harness' reach.
	OnNothing
)

// Kind describes a registered fault kind.
type Kind struct {
	Name  string
	Scope Scope
	// Cuts is true when the fault cuts what it targets off (pause, kill, partition, …) rather
	// than slowing it: an accept of a recalled credential while a component's revocation source
	// is cut is fail-open.
	Cuts bool
	// Instant is true when the fault may have no duration (restart, command, http).
	Instant bool
	// Needs checks that env has the capability the kind needs; nil: any runtime.
	Needs func(env any) error
	// New builds a fault from its parameters, checking them.
	New func(Params) (Fault, error)
}

var kinds = map[string]Kind{}

// Register adds a fault kind; call it from init. A second registration of a name panics.
func Register(k Kind) {
	if k.Name == "" || k.New == nil {
		panic("chaos: Register needs a name and a constructor")
	}
	if _, dup := kinds[k.Name]; dup {
		panic("chaos: fault registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Names lists the registered fault kinds, sorted.
func Names() []string {
	out := make([]string, 0, len(kinds))
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the kind registered as name.
func Lookup(name string) (Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// ErrUnknown is returned by New for a kind that is not registered.
var ErrUnknown = errors.New("unknown fault")

// New builds a fault of kind name.
func New(name string, p Params) (Fault, error) {
	k, ok := kinds[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (have: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	return k.New(p)
}

// Supports checks that env (an Environment, or a typed nil of the runtime's type) has what kind
// name needs.
func Supports(name string, env any) error {
	k, ok := kinds[name]
	if !ok {
		return fmt.Errorf("%w %q (have: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	if k.Needs == nil {
		return nil
	}
	return k.Needs(env)
}

// needs returns a Needs function asking for capability C.
func needs[C any](what string) func(any) error {
	return func(env any) error {
		if _, ok := env.(C); !ok {
			return fmt.Errorf("the %s runtime cannot %s", runtime.NameOf(env), what)
		}
		return nil
	}
}

// once makes a revert idempotent: it records whether the fault was (even partly) injected and
// whether it was reverted. Inject and Revert may run on different goroutines.
type once struct {
	mu                 sync.Mutex
	injected, reverted bool
}

// begin marks an inject; it fails if the fault was already injected.
func (o *once) begin() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.injected {
		return errors.New("fault injected twice")
	}
	o.injected = true
	return nil
}

// end reports whether a revert has something to do, and marks it done.
func (o *once) end() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.injected || o.reverted {
		return false
	}
	o.reverted = true
	return true
}
