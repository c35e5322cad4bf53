package truth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/recall-drills/recall/targets/revocation"
)

// Defaults for NewRemote.
const (
	// DefaultRemoteMaxAge is how long a fetched snapshot answers EnforcedSince before the next
	// call fetches again.
	DefaultRemoteMaxAge = 2 * time.Second
	// DefaultRemoteTimeout bounds one fetch made by EnforcedSince (which has no context).
	DefaultRemoteTimeout = 10 * time.Second
	// DebugPath is where components serve their Log (see Log.ServeHTTP).
	DebugPath = "/debug/recalls"
	// maxRemoteBody bounds a fetched document: a recall of 100k tokens is about 15 MB of records.
	maxRemoteBody = 512 << 20
)

// Remote is a Source that reads a component's ground truth over HTTP, from the JSON that
// Log.ServeHTTP serves at GET {base}/debug/recalls: the reference stack running in containers or
// anywhere else out of process. It fetches a snapshot, replays it into a Log and answers from
// that Log, so in-process and remote answers follow the same rules (a caching component defers
// to the upstream given with WithUpstream). Instants are the component's wall clock.
//
// A snapshot older than the max age is fetched again on the next EnforcedSince; a failed fetch
// keeps the previous snapshot and is reported by Err. Remote is safe for concurrent use.
type Remote struct {
	client   *http.Client
	bearer   string
	maxAge   time.Duration
	upstream Source

	mu        sync.Mutex // serializes fetches and guards the fields below
	base      string
	log       *Log
	fetched   time.Time
	component string
	err       error
}

var _ Source = (*Remote)(nil)

// RemoteOption configures NewRemote.
type RemoteOption func(*Remote)

// WithBearer sends Authorization: Bearer secret (the issuer's /debug/* needs its admin secret).
func WithBearer(secret string) RemoteOption { return func(r *Remote) { r.bearer = secret } }

// WithHTTPClient sets the client used for fetches (default: one with DefaultRemoteTimeout).
func WithHTTPClient(c *http.Client) RemoteOption {
	return func(r *Remote) {
		if c != nil {
			r.client = c
		}
	}
}

// WithMaxAge sets how long a snapshot is used before EnforcedSince fetches again (default
// DefaultRemoteMaxAge; a negative value fetches only on an explicit Fetch, once one succeeded).
func WithMaxAge(d time.Duration) RemoteOption { return func(r *Remote) { r.maxAge = d } }

// WithUpstream sets the source a caching component defers to (the issuer's, for an introspecting
// gateway), as NewLog's upstream does.
func WithUpstream(s Source) RemoteOption { return func(r *Remote) { r.upstream = s } }

// NewRemote returns a Remote reading {base}/debug/recalls. Nothing is fetched until Fetch or the
// first EnforcedSince.
func NewRemote(base string, opts ...RemoteOption) *Remote {
	r := &Remote{client: &http.Client{Timeout: DefaultRemoteTimeout}, maxAge: DefaultRemoteMaxAge,
		base: strings.TrimRight(base, "/")}
	for _, o := range opts {
		o(r)
	}
	return r
}

// SetBase points the Remote at a new base URL (a restarted container on a new port) and drops
// the snapshot.
func (r *Remote) SetBase(base string) {
	r.mu.Lock()
	r.base = strings.TrimRight(base, "/")
	r.log, r.fetched = nil, time.Time{}
	r.mu.Unlock()
}

// Fetch reads a fresh snapshot now.
func (r *Remote) Fetch(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetchLocked(ctx)
}

func (r *Remote) fetchLocked(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+DebugPath, nil)
	if err != nil {
		r.err = fmt.Errorf("truth: %w", err)
		return r.err
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.err = fmt.Errorf("truth: fetch %s: %w", req.URL.Redacted(), err)
		return r.err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		r.err = fmt.Errorf("truth: fetch %s: %s", req.URL.Redacted(), resp.Status)
		return r.err
	}
	var doc struct {
		Component string   `json:"component"`
		Records   []Record `json:"records"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRemoteBody)).Decode(&doc); err != nil {
		r.err = fmt.Errorf("truth: decode %s: %w", req.URL.Redacted(), err)
		return r.err
	}
	l, err := replay(doc.Component, r.upstream, doc.Records)
	if err != nil {
		r.err = fmt.Errorf("truth: %s: %w", req.URL.Redacted(), err)
		return r.err
	}
	r.log, r.component, r.fetched, r.err = l, doc.Component, time.Now(), nil
	return nil
}

// replay rebuilds a Log from served records.
func replay(component string, upstream Source, recs []Record) (*Log, error) {
	l := NewLog(component, upstream)
	for i, rec := range recs {
		switch rec.Kind {
		case "rule":
			if rec.Rule == nil {
				return nil, fmt.Errorf("record %d: rule record without rule", i)
			}
			l.RuleApplied(*rec.Rule, rec.At)
		case "cache":
			if rec.JTI == "" {
				return nil, fmt.Errorf("record %d: cache record without jti", i)
			}
			l.Cached(rec.JTI, rec.At)
		default:
			return nil, fmt.Errorf("record %d: unknown kind %q", i, rec.Kind)
		}
	}
	return l, nil
}

// snapshot returns the current Log, fetching first when there is none or it is older than the
// max age.
func (r *Remote) snapshot() *Log {
	r.mu.Lock()
	defer r.mu.Unlock()
	stale := r.log == nil || (r.maxAge >= 0 && time.Since(r.fetched) > r.maxAge)
	if stale {
		d := r.client.Timeout
		if d <= 0 {
			d = DefaultRemoteTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		_ = r.fetchLocked(ctx) // on failure the previous snapshot (if any) answers; see Err
		cancel()
	}
	return r.log
}

// EnforcedSince implements Source from the latest snapshot. It returns false when no snapshot
// could be fetched (see Err).
func (r *Remote) EnforcedSince(c revocation.Claims) (time.Time, bool) {
	l := r.snapshot()
	if l == nil {
		return time.Time{}, false
	}
	return l.EnforcedSince(c)
}

// Records returns the records of the latest snapshot (fetching one if there is none).
func (r *Remote) Records() []Record {
	l := r.snapshot()
	if l == nil {
		return nil
	}
	return l.Records()
}

// Component is the component name the last snapshot reported ("" before a successful fetch).
func (r *Remote) Component() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.component
}

// Err is the error of the last fetch, nil if it succeeded.
func (r *Remote) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Snapshot fetches the records now and returns them as a Log that no longer changes: the truth
// of an instance about to be killed. On a failed fetch it returns the previous snapshot (nil if
// there was none) with the error.
func (r *Remote) Snapshot(ctx context.Context) (*Log, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.fetchLocked(ctx)
	return r.log, err
}
