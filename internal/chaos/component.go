package chaos

import (
	"context"
	"errors"
	"fmt"

	"github.com/recall-drills/recall/internal/runtime"
)

func init() {
	Register(Kind{Name: "pause", Scope: OnComponent, Cuts: true,
		Needs: needs[runtime.Pauser]("pause a component (it is not a runtime.Pauser)"), New: newPause})
	Register(Kind{Name: "kill", Scope: OnComponent, Cuts: true,
		Needs: needs[runtime.Killer]("kill a component (it is not a runtime.Killer)"), New: newKill("kill")})
	Register(Kind{Name: "stop", Scope: OnComponent, Cuts: true,
		Needs: needs[runtime.Killer]("stop a component (it is not a runtime.Killer)"), New: newKill("stop")})
	Register(Kind{Name: "restart", Scope: OnComponent, Cuts: true, Instant: true,
		Needs: needs[runtime.Killer]("restart a component (it is not a runtime.Killer)"), New: newRestart})
}

// Pause freezes a component for the fault's duration (runtime.Pauser): in the embedded runtime
// its handler holds requests and its links pass nothing; in docker, docker pause.
type Pause struct {
	target string
	once
}

var _ Fault = (*Pause)(nil)

func newPause(p Params) (Fault, error) {
	if err := newParams(p).err(); err != nil {
		return nil, err
	}
	if p.Target == "" {
		return nil, errors.New("pause: needs a target component")
	}
	return &Pause{target: p.Target}, nil
}

// Inject implements Fault.
func (f *Pause) Inject(ctx context.Context, env runtime.Environment) error {
	pz, ok := env.(runtime.Pauser)
	if !ok {
		return errors.New("pause: the runtime cannot pause components")
	}
	if err := f.begin(); err != nil {
		return err
	}
	return pz.Pause(ctx, f.target)
}

// Revert implements Fault.
func (f *Pause) Revert(ctx context.Context, env runtime.Environment) error {
	pz, ok := env.(runtime.Pauser)
	if !ok || !f.end() {
		return nil
	}
	return pz.Unpause(ctx, f.target)
}

// Kill kills a component (runtime.Killer) and starts it again when the fault ends. The fault
// kinds kill and stop both do this; stop names the stop-then-start pair of external runbooks.
type Kill struct {
	kind, target string
	once
}

var _ Fault = (*Kill)(nil)

func newKill(kind string) func(Params) (Fault, error) {
	return func(p Params) (Fault, error) {
		if err := newParams(p).err(); err != nil {
			return nil, err
		}
		if p.Target == "" {
			return nil, fmt.Errorf("%s: needs a target component", kind)
		}
		return &Kill{kind: kind, target: p.Target}, nil
	}
}

// Inject implements Fault.
func (f *Kill) Inject(ctx context.Context, env runtime.Environment) error {
	k, ok := env.(runtime.Killer)
	if !ok {
		return fmt.Errorf("%s: the runtime cannot kill components", f.kind)
	}
	if err := f.begin(); err != nil {
		return err
	}
	return k.Kill(ctx, f.target)
}

// Revert implements Fault: the component starts again.
func (f *Kill) Revert(ctx context.Context, env runtime.Environment) error {
	k, ok := env.(runtime.Killer)
	if !ok || !f.end() {
		return nil
	}
	return k.Restart(ctx, f.target)
}

// Restart kills a component and starts it again at once (fresh state, same address). Its window
// lasts until the component is healthy again; a for: keeps it down that long before the start.
type Restart struct {
	target string
	down   bool
	once
}

var _ Fault = (*Restart)(nil)

func newRestart(p Params) (Fault, error) {
	if err := newParams(p).err(); err != nil {
		return nil, err
	}
	if p.Target == "" {
		return nil, errors.New("restart: needs a target component")
	}
	return &Restart{target: p.Target, down: p.For > 0}, nil
}

// Inject implements Fault: kill, then (without for:) start again.
func (f *Restart) Inject(ctx context.Context, env runtime.Environment) error {
	k, ok := env.(runtime.Killer)
	if !ok {
		return errors.New("restart: the runtime cannot restart components")
	}
	if err := f.begin(); err != nil {
		return err
	}
	if err := k.Kill(ctx, f.target); err != nil {
		return err
	}
	if f.down {
		return nil
	}
	if err := k.Restart(ctx, f.target); err != nil {
		return err // Revert tries again
	}
	f.end() // started again: nothing left for Revert
	return nil
}

// Revert implements Fault: a restart with for: starts the component here; one that failed to
// start in Inject is tried again.
func (f *Restart) Revert(ctx context.Context, env runtime.Environment) error {
	k, ok := env.(runtime.Killer)
	if !ok || !f.end() {
		return nil
	}
	return k.Restart(ctx, f.target)
}
