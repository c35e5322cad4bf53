// Package estimate estimates a component's time-to-consistency (TTC) distribution from
// interval-censored observations: the nonparametric maximum-likelihood estimate (NPMLE) of
// Turnbull (1976), with percentile-bootstrap confidence bands and quantile intervals.
//
// Each (component, recalled credential) pair gives one observation. An accept sent at offset s
// after the credential's acknowledgement means TTC > s; a reject judged at s+lat means
// TTC ≤ s+lat; so the pair's TTC lies in (last accept, converging reject + latency], or beyond
// the last accept when the pair never converged (right-censored). One bracket alone is as wide
// as the probe interval, but the first probes after the acknowledgements fall at spread
// offsets, so together the brackets of a component pin its distribution down far more finely.
//
// The flow:
//
//	brackets ──round outward to the grid──► distinct brackets with counts
//	         ──Turnbull's innermost intervals──► masses p_j by self-consistency (EM, SQUAREM)
//	         ──resample pairs B times (seeded), refit from p̂──► pointwise band, quantile intervals
//
// Assumptions: the pairs of one component are exchangeable, their TTCs independent draws from
// one distribution; and the instants a pair is probed are independent of its TTC (the probes
// do not set it, as they do for a cache filled by the probes themselves). Where a component
// treats credentials differently (a cohort behind another cache, another signing key),
// estimate each cohort apart. No check on the brackets can reveal a violation: the NPMLE is
// self-consistent, so it always lies between the share of brackets ended by x and the share
// started before x. docs/measurement.md in the repository states the model in full, with a
// measured violation.
//
// Unlike the tracker's upper bounds, which are proven for every pair, the estimate is a
// statistical statement under that assumption; reports show it beside the bounds, never in
// their place.
//
// The NPMLE is unique only in the masses of the innermost intervals, not in how each mass is
// spread within its interval: this package draws the CDF with each mass spread uniformly
// (linear inside its interval), and reads a quantile as the midpoint of the interval in which
// the CDF reaches its level (see [Distribution.Quantile]).
package estimate

