package estimate

import (
	"math"
	"math/rand"
	"time"
)

// component is a simulated component with a known TTC distribution: draw returns one pair's
// true TTC (math.Inf(1): never converges) and cdf the true CDF (which tops out below 1 when a
// share never converges).
type component struct {
	name string
	draw func(r *rand.Rand) float64 // seconds
	cdf  func(x float64) float64    // x in seconds
}

var (
	step5ms = component{name: "step at 5ms",
		draw: func(*rand.Rand) float64 { return 0.005 },
		cdf: func(x float64) float64 {
			if x >= 0.005 {
				return 1
			}
			return 0
		}}
	uniform5s = component{name: "uniform over a 5s cache TTL",
		draw: func(r *rand.Rand) float64 { return 5 * r.Float64() },
		cdf:  func(x float64) float64 { return min(max(x/5, 0), 1) }}
	// bimodal: 60 % pushed within about 20ms, 40 % by a 2s poll (uniform phase).
	bimodal = component{name: "bimodal mixture",
		draw: func(r *rand.Rand) float64 {
			if r.Float64() < 0.6 {
				return 0.010 + 0.020*r.Float64()
			}
			return 2 * r.Float64()
		},
		cdf: func(x float64) float64 {
			return 0.6*min(max((x-0.010)/0.020, 0), 1) + 0.4*min(max(x/2, 0), 1)
		}}
	// partial: 20 % never converge; the rest uniform over 1s.
	partial = component{name: "20% never converge",
		draw: func(r *rand.Rand) float64 {
			if r.Float64() < 0.2 {
				return math.Inf(1)
			}
			return r.Float64()
		},
		cdf: func(x float64) float64 { return 0.8 * min(max(x, 0), 1) }}
)

// probing is how the drill's scheduler probes a recalled pair (internal/drill: schedule.go,
// tracker.go): one probe right after the acknowledgement, at a spread offset (the urgent queue
// drains behind other work), then one every revisit interval (pairs ÷ rate) until it rejects,
// or until the window ends. Every probe takes a latency and is judged at an instant within
// it; a reject's bracket end includes the latency.
type probing struct {
	revisit time.Duration // revisit interval of an unconverged pair
	window  time.Duration // observation window after the acknowledgement
	latency time.Duration // mean probe latency
}

// observe simulates n pairs of c and returns their brackets, as the tracker forms them:
// (last accept's send, converging reject's send + latency], or (last accept, Inf).
func (pr probing) observe(r *rand.Rand, c component, n int) []Interval {
	out := make([]Interval, n)
	for i := range out {
		ttc := c.draw(r)
		tt := time.Duration(math.MaxInt64)
		if !math.IsInf(ttc, 1) {
			tt = time.Duration(ttc * float64(time.Second))
		}
		// The last baseline probe was accepted one revisit before the first probe after the
		// acknowledgement, which falls at a spread offset.
		first := time.Duration(r.Float64() * float64(pr.revisit))
		lastAccept := first - pr.revisit
		iv := Interval{Lower: lastAccept, Upper: Inf}
		for s := first; s < pr.window; s += pr.revisit + time.Duration((r.Float64()-0.5)*0.1*float64(pr.revisit)) {
			lat := time.Duration(r.ExpFloat64() * float64(pr.latency))
			judged := s + time.Duration(r.Float64()*float64(lat))
			if judged < tt { // accepted: TTC > judged ≥ s
				iv.Lower = s
				continue
			}
			iv.Upper = s + lat
			break
		}
		out[i] = iv
	}
	return out
}

// ks is the Kolmogorov–Smirnov distance between d and the truth at the points where the NPMLE
// is identified (the ends of its innermost intervals), and on a grid of 1000 points over
// [0, hi] for continuous truths.
func ks(d *Distribution, truth func(float64) float64, hi float64, continuous bool) float64 {
	worst := 0.0
	at := func(x time.Duration) {
		worst = max(worst, math.Abs(d.CDF(x)-truth(x.Seconds())))
	}
	for _, m := range d.Masses {
		at(m.Lower)
		if m.Upper != Inf {
			at(m.Upper)
		}
	}
	if continuous {
		for i := 0; i <= 1000; i++ {
			at(time.Duration(hi * float64(i) / 1000 * float64(time.Second)))
		}
	}
	return worst
}

// trueQuantile inverts a continuous, increasing truth by bisection over [0, hi] seconds.
func trueQuantile(truth func(float64) float64, q, hi float64) float64 {
	lo := 0.0
	for range 100 {
		mid := (lo + hi) / 2
		if truth(mid) >= q {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
