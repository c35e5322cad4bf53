package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recall-drills/recall/targets/revocation"
)

// closeWait bounds how long Close waits for the NATS connection to drain.
const closeWait = 5 * time.Second

// push applies recalls as the issuer publishes them on NATS.
//
//	NATS recall.events ─► Event{Version: N} ─► Set.Apply ─► truth.RuleApplied
//	                                 │ N > held+1 (a gap: events lost)
//	                                 ▼
//	start, reconnect, gap ─► resync: GET /revocations?since=held ─► Set.Apply
//	NATS disconnected ─► resync every PollInterval (degrades to polling)
//
// The source counts as unreachable (fail mode applies) only while NATS is disconnected and no
// resync succeeded for MaxStaleness. A silently dead link is noticed by NATS pings
// (PingInterval = PollInterval, two outstanding).
type push struct {
	*setState
	cfg Config
	lc  *listClient
	nc  *nats.Conn

	mu     sync.Mutex // guards synced; serialises applying with its bookkeeping
	synced uint64     // every version <= synced is held

	connected atomic.Bool
	lastOK    atomic.Int64 // UnixNano: last successful resync, or when NATS went down
	pending   atomic.Bool  // a resync was asked for and has not succeeded yet
	resyncCh  chan struct{}
	closed    chan struct{}
	wg        sync.WaitGroup
}

