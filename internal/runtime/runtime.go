// Package runtime is what the drill knows of wherever the system under test runs: an
// Environment is the whole system for one drill, and optional capabilities (pausing, killing,
// link faults, ground truth) are separate interfaces found by type assertion at plan time, as
// toxiproxy finds a toxic's optional behaviours. The runtimes themselves are packages below this
// one — embedded (in process), docker (in containers), external (already deployed) — each
// registering itself with [Register]; package builtin links them into a program.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/recall-drills/recall/internal/ssf"
	"github.com/recall-drills/recall/targets/truth"
)

// Environment is what a drill needs from wherever the system runs.
type Environment interface {
	// Start brings every component up and returns once each is healthy, or fails naming the
	// component that did not come up. On failure it leaves what it started for Close.
	Start(ctx context.Context) error
	// Endpoint is the component's base URL as reached from the harness.
	Endpoint(component string) (*url.URL, error)
	// Close stops everything Start started. It is idempotent, best effort (it goes on after a
	// failure) and returns the failures joined. Call it with a fresh context: the drill's own
	// may already be cancelled.
	Close(ctx context.Context) error
}

// Pauser is an Environment that can freeze a component and let it go on.
type Pauser interface {
	Pause(ctx context.Context, component string) error
	Unpause(ctx context.Context, component string) error
}

// Killer is an Environment that can kill a component and start it again.
type Killer interface {
	Kill(ctx context.Context, component string) error
	Restart(ctx context.Context, component string) error
}

// GroundTruth is an Environment that knows, per component, when it started enforcing each
// recall (the reference stack records it).
type GroundTruth interface {
	Truth(component string) (truth.Source, bool)
}

// SSFTransmitters is an Environment that runs the drill's Shared Signals transmitters
// (reference/ssf), by component name: the ssf-event action emits on their streams.
type SSFTransmitters interface {
	SSFTransmitters() map[string]*ssf.Transmitter
}

// Startup is an Environment that reports how long each component took to become healthy.
type Startup interface {
	StartupTimes() map[string]time.Duration
}

// Spec describes one component to start. It mirrors the scenario's component entry so that this
// package does not depend on the scenario format.
type Spec struct {
	Name string
	// Kind is issuer, gateway, cache, service, bus or other.
	Kind string
	// Use names a reference component ("reference/issuer", …); empty for the user's own.
	Use string
	// With holds the reference component's parameters.
	With map[string]any
	// Image, Env, Command, Ports, DependsOn serve the docker runtime; URL the external one.
	Image     string
	URL       string
	Env       map[string]string
	Command   []string
	Ports     []string
	DependsOn []string
	// Wait says when a docker component is ready (nil: its first port accepts connections).
	Wait *Wait
}

// Wait is a docker component's readiness check. Set fields all must pass; Timeout bounds them.
type Wait struct {
	// HTTP is a path to GET on Port (default the first port) until it answers Status.
	HTTP string
	// Status is the status HTTP must answer (default any 2xx).
	Status int
	// Log is a line the container must print (stdout or stderr).
	Log string
	// Port is a container port ("8080" or "8080/tcp") that must accept connections; with HTTP it
	// names the port to GET instead.
	Port string
	// Timeout bounds the wait (default the runtime's start timeout).
	Timeout time.Duration
}

// Secrets are the credentials the harness decides for a reference stack it starts, so that it
// can drive the issuer's admin API and so that gateways can introspect.
type Secrets struct {
	AdminSecret   string
	GatewayID     string
	GatewaySecret string
}

// ErrUnknownComponent is returned by Endpoint for a name that is not part of the system.
var ErrUnknownComponent = errors.New("unknown component")

// UnknownComponent returns an error wrapping [ErrUnknownComponent] that names the components
// the system has: what Endpoint and the other per-component methods return for a name that is
// not part of it.
func UnknownComponent(name string, have []string) error {
	sorted := append([]string(nil), have...)
	sort.Strings(sorted)
	return fmt.Errorf("%w %q (have: %s)", ErrUnknownComponent, name, strings.Join(sorted, ", "))
}
