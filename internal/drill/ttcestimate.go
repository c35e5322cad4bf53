package drill

// The estimated TTC distribution (docs/measurement.md, "Estimating the distribution"): the
// tracker hands each measured pair's bracket, as an interval-censored observation, to package
// estimate, and puts the result beside the proven upper bounds.

import (
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recall-drills/recall/internal/estimate"
	"github.com/recall-drills/recall/report"
)

// EstimateConfig configures the estimate of the TTC distribution that [Tracker.Finalize] adds
// per component and overall.
type EstimateConfig struct {
	// Off turns the estimate off (Finalize then leaves every TTCEstimate nil).
	Off bool
	// Replicates is the number of bootstrap resamples behind the bands and intervals: 0 means
	// estimate.DefaultReplicates, negative none (the intervals are then only the ranges the
	// estimate leaves open).
	Replicates int
	// Seed seeds the bootstrap: component i draws from Seed+i+1, the overall estimate from
	// Seed, so the same seed gives the same report whatever the order of the work.
	Seed int64
}

// Censored returns the pair's time to consistency as an interval-censored observation,
// relative to R(t): TTC in (A−R, s_k+lat_k−R] for a converged pair, TTC > A−R for one that
// did not converge (Upper is estimate.Inf). ok is false for pairs that measure nothing (never
// accepted, not recalled). Unlike PairResult.TTC, the upper end is not clamped at 0.
func (p PairResult) Censored() (iv estimate.Interval, ok bool) {
	switch p.State {
	case PairConverged:
		return estimate.Interval{Lower: p.Lower - p.Recalled, Upper: p.Upper - p.Recalled}, true
	case PairNotConverged:
		return estimate.Interval{Lower: p.Lower - p.Recalled, Upper: estimate.Inf}, true
	}
	return estimate.Interval{}, false
}

// estimates runs the estimates of one Finalize: each component's as soon as its pairs are
// final (overlapping the rest of Finalize), and the overall one from the components' grouped
// brackets merged, so the pooled pairs are not grouped again.
type estimates struct {
	t       *Tracker
	wg      sync.WaitGroup
	grouped sync.WaitGroup // every component's groups are set (nil: nothing measured)
	groups  []*estimate.Groups
	bad     atomic.Bool // a component's brackets could not be grouped: no overall estimate
	dists   []*estimate.Distribution
	overall *estimate.Distribution
}

// startEstimates returns the estimates of n components, or nil when the estimate is off.
// Call component for each, then finish.
func (t *Tracker) startEstimates(n int) *estimates {
	if t.estimate.Off {
		return nil
	}
	e := &estimates{t: t, groups: make([]*estimate.Groups, n), dists: make([]*estimate.Distribution, n)}
	e.grouped.Add(n)
	if n > 1 {
		e.wg.Go(func() {
			e.grouped.Wait()
			if g := estimate.MergeGroups(e.groups...); g != nil && !e.bad.Load() {
				e.overall = e.fit(g, t.estimate.Seed)
			}
		})
	}
	return e
}

// component starts the estimate of component c from its final pairs (read, never written).
func (e *estimates) component(c int, pairs []PairResult) {
	if e == nil {
		return
	}
	e.wg.Go(func() {
		obs := make([]estimate.Interval, 0, len(pairs))
		for _, p := range pairs {
			if iv, ok := p.Censored(); ok {
				obs = append(obs, iv)
			}
		}
		var g *estimate.Groups
		if len(obs) > 0 {
			var err error
			// Brackets are never empty (k is sent after A); keep the report honest anyway.
			if g, err = estimate.Group(obs); err != nil {
				e.bad.Store(true)
			}
		}
		e.groups[c] = g
		e.grouped.Done()
		if g != nil {
			e.dists[c] = e.fit(g, e.t.estimate.Seed+int64(c)+1)
		}
	})
}

func (e *estimates) fit(g *estimate.Groups, seed int64) *estimate.Distribution {
	d, err := g.NPMLE(estimate.Config{Replicates: e.t.estimate.Replicates, Rand: rand.New(rand.NewSource(seed))})
	if err != nil {
		return nil
	}
	return d
}

// finish waits for the estimates and stores them in m.
func (e *estimates) finish(m *Measurement) {
	if e == nil {
		return
	}
	e.wg.Wait()
	for c, d := range e.dists {
		if d != nil {
			m.Components[c].Estimate, m.Components[c].Summary.TTCEstimate = d, reportEstimate(d)
		}
	}
	switch {
	case len(m.Components) == 1:
		m.Estimate = m.Components[0].Estimate
		m.Overall.TTCEstimate = m.Components[0].Summary.TTCEstimate
	case e.overall != nil:
		m.Estimate, m.Overall.TTCEstimate = e.overall, reportEstimate(e.overall)
	}
}

// reportEstimate renders d for report.json, in milliseconds.
func reportEstimate(d *estimate.Distribution) *report.Estimate {
	e := &report.Estimate{
		Method: report.MethodTurnbull, N: d.N, RightCensored: d.RightCensored,
		Confidence: d.Confidence, Band: report.BandBootstrap, Replicates: d.Replicates,
		GridMS:            millis(d.Grid),
		NotConvergedShare: d.Beyond, NotConvergedShareLow: d.BeyondLow, NotConvergedShareHigh: d.BeyondHigh,
		CDF: make([]report.BandPoint, len(d.Band)),
	}
	if d.Replicates == 0 {
		e.Band = report.BandIdentified
	}
	for i, q := range d.Quantiles {
		rq := report.EstimateQuantile{MS: optMS(q.Value, q.Reached), LowMS: optMS(q.Low, q.LowOK), HighMS: optMS(q.High, q.HighOK)}
		switch i {
		case 0:
			e.P50 = rq
		case 1:
			e.P90 = rq
		case 2:
			e.P99 = rq
		}
	}
	for i, bp := range d.Band {
		e.CDF[i] = report.BandPoint{XMS: millis(bp.X), Y: bp.F, YLow: bp.Low, YHigh: bp.High}
	}
	return e
}

func optMS(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := millis(d)
	return &v
}
