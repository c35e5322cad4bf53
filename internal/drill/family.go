package drill

// The rotated access tokens of refresh-replay (docs/measurement.md, "Rotated access tokens").
// A refresh-token rotation returns a new access token with the new refresh token. After the
// theft, the family kill must take that access token too: it is the one the legitimate client
// now uses, and the one an attacker who stole the refresh token was given nothing of. The
// drill's credentials were minted before the recall, so the rotated access tokens are not
// among them; a sample of them is measured apart, as recovery measures fresh credentials:
//
//	rotation ──► baseline: probed at every component until each accepted it ──► replay (the ack)
//	         ──► probed at every component every familyInterval until refused for good
//
// The refusal "for good" at a component is the first reject after which no probe accepts; the
// component began refusing somewhere in [s_(k−1), s_k + lat_k], as for a TTC bracket, and the
// time counts from the family's acknowledgement (the replay's answer). A token the baseline
// never saw accepted somewhere says nothing of the kill and is not followed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/runtime"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
	"github.com/recall-drills/recall/targets/revocation"
	"github.com/recall-drills/recall/targets/truth"
)

// The rotated access token measurement.
const (
	// familySample is how many rotated access tokens are followed at most.
	familySample = 10
	// familyInterval is the time between two probes of one rotated token at one component,
	// until it has been refused there for familyHold; then it is re-checked every
	// familyRecheck (a component that honours it again is caught).
	familyInterval = 50 * time.Millisecond
	familyHold     = time.Second
	familyRecheck  = time.Second
	// familyBackoff: a token still honoured is probed half as often for every familyHold it
	// stays so, down to every familyBackoff, so that a family kill that misses it costs little
	// load (its bracket widens as it lives on).
	familyBackoff = 400 * time.Millisecond
	// familyBaselineFor bounds the baseline of one rotated token; familyBaselineEvery is the
	// time between two of its probes at a component that has not accepted it yet.
	familyBaselineFor   = 5 * time.Second
	familyBaselineEvery = 20 * time.Millisecond
)

// familyCred is one followed rotated access token.
type familyCred struct {
	victim int
	tok    Secret
	claims revocation.Claims
	// acked is the family's acknowledgement on the drill clock; followed is false until then.
	acked    time.Duration
	followed bool
	// base holds, per probed component, when the baseline probe it accepted was sent: the
	// bracket's lower end when no probe after the acknowledgement accepted (the component may
	// refuse it before the acknowledgement arrives: the provider kills the family before it
	// answers).
	base []time.Duration
	// probes holds, per probed component, the probes sent from the acknowledgement on.
	probes [][]freshProbe
}

// familyResult is the rotated access token measurement of a drill.
type familyResult struct {
	d     *drill
	comps []string
	// client dials a few connections at a time (see recoveryClient).
	client *http.Client

	mu          sync.Mutex
	byVictim    map[int]*familyCred
	creds       []*familyCred // in baseline order
	taken       int           // slots taken by followed tokens and baselines in flight
	unbaselined int
	probeCnt    atomic.Int64
}

// rotatedKey is the context key of the hook an action reports a rotated access token with.
type rotatedKey struct{}

// withRotated gives actions run under ctx the drill's hook for rotated access tokens.
func withRotated(ctx context.Context, f *familyResult) context.Context {
	return context.WithValue(ctx, rotatedKey{}, f)
}

// rotatedAccess reports the access token a refresh-token rotation returned for victim i,
// before the action recalls the family: when the drill measures rotated tokens (refresh-replay
// run by a drill) and its sample is not full, it probes the token at every probed component
// until each accepted it (at most familyBaselineFor), and follows it from victim i's
// acknowledgement on. It returns once the baseline is done; without a drill it does nothing.
func rotatedAccess(ctx context.Context, i int, access string) {
	f, _ := ctx.Value(rotatedKey{}).(*familyResult)
	if f == nil || access == "" {
		return
	}
	f.baseline(ctx, i, source.NewSecret(access))
}

