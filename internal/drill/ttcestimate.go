package drill

// The estimated TTC distribution (docs/measurement.md, "Estimating the distribution"): the
// tracker hands each measured pair's bracket, as an interval-censored observation, to package
// estimate, and puts the result beside the proven upper bounds.

import (
	"math/rand"
	"sync"
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

// estimateTTC estimates the TTC distribution of every component, and overall from all pairs
// pooled, concurrently, and stores the results in m.
func (t *Tracker) estimateTTC(m *Measurement) {
	if t.estimate.Off {
		return
	}
	var wg sync.WaitGroup
	run := func(comps []ComponentMeasurement, seed int64, dist **estimate.Distribution, sum *report.Summary) {
		defer wg.Done()
		var obs []estimate.Interval
		for i := range comps {
			for _, p := range comps[i].Pairs {
				if iv, ok := p.Censored(); ok {
					obs = append(obs, iv)
				}
			}
		}
		if len(obs) == 0 {
			return
		}
		d, err := estimate.NPMLE(obs, estimate.Config{Replicates: t.estimate.Replicates, Rand: rand.New(rand.NewSource(seed))})
		if err != nil { // brackets are never empty (k is sent after A); keep the report honest anyway
			return
		}
		*dist = d
		sum.TTCEstimate = reportEstimate(d)
	}
	for i := range m.Components {
		cm := &m.Components[i]
		wg.Add(1)
		go run(m.Components[i:i+1], t.estimate.Seed+int64(i)+1, &cm.Estimate, &cm.Summary)
	}
	if len(m.Components) > 1 {
		wg.Add(1)
		go run(m.Components, t.estimate.Seed, &m.Estimate, &m.Overall)
	}
	wg.Wait()
	if len(m.Components) == 1 {
		m.Estimate = m.Components[0].Estimate
		m.Overall.TTCEstimate = m.Components[0].Summary.TTCEstimate
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
