package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/recall-drills/recall/internal/chaos/answerloss"
	"github.com/recall-drills/recall/internal/runtime"
)

// Link fault streams: toxiproxy's upstream (from -> to) and downstream (to -> from), or both.
const (
	StreamUpstream   = "upstream"
	StreamDownstream = "downstream"
	StreamBoth       = "both"
)

func init() {
	needLinker := needs[runtime.Linker]("cut or degrade links (it is not a runtime.Linker)")
	Register(Kind{Name: "partition", Scope: OnLink, Cuts: true, Needs: needLinker, New: newPartition})
	// toxiproxy's toxic types, with its attribute names and units. Durations are given as Go
	// durations and sent to toxiproxy in milliseconds; bandwidth's rate is in KB/s.
	Register(Kind{Name: "latency", Scope: OnLink, Needs: needLinker, New: newToxic("latency", func(p *params) map[string]any {
		lat := p.duration("latency", 0, true)
		jit := p.duration("jitter", 0, false)
		return map[string]any{"latency": lat.Milliseconds(), "jitter": jit.Milliseconds()}
	})})
	Register(Kind{Name: "bandwidth", Scope: OnLink, Needs: needLinker, New: newToxic("bandwidth", func(p *params) map[string]any {
		return map[string]any{"rate": int64(p.number("rate", 0, true))}
	})})
	Register(Kind{Name: "timeout", Scope: OnLink, Cuts: true, Needs: needLinker, New: newToxic("timeout", func(p *params) map[string]any {
		return map[string]any{"timeout": p.duration("timeout", 0, false).Milliseconds()}
	})})
	Register(Kind{Name: "reset_peer", Scope: OnLink, Cuts: true, Needs: needLinker, New: newToxic("reset_peer", func(p *params) map[string]any {
		return map[string]any{"timeout": p.duration("timeout", 0, false).Milliseconds()}
	})})
	// lose_answers (internal/chaos/answerloss, registered in both runtimes' toxiproxy): the
	// requests pass, the answers of the first count connections are dropped and those
	// connections closed. Only downstream: upstream it would lose the requests instead.
	Register(Kind{Name: "lose_answers", Scope: OnLink, Cuts: true, Needs: needLinker, New: newToxic(answerloss.Type, func(p *params) map[string]any {
		n := p.number("count", 0, true)
		if n < 0 || n != float64(int64(n)) {
			p.fail("count", "must be a whole number >= 0, got %v", n)
		}
		p.enum("stream", StreamDownstream, StreamDownstream)
		return map[string]any{"count": int64(n)}
	})})
	Register(Kind{Name: "slow_close", Scope: OnLink, Needs: needLinker, New: newToxic("slow_close", func(p *params) map[string]any {
		return map[string]any{"delay": p.duration("delay", 0, true).Milliseconds()}
	})})
}

func checkLink(kind string, p Params) error {
	if (p.Link.From == "" || p.Link.To == "") && p.Target == "" {
		return fmt.Errorf("%s: needs a link (link: from->to) or a target component (all its links)", kind)
	}
	return nil
}

// linkSet is what a link fault is done to: one link, or every declared link from or to a
// component.
type linkSet struct {
	link   runtime.Link
	target string
}

func newLinkSet(p Params) linkSet {
	if p.Link.From != "" {
		return linkSet{link: p.Link}
	}
	return linkSet{target: p.Target}
}