import (
	"errors"
	"math"
	"math/rand"
	goruntime "runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Inf as an Interval's Upper marks a right-censored observation: the TTC is beyond Lower.
const Inf = time.Duration(math.MaxInt64)

// Interval is one interval-censored observation: the TTC lies in (Lower, Upper]. Offsets are
// relative to the credential's acknowledgement and may be negative (a component may learn of a
// recall before the harness hears the acknowledgement).
type Interval struct {
	Lower, Upper time.Duration
}

// Default settings.
const (
	// DefaultConfidence is the default Config.Confidence.
	DefaultConfidence = 0.95
	// DefaultReplicates is the default Config.Replicates.
	DefaultReplicates = 200
	// DefaultTolerance is the default Config.Tolerance.
	DefaultTolerance = 1e-6
	// DefaultMaxIter is the default Config.MaxIter.
	DefaultMaxIter = 2000
	// DefaultCDFPoints is the default Config.CDFPoints.
	DefaultCDFPoints = 200
)

// Config configures [NPMLE]. Zero values take the defaults.
type Config struct {
	// Confidence is the nominal level of bands and intervals. Default DefaultConfidence.
	Confidence float64
	// Replicates is the number of bootstrap resamples; negative means none (no band).
	// Default DefaultReplicates.
	Replicates int
	// Rand draws the resamples; nil means no band (the fit itself is deterministic).
	Rand *rand.Rand
	// Tolerance stops the fit when no innermost interval could gain likelihood by more than
	// that relative amount (max_j d_j ≤ 1+Tolerance, the Kuhn–Tucker condition of the NPMLE);
	// the log-likelihood is then within n·Tolerance of its maximum. Resamples stop at ten times
	// it. Default DefaultTolerance.
	Tolerance float64
	// MaxIter bounds the EM steps of one fit. Default DefaultMaxIter.
	MaxIter int
	// CDFPoints caps the number of points of Distribution.Band. Default DefaultCDFPoints.
	CDFPoints int
}

// ErrNoData is returned for an empty set of observations.
var ErrNoData = errors.New("estimate: no observations")

// Quantile levels always computed, with intervals.
var levels = [...]float64{0.5, 0.9, 0.99}

// Mass is the estimated probability of one innermost interval (Lower, Upper]; Upper is Inf for
// the mass beyond everything observed.
type Mass struct {
	Lower, Upper time.Duration
	P            float64
}

// BandPoint is the estimated CDF at X with its pointwise confidence band [Low, High] (equal to
// F when there was no bootstrap).
type BandPoint struct {
	X            time.Duration
	F, Low, High float64
}

// Quantile is an estimated quantile with its confidence interval. Reached is false when the
// estimated CDF does not reach the level (the mass beyond everything observed is too large);
// LowOK and HighOK likewise for the interval's ends.
type Quantile struct {
	Level         float64
	Value         time.Duration
	Reached       bool
	Low, High     time.Duration
	LowOK, HighOK bool
}

// Distribution is the result of [NPMLE].
type Distribution struct {
	// N counts the observations, RightCensored those with Upper Inf.
	N, RightCensored int
	// Masses are the innermost intervals with their estimated masses, in increasing order.
	Masses []Mass
	// Iterations is the number of EM steps of the fit; Converged whether it met the
	// tolerance within MaxIter.
	Iterations int
	Converged  bool
	// Confidence is the nominal level; Replicates how many resamples the band is from (0: no
	// band).
	Confidence float64
	Replicates int
	// Band is the estimated CDF with its pointwise band, in increasing X.
	Band []BandPoint
	// Quantiles holds p50, p90 and p99.
	Quantiles [len(levels)]Quantile
	// Beyond is the estimated mass beyond everything observed (never converged within the
	// window), with its interval.
	Beyond, BeyondLow, BeyondHigh float64
	// Grid is the coarsest grid step within the finite range of the masses.
	Grid time.Duration

	cum []float64 // cum[j] = P_0 + … + P_j
	// lowPct and highPct are the band's ends at each innermost interval's upper end (nil:
	// no bootstrap).
	lowPct, highPct []float64
}

// fit is the problem on the grid: groups of identical brackets over innermost intervals.
type fit struct {
	lo, hi []int32   // innermost interval j is (lo[j], hi[j]] in grid indices; hi may be infIdx
	a, b   []int32   // group g covers innermost intervals a[g]..b[g]
	w      []float64 // group g's count
	n      float64

	pre, diff []float64
	scratch   icmScratch
}

const infIdx = math.MaxInt32

// subsample is the m-out-of-n bootstrap's divisor: resamples draw n/subsample pairs, at most
// maxSubsample (all n when n/subsample is below minSubsample).
const (
	subsample    = 4
	minSubsample = 50
	maxSubsample = 20000
)

// NPMLE returns the nonparametric maximum-likelihood estimate of the distribution of TTC from
// obs, with a bootstrap band when cfg.Rand is set. It is deterministic for a given seed.
// Observations with Lower ≥ Upper are an error naming the first one. It is [Group] then
// [Groups.NPMLE].
//
// Cost: O(n) to group the brackets, then O(distinct brackets + innermost intervals) per EM
// step; each resample adds O(min(n/4, 20000)) draws and a warm-started refit.
func NPMLE(obs []Interval, cfg Config) (*Distribution, error) {
	g, err := Group(obs)
	if err != nil {
		return nil, err
	}
	return g.NPMLE(cfg)
}

// NPMLE returns the estimate from the grouped observations, as [NPMLE] does from them.
func (g *Groups) NPMLE(cfg Config) (*Distribution, error) {
	return g.npmle(cfg, func(f *fit) resampler { return newAlias(f.w) })
}

// npmle is Groups.NPMLE with the bootstrap's resampler made by rs from the fit.
func (g *Groups) npmle(cfg Config, rs func(*fit) resampler) (*Distribution, error) {
	if g == nil || g.n == 0 {
		return nil, ErrNoData
	}
	if cfg.Confidence <= 0 || cfg.Confidence >= 1 {
		cfg.Confidence = DefaultConfidence
	}
	if cfg.Replicates == 0 {
		cfg.Replicates = DefaultReplicates
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxIter <= 0 {
		cfg.MaxIter = DefaultMaxIter
	}
	if cfg.CDFPoints <= 0 {
		cfg.CDFPoints = DefaultCDFPoints
	}
	f := build(g)
	d := &Distribution{N: g.n, RightCensored: g.censored, Confidence: cfg.Confidence}
	m := len(f.lo)
	p := make([]float64, m)
	for j := range p {
		p[j] = 1 / float64(m)
	}
	p, d.Iterations, d.Converged = f.solve(p, f.w, cfg.Tolerance, cfg.MaxIter)
	d.Masses = make([]Mass, m)
	d.cum = make([]float64, m)
	run := 0.0
	for j := range p {
		run += p[j]
		d.cum[j] = run
		d.Masses[j] = Mass{Lower: time.Duration(gridValue(f.lo[j])), Upper: upperValue(f.hi[j]), P: p[j]}
	}
	if f.hi[m-1] == infIdx {
		d.Beyond = p[m-1]
	}
	d.BeyondLow, d.BeyondHigh = d.Beyond, d.Beyond
	d.Grid = d.gridStep()

	pts := d.bandPoints(cfg.CDFPoints)
	d.Band = make([]BandPoint, len(pts))
	for i, x := range pts {
		v := d.CDF(x)
		lo, hi := d.BandAt(x)
		d.Band[i] = BandPoint{X: x, F: v, Low: lo, High: hi}
	}
	for i, q := range levels {
		v, ok := d.Quantile(q)
		lo, hi, loOK, hiOK := quantileBounds(d.Masses, d.cum, q)
		d.Quantiles[i] = Quantile{Level: q, Value: v, Reached: ok, Low: lo, High: hi, LowOK: loOK, HighOK: hiOK}
	}
	if cfg.Rand != nil && cfg.Replicates > 0 {
		d.bootstrap(f, p, g.n, rs(f), cfg)
	}
	return d, nil
}

func upperValue(hi int32) time.Duration {
	if hi == infIdx {
		return Inf
	}
	return time.Duration(gridValue(hi))
}

// build finds the innermost intervals of the grouped brackets and merges the brackets that
// cover the same ones: the likelihood sees a bracket only through those. Grid indices are
// bounded (see packKey), so the ends are found by sweeps over the grid rather than by sorting
// and searching the groups.
func build(g *Groups) *fit {
	f := &fit{n: float64(g.n)}
	bias := keyBias()
	span := int(2*bias + 2) // key codes of an end: 0..2·bias, and 2·bias+1 for Inf
	isLeft := make([]bool, span)
	isRight := make([]bool, span)
	for _, k := range g.keys {
		isLeft[k>>keyEndBits] = true
		isRight[k&(1<<keyEndBits-1)] = true
	}
	// Innermost intervals: a left end l followed by a right end r with no other end in between
	// ((l, r] is open at l, so a left end equal to r does not split it). Sweeping the codes in
	// increasing order: the latest left end seen opens a candidate, the next right end above it
	// closes it.
	open := -1
	for c := range span {
		if isRight[c] && open >= 0 && c > open {
			f.lo = append(f.lo, int32(open)-bias)
			f.hi = append(f.hi, codeEnd(c, bias))
			open = -1
		}
		if isLeft[c] {
			open = c
		}
	}
	// For each code: a is the first innermost interval whose lower end is at or above it, b+1
	// the first whose upper end is above it.
	m := len(f.lo)
	firstAtOrAbove := make([]int32, span+1)
	firstAbove := make([]int32, span+1)
	j, k := m, m
	for c := span; c >= 0; c-- {
		for j > 0 && int(f.lo[j-1]+bias) >= c {
			j--
		}
		for k > 0 && endCode(f.hi[k-1], bias) > c {
			k--
		}
		firstAtOrAbove[c], firstAbove[c] = int32(j), int32(k)
	}
	// Keys sort by lower end, so a never decreases along them: the keys of one a are a run,
	// whose b are summed in acc and emitted in increasing order.
	acc := make([]float64, m)
	var touched []int32
	for lo := 0; lo < len(g.keys); {
		a := firstAtOrAbove[g.keys[lo]>>keyEndBits]
		hi := lo
		for ; hi < len(g.keys) && firstAtOrAbove[g.keys[hi]>>keyEndBits] == a; hi++ {
			b := firstAbove[g.keys[hi]&(1<<keyEndBits-1)] - 1
			if acc[b] == 0 {
				touched = append(touched, b)
			}
			acc[b] += g.counts[hi]
		}
		slices.Sort(touched)
		for _, b := range touched {
			f.a, f.b, f.w = append(f.a, a), append(f.b, b), append(f.w, acc[b])
			acc[b] = 0
		}
		touched = touched[:0]
		lo = hi
	}
	f.pre = make([]float64, m+1)
	f.diff = make([]float64, m+1)
	return f
}

// endCode and codeEnd convert an upper end's grid index (infIdx for Inf) to its key code and
// back.
func endCode(hi, bias int32) int {
	if hi == infIdx {
		return int(2*bias + 1)
	}
	return int(hi + bias)
}

func codeEnd(c int, bias int32) int32 {
	if c == int(2*bias+1) {
		return infIdx
	}
	return int32(c) - bias
}

// clone returns a fit sharing f's problem with buffers of its own, for another goroutine.
func (f *fit) clone() *fit {
	c := *f
	c.a, c.b = slices.Clone(f.a), slices.Clone(f.b)
	c.pre = make([]float64, len(f.pre))
	c.diff = make([]float64, len(f.diff))
	c.scratch = icmScratch{}
	return &c
}

// step is one EM (self-consistency) step: out_j = p_j · d_j, d_j = Σ_g w_g [j∈g] / (n·P_g(p)).
// It returns max_j d_j (the Kuhn–Tucker gap: ≤ 1 at the NPMLE).
func (f *fit) step(p, out, w []float64, n float64) (maxd float64) {
	pre, diff := f.pre, f.diff
	pre[0] = 0
	for j, v := range p {
		pre[j+1] = pre[j] + v
	}
	clear(diff)
	for g, wg := range w {
		if wg == 0 {
			continue
		}
		a, b := f.a[g], f.b[g]
		den := pre[b+1] - pre[a]
		if den <= 0 {
			den = math.SmallestNonzeroFloat64
		}
		c := wg / den
		diff[a] += c
		diff[b+1] -= c
	}
	run := 0.0
	sum := 0.0
	for j, v := range p {
		run += diff[j]
		dj := run / n
		maxd = max(maxd, dj)
		out[j] = v * dj
		sum += out[j]
	}
	if sum > 0 {
		for j := range out {
			out[j] /= sum
		}
	}
	return maxd
}

// solve maximises the likelihood from p by EM-ICM (Wellner and Zhan 1997): each iteration is
// one self-consistency (EM) step, which also measures the Kuhn–Tucker gap, then one step of
// the iterative convex minorant algorithm (Groeneboom and Wellner 1992): a Newton step on the
// cumulative masses with the Hessian's diagonal, projected back onto non-decreasing CDFs by
// weighted pool-adjacent-violators, halved until it gains likelihood. It stops when
// max_j d_j ≤ 1+tol or after maxIter iterations, and returns the masses, the number of
// iterations and whether the tolerance was met. p is overwritten.
func (f *fit) solve(p, w []float64, tol float64, maxIter int) ([]float64, int, bool) {
	m := len(p)
	n := 0.0
	for _, v := range w {
		n += v
	}
	p1 := make([]float64, m)
	for it := 1; it <= maxIter; it++ {
		maxd := f.step(p, p1, w, n)
		if maxd <= 1+tol {
			return p, it, true
		}
		p, p1 = p1, p
		if m > 1 {
			f.icm(p, w)
		}
	}
	return p, maxIter, false
}

// icmScratch holds the ICM step's buffers.
type icmScratch struct {
	beta, grad, hess, y, cand, pw []float64
	den                           []float64 // per group, as long as the weights
	blockV, blockW                []float64
	blockN                        []int
}

// improves reports whether the cumulative masses cand (cand[m−1] = 1) have a higher
// likelihood than masses under which group g's bracket has probability den[g]:
// Σ_g w_g·log(cand_g/den_g) > 0. It multiplies the ratios (raised to their small integer
// weights) rather than adding logarithms, one per group, which the bootstrap's refits spent
// most of their time on: a logarithm is taken only of the product, kept normal by taking its
// exponent out now and then, and of the ratios far from 1 or with large weights. A product of n
// ratios loses about n·2^−53 relatively, less than the sum of n logarithms of the likelihood
// itself does.
func (f *fit) improves(cand, w, den []float64) bool {
	prod, exp, sum := 1.0, 0, 0.0
	for g, wg := range w {
		if wg == 0 {
			continue
		}
		c := cand[f.b[g]]
		if a := f.a[g]; a > 0 {
			c -= cand[a-1]
		}
		if c <= 0 {
			return false
		}
		r := c / den[g]
		if wg > 64 || r < 0x1p-7 || r > 0x1p7 || wg != math.Trunc(wg) {
			sum += wg * math.Log(r)
			continue
		}
		for k := int(wg); ; k >>= 1 { // prod *= r^wg, by squaring: |log2 r^wg| < 7·64
			if k&1 != 0 {
				prod *= r
			}
			if k == 1 {
				break
			}
			r *= r
		}
		if prod < 0x1p-500 || prod > 0x1p500 {
			fr, e := math.Frexp(prod)
			prod, exp = fr, exp+e
		}
	}
	return sum+math.Log(prod)+float64(exp)*math.Ln2 > 0
}

// icm does one ICM step in place on the masses p.
func (f *fit) icm(p, w []float64) {
	m := len(p)
	s := &f.scratch
	if len(s.beta) != m {
		*s = icmScratch{beta: make([]float64, m), grad: make([]float64, m), hess: make([]float64, m),
			y: make([]float64, m), cand: make([]float64, m), pw: make([]float64, m),
			blockV: make([]float64, m), blockW: make([]float64, m), blockN: make([]int, m)}
	}
	beta, grad, hess := s.beta, s.grad, s.hess
	run := 0.0
	for j, v := range p {
		run += v
		beta[j] = run
	}
	beta[m-1] = 1
	clear(grad)
	clear(hess)
	if cap(s.den) < len(w) {
		s.den = make([]float64, len(w))
	}
	den0 := s.den[:len(w)]
	for g, wg := range w {
		if wg == 0 {
			continue
		}
		a, b := f.a[g], f.b[g]
		den := beta[b]
		if a > 0 {
			den -= beta[a-1]
		}
		if den <= 0 {
			den = math.SmallestNonzeroFloat64
		}
		den0[g] = den
		c, c2 := wg/den, wg/(den*den)
		if int(b) < m-1 {
			grad[b] += c
			hess[b] += c2
		}
		if a > 0 {
			grad[a-1] -= c
			hess[a-1] += c2
		}
	}
	// Newton step on beta[0..m−2], then weighted isotonic regression onto [0, 1].
	k := m - 1
	hmin := math.Inf(1)
	for j := range k {
		if hess[j] > 0 {
			hmin = min(hmin, hess[j])
		}
	}
	if math.IsInf(hmin, 1) {
		return
	}
	for j := range k {
		h := hess[j]
		if h <= 0 {
			h = hmin * 1e-6
		}
		s.y[j] = beta[j] + grad[j]/h
		s.pw[j] = h
	}
	pava(s.y[:k], s.pw[:k], s.blockV, s.blockW, s.blockN)
	for j := range k {
		s.y[j] = min(max(s.y[j], 0), 1)
	}
	s.y[k] = 1
	for lambda := 1.0; lambda > 1e-6; lambda /= 2 {
		for j := range k {
			s.cand[j] = beta[j] + lambda*(s.y[j]-beta[j])
		}
		s.cand[k] = 1
		if f.improves(s.cand, w, den0) {
			prev := 0.0
			for j := range p {
				p[j] = max(s.cand[j]-prev, 0)
				prev = s.cand[j]
			}
			return
		}
	}
}

// pava replaces y by its weighted least-squares non-decreasing fit (pool adjacent violators).
func pava(y, w, bv, bw []float64, bn []int) {
	nb := 0
	for i := range y {
		bv[nb], bw[nb], bn[nb] = y[i], w[i], 1
		nb++
		for nb > 1 && bv[nb-2] >= bv[nb-1] {
			tw := bw[nb-2] + bw[nb-1]
			bv[nb-2] = (bv[nb-2]*bw[nb-2] + bv[nb-1]*bw[nb-1]) / tw
			bw[nb-2] = tw
			bn[nb-2] += bn[nb-1]
			nb--
		}
	}
	i := 0
	for b := range nb {
		for range bn[b] {
			y[i] = bv[b]
			i++
		}
	}
}

// CDF returns the estimated share of TTCs at most x (linear within an innermost interval;
// the mass beyond everything observed is never reached).
func (d *Distribution) CDF(x time.Duration) float64 {
	j := sort.Search(len(d.Masses), func(j int) bool { return d.Masses[j].Upper > x })
	below := 0.0
	if j > 0 {
		below = d.cum[j-1]
	}
	if j == len(d.Masses) {
		return below
	}
	mj := d.Masses[j]
	if x <= mj.Lower || mj.Upper == Inf {
		return below
	}
	return below + mj.P*float64(x-mj.Lower)/float64(mj.Upper-mj.Lower)
}

// cdfBounds returns the bounds of the CDF at x that the NPMLE identifies: equal to CDF(x)
// outside the innermost intervals, the CDF at both ends of the interval inside one.
func (d *Distribution) cdfBounds(x time.Duration) (lo, hi float64) {
	j := sort.Search(len(d.Masses), func(j int) bool { return d.Masses[j].Upper > x })
	if j > 0 {
		lo = d.cum[j-1]
	}
	hi = lo
	if j < len(d.Masses) && x > d.Masses[j].Lower && d.Masses[j].Upper != Inf {
		hi = d.cum[j]
	}
	return lo, hi
}

// Quantile returns the estimated q-quantile (0 < q < 1): the midpoint of the innermost
// interval in which the CDF reaches q, and false when the estimated CDF never reaches q (or
// reaches it only in the mass beyond everything observed).
//
// The NPMLE says that the q-quantile lies in that interval, (Lower, Upper], not where: that
// depends on how the interval's mass is spread inside it, which no bracket sees. The midpoint
// is the value whose error is smallest in the worst case, half the interval; reading the
// quantile off the linear CDF instead would put a high quantile near the interval's upper end,
// wrong by nearly the whole interval when the mass sits at its lower end (one push event for a
// whole batch of credentials: a step), and it is then biased upward. The interval itself is the
// Low and High the NPMLE identifies (quantileBounds), before the bootstrap widens them.
func (d *Distribution) Quantile(q float64) (time.Duration, bool) {
	return quantileOf(d.Masses, d.cum, q)
}

const eps = 1e-9

// quantileBounds returns the ends of the innermost interval in which the CDF reaches q: the
// q-quantile lies in (lo, hi] whichever way the mass is spread within it. loOK is false when
// the CDF never reaches q at all, hiOK also when it reaches q only in the mass beyond
// everything observed.
func quantileBounds(ms []Mass, cum []float64, q float64) (lo, hi time.Duration, loOK, hiOK bool) {
	j := sort.Search(len(cum), func(j int) bool { return cum[j] >= q-eps })
	if j == len(cum) {
		return 0, 0, false, false
	}
	if ms[j].Upper == Inf {
		return ms[j].Lower, 0, true, false
	}
	return ms[j].Lower, ms[j].Upper, true, true
}

func quantileOf(ms []Mass, cum []float64, q float64) (time.Duration, bool) {
	lo, hi, _, ok := quantileBounds(ms, cum, q)
	if !ok {
		return 0, false
	}
	return lo + (hi-lo)/2, true
}

// bandPoints picks at most about maxPts offsets where the CDF changes (ends of innermost
// intervals, thinned so that the CDF moves by at least 1/maxPts between kept points).
func (d *Distribution) bandPoints(maxPts int) []time.Duration {
	var pts []time.Duration
	lastF := -1.0
	step := 1 / float64(maxPts)
	for j, mj := range d.Masses {
		if mj.Upper == Inf {
			break
		}
		if j == 0 || mj.Lower != d.Masses[j-1].Upper {
			if j == 0 || d.cum[j-1]-lastF >= step {
				pts = append(pts, mj.Lower)
				if j > 0 {
					lastF = d.cum[j-1]
				} else {
					lastF = 0
				}
			}
		}
		last := j+1 == len(d.Masses) || d.Masses[j+1].Upper == Inf
		if d.cum[j]-lastF >= step || last {
			pts = append(pts, mj.Upper)
			lastF = d.cum[j]
		}
	}
	return slices.Compact(pts)
}

// gridStep returns the grid's step at the largest finite end of the masses.
func (d *Distribution) gridStep() time.Duration {
	var far int64
	for _, mj := range d.Masses {
		far = max(far, abs(int64(mj.Lower)))
		if mj.Upper != Inf {
			far = max(far, abs(int64(mj.Upper)))
		}
	}
	k := gridFloor(far)
	return time.Duration(gridValue(k+1) - gridValue(k))
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// bootstrap is an m-out-of-n bootstrap over pairs. Each of cfg.Replicates resamples draws
// m = min(n/4, 20000) pairs with replacement (all n below 200 pairs), each from its own seed drawn from cfg.Rand, and is refitted from p̂
// on the same innermost intervals. A pair is drawn as its group (the refit reads nothing else
// of it), with the group's share of the pairs as its probability, from rs (an exact alias
// table: the same distribution as drawing pairs one by one, in O(1) per draw without a table
// of n pairs); its deviation from p̂'s CDF is scaled by (m/n)^(1/3). Per
// innermost interval j it keeps the alpha/2 and 1−alpha/2 percentiles of the scaled CDF at
// j's upper end, widened to contain p̂'s. The band and the quantile intervals are read from
// those (see BandAt and the Quantile fields).
//
// Why not the plain bootstrap: where brackets are wide (current-status-like data) the NPMLE
// converges at rate n^(1/3) and the plain bootstrap of it is inconsistent (Abrevaya and Huang
// 2005; Sen, Banerjee and Woodroofe 2010); it under-covered here in simulation. Resampling m
// out of n and rescaling at the cube-root rate is consistent there (Politis and Romano 1994;
// Lee and Pun 2006), and only conservative where brackets are narrow (rate n^(1/2)): there
// the band is (n/m)^(1/6) times wider than it needs be, 1.26 at m = n/4 and 2.7 at a million
// pairs. Capping m bounds a resample's cost, so a million pairs cost little more than 20,000.
func (d *Distribution) bootstrap(f *fit, phat []float64, n int, rs resampler, cfg Config) {
	B := cfg.Replicates
	m := len(phat)
	vals := make([]float32, m*B) // vals[j*B+b]: resample b's CDF at the upper end of j
	beyond := make([]float64, B)
	mOut := n
	if n/subsample >= minSubsample {
		mOut = min(n/subsample, maxSubsample)
	}
	scale := math.Cbrt(float64(mOut) / float64(n))
	seeds := make([]int64, B)
	for b := range seeds {
		seeds[b] = cfg.Rand.Int63()
	}
	// Replicates run on every CPU; each has its own seed, so the result does not depend on
	// which worker ran it.
	workers := min(goruntime.GOMAXPROCS(0), B)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := f.clone()
			counts := make([]float64, len(f.w))
			start := make([]float64, m)
			var w []float64
			for {
				b := int(next.Add(1) - 1)
				if b >= B {
					return
				}
				rng := rand.New(rand.NewSource(seeds[b]))
				clear(counts)
				rs.resample(rng, counts, mOut)
				// Fit on the brackets drawn only (at most mOut of them).
				fw.a, fw.b, w = fw.a[:0], fw.b[:0], w[:0]
				for g, c := range counts {
					if c > 0 {
						fw.a, fw.b, w = append(fw.a, f.a[g]), append(fw.b, f.b[g]), append(w, c)
					}
				}
				for j := range start {
					start[j] = 0.9*phat[j] + 0.1/float64(m)
				}
				p, _, _ := fw.solve(start, w, 10*cfg.Tolerance, cfg.MaxIter)
				run := 0.0
				for j := range p {
					run += p[j]
					vals[j*B+b] = float32(min(max(d.cum[j]+scale*(run-d.cum[j]), 0), 1))
				}
				if f.hi[m-1] == infIdx {
					beyond[b] = d.Beyond + scale*(p[m-1]-d.Beyond)
				}
			}
		}()
	}
	wg.Wait()
	alpha := 1 - cfg.Confidence
	d.Replicates = B
	d.lowPct, d.highPct = make([]float64, m), make([]float64, m)
	col := make([]float64, B)
	for j := range m {
		for b := range B {
			col[b] = float64(vals[j*B+b])
		}
		lo, hi := percentiles(col, alpha)
		d.lowPct[j], d.highPct[j] = min(lo, d.cum[j]), max(hi, d.cum[j])
	}
	for i := range d.Band {
		d.Band[i].Low, d.Band[i].High = d.BandAt(d.Band[i].X)
	}
	for i := range d.Quantiles {
		d.invert(&d.Quantiles[i])
	}
	d.BeyondLow, d.BeyondHigh = percentiles(beyond, alpha)
}

// BandAt returns the pointwise confidence band of the CDF at x. Within an innermost interval
// the NPMLE does not say where the mass lies, so the band there runs from the low end at the
// interval's lower end to the high end at its upper end. Without a bootstrap it is the range
// the NPMLE identifies (a single value outside the innermost intervals).
func (d *Distribution) BandAt(x time.Duration) (lo, hi float64) {
	if d.lowPct == nil {
		return d.cdfBounds(x)
	}
	j := sort.Search(len(d.Masses), func(j int) bool { return d.Masses[j].Upper > x })
	if j > 0 {
		lo, hi = d.lowPct[j-1], d.highPct[j-1]
	}
	if j < len(d.Masses) && x > d.Masses[j].Lower && d.Masses[j].Upper != Inf {
		hi = d.highPct[j]
	}
	return lo, hi
}

// invert sets q's interval to the offsets where the band contains q.Level: the low end is the
// lower end of the first innermost interval where the band's high end reaches the level, the
// high end the upper end of the first where its low end does (not reached when that is the
// mass beyond everything observed, or none).
func (d *Distribution) invert(q *Quantile) {
	lv := q.Level - eps
	q.LowOK, q.HighOK = false, false
	q.Low, q.High = 0, 0
	for j, mj := range d.Masses {
		if !q.LowOK && d.highPct[j] >= lv {
			q.Low, q.LowOK = mj.Lower, true
		}
		if d.lowPct[j] >= lv {
			if mj.Upper != Inf {
				q.High, q.HighOK = mj.Upper, true
			}
			return
		}
	}
}

// percentiles sorts v and returns its alpha/2 and 1−alpha/2 order statistics.
func percentiles(v []float64, alpha float64) (lo, hi float64) {
	slices.Sort(v)
	n := len(v)
	i := int(math.Floor(alpha / 2 * float64(n)))
	k := int(math.Ceil((1-alpha/2)*float64(n))) - 1
	return v[min(max(i, 0), n-1)], v[min(max(k, 0), n-1)]
}
