package drill

// Recovery time (docs/measurement.md, "Other figures"): after the recall, how long until freshly
// re-issued credentials of the affected users are accepted everywhere again.
//
//	last ack R ──► re-enrol a factor (revoke-mfa) ──► token request (retried) ──► fresh credential
//	          ──► probe it at every probed component every Interval until accepted for good
//
// The accept "for good" at a component is the first accept after which no probe rejects; the
// component started accepting somewhere in [s_(k−1), s_k + lat_k], exactly like the TTC bracket
// with accept and reject swapped (s_(k−1) is the issuance when the first probe already accepted).
// An identity's recovery time is the largest upper bound over the components minus R.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recall-drills/recall/internal/expect"
	"github.com/recall-drills/recall/internal/load"
	"github.com/recall-drills/recall/report"
)

// Recovery configures the recovery-time measurement of a drill.
type Recovery struct {
	// Sample is how many affected identities (the victims' users for the password grant, their
	// clients otherwise) get a fresh credential after the recall: 0 means DefaultRecoverySample,
	// RecoveryOff (any negative value) turns the measurement off.
	Sample int
	// Interval is the time between two probes of one fresh credential at one component
	// (default DefaultRecoveryInterval).
	Interval time.Duration
	// Hold is how long a fresh credential must have been accepted at a component, with no
	// reject, before it is only re-checked there every Recheck (default DefaultRecoveryHold):
	// a component that learns of the recall late and wrongly rejects the fresh credential then
	// is still caught. Probing stops when the drill's traffic ends.
	Hold time.Duration
	// Recheck is the time between two re-checks of a recovered credential (default
	// DefaultRecoveryRecheck).
	Recheck time.Duration
	// Backoff, when set, doubles the time between two probes for every Hold that passes without
	// the outcome waited for, up to Backoff, so that a credential that never gets there costs
	// little; its bracket widens with it (zero: every Interval).
	Backoff time.Duration
	// ReissueFor bounds how long the drill keeps asking the issuer for one fresh credential
	// (default DefaultReissueFor).
	ReissueFor time.Duration
}

// Defaults of Recovery.
const (
	DefaultRecoverySample   = 20
	DefaultRecoveryInterval = 200 * time.Millisecond
	DefaultRecoveryHold     = time.Second
	DefaultRecoveryRecheck  = time.Second
	DefaultReissueFor       = 10 * time.Second
)

// RecoveryOff as Recovery.Sample turns the recovery measurement off (a scenario's
// tokens.recovery: 0).
const RecoveryOff = -1

// reissue backoff: the first retry waits reissueBackoff, each next one twice as long, capped.
const (
	reissueBackoff    = 50 * time.Millisecond
	reissueBackoffMax = time.Second
	// recoveryBodyLimit bounds the body read of a recovery probe.
	recoveryBodyLimit = 64 << 10
)

func (r Recovery) withDefaults() Recovery {
	if r.Sample == 0 {
		r.Sample = DefaultRecoverySample
	}
	if r.Interval <= 0 {
		r.Interval = DefaultRecoveryInterval
	}
	if r.Hold <= 0 {
		r.Hold = DefaultRecoveryHold
	}
	if r.Recheck <= 0 {
		r.Recheck = DefaultRecoveryRecheck
	}
	if r.ReissueFor <= 0 {
		r.ReissueFor = DefaultReissueFor
	}
	return r
}

// freshProbe is one probe of a fresh credential at one component, on the drill clock.
type freshProbe struct {
	Sent, Latency time.Duration
	Outcome       Outcome
}

// acceptedForGood returns the bracket [lower, upper] of the instant a component started
// accepting a fresh credential for good, from its probes in send order: k is the first accept
// after which no probe rejects (errors say nothing and are skipped), upper is s_k + lat_k and
// lower the send time of the last answered probe before it, or issued when there is none. ok is
// false when no accept is followed only by accepts: the credential never recovered there.
func acceptedForGood(issued time.Duration, probes []freshProbe) (lower, upper time.Duration, ok bool) {
	return forGood(Accept, issued, probes)
}

// forGood is acceptedForGood for either outcome: the bracket of the instant from which every
// answered probe had outcome want (Accept or Reject), from the first of them, or from when there
// is no answered probe before it. The rotated access tokens of refresh-replay are refused for
// good (family.go) as fresh credentials are accepted for good.
func forGood(want Outcome, from time.Duration, probes []freshProbe) (lower, upper time.Duration, ok bool) {
	k := -1
	for i, p := range probes {
		switch p.Outcome {
		case Error:
		case want:
			if k < 0 {
				k = i
			}
		default:
			k = -1
		}
	}
	if k < 0 {
		return 0, 0, false
	}
	lower = from
	for i := k - 1; i >= 0; i-- {
		if probes[i].Outcome != Error {
			lower = probes[i].Sent
			break
		}
	}
	return lower, probes[k].Sent + probes[k].Latency, true
}

