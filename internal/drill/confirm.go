package drill

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/recall-drills/recall/internal/redact"
	"github.com/recall-drills/recall/internal/source"
	"github.com/recall-drills/recall/report"
)

// Confirmation of a recall at the source (docs/measurement.md): after its acknowledgement, each
// recalled credential is asked about at the provider's Confirmer (RFC 7662 introspection),
// retrying briefly, and comes out confirmed, ineffective (acknowledged, yet still active) or
// unconfirmable (no answer, with the reason). No outcome is dropped.
const (
	// DefaultConfirmWindow is how long a credential may stay active at the source after its
	// acknowledgement before it counts as ineffective, unless the plan says otherwise
	// (recall.confirm_window): providers apply revocations asynchronously, within a moment.
	DefaultConfirmWindow = 2 * time.Second
	// confirmEvery is the wait between two questions about one credential.
	confirmEvery = 200 * time.Millisecond
	// confirmTimeout bounds one question.
	confirmTimeout = 5 * time.Second
	// confirmErrors is how many failed questions make a credential unconfirmable.
	confirmErrors = 3
)

// Pacing of confirmation. Asking about every recalled credential at once, right after a mass
// acknowledgement, took the CPU and connections probing needs on a 2-core machine: in the
// quickstart (1,000 credentials, 32 questions in flight) the probe rate fell from 3,000/s to
// 900–2,000/s per 100 ms for the 0.8–2 s confirmation took, and the brackets of a gateway that
// converges at once widened to 2–3 times the planned resolution. So confirmation waits until the
// first revisits after the acknowledgement are done, then asks at a bounded rate with few
// questions in flight.
const (
	// confirmDelay is how long after the last acknowledgement the first question waits: the
	// brackets of a component that converges at once are decided within it.
	confirmDelay = 500 * time.Millisecond
	// confirmShare is the confirmation's rate as a share of the probe rate (the rate achieved
	// before the recall, when lower than the one asked).
	confirmShare = 0.10
	// confirmMinRate is the confirmation's rate at least, per second.
	confirmMinRate = 20.0
	// confirmConcurrency bounds the questions in flight: the rate paces them; this only keeps a
	// slow source (or a loaded machine, where 4 in flight left a fifth of the quickstart's
	// credentials unasked when traffic ended) from piling them up.
	confirmConcurrency = 16
)

// confirmPace returns the rate (questions per second) at which n credentials are asked about:
// confirmShare of the probe rate, at least confirmMinRate, and fast enough that every
// credential is asked within the first half of left (the time until traffic ends) when that
// takes more.
func confirmPace(n int, probeRate float64, left time.Duration) float64 {
	r := max(confirmMinRate, confirmShare*probeRate)
	if half := left.Seconds() / 2; half > 0 {
		r = max(r, float64(n)/half)
	}
	return r
}

// Confirmation outcomes.
const (
	Confirmed     = "confirmed"
	Ineffective   = "ineffective"
	Unconfirmable = "unconfirmable"
)

// confirmation is one credential's outcome.
type confirmation struct {
	outcome string
	reason  string
}

// confirmOne asks c about t until it is inactive, window has passed since acked, or
// confirmErrors questions have failed.
func confirmOne(ctx context.Context, c source.Confirmer, t *Token, acked time.Time, window time.Duration) confirmation {
	var lastErr error
	fails := 0
	for {
		qctx, cancel := context.WithTimeout(ctx, confirmTimeout)
		active, err := c.Active(qctx, t)
		cancel()
		switch {
		case err != nil:
			fails++
			lastErr = err
			if fails >= confirmErrors || ctx.Err() != nil {
				return confirmation{Unconfirmable, redact.String(lastErr.Error(), t.Access.Reveal())}
			}
		case !active:
			return confirmation{outcome: Confirmed}
		case time.Since(acked) >= window:
			return confirmation{outcome: Ineffective}
		}
		select {
		case <-ctx.Done():
			reason := "the drill ended before the source answered"
			if lastErr != nil {
				reason = redact.String(lastErr.Error(), t.Access.Reveal())
			}
			return confirmation{Unconfirmable, reason}
		case <-time.After(confirmEvery):
		}
	}
}

