// Package load is the glue between the drill and vegeta (github.com/tsenart/vegeta/v12, used as
// a library): a Pacer from the scenario's rate and ramp, an Attack that takes a context, and the
// probe tag that lets every vegeta.Result be attributed to the (component, credential) pair the
// scheduler chose for it.
//
// Attribution, subtleness ahead: vegeta's Targeter does not learn the sequence number of the hit
// it builds, and a Result carries no request header. It does carry Target.URL verbatim. A URL
// fragment is never sent on the wire (net/http writes URL.RequestURI(), which has none), so the
// Targeter appends "#<tag>" to the URL and the result consumer reads the tag back from
// Result.URL. The system under test sees exactly the request the scenario describes, and results
// of failed requests (refused, timed out) are attributed too.
package load

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// DefaultWorkers is the maximum number of concurrent requests vegeta may have in flight. 16 holds
// 5k-20k requests/s exactly on a 2-core machine; vegeta's own default (unbounded) collapses there.
const DefaultWorkers = 16

// DefaultTimeout bounds one probe request.
const DefaultTimeout = 2 * time.Second

// Tag appends the attribution tag to a probe URL.
func Tag(url string, tag uint64) string {
	return url + "#" + strconv.FormatUint(tag, 10)
}

// TagOf extracts the attribution tag from a Result.URL built with Tag.
func TagOf(url string) (uint64, bool) {
	i := strings.LastIndexByte(url, '#')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(url[i+1:], 10, 64)
	return n, err == nil
}

// Ramp is a Pacer that rises linearly from From to To per second over For, then holds To.
// It is a pure function of (elapsed, hits), like every vegeta Pacer.
type Ramp struct {
	From, To float64 // hits per second
	For      time.Duration
}

var _ vegeta.Pacer = Ramp{}

// hits is the number of hits due by elapsed: the integral of the rate.
func (r Ramp) hits(t time.Duration) float64 {
	if r.For <= 0 || t >= r.For {
		rampHits := 0.0
		if r.For > 0 {
			rampHits = (r.From + r.To) / 2 * r.For.Seconds()
			t -= r.For
		}
		return rampHits + r.To*t.Seconds()
	}
	s := t.Seconds()
	slope := (r.To - r.From) / r.For.Seconds()
	return r.From*s + slope*s*s/2
}

// Hits is the number of hits due by elapsed since the start.
func (r Ramp) Hits(elapsed time.Duration) float64 { return r.hits(elapsed) }

// Rate is the instantaneous rate at elapsed, in hits per second.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	if r.For <= 0 || elapsed >= r.For {
		return r.To
	}
	return r.From + (r.To-r.From)*elapsed.Seconds()/r.For.Seconds()
}