// newFamily prepares the measurement for the drill's probed components.
func (d *drill) newFamily() *familyResult {
	names := make([]string, len(d.comps))
	for i, c := range d.comps {
		names[i] = c.Name
	}
	// No proxy: the drill's traffic goes to the system under test directly.
	client := recoveryClient(familySample, (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	return &familyResult{d: d, comps: names, client: client, byVictim: map[int]*familyCred{}}
}

// baseline probes tok at every component until each accepted it; a token accepted everywhere
// is kept to be followed once victim i is acknowledged.
func (f *familyResult) baseline(ctx context.Context, i int, tok Secret) {
	f.mu.Lock()
	if f.taken >= familySample || f.byVictim[i] != nil {
		f.mu.Unlock()
		return
	}
	f.taken++
	f.mu.Unlock()
	d := f.d
	ctx, cancel := context.WithTimeout(ctx, familyBaselineFor)
	defer cancel()
	base := make([]time.Duration, len(d.probes))
	for c, pr := range d.probes {
		for {
			p := d.probeOnce(ctx, f.client, pr, d.probeTimeout(c), tok)
			f.probeCnt.Add(1)
			if p.Outcome == Accept {
				base[c] = p.Sent
				break
			}
			t := time.NewTimer(familyBaselineEvery)
			select {
			case <-ctx.Done():
				t.Stop()
				f.mu.Lock()
				f.taken--
				f.unbaselined++
				f.mu.Unlock()
				d.log.Warn("rotated access token never accepted before the replay: not followed", "component", f.comps[c], "token", tok)
				return
			case <-t.C:
			}
		}
	}
	claims, _ := source.ParseClaims(tok.Reveal()) // opaque: truth by token
	cred := &familyCred{victim: i, tok: tok, claims: claims, base: base, probes: make([][]freshProbe, len(d.probes))}
	f.mu.Lock()
	f.byVictim[i] = cred
	f.creds = append(f.creds, cred)
	f.mu.Unlock()
}

// follow starts probing victim i's rotated access token, if it is sampled, from its family's
// acknowledgement a until it is refused for good everywhere or ctx (traffic) ends. d.recWG
// tracks it.
func (f *familyResult) follow(ctx context.Context, i int, a Ack) {
	f.mu.Lock()
	cred := f.byVictim[i]
	if cred == nil || cred.followed {
		f.mu.Unlock()
		return
	}
	cred.followed, cred.acked = true, a.Acked.Sub(f.d.began)
	f.mu.Unlock()
	cfg := Recovery{Interval: familyInterval, Hold: familyHold, Recheck: familyRecheck, Backoff: familyBackoff}
	d := f.d
	for c, pr := range d.probes {
		d.recWG.Add(1)
		go func() {
			defer d.recWG.Done()
			cred.probes[c] = d.probeFresh(ctx, f.client, pr, d.probeTimeout(c), cfg, Reject, cred.tok, &f.probeCnt)
		}()
	}
}

// followed is the followed tokens (the recWG has been waited for).
func (f *familyResult) followed() []*familyCred {
	var out []*familyCred
	for _, c := range f.creds {
		if c.followed {
			out = append(out, c)
		}
	}
	return out
}

// stats returns the statistics at component c (-1: overall, the latest component per token),
// relative to each token's acknowledgement, the tokens still honoured, and the brackets (drill
// clock) of those refused for good, by token, for ground truth.
func (f *familyResult) stats(c int) (st report.Stats, alive []*familyCred) {
	var u, l, res []float64
	for _, cred := range f.followed() {
		var lo, up time.Duration
		dead := true
		for k := range f.comps {
			if c >= 0 && k != c {
				continue
			}
			lw, upk, ok := forGood(Reject, cred.base[k], cred.probes[k])
			if !ok {
				dead = false
				break
			}
			lo, up = max(lo, lw), max(up, upk)
		}
		if !dead {
			alive = append(alive, cred)
			continue
		}
		u = append(u, millis(up-cred.acked))
		l = append(l, millis(max(0, lo-cred.acked)))
		res = append(res, millis(up-lo))
	}
	if len(u) == 0 {
		return report.Stats{}, alive
	}
	sort.Float64s(u)
	sort.Float64s(l)
	sort.Float64s(res)
	return report.Stats{
		Count: len(u), P50: nearestRank(u, 0.50), P90: nearestRank(u, 0.90), P99: nearestRank(u, 0.99),
		Max: u[len(u)-1], ResolutionMS: nearestRank(res, 0.50), ResolutionMaxMS: res[len(res)-1],
		LowerP50: nearestRank(l, 0.50),
	}, alive
}

// groundTruth compares the bracket of each token refused for good at component c with the
// instant the component recorded that it began refusing it (nil without a ground truth).
func (f *familyResult) groundTruth(src truth.Source, c int) *report.GroundTruth {
	d := f.d
	out := &report.GroundTruth{}
	var true_ []PairResult
	for _, cred := range f.followed() {
		lo, up, ok := forGood(Reject, cred.base[c], cred.probes[c])
		if !ok {
			continue
		}
		var at time.Time
		if tt, byToken := src.(TokenTruth); byToken {
			at, ok = tt.EnforcedSinceToken(cred.tok.Reveal())
		} else {
			at, ok = src.EnforcedSince(cred.claims)
		}
		if !ok {
			continue
		}
		off, unc := d.sinceBegan(at)
		out.ClockUncertaintyMS = max(out.ClockUncertaintyMS, millis(unc))
		out.Checked++
		if off >= lo-unc && off <= up+unc {
			out.Within++
		} else {
			d.log.Warn("ground truth outside a rotated access token's bracket", "component", f.comps[c], "token", cred.tok,
				"truth_ms", millis(off), "lower_ms", millis(lo), "upper_ms", millis(up))
		}
		// Counted from the family's acknowledgement, as the figures are.
		true_ = append(true_, PairResult{State: PairConverged, Recalled: cred.acked, Lower: off, Upper: off})
	}
	out.TTCMS = ttcStats(true_)
	return out
}

// finishFamily writes the figures into the report: per component and overall, ground truth
// where the runtime records it, and a critical finding per component that still honoured a
// rotated access token at the end of the drill.
func (d *drill) finishFamily() {
	f := d.family
	if f == nil {
		return
	}
	f.client.CloseIdleConnections()
	if len(f.creds) == 0 && f.unbaselined == 0 {
		return // the action rotated nothing
	}
	rep := d.rep
	rep.RotatedAccess = &report.RotatedAccess{Sampled: len(f.followed()), Unbaselined: f.unbaselined,
		Probes: int(f.probeCnt.Load()), IntervalMS: millis(familyInterval)}
	var truths runtime.GroundTruth
	if gt, ok := d.plan.Env.(runtime.GroundTruth); ok {
		truths = gt
	}
	for c, name := range f.comps {
		for i := range rep.Components {
			if rep.Components[i].Name != name {
				continue
			}
			st, alive := f.stats(c)
			rc := &rep.Components[i]
			rc.RotatedAccessMS, rc.RotatedAlive = &st, len(alive)
			if truths != nil {
				if src, ok := truths.Truth(name); ok {
					rc.RotatedAccessTruth = f.groundTruth(src, c)
				}
			}
			if len(alive) > 0 {
				ids := make([]string, 0, min(len(alive), maxFindingTokens))
				for _, a := range alive[:min(len(alive), maxFindingTokens)] {
					ids = append(ids, a.tok.Fingerprint())
				}
				rep.Findings = append(rep.Findings, report.Finding{Kind: "rotated_access_alive", Severity: report.Critical, Component: name,
					Count: len(alive), Tokens: ids,
					Message: fmt.Sprintf("%s still honoured %d of %d rotated access tokens at the end of the drill: the family kill after the refresh-token replay recalled the stolen refresh token's family but not the access token its last rotation issued (RFC 9700 section 4.14.2 asks for the whole grant).", name, len(alive), rep.RotatedAccess.Sampled)})
			}
		}
	}
	st, alive := f.stats(-1)
	rep.Overall.RotatedAccessMS, rep.Overall.RotatedAlive = &st, len(alive)
	var where []string
	for _, c := range rep.Components {
		if c.RotatedAccessMS != nil {
			where = append(where, fmt.Sprintf("%s max %.0fms", c.Name, c.RotatedAccessMS.Max))
		}
	}
	if d.log == nil {
		return
	}
	d.log.Info("rotated access tokens measured", "sampled", rep.RotatedAccess.Sampled, "unbaselined", f.unbaselined,
		"refused", st.Count, "alive", len(alive), "per_component", strings.Join(where, ", "))
}
