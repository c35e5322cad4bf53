package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// setState is what Push and Poll share: the rules held and how applying them is recorded.
type setState struct {
	set   *revocation.Set
	truth *truth.Log
	m     *metrics
	log   *slog.Logger
}

// apply adds rules to the set and records, for every rule that changed what is recalled, the
// instant right after it took effect.
func (s *setState) apply(version uint64, rules []revocation.Rule) {
	changed := s.set.Apply(version, rules)
	if len(changed) == 0 {
		return
	}
	now := time.Now()
	for _, r := range changed {
		s.truth.RuleApplied(r, now)
	}
	s.m.recallsApplied.Add(float64(len(changed)))
	s.log.Debug("recall rules applied", "version", version, "rules", len(changed))
}

// revoked returns a *TokenError if a held rule recalls t.
func (s *setState) revoked(t *Token) error {
	if r, ok := s.set.Revoked(t.Claims); ok {
		return invalid("token recalled", fmt.Errorf("%w: rule %s of recall %s", ErrRevoked, r.Type, r.RecallID))
	}
	return nil
}

// listClient fetches GET {issuer}/revocations?since=V.
type listClient struct {
	url    string
	client *http.Client
}

func newListClient(cfg Config) *listClient {
	return &listClient{
		url:    cfg.IssuerURL + "/revocations",
		client: &http.Client{Timeout: cfg.Timeout, Transport: newTransport()},
	}
}

// fetch returns the rules after since; notModified is true when the issuer answered 304 to
// If-None-Match: "<since>" (nothing new).
func (c *listClient) fetch(ctx context.Context, since uint64) (l revocation.List, notModified bool, err error) {
	u := c.url
	if since > 0 {
		u += "?since=" + strconv.FormatUint(since, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return l, false, err
	}
	req.Header.Set("Accept", "application/json")
	if since > 0 {
		req.Header.Set("If-None-Match", `"`+strconv.FormatUint(since, 10)+`"`)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return l, false, fmt.Errorf("GET /revocations: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		_, _ = io.Copy(io.Discard, resp.Body)
		return l, true, nil
	case http.StatusOK:
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return l, false, fmt.Errorf("GET /revocations: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&l); err != nil {
		return l, false, fmt.Errorf("GET /revocations: decode: %w", err)
	}
	return l, false, nil
}

// sleepCtx waits for d or until ctx ends, and reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
