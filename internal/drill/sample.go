package drill

// Sampling (docs/measurement.md, "Sampling"): a mass recall of N credentials need not be probed
// N × components times per revisit. Every victim is recalled; only a seeded sample of them is
// probed at each component, so that the probe budget revisits each sampled pair often enough
// for its bracket to be narrow.

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"slices"
	"time"

	"github.com/recall-drills/recall/report"
)

// SampleSpec says how many victims are probed at each component. At most one of Count, Share
// and Resolution is set; all zero probes every victim.
type SampleSpec struct {
	// Count is the number of victims probed per component (clamped to the victims).
	Count int
	// Share is the share of the victims probed per component, 0..1 (at least one).
	Share float64
	// Resolution sizes the sample from the probe rate and the number of probed components so
	// that, after the trigger, each sampled pair is revisited about every Resolution (see
	// SizeForResolution).
	Resolution time.Duration
}

// IsZero reports whether the spec asks for no sampling.
func (s SampleSpec) IsZero() bool { return s.Count <= 0 && s.Share <= 0 && s.Resolution <= 0 }

// SizeForResolution returns how many victims to sample per component so that, with every
// sampled pair not yet converged in one rotation, each is probed about every resolution:
// rotation length = components × n pairs, probed at rate × victimShare per second, hence
// n = ⌊resolution × rate × victimShare / components⌋, at least 1 and at most victims.
// victimShare is the share of post-trigger probes that go to victim pairs not yet converged
// (1 − controls − recheck).
func SizeForResolution(resolution time.Duration, rate, victimShare float64, components, victims int) int {
	if components <= 0 || victims <= 0 {
		return 0
	}
	n := int(math.Floor(resolution.Seconds() * rate * victimShare / float64(components)))
	return min(max(n, 1), victims)
}

// Size returns the per-component sample size the spec asks for out of victims (victims when
// the spec is zero). rate, victimShare and components are used by Resolution only.
func (s SampleSpec) Size(victims, components int, rate, victimShare float64) int {
	switch {
	case victims <= 0:
		return 0
	case s.Count > 0:
		return min(s.Count, victims)
	case s.Share > 0:
		return min(max(int(math.Round(s.Share*float64(victims))), 1), victims)
	case s.Resolution > 0:
		return SizeForResolution(s.Resolution, rate, victimShare, components, victims)
	}
	return victims
}

// Sample is the set of victims probed at each component: an independent seeded sample per
// component, the same for the same seed and component name. A nil *Sample probes every victim.
type Sample struct {
	in   [][]bool // per component, per victim
	size []int
}

// NewSample draws, for each named component, n of victims without replacement, seeded by seed
// and the component's name (so adding a component leaves the others' samples unchanged). With
// n ≥ victims it returns nil: every victim is probed.
func NewSample(seed int64, components []string, victims, n int) *Sample {
	if n >= victims || victims <= 0 {
		return nil
	}
	n = max(n, 0)
	s := &Sample{in: make([][]bool, len(components)), size: make([]int, len(components))}
	for c, name := range components {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", seed, name)
		rng := rand.New(rand.NewSource(int64(h.Sum64())))
		in := make([]bool, victims)
		for _, tok := range rng.Perm(victims)[:n] {
			in[tok] = true
		}
		s.in[c], s.size[c] = in, n
	}
	return s
}

// Has reports whether victim token is probed at component c. Controls (token ≥ victims) and
// every pair of a nil Sample are.
func (s *Sample) Has(c, token int) bool {
	if s == nil || c < 0 || c >= len(s.in) || token >= len(s.in[c]) {
		return true
	}
	return token >= 0 && s.in[c][token]
}

// Size returns the number of victims sampled at component c (-1 for a nil Sample: all).
func (s *Sample) Size(c int) int {
	if s == nil || c < 0 || c >= len(s.size) {
		return -1
	}
	return s.size[c]
}

// Tokens returns the victims sampled at component c, ascending (nil for a nil Sample).
func (s *Sample) Tokens(c int) []int {
	if s == nil || c < 0 || c >= len(s.in) {
		return nil
	}
	var out []int
	for tok, ok := range s.in[c] {
		if ok {
			out = append(out, tok)
		}
	}
	return out
}

// Confidence of the percentile intervals in the report.
const percentileConfidence = 0.95

// percentilePrecision says how precisely the nearest-rank q-quantile of n values (sorted
// ascending) pins down the q-quantile of the population they were sampled from. It is the
// distribution-free interval from order statistics: the population's q-quantile lies between
// the l-th and u-th smallest values with probability ≥ 95 %, where the count of values below
// it is Binomial(n, q). When u would exceed n the sample cannot bound the quantile from above:
// the largest value is the best it says (Unbounded), and MinSample gives the smallest n that
// would. census (the sample is the whole population) makes the figure exact.
func percentilePrecision(stat string, q float64, sorted []float64, census bool) report.Precision {
	n := len(sorted)
	p := report.Precision{Stat: stat, Of: n}
	if n == 0 {
		return p
	}
	p.Rank = min(max(int(math.Ceil(q*float64(n)-1e-9)), 1), n)
	p.Above = n - p.Rank
	if census {
		p.Census = true
		p.LowMS, p.HighMS = sorted[p.Rank-1], sorted[p.Rank-1]
		return p
	}
	alpha := (1 - percentileConfidence) / 2
	// l: the largest rank with P(Bin(n,q) < l) ≤ alpha; u: the smallest with P(Bin(n,q) < u) ≥ 1−alpha.
	l, u := 0, n+1
	cdf := 0.0
	for k := 1; k <= n; k++ {
		cdf += binomPMF(n, k-1, q) // P(Bin < k)
		if cdf <= alpha {
			l = k
		}
		if cdf >= 1-alpha {
			u = k
			break
		}
	}
	p.LowMS = sorted[max(l, 1)-1]
	if u > n {
		p.Unbounded = true
		p.HighMS = sorted[n-1]
	} else {
		p.HighMS = sorted[u-1]
	}
	p.MinSample = minSampleForUpper(q, alpha)
	return p
}

// minSampleForUpper is the smallest n for which the largest of n values is a (1−alpha) upper
// confidence bound on the population q-quantile: 1 − qⁿ ≥ 1 − alpha.
func minSampleForUpper(q, alpha float64) int {
	if q <= 0 || q >= 1 {
		return 0
	}
	return int(math.Ceil(math.Log(alpha) / math.Log(q)))
}

// binomPMF is P(Bin(n, q) = k), computed in logs.
func binomPMF(n, k int, q float64) float64 {
	if k < 0 || k > n {
		return 0
	}
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(q) + float64(n-k)*math.Log1p(-q))
}

// sampleReport is the report's n-of-N figures for one component: n sampled out of victims,
// and the precision of each percentile of the converged pairs' TTC upper bounds.
func sampleReport(n, victims int, pairs []PairResult) *report.Sample {
	var ups []float64
	for _, p := range pairs {
		if p.State == PairConverged {
			_, up := p.TTC()
			ups = append(ups, millis(up))
		}
	}
	slices.Sort(ups)
	out := &report.Sample{Size: n, Of: victims}
	census := n >= victims
	for _, q := range []struct {
		stat string
		q    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
		if len(ups) == 0 {
			break
		}
		out.Percentiles = append(out.Percentiles, percentilePrecision(q.stat, q.q, ups, census))
	}
	return out
}
