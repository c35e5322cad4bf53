package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	_ "github.com/recall-drills/recall/internal/chaos/answerloss" // the lose_answers toxic
	"github.com/recall-drills/recall/internal/runtime"
)

// proxies routes links through toxiproxy proxies run in this process (its server as a library:
// no toxiproxy binary, no API port).
type proxies struct {
	mu     sync.Mutex
	server *toxiproxy.ApiServer
	byLink map[runtime.Link]*toxiproxy.Proxy
	order  []runtime.Link
	cuts   map[runtime.Link]int // how many faults hold the link cut (overlapping partitions)
}

func newProxies() *proxies {
	return &proxies{
		server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()),
		byLink: map[runtime.Link]*toxiproxy.Proxy{},
		cuts:   map[runtime.Link]int{},
	}
}

// add starts a proxy for l on a random 127.0.0.1 port towards upstream (host:port) and returns
// its address.
func (p *proxies) add(l runtime.Link, upstream string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if px, ok := p.byLink[l]; ok {
		return px.Listen, nil
	}
	px := toxiproxy.NewProxy(p.server, l.String(), "127.0.0.1:0", upstream)
	if err := px.Start(); err != nil {
		return "", fmt.Errorf("link %s: start proxy: %w", l, err)
	}
	p.byLink[l] = px
	p.order = append(p.order, l)
	return px.Listen, nil
}

func (p *proxies) get(l runtime.Link) (*toxiproxy.Proxy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	px, ok := p.byLink[l]
	if !ok {
		have := make([]string, len(p.order))
		for i, x := range p.order {
			have[i] = x.String()
		}
		return nil, fmt.Errorf("no proxied link %s (have: %v)", l, have)
	}
	return px, nil
}

func (p *proxies) addToxic(l runtime.Link, t runtime.Toxic) error {
	px, err := p.get(l)
	if err != nil {
		return err
	}
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	if t.Stream == "" {
		t.Stream = "downstream"
	}
	attrs := t.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"name": t.Name, "type": t.Type, "stream": t.Stream, "toxicity": t.Toxicity, "attributes": attrs})
	if err != nil {
		return err
	}
	if _, err := px.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("link %s: add toxic %s: %w", l, t.Name, err)
	}
	return nil
}

func (p *proxies) removeToxic(ctx context.Context, l runtime.Link, name string) error {
	px, err := p.get(l)
	if err != nil {
		return err
	}
	if err := px.Toxics.RemoveToxic(ctx, name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("link %s: remove toxic %s: %w", l, name, err)
	}
	return nil
}

func (p *proxies) cut(l runtime.Link) error {
	px, err := p.get(l)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cuts[l]++
	first := p.cuts[l] == 1
	p.mu.Unlock()
	if first {
		px.Stop()
	}
	return nil
}

func (p *proxies) heal(l runtime.Link) error {
	px, err := p.get(l)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.cuts[l] == 0 {
		p.mu.Unlock()
		return nil
	}
	p.cuts[l]--
	last := p.cuts[l] == 0
	p.mu.Unlock()
	if !last {
		return nil
	}
	if err := px.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("link %s: restart proxy on %s: %w", l, px.Listen, err)
	}
	return nil
}

func (p *proxies) links() []runtime.Link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]runtime.Link(nil), p.order...)
}

// close stops every proxy.
func (p *proxies) close() {
	p.mu.Lock()
	all := make([]*toxiproxy.Proxy, 0, len(p.byLink))
	for _, px := range p.byLink {
		all = append(all, px)
	}
	p.mu.Unlock()
	for _, px := range all {
		px.Stop()
	}
}