// confirm asks the provider whether each acknowledged recall took effect at the source: an
// RFC 7009 200 proves nothing on its own. Every acknowledged credential gets an outcome. The
// questions are paced (see confirmDelay): at most perS a second (0: unpaced), after waiting
// delay.
func (d *drill) confirm(ctx context.Context, victims []*Token, delay time.Duration, perS float64) {
	out := make([]confirmation, len(victims))
	var mu sync.Mutex
	acks := make([]Ack, len(victims))
	mu.Lock()
	copy(acks, d.acks)
	mu.Unlock()
	var conf source.Confirmer
	if d.prov != nil {
		conf = d.prov.Confirmer
	}
	window := DefaultConfirmWindow
	if d.plan != nil && d.plan.Recall.ConfirmWindow > 0 {
		window = d.plan.Recall.ConfirmWindow
	}
	conc, lim := DefaultRecallConcurrency, (*rate.Limiter)(nil)
	if perS > 0 {
		conc, lim = confirmConcurrency, rate.NewLimiter(rate.Limit(perS), 1)
	}
	if delay > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	_ = forEach(ctx, len(victims), conc, func(ctx context.Context, i int) error {
		if acks[i].Err != nil || acks[i].Acked.IsZero() {
			return nil // not acknowledged: counted as failed, nothing to confirm
		}
		if lim != nil && conf != nil && lim.Wait(ctx) != nil {
			return nil // the drill ended first: unconfirmable, said below
		}
		if conf == nil {
			out[i] = confirmation{Unconfirmable, "the provider has no introspection endpoint (set oauth.introspection.endpoint)"}
			return nil
		}
		out[i] = confirmOne(ctx, conf, victims[i], acks[i].Acked, window)
		return nil
	})
	for i := range victims {
		if out[i].outcome == "" && acks[i].Err == nil && !acks[i].Acked.IsZero() {
			out[i] = confirmation{Unconfirmable, "the drill ended before the question was asked"}
		}
	}
	before := len(d.rep.Findings)
	recordConfirmations(d.rep, victims, out)
	rc := d.rep.Recall
	d.record(Event{Kind: EventConfirm, AtNS: d.offset(), Recall: &rc, Findings: slices.Clone(d.rep.Findings[before:])})
}

// maxListed bounds the credentials a finding names; the report's recall section lists up to
// report.MaxListedTokens.
const maxListed = 20

// recordConfirmations writes the outcomes into the report's recall section and findings.
func recordConfirmations(rep *report.Report, victims []*Token, out []confirmation) {
	rc := &rep.Recall
	counts := map[string]int{}
	var listed []string
	for i, c := range out {
		switch c.outcome {
		case Confirmed:
			rc.Confirmed++
		case Ineffective:
			rc.Ineffective++
			if len(rc.IneffectiveTokens) < report.MaxListedTokens {
				rc.IneffectiveTokens = append(rc.IneffectiveTokens, victims[i].ID())
			}
		case Unconfirmable:
			rc.Unconfirmable++
			if len(rc.UnconfirmableTokens) < report.MaxListedTokens {
				rc.UnconfirmableTokens = append(rc.UnconfirmableTokens, report.Unconfirmed{Token: victims[i].ID(), Reason: c.reason})
			}
			if len(listed) < maxListed {
				listed = append(listed, victims[i].ID())
			}
			counts[c.reason]++
		}
	}
	if rc.Unconfirmable == 0 {
		return
	}
	for r, n := range counts {
		rc.UnconfirmableReasons = append(rc.UnconfirmableReasons, report.ReasonCount{Reason: r, Count: n})
	}
	sort.Slice(rc.UnconfirmableReasons, func(a, b int) bool {
		x, y := rc.UnconfirmableReasons[a], rc.UnconfirmableReasons[b]
		return x.Count > y.Count || x.Count == y.Count && x.Reason < y.Reason
	})
	if n := len(rc.UnconfirmableReasons); n > report.MaxReasons {
		other := report.ReasonCount{Reason: fmt.Sprintf("%d other reasons", n-report.MaxReasons+1)}
		for _, r := range rc.UnconfirmableReasons[report.MaxReasons-1:] {
			other.Count += r.Count
		}
		rc.UnconfirmableReasons = append(rc.UnconfirmableReasons[:report.MaxReasons-1], other)
	}
	var parts []string
	for _, r := range rc.UnconfirmableReasons[:min(3, len(rc.UnconfirmableReasons))] {
		parts = append(parts, fmt.Sprintf("%d: %s", r.Count, r.Reason))
	}
	if len(counts) > 3 {
		parts = append(parts, fmt.Sprintf("and %d other reasons", len(counts)-3))
	}
	rep.Findings = append(rep.Findings, report.Finding{Kind: "unconfirmable_recall", Severity: report.Warning, Count: rc.Unconfirmable,
		Tokens:  listed,
		Message: fmt.Sprintf("%d acknowledged recalls could not be confirmed at the source (%s).", rc.Unconfirmable, strings.Join(parts, "; "))})
}

// describeProvider is the report's view of the provider: its source and endpoints.
func describeProvider(p *source.Provider) *report.Provider {
	if p == nil {
		return nil
	}
	e := p.Endpoints
	kind := ""
	if p.Source != nil {
		kind = p.Source.Describe().Kind
	}
	return &report.Provider{Source: kind, Issuer: e.Issuer, Discovery: e.Discovery, Token: e.Token, Revocation: e.Revocation,
		Introspection: e.Introspection, JWKS: e.JWKS, Endpoints: e.Source}
}
