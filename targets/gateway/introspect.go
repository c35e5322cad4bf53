package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/recall-drills/recall/targets/truth"
)

// introspect asks the issuer about each token (RFC 7662) and caches the answer.
//
//	token ─► cache hit (until not passed) ─► active? accept : reject
//	      └► miss ─► singleflight per token ─► POST /introspect ─► cache ─► truth.Cached(jti, until)
//
// A positive answer is honoured until min(now+CacheTTL, exp): that is the stale window, and
// the truth log records it so that the instant this gateway enforces a recall is
// max(issuer's instant, until). A negative answer is remembered for NegativeCacheTTL (recalls
// are never undone, so it cannot turn positive; the cache only spares the issuer), not at all
// when NegativeCacheTTL is negative. A failed call is not cached: the fail mode decides.
type introspect struct {
	url, clientID, secret string
	ttl, negTTL           time.Duration
	timeout               time.Duration
	maxEntries            int
	client                *http.Client
	truth                 *truth.Log
	m                     *metrics
	log                   *slog.Logger
	sf                    singleflight.Group

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]answer
}

type answer struct {
	active bool
	until  time.Time
}

func newIntrospect(cfg Config, tl *truth.Log, m *metrics, log *slog.Logger) *introspect {
	return &introspect{
		url: cfg.IssuerURL + "/introspect", clientID: cfg.ClientID, secret: cfg.ClientSecret,
		ttl: cfg.CacheTTL, negTTL: cfg.NegativeCacheTTL, timeout: cfg.Timeout,
		maxEntries: DefaultIntrospectCacheSize,
		client:     &http.Client{Timeout: cfg.Timeout, Transport: newTransport()},
		truth:      tl, m: m, log: log,
		cache: make(map[[sha256.Size]byte]answer),
	}
}

func (i *introspect) start(context.Context, context.Context) error { return nil }
func (i *introspect) status() error                                { return nil }
func (i *introspect) close() error                                 { return nil }

func (i *introspect) check(ctx context.Context, raw string, t *Token) error {
	key := sha256.Sum256([]byte(raw))
	i.mu.RLock()
	a, ok := i.cache[key]
	i.mu.RUnlock()
	if ok && time.Now().Before(a.until) {
		i.m.cacheHits.WithLabelValues("introspection").Inc()
		return verdict(a.active)
	}
	i.m.cacheMisses.WithLabelValues("introspection").Inc()
	ch := i.sf.DoChan(string(key[:]), func() (any, error) {
		// A caller that missed the cache just before another's flight stored its answer and
		// ended would otherwise introspect again: singleflight joins only flights in progress.
		i.mu.RLock()
		a, ok := i.cache[key]
		i.mu.RUnlock()
		if ok && time.Now().Before(a.until) {
			return a.active, nil
		}
		return i.call(ctx, key, raw, t)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return res.Err
		}
		return verdict(res.Val.(bool))
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func verdict(active bool) error {
	if active {
		return nil
	}
	return invalid("token recalled or inactive", ErrRevoked)
}

// call introspects raw, caches the answer and returns whether the token is active. Errors wrap
// ErrUnavailable.
func (i *introspect) call(ctx context.Context, key [sha256.Size]byte, raw string, t *Token) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.timeout)
	defer cancel()
	active, err := i.post(ctx, raw)
	if err != nil {
		i.m.introspections.WithLabelValues("error").Inc()
		i.log.Warn("introspection failed", "token", t.Fingerprint, "err", err)
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	now := time.Now()
	if active {
		i.m.introspections.WithLabelValues("active").Inc()
		until := now.Add(i.ttl)
		if t.Expiry.Before(until) {
			until = t.Expiry
		}
		i.put(key, answer{active: true, until: until}, now)
		i.truth.Cached(t.JTI, until)
		return true, nil
	}
	i.m.introspections.WithLabelValues("inactive").Inc()
	if i.negTTL > 0 {
		i.put(key, answer{until: now.Add(i.negTTL)}, now)
	}
	return false, nil
}

func (i *introspect) post(ctx context.Context, raw string) (bool, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1: client id and secret are form-urlencoded before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(i.clientID), url.QueryEscape(i.secret))
	resp, err := i.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("POST /introspect: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return false, fmt.Errorf("POST /introspect: status %d", resp.StatusCode)
	}
	var body struct {
		Active *bool `json:"active"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body); err != nil {
		return false, fmt.Errorf("POST /introspect: decode: %w", err)
	}
	if body.Active == nil {
		return false, fmt.Errorf("POST /introspect: no active member")
	}
	return *body.Active, nil
}

// put stores an answer. When the cache is full, expired answers are swept and, if it is still
// full, an eighth of it is dropped (those tokens are introspected again: earlier enforcement,
// never later).
func (i *introspect) put(key [sha256.Size]byte, a answer, now time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.cache) >= i.maxEntries {
		for k, v := range i.cache {
			if !now.Before(v.until) {
				delete(i.cache, k)
			}
		}
		drop := len(i.cache) - i.maxEntries*7/8
		for k := range i.cache {
			if drop <= 0 {
				break
			}
			delete(i.cache, k)
			drop--
		}
	}
	i.cache[key] = a
}