// Pace implements vegeta.Pacer: how long to wait before the next hit.
func (r Ramp) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if r.To <= 0 && r.From <= 0 {
		return 0, true
	}
	expected := r.hits(elapsed)
	if float64(hits) < expected {
		return 0, false // behind schedule: go now
	}
	// Find when hits+1 is due by bisection over a horizon: the rate is monotonic per segment,
	// so the cumulative count is monotonic and bisection converges.
	target := float64(hits + 1)
	lo, hi := elapsed, elapsed+time.Second
	for r.hits(hi) < target {
		if hi-elapsed > time.Hour {
			return 0, true
		}
		hi += hi - elapsed
	}
	for hi-lo > time.Microsecond {
		mid := lo + (hi-lo)/2
		if r.hits(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi - elapsed, false
}

// Pacer returns the vegeta Pacer for a constant rate (perSec) with an optional linear ramp from
// fromPerSec over rampFor.
func Pacer(perSec, fromPerSec float64, rampFor time.Duration) vegeta.Pacer {
	if rampFor <= 0 {
		// vegeta's ConstantPacer wants an integer frequency over a period: express fractional
		// rates over a longer period.
		per := time.Second
		freq := perSec
		for freq != math.Trunc(freq) && per < time.Hour {
			freq *= 10
			per *= 10
		}
		return vegeta.ConstantPacer{Freq: int(freq), Per: per}
	}
	return Ramp{From: fromPerSec, To: perSec, For: rampFor}
}

// Options configures an Attack.
type Options struct {
	// Workers bounds concurrent requests (with Groups, each group's by default); default
	// DefaultWorkers.
	Workers uint64
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// MaxBody is how many bytes of each response body to keep (0: none, for status-only
	// classification).
	MaxBody int64
	// Duration ends the attack after this long (0: until ctx ends).
	Duration time.Duration
	// Groups, when not empty, isolates groups of targets (the drill's components) from each
	// other, so that a slow or hanging group cannot starve the others of workers: Group maps a
	// target's attribution tag to its group, and each group has its own Workers requests in
	// flight at most and its own timeout. A request to a group already at its limit is not
	// sent: its Result fails at once with ErrSaturated. vegeta's pool holds every group's
	// workers, so a group at its limit leaves the others theirs.
	Groups []Group
	Group  func(tag uint64) int
	// Isolation, when set, is the isolation of Groups made beforehand with NewIsolation, so
	// that the caller can ask which groups are full (Isolation.Full) while the attack runs.
	Isolation *Isolation
}

// Group is one isolated group of targets.
type Group struct {
	// Workers bounds the group's requests in flight; default Options.Workers.
	Workers int
	// Timeout bounds one request of the group; default Options.Timeout.
	Timeout time.Duration
}

// ErrSaturated is the error of a request not sent because its group had Group.Workers
// requests in flight.
var ErrSaturated = errors.New("not sent: the component already has its maximum of probes in flight")

// Attack runs a vegeta attack until opts.Duration passes or ctx ends, and calls onResult for every
// result, in the order they complete, from a single goroutine. It returns when every result has
// been delivered: nothing is dropped on cancellation, in-flight requests finish or time out.
func Attack(ctx context.Context, tr vegeta.Targeter, p vegeta.Pacer, opts Options, onResult func(*vegeta.Result)) {
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	tp := &http.Transport{
		MaxIdleConnsPerHost: int(opts.Workers) * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		Proxy:               nil, // drills talk to their own system, never through a proxy
	}
	defer tp.CloseIdleConnections()
	var rt http.RoundTripper = tp
	workers, timeout := opts.Workers, opts.Timeout
	iso := opts.Isolation
	if iso == nil && len(opts.Groups) > 0 && opts.Group != nil {
		iso = NewIsolation(opts)
	}
	if iso != nil {
		rt, workers, timeout = iso.transport(tp), iso.workers, iso.maxTimeout
	}
	atk := vegeta.NewAttacker(
		vegeta.Workers(workers),
		vegeta.MaxWorkers(workers),
		vegeta.MaxBody(opts.MaxBody),
		vegeta.Client(&http.Client{Transport: rt, Timeout: timeout, CheckRedirect: noRedirect}),
	)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-done:
		}
	}()
	for res := range atk.Attack(tr, p, opts.Duration, "recall") {
		onResult(res)
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Saturated reports whether res is a request that was not sent because its group was at its
// bound (see Options.Groups).
func Saturated(res *vegeta.Result) bool {
	return res.Code == 0 && strings.HasSuffix(res.Error, ErrSaturated.Error())
}

// Isolation gives each group of targets its own bound on requests in flight and its own
// timeout (Options.Groups). The group of a request comes from its attribution tag, which travels
// in the URL's fragment (never sent on the wire).
type Isolation struct {
	group      func(tag uint64) int
	slots      []chan struct{} // per group: one token per request in flight
	timeouts   []time.Duration
	workers    uint64 // the sum of the groups' bounds: vegeta's pool
	maxTimeout time.Duration
}

// NewIsolation makes the isolation of opts.Groups (by opts.Group), with opts.Workers and
// opts.Timeout (or their defaults) for a group that sets neither.
func NewIsolation(opts Options) *Isolation {
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	t := &Isolation{group: opts.Group}
	for _, g := range opts.Groups {
		if g.Workers <= 0 {
			g.Workers = int(opts.Workers)
		}
		if g.Timeout <= 0 {
			g.Timeout = opts.Timeout
		}
		t.slots = append(t.slots, make(chan struct{}, g.Workers))
		t.timeouts = append(t.timeouts, g.Timeout)
		t.workers += uint64(g.Workers)
		t.maxTimeout = max(t.maxTimeout, g.Timeout)
	}
	return t
}

// Full reports whether group g has its maximum of requests in flight now: a request to it
// would not be sent. It is a hint for choosing the next target; the bound itself is enforced
// when the request is sent.
func (t *Isolation) Full(g int) bool {
	return g >= 0 && g < len(t.slots) && len(t.slots[g]) >= cap(t.slots[g])
}

func (t *Isolation) transport(next http.RoundTripper) http.RoundTripper {
	return &isolating{Isolation: t, next: next}
}

// isolating is the RoundTripper that enforces an Isolation.
type isolating struct {
	*Isolation
	next http.RoundTripper
}

// RoundTrip sends req if its group has room, within the group's timeout; the slot is held
// until the response body is closed (vegeta reads and closes every body).
func (t *isolating) RoundTrip(req *http.Request) (*http.Response, error) {
	tag, err := strconv.ParseUint(req.URL.Fragment, 10, 64)
	g := -1
	if err == nil {
		g = t.group(tag)
	}
	if g < 0 || g >= len(t.slots) {
		return t.next.RoundTrip(req)
	}
	select {
	case t.slots[g] <- struct{}{}:
	default:
		return nil, ErrSaturated
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeouts[g])
	release := func() { cancel(); <-t.slots[g] }
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody releases its request's slot once, when closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