// freshIdentity is one sampled identity and what happened to its fresh credential.
type freshIdentity struct {
	// victim is the recalled credential whose identity (user or client) is re-issued for.
	victim *Token
	// issued is when the successful token request was sent, received when its answer arrived;
	// reissued is false when no request succeeded.
	issued, received time.Duration
	reissued         bool
	err              error
	// probes holds, per probed component, the probes of the fresh credential in send order.
	probes [][]freshProbe
}

// recoveryResult is the recovery measurement of a drill.
type recoveryResult struct {
	// from is R: the victims' last acknowledgement, on the drill clock.
	from     time.Duration
	kind     string // "user" or "client"
	comps    []string
	ids      []*freshIdentity
	probeCnt atomic.Int64
}

// bounds returns, for component c (-1: over all components, the latest per identity), the
// brackets of the identities that recovered there, and how many did not.
func (r *recoveryResult) bounds(c int) (lows, ups []time.Duration, notRecovered int) {
	for _, id := range r.ids {
		if !id.reissued {
			notRecovered++
			continue
		}
		var lo, up time.Duration
		ok := true
		for i := range r.comps {
			if c >= 0 && i != c {
				continue
			}
			l, u, rec := acceptedForGood(id.issued, id.probes[i])
			if !rec {
				ok = false
				break
			}
			lo, up = max(lo, l), max(up, u)
		}
		if !ok {
			notRecovered++
			continue
		}
		lows, ups = append(lows, lo), append(ups, up)
	}
	return lows, ups, notRecovered
}

// stats returns the recovery statistics of component c (-1: overall), relative to from.
func (r *recoveryResult) stats(c int) (report.Stats, int) {
	lows, ups, notRec := r.bounds(c)
	if len(ups) == 0 {
		return report.Stats{}, notRec
	}
	var u, l, res []float64
	for i := range ups {
		u = append(u, millis(ups[i]-r.from))
		l = append(l, millis(max(0, lows[i]-r.from)))
		res = append(res, millis(ups[i]-lows[i]))
	}
	sort.Float64s(u)
	sort.Float64s(l)
	sort.Float64s(res)
	return report.Stats{
		Count: len(u), P50: nearestRank(u, 0.50), P90: nearestRank(u, 0.90), P99: nearestRank(u, 0.99),
		Max: u[len(u)-1], ResolutionMS: nearestRank(res, 0.50), ResolutionMaxMS: res[len(res)-1],
		LowerP50: nearestRank(l, 0.50),
	}, notRec
}

// RecoveryQuantile implements expect.Recoveries: identities that never recovered count as +Inf.
func (r *recoveryResult) RecoveryQuantile(component string, q float64) (float64, bool) {
	c := -1
	if component != "" {
		if c = slices.Index(r.comps, component); c < 0 {
			return 0, false
		}
	}
	_, ups, notRec := r.bounds(c)
	vals := make([]float64, len(ups))
	for i, u := range ups {
		vals[i] = millis(u - r.from)
	}
	sort.Float64s(vals)
	v, recovered, ok := expect.Quantile(vals, notRec, q)
	if !ok {
		return 0, false
	}
	if !recovered {
		return math.Inf(1), true
	}
	return v, true
}

// sampleIdentities picks up to n distinct affected identities among the victims whose recall
// was acknowledged, in victim order: users for the password grant and for credentials of a user
// and no client (cookie sessions), clients otherwise.
func sampleIdentities(victims []*Token, acks []Ack, grant string, n int) (kind string, out []*freshIdentity) {
	kind = "client"
	if grant == "password" || (len(victims) > 0 && victims[0].Client == "" && victims[0].User != "") {
		kind = "user"
	}
	seen := map[string]bool{}
	for i, v := range victims {
		if len(out) == n {
			break
		}
		if i < len(acks) && (acks[i].Err != nil || acks[i].Acked.IsZero()) {
			continue
		}
		key := v.Client
		if kind == "user" {
			key = v.User
		}
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, &freshIdentity{victim: v})
	}
	return kind, out
}