// resolve returns env's Linker and the proxied links the fault is done to.
func (ls linkSet) resolve(env runtime.Environment, kind string) (runtime.Linker, []runtime.Link, error) {
	lk, ok := env.(runtime.Linker)
	if !ok {
		return nil, nil, fmt.Errorf("%s: the runtime cannot proxy links", kind)
	}
	have := lk.Links()
	if ls.target == "" {
		if !slices.Contains(have, ls.link) {
			return nil, nil, fmt.Errorf("%s: link %s is not proxied (declare it in system.links)", kind, ls.link)
		}
		return lk, []runtime.Link{ls.link}, nil
	}
	var out []runtime.Link
	for _, l := range have {
		if l.From == ls.target || l.To == ls.target {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("%s: no declared link from or to %s (system.links)", kind, ls.target)
	}
	return lk, out, nil
}

// Partition cuts links: their proxies close open connections and refuse new ones until the
// fault ends. Done to a component, it cuts every declared link from or to it.
type Partition struct {
	links linkSet
	once
	mu  sync.Mutex
	cut []runtime.Link
}

var _ Fault = (*Partition)(nil)

func newPartition(p Params) (Fault, error) {
	if err := newParams(p).err(); err != nil {
		return nil, err
	}
	if err := checkLink("partition", p); err != nil {
		return nil, err
	}
	return &Partition{links: newLinkSet(p)}, nil
}

// Inject implements Fault.
func (f *Partition) Inject(ctx context.Context, env runtime.Environment) error {
	lk, links, err := f.links.resolve(env, "partition")
	if err != nil {
		return err
	}
	if err := f.begin(); err != nil {
		return err
	}
	for _, l := range links {
		if err := lk.Cut(ctx, l); err != nil {
			return err
		}
		f.mu.Lock()
		f.cut = append(f.cut, l)
		f.mu.Unlock()
	}
	return nil
}

// Revert implements Fault: it heals exactly the links Inject cut.
func (f *Partition) Revert(ctx context.Context, env runtime.Environment) error {
	lk, ok := env.(runtime.Linker)
	if !ok || !f.end() {
		return nil
	}
	f.mu.Lock()
	cut := f.cut
	f.mu.Unlock()
	var errs []error
	for _, l := range cut {
		if err := lk.Heal(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Toxic degrades links with one toxiproxy toxic per stream for the fault's duration. Done to a
// component, it degrades every declared link from or to it.
type Toxic struct {
	links  linkSet
	toxics []runtime.Toxic
	once
	mu    sync.Mutex
	added []added
}

// added is a toxic Inject added, so that Revert removes exactly those.
type added struct {
	link runtime.Link
	name string
}

var _ Fault = (*Toxic)(nil)

func newToxic(typ string, attrs func(*params) map[string]any) func(Params) (Fault, error) {
	return func(p Params) (Fault, error) {
		pp := newParams(p)
		a := attrs(pp)
		stream := pp.enum("stream", StreamDownstream, StreamUpstream, StreamDownstream, StreamBoth)
		toxicity := pp.number("toxicity", 1, false)
		if toxicity > 1 {
			pp.fail("toxicity", "must be between 0 and 1, got %v", toxicity)
		}
		if err := pp.err(); err != nil {
			return nil, err
		}
		if err := checkLink(typ, p); err != nil {
			return nil, err
		}
		streams := []string{stream}
		if stream == StreamBoth {
			streams = []string{StreamUpstream, StreamDownstream}
		}
		f := &Toxic{links: newLinkSet(p)}
		for _, st := range streams {
			f.toxics = append(f.toxics, runtime.Toxic{Name: "recall-" + p.Name + "-" + st, Type: typ, Stream: st,
				Toxicity: float32(toxicity), Attributes: a})
		}
		return f, nil
	}
}

// Inject implements Fault.
func (f *Toxic) Inject(ctx context.Context, env runtime.Environment) error {
	lk, links, err := f.links.resolve(env, f.toxics[0].Type)
	if err != nil {
		return err
	}
	if err := f.begin(); err != nil {
		return err
	}
	for _, l := range links {
		for _, t := range f.toxics {
			if err := lk.AddToxic(ctx, l, t); err != nil {
				return err
			}
			f.mu.Lock()
			f.added = append(f.added, added{l, t.Name})
			f.mu.Unlock()
		}
	}
	return nil
}

// Revert implements Fault.
func (f *Toxic) Revert(ctx context.Context, env runtime.Environment) error {
	lk, ok := env.(runtime.Linker)
	if !ok || !f.end() {
		return nil
	}
	f.mu.Lock()
	done := f.added
	f.mu.Unlock()
	var errs []error
	for _, a := range done {
		if err := lk.RemoveToxic(ctx, a.link, a.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
