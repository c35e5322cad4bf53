package runtime

import "context"

// Link is a connection from one component to another that the harness routes through a proxy
// so that faults can cut or degrade it: From reaches To through the proxy.
type Link struct {
	From, To string
}

// String returns "from->to", the form scenarios use to name a link.
func (l Link) String() string { return l.From + "->" + l.To }

// Toxic degrades a link, in toxiproxy's terms: its toxic types and their attributes.
type Toxic struct {
	// Name identifies the toxic on its link; adding a second toxic of the same name fails.
	Name string
	// Type is a toxiproxy toxic type: latency, bandwidth, timeout, reset_peer, slow_close, …
	Type string
	// Stream is upstream (From to To) or downstream (To to From).
	Stream string
	// Toxicity is the probability that the toxic applies to a connection (0 is taken as 1).
	Toxicity float32
	// Attributes are the toxic's parameters (latency and jitter in ms, rate in KB/s, …).
	Attributes map[string]any
}

// Linker is an Environment whose declared links pass through proxies that faults can cut or
// degrade. Every method is safe for concurrent use.
type Linker interface {
	// Links lists the declared links.
	Links() []Link
	// AddToxic adds t to the link.
	AddToxic(ctx context.Context, l Link, t Toxic) error
	// RemoveToxic removes the toxic named name; removing one that is absent is not an error.
	RemoveToxic(ctx context.Context, l Link, name string) error
	// Cut stops the link's proxy: open connections are closed and new ones refused. Cutting a
	// cut link is not an error.
	Cut(ctx context.Context, l Link) error
	// Heal starts a cut link's proxy again on the same address. Healing a link that is not cut
	// is not an error.
	Heal(ctx context.Context, l Link) error
}

// Harness names the drill itself as a link's From: a declared link harness->issuer routes the
// harness's own requests that choose it (refresh-replay's legitimate rotations) through a proxy,
// so that link faults can act on them. No component may have this name.
const Harness = "harness"

// HarnessLinker is a Linker that also proxies links from the Harness.
type HarnessLinker interface {
	Linker
	// HarnessLink returns the address (host:port, on 127.0.0.1) the harness dials to reach to
	// through the declared link harness->to, and false when no such link is declared.
	HarnessLink(to string) (string, bool)
}