func newPush(cfg Config, s *setState) *push {
	return &push{setState: s, cfg: cfg, lc: newListClient(cfg), resyncCh: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (p *push) held() *setState { return p.setState }

func (p *push) start(ctx, life context.Context) error {
	p.lastOK.Store(time.Now().UnixNano())
	var closeOnce sync.Once
	nc, err := nats.Connect(p.cfg.NATSURL,
		nats.Name("recall-"+p.cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(p.cfg.ReconnectWait),
		nats.ReconnectJitter(p.cfg.ReconnectWait/4, p.cfg.ReconnectWait/4),
		nats.RetryOnFailedConnect(true),
		nats.Timeout(p.cfg.Timeout),
		nats.PingInterval(p.cfg.PollInterval),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(p.onConnect),
		nats.ReconnectHandler(p.onConnect),
		nats.DisconnectErrHandler(p.onDisconnect),
		nats.ErrorHandler(p.onError),
		nats.ClosedHandler(func(*nats.Conn) { closeOnce.Do(func() { close(p.closed) }) }),
	)
	if err != nil {
		return fmt.Errorf("nats connect %s: %w", p.cfg.NATSURL, err)
	}
	p.nc = nc
	if _, err := nc.Subscribe(p.cfg.EventSubject, p.onMsg); err != nil {
		return fmt.Errorf("nats subscribe %s: %w", p.cfg.EventSubject, err)
	}
	if nc.IsConnected() {
		// Make sure the server has the subscription before the list is read: no event published
		// after the read can then be missed.
		if err := nc.FlushTimeout(p.cfg.Timeout); err != nil {
			p.log.Warn("nats flush failed", "err", err)
		}
		p.setConnected(true)
	}
	var delay time.Duration
	if snap := p.cfg.Snapshot; snap != nil {
		// Restored state: hold the snapshot's rules and resync only after ResyncDelay.
		p.mu.Lock()
		p.apply(snap.Version, snap.Rules)
		p.synced = snap.Version
		p.mu.Unlock()
		p.lastOK.Store(time.Now().UnixNano())
		p.requestResync()
		delay = p.cfg.ResyncDelay
	} else if err := retryUntil(ctx, p.cfg.PollInterval, func() error { return p.resync(ctx) }); err != nil {
		return err
	}
	p.wg.Add(1)
	go p.loop(life, delay)
	return nil
}

func (p *push) setConnected(up bool) {
	if was := p.connected.Swap(up); was && !up {
		p.lastOK.Store(time.Now().UnixNano())
	}
	if up {
		p.m.busConnected.Set(1)
	} else {
		p.m.busConnected.Set(0)
	}
}

func (p *push) onConnect(*nats.Conn) {
	p.setConnected(true)
	p.log.Info("nats connected; resyncing")
	p.requestResync()
}

func (p *push) onDisconnect(_ *nats.Conn, err error) {
	p.setConnected(false)
	p.log.Warn("nats disconnected", "err", err)
}

func (p *push) onError(_ *nats.Conn, _ *nats.Subscription, err error) {
	p.log.Warn("nats error", "err", err)
	if errors.Is(err, nats.ErrSlowConsumer) {
		p.requestResync() // events were dropped
	}
}

func (p *push) requestResync() {
	p.pending.Store(true)
	select {
	case p.resyncCh <- struct{}{}:
	default:
	}
}

// onMsg applies one event. NATS calls it from one goroutine per subscription.
func (p *push) onMsg(msg *nats.Msg) {
	var ev revocation.Event
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		p.m.syncFailures.Inc()
		p.log.Warn("undecodable recall event; resyncing", "err", err)
		p.requestResync()
		return
	}
	p.mu.Lock()
	p.apply(ev.Version, ev.Rules)
	gap := ev.Version > p.synced+1
	if !gap && ev.Version > p.synced {
		p.synced = ev.Version
		p.m.listVersion.Set(float64(p.synced))
	}
	held := p.synced
	p.mu.Unlock()
	if gap {
		// The event's rules are enforced already; the resync fetches the versions in between.
		p.log.Info("recall event version gap; resyncing", "held", held, "event", ev.Version)
		p.requestResync()
	}
}

func (p *push) loop(life context.Context, delay time.Duration) {
	defer p.wg.Done()
	if !sleepCtx(life, delay) {
		return
	}
	t := time.NewTicker(p.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-p.resyncCh:
		case <-t.C:
			if p.connected.Load() && !p.pending.Load() {
				continue
			}
		}
		p.pending.Store(false)
		if err := p.resync(life); err != nil {
			p.pending.Store(true)
			if life.Err() == nil {
				p.log.Warn("revocation resync failed", "err", err)
			}
		}
	}
}

// resync fetches the rules after the held version and applies them.
func (p *push) resync(ctx context.Context) error {
	p.mu.Lock()
	since := p.synced
	p.mu.Unlock()
	l, notModified, err := p.lc.fetch(ctx, since)
	if err != nil {
		p.m.syncFailures.Inc()
		return err
	}
	p.lastOK.Store(time.Now().UnixNano())
	if notModified {
		return nil
	}
	if l.Version < since {
		p.log.Warn("revocation list version went back; refetching in full", "held", since, "issuer", l.Version)
		if l, _, err = p.lc.fetch(ctx, 0); err != nil {
			p.m.syncFailures.Inc()
			return err
		}
		p.mu.Lock()
		p.synced = 0
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.apply(l.Version, l.Rules)
	if l.Version > p.synced {
		p.synced = l.Version
	}
	p.m.listVersion.Set(float64(p.synced))
	return nil
}

func (p *push) check(_ context.Context, _ string, t *Token) error {
	if err := p.revoked(t); err != nil {
		return err
	}
	return p.status()
}

func (p *push) status() error {
	if p.connected.Load() {
		return nil
	}
	if age := time.Since(time.Unix(0, p.lastOK.Load())); age > p.cfg.MaxStaleness {
		return fmt.Errorf("%w: nats disconnected and no resync for %s", ErrUnavailable, age.Round(time.Millisecond))
	}
	return nil
}

func (p *push) close() error {
	p.wg.Wait()
	if p.nc == nil {
		return nil
	}
	if err := p.nc.Drain(); err != nil {
		p.nc.Close()
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-p.closed:
	case <-t.C:
		p.nc.Close()
		return errors.New("nats drain: timed out")
	}
	return nil
}
