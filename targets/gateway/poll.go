package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// poll fetches the revocation list every PollInterval.
//
//	ticker ─► GET /revocations?since=V (If-None-Match "V") ─► 304: fresh
//	                                                      └─► 200: Set.Apply ─► truth.RuleApplied
//
// A recall is enforced at most PollInterval (plus one fetch) after the issuer applied it.
type poll struct {
	*setState
	interval     time.Duration
	maxStaleness time.Duration
	lc           *listClient
	snapshot     *revocation.List
	resyncDelay  time.Duration

	mu      sync.Mutex // serialises syncs (only the loop after start, but cheap)
	version uint64
	lastOK  atomic.Int64 // UnixNano of the last successful fetch
	wg      sync.WaitGroup
}

func newPoll(cfg Config, s *setState) *poll {
	return &poll{setState: s, interval: cfg.PollInterval, maxStaleness: cfg.MaxStaleness, lc: newListClient(cfg),
		snapshot: cfg.Snapshot, resyncDelay: cfg.ResyncDelay}
}

func (p *poll) held() *setState { return p.setState }

func (p *poll) start(ctx, life context.Context) error {
	var delay time.Duration
	if p.snapshot != nil {
		// Restored state: hold the snapshot's rules and sync only after resyncDelay.
		p.mu.Lock()
		p.apply(p.snapshot.Version, p.snapshot.Rules)
		p.version = p.snapshot.Version
		p.mu.Unlock()
		p.lastOK.Store(time.Now().UnixNano())
		delay = p.resyncDelay
	} else if err := retryUntil(ctx, p.interval, func() error { return p.sync(ctx) }); err != nil {
		return err
	}
	p.wg.Add(1)
	go p.loop(life, delay)
	return nil
}

func (p *poll) loop(life context.Context, delay time.Duration) {
	defer p.wg.Done()
	if p.snapshot != nil {
		if !sleepCtx(life, delay) {
			return
		}
		if err := p.sync(life); err != nil && life.Err() == nil {
			p.log.Warn("revocation poll failed", "err", err)
		}
	}
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-t.C:
			if err := p.sync(life); err != nil && life.Err() == nil {
				p.log.Warn("revocation poll failed", "err", err)
			}
		}
	}
}

// sync fetches what is new since the version held and applies it.
func (p *poll) sync(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, notModified, err := p.lc.fetch(ctx, p.version)
	if err != nil {
		p.m.syncFailures.Inc()
		return err
	}
	p.lastOK.Store(time.Now().UnixNano())
	if notModified {
		return nil
	}
	if l.Version < p.version {
		// The issuer's list went back (restarted with fresh state): start over from a full list.
		p.log.Warn("revocation list version went back; refetching in full", "held", p.version, "issuer", l.Version)
		p.version = 0
		if l, _, err = p.lc.fetch(ctx, 0); err != nil {
			p.m.syncFailures.Inc()
			return err
		}
	}
	p.apply(l.Version, l.Rules)
	if l.Version > p.version {
		p.version = l.Version
	}
	p.m.listVersion.Set(float64(p.version))
	return nil
}

func (p *poll) check(_ context.Context, _ string, t *Token) error {
	if err := p.revoked(t); err != nil {
		return err
	}
	return p.status()
}

func (p *poll) status() error {
	if age := time.Since(time.Unix(0, p.lastOK.Load())); age > p.maxStaleness {
		return fmt.Errorf("%w: last successful poll %s ago", ErrUnavailable, age.Round(time.Millisecond))
	}
	return nil
}

func (p *poll) close() error {
	p.wg.Wait()
	return nil
}

// retryUntil calls f until it succeeds or ctx ends, waiting from 50ms up to max between tries.
func retryUntil(ctx context.Context, max time.Duration, f func() error) error {
	wait := 50 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		if !sleepCtx(ctx, wait) {
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		wait = min(2*wait, max)
	}
}