// startRecovery starts the recovery measurement once the recall is acknowledged; it runs until
// ctx ends (the end of traffic) or every fresh credential was accepted for good everywhere.
// d.recWG tracks it.
func (d *drill) startRecovery(ctx context.Context, victims []*Token) {
	cfg := d.plan.Recovery.withDefaults()
	if cfg.Sample < 0 {
		return
	}
	var last time.Time
	for _, a := range d.acks {
		if a.Err == nil && a.Acked.After(last) {
			last = a.Acked
		}
	}
	if last.IsZero() {
		return
	}
	kind, ids := sampleIdentities(victims, d.acks, d.plan.Population.Grant, cfg.Sample)
	if len(ids) == 0 {
		return
	}
	names := make([]string, len(d.comps))
	for i, c := range d.comps {
		names[i] = c.Name
	}
	rec := &recoveryResult{from: last.Sub(d.began), kind: kind, comps: names, ids: ids}
	d.recovery = rec
	// No proxy from the environment: the drill's traffic goes to the system under test directly.
	// The fresh credentials all start right after the acknowledgement, when the brackets of the
	// pairs converging first are decided: dialled at once, their connections (one per identity
	// and component) stalled the probes for about 50 ms and widened edge-push's median bracket
	// from 36 to 50 ms at 3,000/s. Dialled a few at a time, they cost the probes nothing.
	client := recoveryClient(len(ids), (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	for _, id := range ids {
		id.probes = make([][]freshProbe, len(d.probes))
		d.recWG.Add(1)
		go func() {
			defer d.recWG.Done()
			tok, err := d.reissue(ctx, cfg, id)
			if err != nil {
				id.err = err
				d.log.Warn("recovery: no fresh credential", "identity", kind, "client", id.victim.Client, "user", id.victim.User, "err", err)
				return
			}
			var wg sync.WaitGroup
			for c, pr := range d.probes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id.probes[c] = d.probeFresh(ctx, client, pr, d.probeTimeout(c), cfg, Accept, tok, &rec.probeCnt)
				}()
			}
			wg.Wait()
		}()
	}
	go func() {
		// Idle connections of a finished measurement are of no further use.
		d.recWG.Wait()
		client.CloseIdleConnections()
	}()
}

// recoveryDials is how many connections the recovery measurement dials at once.
const recoveryDials = 2

// dialFunc is the type of net.Dialer.DialContext.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// recoveryClient is the recovery measurement's client for ids identities, dialling through dial
// at most recoveryDials at a time and using no proxy.
func recoveryClient(ids int, dial dialFunc) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 4 * ids, IdleConnTimeout: 30 * time.Second,
		DialContext: dialFewAtATime(dial, recoveryDials),
	}}
}

// dialFewAtATime returns a DialContext that runs at most n of dial's dials at once.
func dialFewAtATime(dial dialFunc, n int) dialFunc {
	sem := make(chan struct{}, n)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-sem }()
		return dial(ctx, network, addr)
	}
}

// probeTimeout is the timeout of one probe of component c.
func (d *drill) probeTimeout(c int) time.Duration {
	if ps := d.comps[c].Probe; ps != nil && ps.Timeout > 0 {
		return ps.Timeout
	}
	if d.plan.Traffic.Timeout > 0 {
		return d.plan.Traffic.Timeout
	}
	return load.DefaultTimeout
}

// reissue obtains a fresh credential for id, retrying with backoff for at most cfg.ReissueFor:
// the issuer may refuse or hold token requests for a subject it has just recalled. For
// revoke-mfa (or after a failed attempt with MFA) the user enrols a new factor first.
func (d *drill) reissue(ctx context.Context, cfg Recovery, id *freshIdentity) (Secret, error) {
	pop := d.plan.Population
	mfa := pop.Grant == "password" && pop.MFA
	kind, _ := LookupAction(d.plan.Recall.Kind)
	newFactor := mfa && kind.Recovery.ReEnrolMFA // revoke-mfa: the factor is gone
	ctx, cancel := context.WithTimeout(ctx, cfg.ReissueFor)
	defer cancel()
	wait := reissueBackoff
	var lastErr error
	for {
		sent := time.Since(d.began)
		t, err := d.prov.Source.Reissue(ctx, id.victim, newFactor)
		if err == nil {
			id.issued, id.received, id.reissued = sent, time.Since(d.began), true
			return t.Access, nil
		}
		lastErr = err
		newFactor = newFactor || mfa
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Secret{}, errors.Join(lastErr, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, reissueBackoffMax)
	}
}

