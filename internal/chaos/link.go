package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
	// toxiproxy toxics (Shopify/toxiproxy: README.md). Durations are given as Go durations and
	// sent to toxiproxy in milliseconds; bandwidth's rate is in KB/s.
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
	Register(Kind{Name: "slow_close", Scope: OnLink, Needs: needLinker, New: newToxic("slow_close", func(p *params) map[string]any {
		return map[string]any{"delay": p.duration("delay", 0, true).Milliseconds()}
	})})
}

func checkLink(kind string, p Params) error {
	if p.Link.From == "" || p.Link.To == "" {
		return fmt.Errorf("%s: needs a link (link: from->to)", kind)
	}
	return nil
}

// linkOf returns env's Linker after checking that it proxies l.
func linkOf(env runtime.Environment, kind string, l runtime.Link) (runtime.Linker, error) {
	lk, ok := env.(runtime.Linker)
	if !ok {
		return nil, fmt.Errorf("%s: the runtime cannot proxy links", kind)
	}
	if !slices.Contains(lk.Links(), l) {
		return nil, fmt.Errorf("%s: link %s is not proxied (declare it in system.links)", kind, l)
	}
	return lk, nil
}

// Partition cuts a link: its proxy closes open connections and refuses new ones until the
// fault ends.
type Partition struct {
	link runtime.Link
	once
}

var _ Fault = (*Partition)(nil)

func newPartition(p Params) (Fault, error) {
	if err := newParams(p).err(); err != nil {
		return nil, err
	}
	if err := checkLink("partition", p); err != nil {
		return nil, err
	}
	return &Partition{link: p.Link}, nil
}

// Inject implements Fault.
func (f *Partition) Inject(ctx context.Context, env runtime.Environment) error {
	lk, err := linkOf(env, "partition", f.link)
	if err != nil {
		return err
	}
	if err := f.begin(); err != nil {
		return err
	}
	return lk.Cut(ctx, f.link)
}

// Revert implements Fault.
func (f *Partition) Revert(ctx context.Context, env runtime.Environment) error {
	lk, ok := env.(runtime.Linker)
	if !ok || !f.end() {
		return nil
	}
	return lk.Heal(ctx, f.link)
}

// Toxic degrades a link with one toxiproxy toxic per stream for the fault's duration.
type Toxic struct {
	link   runtime.Link
	toxics []runtime.Toxic
	st     onceAdded
}

// onceAdded tracks which toxics were added, so that Revert removes exactly those.
type onceAdded struct {
	once
	added []string
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
		f := &Toxic{link: p.Link}
		for _, st := range streams {
			f.toxics = append(f.toxics, runtime.Toxic{Name: "recall-" + p.Name + "-" + st, Type: typ, Stream: st,
				Toxicity: float32(toxicity), Attributes: a})
		}
		return f, nil
	}
}

// Inject implements Fault.
func (f *Toxic) Inject(ctx context.Context, env runtime.Environment) error {
	lk, err := linkOf(env, f.toxics[0].Type, f.link)
	if err != nil {
		return err
	}
	if err := f.st.begin(); err != nil {
		return err
	}
	for _, t := range f.toxics {
		if err := lk.AddToxic(ctx, f.link, t); err != nil {
			return err
		}
		f.st.mu.Lock()
		f.st.added = append(f.st.added, t.Name)
		f.st.mu.Unlock()
	}
	return nil
}

// Revert implements Fault.
func (f *Toxic) Revert(ctx context.Context, env runtime.Environment) error {
	lk, ok := env.(runtime.Linker)
	if !ok || !f.st.end() {
		return nil
	}
	f.st.mu.Lock()
	added := f.st.added
	f.st.mu.Unlock()
	var errs []error
	for _, name := range added {
		if err := lk.RemoveToxic(ctx, f.link, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