// probeFresh probes a fresh credential at one component every cfg.Interval, from now until it
// has been answered want (Accept for recovery; Reject for a rotated access token that must die)
// there for cfg.Hold with no other answer, then every cfg.Recheck (back to cfg.Interval on any
// other answer) until ctx ends. Probes are sequential: each one's outcome is known before the
// next is sent.
func (d *drill) probeFresh(ctx context.Context, client *http.Client, pr *Probe, timeout time.Duration, cfg Recovery, want Outcome, tok Secret, cnt *atomic.Int64) []freshProbe {
	var out []freshProbe
	streak := time.Duration(-1)  // send time of the first probe of the current run of wants
	waiting := time.Duration(-1) // send time of the first probe since the last want
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	slow := false
	every := cfg.Interval
	for ctx.Err() == nil {
		p := d.probeOnce(ctx, client, pr, timeout, tok)
		if ctx.Err() != nil && p.Outcome == Error {
			break // cut by the end of the drill: says nothing
		}
		cnt.Add(1)
		out = append(out, p)
		switch p.Outcome {
		case Error:
		case want:
			if streak < 0 {
				streak = p.Sent
			}
			waiting = -1
		default:
			streak = -1
			if waiting < 0 {
				waiting = p.Sent
			}
		}
		if held := streak >= 0 && p.Sent-streak >= cfg.Hold; held != slow {
			slow = held
			if slow {
				tick.Reset(cfg.Recheck)
			} else {
				every = cfg.Interval
				tick.Reset(every)
			}
		}
		if !slow && cfg.Backoff > 0 {
			next := cfg.Interval
			if waiting >= 0 && cfg.Hold > 0 {
				for n := (p.Sent - waiting) / cfg.Hold; n > 0 && next < cfg.Backoff; n-- {
					next *= 2
				}
			}
			if next = min(next, max(cfg.Backoff, cfg.Interval)); next != every {
				every = next
				tick.Reset(every)
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return out
}

// probeOnce sends one probe of tok to pr and classifies the answer.
func (d *drill) probeOnce(ctx context.Context, client *http.Client, pr *Probe, timeout time.Duration, tok Secret) freshProbe {
	var tgt vegeta.Target
	pr.Fill(&tgt, tok.Reveal(), 0)
	req, err := tgt.Request()
	sent := time.Since(d.began)
	if err != nil {
		return freshProbe{Sent: sent, Outcome: Error}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := time.Now()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return freshProbe{Sent: sent, Latency: time.Since(began), Outcome: Error}
	}
	var body []byte
	if pr.NeedsBody() {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, recoveryBodyLimit))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, recoveryBodyLimit))
	resp.Body.Close()
	return freshProbe{Sent: sent, Latency: time.Since(began), Outcome: pr.Classify(resp.StatusCode, body)}
}

// finishRecovery writes the recovery figures into the report, per component and overall, and a
// finding when sampled identities never recovered.
func (d *drill) finishRecovery() {
	r := d.recovery
	if r == nil {
		return
	}
	rep := d.rep
	info := &report.Recovery{Identity: r.kind, Sampled: len(r.ids), FromMS: millis(r.from), Probes: int(r.probeCnt.Load())}
	var reissue []float64
	for _, id := range r.ids {
		if id.reissued {
			info.Reissued++
			reissue = append(reissue, millis(max(0, id.received-r.from)))
		}
	}
	if len(reissue) > 0 {
		sort.Float64s(reissue)
		info.ReissueMS = report.Stats{Count: len(reissue), P50: nearestRank(reissue, 0.5), P90: nearestRank(reissue, 0.9),
			P99: nearestRank(reissue, 0.99), Max: reissue[len(reissue)-1]}
	}
	rep.Recovery = info
	for c, name := range r.comps {
		for i := range rep.Components {
			if rep.Components[i].Name == name {
				st, nr := r.stats(c)
				rep.Components[i].RecoveryMS, rep.Components[i].NotRecovered = &st, nr
			}
		}
	}
	st, nr := r.stats(-1)
	rep.Overall.RecoveryMS, rep.Overall.NotRecovered = &st, nr
	if d.log != nil {
		d.log.Info("recovery measured", "identity", r.kind, "sampled", len(r.ids), "reissued", info.Reissued,
			"recovered", st.Count, "p50_ms", st.P50, "max_ms", st.Max, "resolution_ms", st.ResolutionMS, "not_recovered", nr)
	}
	if nr > 0 {
		var where []string
		for _, c := range rep.Components {
			if c.NotRecovered > 0 {
				where = append(where, fmt.Sprintf("%s %d", c.Name, c.NotRecovered))
			}
		}
		msg := fmt.Sprintf("%d of %d affected %ss given a fresh credential after the recall were not accepted everywhere by the end of the drill", nr, len(r.ids), r.kind)
		if failed := len(r.ids) - info.Reissued; failed > 0 {
			msg += fmt.Sprintf(" (%d never got one from the issuer)", failed)
		}
		if len(where) > 0 {
			msg += "; not recovered at " + strings.Join(where, ", ")
		}
		rep.Findings = append(rep.Findings, report.Finding{Kind: "recovery_failed", Severity: report.Warning, Count: nr, Message: msg + "."})
	}
}
